// A repository's GitHub App installation id, kept on its record (Repository.githubInstallation):
// the planner reads it with the record it reads anyway and puts it on the stage's jobs, so a new
// Lambda instance buys a token in one call to GitHub, not two; GitHub's 401/404/422 for a kept
// id (the App installed again) makes it look the installation up once and overwrite the record.
// Only GitHub's answer to GET /repos/{owner}/{repo}/installation is ever kept, never a webhook's
// `installation`. Against DynamoDB Local, the GitHub App stand-in and the fake Git host; the
// token calls: https://docs.github.com/en/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app
// and #create-an-installation-access-token-for-an-app.

import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { DynamoStageStore } from '../../adapters/dynamodb/stage-store.js';
import { AGENT_CONTAINER, NETRC_ENV } from '../../core/pipeline/contract.js';
import type { StageJob } from '../../core/scaling/job.js';
import type { EventMessage } from '../../core/scm/types.js';
import { CLONE_PERMISSIONS } from '../../core/scm/github-app.js';
import { planEvent, type PlannerDeps } from '../../lambdas/planner/plan-event.js';
import { cloneTokenParameterName, createCloneTokenMinter } from '../../lambdas/shared/clone-tokens.js';
import { GithubAppTokens, installationKeeper } from '../../lambdas/shared/github-app-tokens.js';
import { createScmAccess } from '../../lambdas/shared/scm.js';
import { LOCAL_REGION, startDynamoLocal, type LocalDynamo } from '../support/dynamodb-local.js';
import { startFakeGitHost, type FakeGitHost } from '../support/fake-git-host.js';
import { startGithubAppStandIn, type AppStandIn } from '../support/github-app-stand-in.js';
import { MemoryJobQueue } from '../support/memory-stores.js';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
const PIPELINE = 'kind: pipeline\ntype: docker\nname: ci\nsteps:\n- name: test\n  image: alpine\n  commands: [true]\n';
const PREFIX = '/slipway-clone-tokens';

let db: LocalDynamo;
let git: FakeGitHost;
let app: AppStandIn;
let store: DynamoBuildStore;
let stages: DynamoStageStore;
let shas = 0;
const logs: { message: string; fields?: Record<string, unknown> }[] = [];
const log = (message: string, fields?: Record<string, unknown>) => void logs.push({ message, ...(fields ? { fields } : {}) });
const credentials = async () => ({ github: { apiUrl: app.url, webUrl: 'https://github.com', appId: '123', privateKey } });

beforeAll(async () => {
  [db, git] = await Promise.all([startDynamoLocal('github-installation'), startFakeGitHost()]);
  app = await startGithubAppStandIn({ appId: '123', privateKey, installedOn: ['acme/app', 'acme/other', 'acme/clone'], upstream: git.apiUrl });
  store = new DynamoBuildStore(db.doc, db.tableName);
  stages = new DynamoStageStore(db.doc, db.tableName);
});

afterAll(async () => {
  await Promise.all([db?.stop(), git?.stop(), app?.stop()]);
});

/** A new planner Lambda instance (its own GitHub App tokens), wired as lambdas/planner/deps.ts wires it. */
function plannerInstance(): PlannerDeps & { jobs: MemoryJobQueue } {
  return {
    store,
    stages,
    scm: createScmAccess({ credentials, keepInstallation: installationKeeper(store, log) }),
    jobs: new MemoryJobQueue(),
    nudge: async () => {},
    compile: { logGroup: '/slipway/builds', region: LOCAL_REGION },
    system: { host: 'ci.example.com', proto: 'https', version: 'test' },
    now: Date.now,
    log,
  };
}

/** A push of the private repository `slug` (activated once), its webhook body carrying `extra` as an attacker may write it. */
async function push(slug: string, extra: Record<string, unknown> = {}, repoExtra: Record<string, unknown> = {}): Promise<EventMessage> {
  if ((await store.getRepository(slug))?.active !== true) await store.activateRepository({ slug, scm: 'github', visibility: 'private', activatedAt: Date.now() });
  const sha = (++shas).toString(16).padStart(40, 'b');
  git.setFile(slug, sha, '.drone.yml', PIPELINE);
  const [owner, name] = slug.split('/') as [string, string];
  return {
    version: 1,
    deliveryId: `d-installation-${shas}`,
    host: 'github',
    receivedAt: Date.now(),
    hook: {
      kind: 'build', event: 'push', action: '', sender: 'octocat',
      repo: { slug, owner, name, scm: 'github', httpUrl: `https://github.com/${slug}.git`, link: `https://github.com/${slug}`, defaultBranch: 'main', private: true, visibility: 'private', ...repoExtra },
      commit: { sha, ref: 'refs/heads/main', branch: 'main', message: 'change', link: '', author: { login: 'octocat', name: 'Octo Cat', email: 'o@example.com', avatar: '' } },
      ...extra,
    } as EventMessage['hook'],
  };
}

/** The App requests made while `work` ran. */
async function appRequestsOf(work: () => Promise<unknown>): Promise<string[]> {
  const before = app.appRequests.length;
  await work();
  return app.appRequests.slice(before);
}

/** A job of `repo` whose task definition reads its clone token (as the planner compiles one with a GitHub App). */
function cloneJob(repo: string, githubInstallation?: StageJob['githubInstallation']): StageJob {
  const arn = `arn:aws:ssm:us-east-1:123456789012:parameter${cloneTokenParameterName(PREFIX, repo)}`;
  return {
    stageKey: `${repo}#1/1`, buildId: `${repo}#1`, stageNumber: 1, repo, pipeline: 'ci', cpu: 256, memory: 512, queuedAt: Date.now(),
    taskDefinition: { family: 'f', containerDefinitions: [{ name: AGENT_CONTAINER, image: 'alpine', essential: true, secrets: [{ name: NETRC_ENV.password, valueFrom: arn }] }] },
    runTask: {},
    ...(githubInstallation ? { githubInstallation } : {}),
  };
}

/** A new autoscaler instance's clone-token minter, wired as lambdas/autoscaler/handler.ts wires it. */
function minterInstance(writes: string[]) {
  return createCloneTokenMinter({ prefix: PREFIX, credentials, store: { put: async (name) => void writes.push(name) }, keepInstallation: installationKeeper(store, log) });
}

describe('the installation id on the repository record', () => {
  it('is kept from GitHub\'s answer at the first push; a new planner instance then reads the file after one call for its token, and the jobs carry the id', async () => {
    const first = plannerInstance();
    expect(await appRequestsOf(async () => expect(await planEvent(await push('acme/app'), first)).toMatchObject({ kind: 'created' }))).toEqual(['installation acme/app', `access_tokens ${app.installationId()}`]);
    const kept = { appId: '123', id: app.installationId() };
    expect((await store.getRepository('acme/app'))?.githubInstallation).toEqual(kept);
    // The first push's jobs carry the id the file was read with: its autoscaler needs no lookup either.
    expect(first.jobs.enqueued.at(-1)?.githubInstallation).toEqual(kept);

    // A cold planner (a new instance): the record's id, so only the token before the file.
    const cold = plannerInstance();
    expect(await appRequestsOf(async () => expect(await planEvent(await push('acme/app'), cold)).toMatchObject({ kind: 'created' }))).toEqual([`access_tokens ${kept.id}`]);
    const job = cold.jobs.enqueued.at(-1)!;
    expect(job.githubInstallation).toEqual(kept);
    expect((await stages.getStageJob(job.buildId, job.stageNumber))?.githubInstallation).toEqual(kept);

    // A cold autoscaler mints the clone token of that job in one call, and writes it once.
    const writes: string[] = [];
    expect(await appRequestsOf(() => minterInstance(writes)(cloneJob('acme/app', job.githubInstallation)))).toEqual([`access_tokens ${kept.id}`]);
    expect(writes).toEqual([cloneTokenParameterName(PREFIX, 'acme/app')]);
  });

  it("is never taken from a webhook: an `installation` in the body or on its repository changes nothing that is kept or asked", async () => {
    // The repository's first push, its body naming an installation of the attacker's choosing.
    const forged = { appId: '123', id: 666 };
    const message = await push('acme/other', { installation: { id: 666 } }, { githubInstallation: forged });
    const requests = await appRequestsOf(() => planEvent(message, plannerInstance()));
    expect(requests).toEqual(['installation acme/other', `access_tokens ${app.installationId()}`]);
    expect((await store.getRepository('acme/other'))?.githubInstallation).toEqual({ appId: '123', id: app.installationId() });
    // Kept already: the record's id is used, the body's never.
    const again = await push('acme/other', { installation: { id: 666 } }, { githubInstallation: forged });
    const instance = plannerInstance();
    expect(await appRequestsOf(() => planEvent(again, instance))).toEqual([`access_tokens ${app.installationId()}`]);
    expect(instance.jobs.enqueued.at(-1)?.githubInstallation).toEqual({ appId: '123', id: app.installationId() });
  });

  it('the App installed again: the kept id is refused (404), looked up once, and the record overwritten, by the autoscaler as by the planner', async () => {
    const planner = plannerInstance();
    await planEvent(await push('acme/clone'), planner);
    const old = app.installationId();
    const job = cloneJob('acme/clone', planner.jobs.enqueued.at(-1)!.githubInstallation);
    expect(job.githubInstallation).toEqual({ appId: '123', id: old });
    const fresh = app.reinstall();
    // The job queued before it carries the old id: a new autoscaler instance asks once more and keeps GitHub's answer.
    const writes: string[] = [];
    expect(await appRequestsOf(() => minterInstance(writes)(job))).toEqual([`access_tokens ${old}`, 'installation acme/clone', `access_tokens ${fresh}`]);
    expect(writes).toHaveLength(1);
    expect((await store.getRepository('acme/clone'))?.githubInstallation).toEqual({ appId: '123', id: fresh });
    // The next new planner instance reads the overwritten id: one call.
    const message = await push('acme/clone');
    expect(await appRequestsOf(() => planEvent(message, plannerInstance()))).toEqual([`access_tokens ${fresh}`]);
    // And a planner's own refusal: the App installed once more, the record's id refused, looked up, overwritten.
    const third = app.reinstall();
    const next = await push('acme/clone');
    const replanned = plannerInstance();
    expect(await appRequestsOf(() => planEvent(next, replanned))).toEqual([`access_tokens ${fresh}`, 'installation acme/clone', `access_tokens ${third}`]);
    expect((await store.getRepository('acme/clone'))?.githubInstallation).toEqual({ appId: '123', id: third });
    // Its jobs carry the id GitHub just named, not the refused one the record held when it was read.
    expect(replanned.jobs.enqueued.at(-1)?.githubInstallation).toEqual({ appId: '123', id: third });
  });
});

describe('an installation id that cannot be used or kept', () => {
  it("an id kept for another App (the deployment's App replaced) is no hint: looked up, and the new App's kept", async () => {
    await store.activateRepository({ slug: 'acme/app', scm: 'github', visibility: 'private', activatedAt: Date.now() });
    await store.setGithubInstallation('acme/app', { appId: '999', id: 1 });
    const message = await push('acme/app');
    expect(await appRequestsOf(() => planEvent(message, plannerInstance()))).toEqual(['installation acme/app', `access_tokens ${app.installationId()}`]);
    expect((await store.getRepository('acme/app'))?.githubInstallation).toEqual({ appId: '123', id: app.installationId() });
  });

  it('a record that cannot be written costs a later lookup, never the token: the failure is logged', async () => {
    const throttled = Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } });
    const keep = installationKeeper({ setGithubInstallation: async () => Promise.reject(throttled) }, log);
    const minted = await new GithubAppTokens().mint({ appId: '123', privateKey }, app.url, 'acme/app', CLONE_PERMISSIONS, { found: (id) => keep('acme/app', { appId: '123', id }) });
    expect(app.tokens.get(minted.token)?.repositories).toEqual(['app']);
    expect(logs.at(-1)).toMatchObject({ message: expect.stringContaining('GitHub App installation not kept on the repository record'), fields: { repo: 'acme/app', error: expect.stringContaining('ProvisionedThroughputExceededException') } });
  });

  it('is kept only on a repository that has a record: none is created for another name', async () => {
    await store.setGithubInstallation('acme/never-added', { appId: '123', id: 7 });
    expect(await store.getRepository('acme/never-added')).toBeNull();
  });
});
