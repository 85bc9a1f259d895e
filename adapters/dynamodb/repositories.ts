// Repository records (REPO#<slug> / REPO): what `slipway repo add` activated, the settings a
// user chose, and the build counter. Every write is one conditional update of the record.
// Listed by name from their partition of GSI1 (keys.ts, access pattern 11).

import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type Page, type PageOptions, type RepositoryActivation, RepositoryHostConflictError, type RepositorySettingsChange, type RepositorySettingsPatch } from '../../core/builds/ports.js';
import type { GithubInstallation, Repository } from '../../core/builds/types.js';
import { Expression } from './expression.js';
import { GSI_RECENT, REPO_SK, REPOSITORIES_PARTITION, repoPk, repositoryIndexKeys } from './keys.js';
import { decodeCursor, encodeCursor, withCursor } from './paging.js';
import { isConditionFailure, strip, type Table } from './records.js';

/** Repository fields the webhook knows; `configPath`, `active` and `counter` are kept once set. */
export type RepositoryInfo = Omit<Repository, 'counter' | 'configPath' | 'active'> & {
  configPath?: string;
  active?: boolean;
};

export const DEFAULT_CONFIG_PATH = '.drone.yml';

export async function getRepository(t: Table, slug: string): Promise<Repository | null> {
  const res = await t.doc.send(new GetCommand({ TableName: t.tableName, Key: { PK: repoPk(slug), SK: REPO_SK }, ConsistentRead: true }));
  return strip<Repository>(res.Item);
}

/** Repositories by name, a page at a time (one Query of GSI1's repositories partition). */
export async function listRepositories(t: Table, page: PageOptions = {}): Promise<Page<Repository>> {
  const res = await withCursor(page.cursor, () => t.doc.send(
    new QueryCommand({
      TableName: t.tableName,
      IndexName: GSI_RECENT,
      KeyConditionExpression: 'GSI1PK = :pk',
      ExpressionAttributeValues: { ':pk': REPOSITORIES_PARTITION },
      Limit: page.limit ?? 100,
      ExclusiveStartKey: decodeCursor(page.cursor),
    }),
  ));
  const items = (res.Items ?? []).map((item) => strip<Repository>(item)!);
  const cursor = encodeCursor(res.LastEvaluatedKey);
  return cursor ? { items, cursor } : { items };
}

/**
 * Creates a repository record or overwrites its description, in one atomic write that
 * keeps the counter and the settings a user chose (config path, active). For seeding
 * (tests, benchmarks): the flow never writes what a webhook says about a repository; it
 * builds only what activateRepository stored.
 */
export async function ensureRepository(t: Table, info: RepositoryInfo): Promise<Repository> {
  const e = new Expression({ mustExist: false });
  e.set('type', 'repo');
  e.set('slug', info.slug);
  e.set('scm', info.scm);
  e.set('httpUrl', info.httpUrl);
  e.set('link', info.link);
  e.set('defaultBranch', info.defaultBranch);
  e.set('private', info.private);
  e.setAll(repositoryIndexKeys(info.slug));
  e.keep('configPath', info.configPath ?? DEFAULT_CONFIG_PATH);
  e.keep('active', info.active ?? true);
  e.keep('counter', 0);
  return strip<Repository>(await updateRepositoryRecord(t, info.slug, e))!;
}

/**
 * Activates a repository on its host (`slipway repo add`), keeping its counter and build
 * history when it was activated before. Refuses, with RepositoryHostConflictError, a
 * repository still active on another host: the table knows a repository by its name, so
 * one name is one repository on one host at a time.
 */
export async function activateRepository(t: Table, activation: RepositoryActivation): Promise<Repository> {
  const e = new Expression({ mustExist: false });
  e.set('type', 'repo');
  e.set('slug', activation.slug);
  e.set('scm', activation.scm);
  e.set('visibility', activation.visibility);
  e.set('private', activation.visibility !== 'public');
  e.set('active', true);
  e.set('activatedAt', activation.activatedAt);
  // An activation decides trust afresh: a repository removed and added again is not trusted unless said so.
  e.set('trusted', activation.trusted === true);
  e.set('trustSetAt', activation.activatedAt);
  if (activation.capacity !== undefined) e.set('capacity', activation.capacity);
  else e.remove('capacity');
  // Written either way, so that a repository opted out, removed and added again is back on unless said so.
  e.set('pullThroughCache', activation.pullThroughCache !== false);
  // Listed by GSI1 (keys.ts), as every repository record.
  e.setAll(repositoryIndexKeys(activation.slug));
  // Where it lives is derived from configuration when a build is planned (core/scm/locate.ts);
  // only local repositories (a directory) are located by their activation.
  e.set('httpUrl', activation.httpUrl ?? '');
  e.set('link', activation.link ?? '');
  if (activation.configPath !== undefined) e.set('configPath', activation.configPath);
  e.keep('counter', 0);
  e.keep('defaultBranch', 'main');
  if (activation.configPath === undefined) e.keep('configPath', DEFAULT_CONFIG_PATH);
  e.when(`attribute_not_exists(PK) OR ${e.name('scm')} = ${e.value(activation.scm)} OR ${e.name('active')} = ${e.value(false)}`);
  try {
    return strip<Repository>(await updateRepositoryRecord(t, activation.slug, e))!;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const current = await getRepository(t, activation.slug);
    throw new RepositoryHostConflictError(activation.slug, activation.scm, current?.scm ?? 'another host');
  }
}

/** Settings a user changes (config path, active); never the counter. */
export async function updateRepositorySettings(
  t: Table,
  slug: string,
  patch: { configPath?: string; active?: boolean; httpUrl?: string; link?: string },
): Promise<Repository | null> {
  const e = new Expression();
  e.setAll(patch);
  if (e.empty) return getRepository(t, slug);
  try {
    return strip<Repository>(await updateRepositoryRecord(t, slug, e));
  } catch (err) {
    if (isConditionFailure(err)) return null;
    throw err;
  }
}

/**
 * The GitHub App installation GitHub's API named for the repository: replaces the one kept. One
 * UpdateItem of that attribute alone, on an existing record only (a repository removed from the
 * table meanwhile gets no record back from it).
 */
export async function setGithubInstallation(t: Table, slug: string, installation: GithubInstallation): Promise<void> {
  const e = new Expression();
  e.set('githubInstallation', { appId: installation.appId, id: installation.id });
  try {
    await updateRepositoryRecord(t, slug, e, 'NONE');
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
}

/**
 * `slipway repo update`: sets only the named settings of an active repository, in one
 * UpdateItem conditioned on the repository being active, so a concurrent change of another
 * setting, a build number handed out meanwhile or a `repo rm` in between is never overwritten
 * by stale values (no read-modify-write). The record as it was comes back with the write
 * (ReturnValues ALL_OLD); as it is after follows from it and the patch. With `activatedAt`,
 * conditioned on that activation too. Null when the repository does not exist, is not active
 * or is another activation.
 */
export async function changeRepositorySettings(t: Table, slug: string, patch: RepositorySettingsPatch, at: number, activatedAt?: number): Promise<RepositorySettingsChange | null> {
  const e = new Expression();
  const fields: Partial<Repository> = {
    ...(patch.trusted !== undefined ? { trusted: patch.trusted, trustSetAt: at } : {}),
    ...(patch.capacity !== undefined ? { capacity: patch.capacity } : {}),
    ...(patch.visibility !== undefined ? { visibility: patch.visibility, private: patch.visibility !== 'public' } : {}),
    ...(patch.pullThroughCache !== undefined ? { pullThroughCache: patch.pullThroughCache } : {}),
  };
  e.setAll(fields);
  if (e.empty) throw new Error(`store: nothing to change for repository ${slug} (name trusted, capacity, visibility or pullThroughCache)`);
  e.when(`${e.name('active')} = ${e.value(true)}`);
  // Trust granted to the activation the operator looked at never passes to a later one.
  if (activatedAt !== undefined) e.when(`${e.name('activatedAt')} = ${e.value(activatedAt)}`);
  try {
    const before = strip<Repository>(await updateRepositoryRecord(t, slug, e, 'ALL_OLD'))!;
    return { before, after: { ...before, ...fields } };
  } catch (err) {
    if (isConditionFailure(err)) return null;
    throw err;
  }
}

/** The next build number of a repository: an atomic increment, unique under any concurrency. */
export async function nextBuildNumber(t: Table, slug: string): Promise<number> {
  const e = new Expression();
  e.add('counter', 1);
  try {
    return Number((await updateRepositoryRecord(t, slug, e, 'UPDATED_NEW'))?.counter);
  } catch (err) {
    if (isConditionFailure(err)) throw new Error(`store: repository ${slug} does not exist; call ensureRepository first`);
    throw err;
  }
}

/** One conditional update of a repository's record; its attributes after it (as `returnValues` asks). */
async function updateRepositoryRecord(
  t: Table,
  slug: string,
  e: Expression,
  returnValues: 'ALL_NEW' | 'UPDATED_NEW' | 'ALL_OLD' | 'NONE' = 'ALL_NEW',
): Promise<Record<string, unknown> | undefined> {
  const res = await t.doc.send(
    new UpdateCommand({ TableName: t.tableName, Key: { PK: repoPk(slug), SK: REPO_SK }, ...e.input(), ReturnValues: returnValues }),
  );
  return res.Attributes;
}
