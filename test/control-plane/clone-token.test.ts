// GitHub App clone tokens: the autoscaler mints a token for the one repository with
// `contents: read` just before RunTask, writes it to the repository's SSM parameter, and the
// task definition's `secrets` hands it to the agent container when ECS starts the task.
// Against a stand-in of GitHub's App endpoints (POST /app/installations/{id}/access_tokens
// with `repositories` and `permissions`, as in
// https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app),
// the SSM stand-in (real SSMClient) and the local AWS stand-ins; the ECS stand-in fetches
// the task's secrets from the SSM stand-in at task start, as ECS does with the execution role.

import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildFinished } from '../support/wait.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ECSClient } from '@aws-sdk/client-ecs';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { startLocalAws, type LocalAws } from '../../local/aws.js';
import { SecretNotFoundError } from '../../local/ecs/errors.js';
import { ensureTable } from '../../lambdas/shared/table.js';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { DynamoStageStore } from '../../adapters/dynamodb/stage-store.js';
import type { Build, Stage } from '../../core/builds/types.js';
import { AGENT_CONTAINER, NETRC_ENV } from '../../core/pipeline/contract.js';
import type { StageJob } from '../../core/scaling/job.js';
import { DEFAULT_LIMITS } from '../../core/scaling/decide-scale.js';
import { CLONE_PERMISSIONS } from '../../core/scm/github-app.js';
import { runPass, resetAutoscalerState, type AutoscalerDeps } from '../../lambdas/autoscaler/autoscaler.js';
import { CLONE_TOKEN_MIN_LIFE_MS } from '../../lambdas/autoscaler/start-stage.js';
import { TIMEOUT_GRACE_MS } from '../../lambdas/autoscaler/reconcile.js';
import { applyTaskEvent } from '../../lambdas/shared/execution/apply-event.js';
import { SqsJobQueue } from '../../adapters/sqs/job-queue.js';
import {
  CloneTokenError,
  cloneTokenParameterName,
  cloneTokenParameterOf,
  createCloneTokenMinter,
  ssmCloneTokenStore,
} from '../../lambdas/shared/clone-tokens.js';
import { startGithubAppStandIn, type AppStandIn } from '../support/github-app-stand-in.js';
import { startSsmStandIn, type SsmStandIn } from '../support/ssm-stand-in.js';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
const PREFIX = '/slipway-clone-tokens';
const ACCOUNT = '123456789012';
const arnOf = (slug: string) => `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter${cloneTokenParameterName(PREFIX, slug)}`;

let aws: LocalAws;
let app: AppStandIn;
let ssmStandIn: SsmStandIn;
let ssm: SSMClient;
let deps: AutoscalerDeps & { store: DynamoBuildStore; stages: DynamoStageStore };
let dir: string;
let clockOffset = 0;
let unsubscribe = () => {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-clone-token-'));
  app = await startGithubAppStandIn({ appId: '123', privateKey, installedOn: ['acme/app', 'acme/twin'], upstream: 'http://127.0.0.1:9' });
  ssmStandIn = await startSsmStandIn();
  ssm = new SSMClient({ endpoint: ssmStandIn.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  // ECS reads SSM secrets with the execution role (GetParameters, decrypted) before any container starts.
  const resolveSecret = async (valueFrom: string): Promise<string> => {
    const name = /:parameter(\/.*)$/.exec(valueFrom)?.[1] ?? valueFrom;
    try {
      return (await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }))).Parameter!.Value!;
    } catch (err) {
      if ((err as Error).name === 'ParameterNotFound') throw new SecretNotFoundError('ssm', name);
      throw err;
    }
  };
  aws = await startLocalAws({ ecs: { namespaces: false, resolveSecret } });
  const ddb = new DynamoDBClient(aws.clientConfig('dynamodb'));
  await ensureTable(ddb, 'builds');
  const doc = DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } });
  const sqs = new SQSClient(aws.clientConfig('sqs'));
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'jobs' }))).QueueUrl!;
  deps = {
    store: new DynamoBuildStore(doc, 'builds'),
    stages: new DynamoStageStore(doc, 'builds'),
    ecs: new ECSClient(aws.clientConfig('ecs')),
    jobs: new SqsJobQueue(sqs, queueUrl),
    postBuildStatus: async () => {},
    nudge: async () => {},
    now: () => Date.now() + clockOffset,
    log: () => {},
    config: {
      tableName: 'builds', jobsQueueUrl: queueUrl, cluster: 'slipway', subnets: ['subnet-local'], securityGroups: [], serviceSecurityGroups: [],
      assignPublicIp: 'DISABLED', useSpot: false, defaultCpu: 256, limits: { ...DEFAULT_LIMITS },
    },
    cloneTokens: createCloneTokenMinter({
      prefix: PREFIX,
      credentials: async () => ({ github: { apiUrl: app.url, appId: '123', privateKey } }),
      store: ssmCloneTokenStore(() => ssm),
    }),
  };
  unsubscribe = aws.ecs.onTaskStateChange(async (event) => void (await applyTaskEvent(deps, event.detail)));
});

afterAll(async () => {
  unsubscribe();
  await Promise.all([aws?.stop(), app?.stop(), ssmStandIn?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  resetAutoscalerState();
  clockOffset = 0;
});

let counter = 0;
/** One build of `repo` with one stage whose agent writes the clone password it was given to a file. */
async function seedStage(repo: string, options: { cloneToken?: string } = {}): Promise<{ build: Build; job: StageJob; out: string }> {
  const number = ++counter;
  const id = `${repo}#${number}`;
  const now = Date.now();
  const out = join(dir, `password-${number}`);
  await deps.store.ensureRepository({ slug: repo, scm: 'github', httpUrl: `https://github.com/${repo}.git`, link: '', defaultBranch: 'main', private: true });
  const build: Build = {
    id, repo, number, status: 'pending', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: `c0ffee${number}`,
    message: 'm', author: 'a', link: 'l', deliveryId: `d-${number}-${now}`, fork: false, createdAt: now,
  };
  const stage: Stage = { buildId: id, repo, buildNumber: number, number: 1, name: 'ci', status: 'pending', dependsOn: [], attempts: 0, queuedAt: now };
  await deps.store.createBuild({ build, stages: [stage], steps: [{ buildId: id, stageNumber: 1, number: 1, name: 'clone', container: AGENT_CONTAINER, status: 'pending', detached: false, kind: 'clone' }] });
  const secret = options.cloneToken ?? arnOf(repo);
  const job: StageJob = {
    stageKey: `${id}/1`, buildId: id, stageNumber: 1, repo, pipeline: 'ci', cpu: 256, memory: 512, queuedAt: now, receivedAt: now,
    taskDefinition: {
      family: `clone-token-${number}`, // a new definition per stage: the command names its own file
      requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: '256', memory: '512',
      containerDefinitions: [{
        name: AGENT_CONTAINER, image: 'alpine', essential: true, entryPoint: ['/bin/sh', '-c'],
        command: [`printf %s "$${NETRC_ENV.password}" > ${out}`],
        environment: [{ name: NETRC_ENV.machine, value: 'github.com' }, { name: NETRC_ENV.username, value: 'x-access-token' }],
        secrets: [{ name: NETRC_ENV.password, valueFrom: secret }],
      }],
    },
    runTask: {},
  };
  await deps.stages.putStageJobs([job]);
  await deps.jobs.enqueue(job);
  return { build, job, out };
}

const finished = (id: string) => buildFinished((i) => deps.store.getBuild(i), id);

describe('GitHub App clone tokens, minted when the stage starts', () => {
  it('writes a token for the one repository with contents:read to its SSM parameter before RunTask; the agent gets it from the task definition, never from overrides', async () => {
    const mintsBefore = app.mints.length;
    const { build, out } = await seedStage('acme/app');
    const report = await runPass(deps, { reconcile: false });
    expect(report.started.map((s) => s.stageKey)).toEqual([`${build.id}/1`]);
    expect((await finished(build.id)).status).toBe('success');

    // GitHub was asked for exactly this repository and permission (REST: repositories + permissions).
    expect(app.mints.slice(mintsBefore)).toEqual([{ installationId: 4242, body: { repositories: ['app'], permissions: CLONE_PERMISSIONS } }]);
    const stored = ssmStandIn.values.get(cloneTokenParameterName(PREFIX, 'acme/app'))!;
    expect(stored.type).toBe('SecureString');
    expect(app.tokens.get(stored.value)).toEqual({ repositories: ['app'], permissions: { contents: 'read', metadata: 'read' } });
    const put = ssmStandIn.calls.filter((c) => c.action === 'PutParameter').at(-1)!;
    expect(put.input).toMatchObject({ Name: '/slipway-clone-tokens/github/acme/app', Type: 'SecureString', Tier: 'Standard', Overwrite: true });
    // The agent container read it at start from the task definition's `secrets`.
    expect(readFileSync(out, 'utf8')).toBe(stored.value);
    // The RunTask request carried no token (DescribeTasks and CloudTrail show overrides).
    const task = aws.ecs.tasks().find((t) => t.taskArn === report.started[0]!.taskArn)!;
    expect(JSON.stringify(task)).not.toContain(stored.value);
    // Nor the table.
    expect(JSON.stringify(await deps.store.getBuildDetail(build.id))).not.toContain(stored.value);
  });

  it('two builds of one repository starting in one pass share one mint and one write when they ask at once: both tasks read that token', async () => {
    const mintsBefore = app.mints.length;
    const versionBefore = ssmStandIn.values.get(cloneTokenParameterName(PREFIX, 'acme/twin'))?.version ?? 0;
    const a = await seedStage('acme/twin');
    const b = await seedStage('acme/twin');
    // The pass starts both stages in parallel, but on a loaded machine one start's mint may end
    // before the other asks: only asks that overlap share. Both asks are held until both came.
    let asked = 0;
    let bothAsked!: () => void;
    const together = new Promise<void>((resolve) => (bothAsked = resolve));
    const atOnce = async (job: Parameters<NonNullable<typeof deps.cloneTokens>>[0]) => {
      if (++asked === 2) bothAsked();
      await together;
      return deps.cloneTokens!(job);
    };
    const report = await runPass({ ...deps, cloneTokens: atOnce }, { reconcile: false });
    expect(report.started).toHaveLength(2);
    await Promise.all([finished(a.build.id), finished(b.build.id)]);
    const seen = [readFileSync(a.out, 'utf8'), readFileSync(b.out, 'utf8')];
    for (const token of seen) expect(app.tokens.get(token)).toEqual({ repositories: ['twin'], permissions: { contents: 'read', metadata: 'read' } });
    expect(seen[0]).toBe(seen[1]);
    expect(app.mints.length - mintsBefore).toBe(1);
    expect(ssmStandIn.values.get(cloneTokenParameterName(PREFIX, 'acme/twin'))!.version).toBe(versionBefore + 1);
  });

  it('two autoscaler instances writing for one repository at once: the parameter holds one of their tokens, valid for that repository (the later write serves both)', async () => {
    const minter = () => createCloneTokenMinter({ prefix: PREFIX, credentials: async () => ({ github: { apiUrl: app.url, appId: '123', privateKey } }), store: ssmCloneTokenStore(() => ssm) });
    const job = { repo: 'acme/twin', taskDefinition: { family: 'f', containerDefinitions: [{ name: AGENT_CONTAINER, secrets: [{ name: NETRC_ENV.password, valueFrom: arnOf('acme/twin') }] }] } };
    const versionBefore = ssmStandIn.values.get(cloneTokenParameterName(PREFIX, 'acme/twin'))?.version ?? 0;
    const written = await Promise.all([minter()(job), minter()(job)]);
    expect(written.map((w) => w?.reused)).toEqual([false, false]);
    const stored = ssmStandIn.values.get(cloneTokenParameterName(PREFIX, 'acme/twin'))!;
    expect(stored.version).toBe(versionBefore + 2);
    expect(app.tokens.get(stored.value)?.repositories).toEqual(['twin']);
  });

  it('stages of two repositories in one pass ask for their tokens at once, not one after the other', async () => {
    // Each start waits here until the other has asked too: starts in series would never get past it.
    let asked = 0;
    let bothAsked!: () => void;
    const together = new Promise<void>((resolve) => (bothAsked = resolve));
    const gated = {
      ...deps,
      cloneTokens: async (job: Parameters<NonNullable<typeof deps.cloneTokens>>[0]) => {
        asked += 1;
        if (asked === 2) bothAsked();
        await together;
        return deps.cloneTokens!(job);
      },
    };
    const a = await seedStage('acme/app');
    const b = await seedStage('acme/twin');
    const report = await runPass(gated, { reconcile: false });
    expect(report.started.map((s) => s.stageKey).sort()).toEqual([`${a.build.id}/1`, `${b.build.id}/1`].sort());
    expect(asked).toBe(2);
    await Promise.all([finished(a.build.id), finished(b.build.id)]);
  });

  it('asks GitHub for the token while the task definition is registered, not after: both are done before RunTask', async () => {
    const events: string[] = [];
    const ecs = deps.ecs;
    const watched = {
      ...deps,
      ecs: {
        send: async (command: { constructor: { name: string } }) => {
          const answer = await (ecs.send as (c: unknown) => Promise<unknown>)(command);
          events.push(`${command.constructor.name} answered`);
          return answer;
        },
      } as unknown as typeof deps.ecs,
      cloneTokens: async (job: Parameters<NonNullable<typeof deps.cloneTokens>>[0]) => {
        events.push('token asked');
        const written = await deps.cloneTokens!(job);
        events.push('token written');
        return written;
      },
    };
    const { build } = await seedStage('acme/app');
    const report = await runPass(watched, { reconcile: false });
    expect(report.started.map((s) => s.stageKey)).toEqual([`${build.id}/1`]);
    await finished(build.id);
    const registered = events.findIndex((e) => e === 'RegisterTaskDefinitionCommand answered');
    expect(registered).toBeGreaterThan(-1);
    expect(events.indexOf('token asked')).toBeLessThan(registered);
    // RunTask only once both are done: ECS reads the parameter when it starts the task
    // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-ssm-paramstore.html).
    expect(events.indexOf('RunTaskCommand answered')).toBeGreaterThan(Math.max(registered, events.indexOf('token written')));
  });

  it('an error the minter does not word (a bug) surfaces even when the registration failed too: never dropped', async () => {
    const { build } = await seedStage('acme/app');
    const ecs = deps.ecs;
    const broken = {
      ...deps,
      ecs: {
        send: async (command: { constructor: { name: string } }) => {
          if (command.constructor.name === 'RegisterTaskDefinitionCommand') throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
          return (ecs.send as (c: unknown) => Promise<unknown>)(command);
        },
      } as unknown as typeof deps.ecs,
      cloneTokens: async () => {
        throw new TypeError('minter bug');
      },
    };
    await expect(runPass(broken, { reconcile: false })).rejects.toThrow('minter bug');
    // Nothing of the stage was lost: the next pass starts it.
    const report = await runPass(deps, { reconcile: false });
    expect(report.started.map((s) => s.stageKey)).toEqual([`${build.id}/1`]);
    await finished(build.id);
  });

  it('fails the stage, not the pass, when the App is not installed on the repository: the message says so and no task starts', async () => {
    const missing = await seedStage('acme/not-installed');
    const fine = await seedStage('acme/app');
    const report = await runPass(deps, { reconcile: false });
    expect(report.started.map((s) => s.stageKey)).toEqual([`${fine.build.id}/1`]);
    expect(report.failed).toEqual([{ stageKey: `${missing.build.id}/1`, message: expect.stringMatching(/^cannot start: clone token: scm: could not find the App installation of acme\/not-installed: GitHub answered 404 \(is the App installed on that repository\?\)/) }]);
    const stage = (await deps.store.getBuildDetail(missing.build.id))!.stages[0]!;
    expect([stage.status, stage.reason, stage.taskArn]).toEqual(['error', 'could-not-start', undefined]);
    expect((await finished(missing.build.id)).status).toBe('error');
    expect((await finished(fine.build.id)).status).toBe('success');
  });

  it('waits and retries with back-off while GitHub is down, then starts with a fresh token', async () => {
    const { build, out } = await seedStage('acme/app');
    app.failNext(1, 503);
    const first = await runPass(deps, { reconcile: false });
    expect(first.started).toEqual([]);
    // The first App request fails: the installation lookup, or the token of the installation this instance kept.
    expect(first.runTaskFailures).toEqual([{ stageKey: `${build.id}/1`, kind: 'retry', reason: expect.stringMatching(/^clone token: scm: could not (find the App installation of|mint an installation token for) acme\/app: GitHub answered 503/) }]);
    const waiting = (await deps.stages.getStageConsistent(build.id, 1))!;
    expect(waiting.status).toBe('pending');
    expect(waiting.message).toMatch(/^waiting: start failed 1 of at most 8 times \(clone token: /);
    // Past the back-off, GitHub answers again.
    clockOffset = waiting.retryAfter! - Date.now() + 1;
    const second = await runPass(deps, { reconcile: false });
    expect(second.started.map((s) => s.stageKey)).toEqual([`${build.id}/1`]);
    expect((await finished(build.id)).status).toBe('success');
    expect(app.tokens.get(readFileSync(out, 'utf8'))?.repositories).toEqual(['app']);
  });
});

describe('a token this instance wrote a short while ago is used again (no GitHub call, no write)', () => {
  const MIN_LIFE = CLONE_TOKEN_MIN_LIFE_MS;
  let offset = 0;
  const reusing = () =>
    createCloneTokenMinter({
      prefix: PREFIX,
      credentials: async () => ({ github: { apiUrl: app.url, appId: '123', privateKey } }),
      store: ssmCloneTokenStore(() => ssm),
      reuseMinLifeMs: MIN_LIFE,
      now: () => Date.now() + offset,
    });
  const puts = () => ssmStandIn.calls.filter((c) => c.action === 'PutParameter').length;
  const jobOf = (repo: string) => ({ repo, taskDefinition: { family: 'f', containerDefinitions: [{ name: AGENT_CONTAINER, secrets: [{ name: NETRC_ENV.password, valueFrom: arnOf(repo) }] }] } });

  it('a token is reused only while it has at least 45 of its 60 minutes left: a start may take 40 minutes to its clone, well past the reconciler\'s 15 minutes of grace, before a reused token ends', () => {
    expect(MIN_LIFE).toBe(45 * 60_000);
    expect(MIN_LIFE - 5 * 60_000).toBeGreaterThan(TIMEOUT_GRACE_MS);
  });

  it('the second start reuses the first one\'s token; once it has less than the margin left, a new one is minted (one GitHub call: the installation is kept) and written', async () => {
    offset = 0;
    const minter = reusing();
    const first = await minter(jobOf('acme/app'));
    expect(first).toMatchObject({ reused: false });
    const requests = app.appRequests.length;
    const writes = puts();
    const { build, job, out } = await seedStage('acme/app');
    const again = await minter(job);
    expect(again).toEqual({ parameter: first!.parameter, expiresAt: first!.expiresAt, reused: true });
    expect([app.appRequests.length - requests, puts() - writes]).toEqual([0, 0]);
    // Its task reads the token written for the first start, valid for this repository.
    const report = await runPass({ ...deps, cloneTokens: minter }, { reconcile: false });
    expect(report.started.map((s) => s.stageKey)).toEqual([`${build.id}/1`]);
    await finished(build.id);
    expect(app.tokens.get(readFileSync(out, 'utf8'))?.repositories).toEqual(['app']);
    expect([app.appRequests.length - requests, puts() - writes]).toEqual([0, 0]);

    // Just under the margin left: minted again, with the kept installation id, and written.
    offset = first!.expiresAt - Date.now() - MIN_LIFE + 1000;
    const fresh = await minter(jobOf('acme/app'));
    expect(fresh).toMatchObject({ reused: false });
    expect(app.appRequests.slice(requests)).toEqual([`access_tokens ${app.installationId()}`]);
    expect(puts() - writes).toBe(1);
    offset = 0;
  });

  it('nothing is reused without the option, for another App, or after a write that failed', async () => {
    offset = 0;
    const job = jobOf('acme/app');
    const plain = createCloneTokenMinter({ prefix: PREFIX, credentials: async () => ({ github: { apiUrl: app.url, appId: '123', privateKey } }), store: ssmCloneTokenStore(() => ssm) });
    await plain(job);
    expect(await plain(job)).toMatchObject({ reused: false });

    let appId = '123';
    const switching = createCloneTokenMinter({
      prefix: PREFIX, credentials: async () => ({ github: { apiUrl: app.url, appId, privateKey } }), store: ssmCloneTokenStore(() => ssm), reuseMinLifeMs: MIN_LIFE,
    });
    await switching(job);
    appId = '124'; // another App: its token would not be the one written; GitHub refuses this JWT
    await expect(switching(job)).rejects.toThrow(/GitHub answered 401/);

    let fail = false;
    const store = ssmCloneTokenStore(() => ssm);
    const flaky = createCloneTokenMinter({
      prefix: PREFIX, credentials: async () => ({ github: { apiUrl: app.url, appId: '123', privateKey } }), reuseMinLifeMs: MIN_LIFE, now: () => Date.now() + offset,
      store: { put: async (name, value) => (fail ? Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })) : store.put(name, value)) },
    });
    await flaky(job);
    fail = true;
    // Past the margin: a mint, whose write fails. The token of before is no longer taken as written.
    offset = 3_600_000 - MIN_LIFE;
    await expect(flaky(job)).rejects.toThrow(/could not write/);
    offset = 0;
    fail = false;
    expect(await flaky(job)).toMatchObject({ reused: false });
  });
});

describe('which clone token a task may read', () => {
  const job = (valueFrom: string): Pick<StageJob, 'repo' | 'taskDefinition'> => ({
    repo: 'acme/app',
    taskDefinition: { family: 'f', containerDefinitions: [{ name: AGENT_CONTAINER, secrets: [{ name: NETRC_ENV.password, valueFrom }] }] },
  });

  it('names its own repository\'s parameter, by ARN or by name; nothing for a task that reads none', () => {
    expect(cloneTokenParameterOf(job(arnOf('acme/app')), PREFIX)).toBe('/slipway-clone-tokens/github/acme/app');
    expect(cloneTokenParameterOf(job('/slipway-clone-tokens/github/acme/app'), PREFIX)).toBe('/slipway-clone-tokens/github/acme/app');
    expect(cloneTokenParameterOf(job('arn:aws:secretsmanager:us-east-1:123456789012:secret:scm:githubCloneToken::'), PREFIX)).toBeUndefined();
  });

  it('refuses a task definition that reads another repository\'s token, before minting anything', async () => {
    const mintsBefore = app.mints.length;
    const error = (() => {
      try {
        cloneTokenParameterOf(job(arnOf('acme/other')), PREFIX);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CloneTokenError);
    expect((error as CloneTokenError).retryable).toBe(false);
    expect((error as Error).message).toBe(
      'clone token: the task definition of acme/app reads /slipway-clone-tokens/github/acme/other, which is not its repository\'s clone token (/slipway-clone-tokens/github/acme/app); restart the build',
    );
    await expect(deps.cloneTokens!(job(arnOf('acme/other')))).rejects.toThrow(CloneTokenError);
    expect(app.mints.length).toBe(mintsBefore);
  });

  it('stores GitHub\'s ~520-character stateless tokens in the free standard tier; a write SSM refuses ends the start with its reason, not retried', async () => {
    // https://github.blog/changelog/2026-05-15-github-app-installation-tokens-per-request-override-header/ (ghs_ JWTs, ~520 characters, two dots)
    const stateless = `ghs_${'a'.repeat(120)}.${'b'.repeat(300)}.${'c'.repeat(96)}`;
    const store = ssmCloneTokenStore(() => ssm);
    await store.put('/slipway-clone-tokens/github/acme/long', stateless);
    expect((await ssm.send(new GetParameterCommand({ Name: '/slipway-clone-tokens/github/acme/long', WithDecryption: true }))).Parameter?.Value).toBe(stateless);
    const refused = createCloneTokenMinter({
      prefix: PREFIX,
      credentials: async () => ({ github: { apiUrl: app.url, appId: '123', privateKey } }),
      store: { put: (name) => store.put(name, 'x'.repeat(4097)) },
    });
    const error = await refused(job(arnOf('acme/app'))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CloneTokenError);
    expect((error as CloneTokenError).retryable).toBe(false);
    expect((error as Error).message).toMatch(/^clone token: could not write \/slipway-clone-tokens\/github\/acme\/app: ValidationException \(HTTP 400\): Standard tier parameters support a maximum parameter value of 4096 characters/);
  });

  it('says what to configure when the App is gone from the SCM credentials', async () => {
    const noApp = createCloneTokenMinter({ prefix: PREFIX, credentials: async () => ({ github: { token: 'ghp_x' } }), store: ssmCloneTokenStore(() => ssm) });
    await expect(noApp(job(arnOf('acme/app')))).rejects.toThrow(/^clone token: the task of acme\/app clones with a GitHub App token \(\/slipway-clone-tokens\/github\/acme\/app\), but the SCM credentials have no "github".appId/);
  });
});
