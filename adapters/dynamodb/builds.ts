// Build records (REPO#<repo> / BUILD#<nnn>, listed newest first by GSI1): the one transaction
// that creates a build with its stages, steps and delivery claim; reads by id, number and
// page; the status-guarded update.

import { GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Build, BuildDetail, BuildStatus } from '../../core/builds/types.js';
import { buildId as makeBuildId, parseBuildId } from '../../core/builds/types.js';
import { statusRank } from '../../core/builds/status.js';
import type { BuildPatch, CreateBuildResult, NewBuild, Page, PageOptions, UpdateGuard } from '../../core/builds/ports.js';
import { batchWrite } from './batch.js';
import { buildForDelivery } from './deliveries.js';
import { Expression } from './expression.js';
import { BUILD_SK_PREFIX, DELIVERY_BUILD_SK, GSI_RECENT, RECENT_BUILDS_PARTITION, buildSk, deliveryPk, recentSk, repoPk } from './keys.js';
import { decodeCursor, encodeCursor, withCursor } from './paging.js';
import { conditionalUpdate, defined, type Item, strip, type Table } from './records.js';
import { listStagesAndSteps, stageItem, stepItem } from './stages-steps.js';

export type { CreateBuildResult, NewBuild } from '../../core/builds/ports.js';

/** A TransactWriteItems call holds at most 100 items (API_TransactWriteItems: "groups up to 100 action requests"). */
const TRANSACTION_LIMIT = 100;

/** Pipelines one build can hold: its stages share one transaction with the build and its delivery claim. */
export const MAX_STAGES_PER_BUILD = TRANSACTION_LIMIT - 2;

/** A build whose stages do not fit in the one transaction that creates it with its claim. */
export class TooManyStagesError extends Error {
  constructor(
    readonly buildId: string,
    readonly stages: number,
    readonly limit: number,
  ) {
    super(`store: build ${buildId} has ${stages} pipelines; a build holds at most ${limit} (split the pipeline file, or use fewer pipelines with more steps)`);
    this.name = 'TooManyStagesError';
  }
}

function buildItem(build: Build): Item {
  return defined({
    PK: repoPk(build.repo),
    SK: buildSk(build.number),
    type: 'build',
    statusRank: statusRank(build.status),
    GSI1PK: RECENT_BUILDS_PARTITION,
    GSI1SK: recentSk(build.createdAt, build.id),
    ...build,
  });
}

/**
 * Writes a build, its stages and steps, and the delivery → build claim, all or nothing.
 * A second call for the same delivery creates nothing and returns the first build's id.
 *
 * One TransactWriteItems call holds at most 100 items (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html):
 * the claim, the build and every stage go in it (a stage is in the active-stages index,
 * so it must never exist without its build), with as many steps as fit. Steps beyond
 * are written first: steps are in no index and are read only through their build, so
 * until the transaction commits nothing shows them, and when it does not commit (the
 * delivery was claimed meanwhile, or it failed) they are deleted again. A crash between
 * the two leaves only such unreachable steps under a build number never used.
 */
export async function createBuild(t: Table, input: NewBuild): Promise<CreateBuildResult> {
  const { build } = input;
  if (build.id !== makeBuildId(build.repo, build.number)) {
    throw new Error(`store: build id ${build.id} does not match ${build.repo} #${build.number}`);
  }
  const room = MAX_STAGES_PER_BUILD;
  if (input.stages.length > room) {
    throw new TooManyStagesError(build.id, input.stages.length, room);
  }
  const claim = {
    Put: {
      TableName: t.tableName,
      Item: { PK: deliveryPk(build.deliveryId), SK: DELIVERY_BUILD_SK, type: 'delivery-build', buildId: build.id },
      ConditionExpression: 'attribute_not_exists(PK)',
    },
  };
  const buildPut = {
    Put: { TableName: t.tableName, Item: buildItem(build), ConditionExpression: 'attribute_not_exists(PK)' },
  };
  const steps = input.steps.map((s) => stepItem(s));
  const stepRoom = room - input.stages.length;
  const inTransaction = [...input.stages.map((s) => stageItem(t, s, build.createdAt)), ...steps.slice(0, stepRoom)];
  const overflow = steps.slice(stepRoom);
  // Steps written ahead carry no condition (BatchWriteItem has none): they must not land
  // on another build's. Numbers come from nextBuildNumber, so this only catches misuse.
  if (overflow.length > 0 && (await getBuildByNumber(t, build.repo, build.number))) {
    throw new Error(`store: build ${build.id} already exists (build numbers must come from nextBuildNumber)`);
  }
  await batchWrite(t.doc, t.tableName, overflow.map((Item) => ({ PutRequest: { Item } })));
  try {
    await t.doc.send(
      new TransactWriteCommand({
        TransactItems: [claim, buildPut, ...inTransaction.map((Item) => ({ Put: { TableName: t.tableName, Item } }))],
      }),
    );
    return { created: true, build };
  } catch (err) {
    const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
    // Unless the build number was taken meanwhile (then the steps may be that build's), the
    // steps written ahead belong to nobody: they go.
    if (reasons?.[1]?.Code !== 'ConditionalCheckFailed') await removeUnclaimed(t, build.id, overflow, err);
    if (reasons?.[0]?.Code === 'ConditionalCheckFailed') {
      const existing = await buildForDelivery(t, build.deliveryId);
      if (existing) return { created: false, buildId: existing };
    }
    if (reasons?.[1]?.Code === 'ConditionalCheckFailed') {
      throw new Error(`store: build ${build.id} already exists (build numbers must come from nextBuildNumber)`);
    }
    throw err;
  }
}

/** Deletes the steps written ahead of a transaction that did not commit. */
async function removeUnclaimed(t: Table, id: string, items: Item[], cause: unknown): Promise<void> {
  try {
    await batchWrite(t.doc, t.tableName, items.map((it) => ({ DeleteRequest: { Key: { PK: it.PK, SK: it.SK } } })));
  } catch (err) {
    throw new Error(
      `store: build ${id} was not created (${(cause as Error).message}), and ${items.length} steps written ahead of it could not be deleted: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export async function getBuild(t: Table, id: string): Promise<Build | null> {
  const parsed = parseBuildId(id);
  if (!parsed) return null;
  return getBuildByNumber(t, parsed.repo, parsed.number);
}

export async function getBuildByNumber(t: Table, repo: string, number: number): Promise<Build | null> {
  const res = await t.doc.send(new GetCommand({ TableName: t.tableName, Key: { PK: repoPk(repo), SK: buildSk(number) }, ConsistentRead: true }));
  return strip<Build>(res.Item);
}

/**
 * Builds of one repository, newest first. Read consistently: it is what `slipway builds
 * --repo` and the dashboard's repository filter show right after a push or a `slipway run`,
 * and a user expects the build just made, with its current status (an eventually consistent
 * read may miss a write that just completed). The table can give that; the index of every
 * repository's builds (listRecentBuilds) cannot.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html
 */
export async function listBuilds(t: Table, repo: string, page: PageOptions = {}): Promise<Page<Build>> {
  const res = await withCursor(page.cursor, () => t.doc.send(
    new QueryCommand({
      TableName: t.tableName,
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': repoPk(repo), ':prefix': BUILD_SK_PREFIX },
      ConsistentRead: true,
      ScanIndexForward: false,
      Limit: page.limit ?? 25,
      ExclusiveStartKey: decodeCursor(page.cursor),
    }),
  ));
  return { items: (res.Items ?? []).map((i) => strip<Build>(i)!), cursor: encodeCursor(res.LastEvaluatedKey) };
}

/** Builds of every repository, newest first. */
export async function listRecentBuilds(t: Table, page: PageOptions = {}): Promise<Page<Build>> {
  const res = await withCursor(page.cursor, () => t.doc.send(
    new QueryCommand({
      TableName: t.tableName,
      IndexName: GSI_RECENT,
      KeyConditionExpression: 'GSI1PK = :pk',
      ExpressionAttributeValues: { ':pk': RECENT_BUILDS_PARTITION },
      ScanIndexForward: false,
      Limit: page.limit ?? 25,
      ExclusiveStartKey: decodeCursor(page.cursor),
    }),
  ));
  return { items: (res.Items ?? []).map((i) => strip<Build>(i)!), cursor: encodeCursor(res.LastEvaluatedKey) };
}

/**
 * Updates a build. With a status, the write happens only if it does not move the build
 * backwards (or, with `fromStatuses`, only from those). Returns the new build, or null
 * when the guard refused (a late or duplicate update) or the build does not exist.
 */
export async function updateBuild(t: Table, id: string, patch: BuildPatch, guard: UpdateGuard<BuildStatus> = {}): Promise<Build | null> {
  const parsed = parseBuildId(id);
  if (!parsed) return null;
  const e = new Expression();
  e.setAll(patch);
  e.guardStatus(patch.status, guard.fromStatuses);
  e.guardVersion(guard.eventVersion);
  return conditionalUpdate<Build>(t, { PK: repoPk(parsed.repo), SK: buildSk(parsed.number) }, e);
}

/** A build with its stages and their steps, as the API returns it. */
export async function getBuildDetail(t: Table, id: string): Promise<BuildDetail | null> {
  const [build, children] = await Promise.all([getBuild(t, id), listStagesAndSteps(t, id)]);
  if (!build) return null;
  return {
    ...build,
    stages: children.stages.map((stage) => ({
      ...stage,
      steps: children.steps.filter((s) => s.stageNumber === stage.number),
    })),
  };
}
