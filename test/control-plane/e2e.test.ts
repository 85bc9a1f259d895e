// The whole control plane, end to end, on the local stand-ins: a signed GitHub push goes
// through the webhook Lambda's handler (Function URL event), the events queue, the planner,
// the jobs queue, the autoscaler (RunTask on the ECS stand-in, which runs the agent, the
// steps and a real postgres as processes in the task's network namespace), the ECS task
// events, the task-events handler and the table. The Git host is a fake on loopback that
// serves the pipeline file and records commit statuses; the agent clones a real local
// repository whose commit holds the same file.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startLocalAws, type LocalAws } from '../../local/aws.js';
import { startControlPlane, type ControlPlane } from '../../local/control-plane.js';
import { ensureTable } from '../../lambdas/shared/table.js';
import { BuildStore } from '../../core/builds/store.js';
import type { BuildDetail } from '../../core/builds/types.js';
import type { TaskStateChangeEvent } from '../../core/builds/task-event.js';
import { hmacSha256Hex } from '../../core/scm/verify-signature.js';
import { handler as webhookHandler } from '../../lambdas/webhook/handler.js';
import { handler as taskEventsHandler } from '../../lambdas/task-events/handler.js';
import { startFakeGitHost, type FakeGitHost, type RecordedStatus } from '../support/fake-git-host.js';

const SECRET = 'e2e-webhook-secret';
const TABLE = 'e2e-builds';
const REPO = 'Codertocat/Hello-World';

// Two pipelines, the second depending on the first; the first has a postgres service that
// its steps reach by name and at localhost.
const GOOD = `kind: pipeline
type: docker
name: test
services:
- name: db
  image: postgres:15
  environment:
    POSTGRES_USER: app
    POSTGRES_PASSWORD: app
    POSTGRES_DB: app
steps:
- name: migrate
  image: postgres:15
  environment:
    PGPASSWORD: app
  commands:
  - psql -h db -U app -d app -c "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)"
  - psql -h localhost -U app -d app -tAc "INSERT INTO items (name) VALUES ('widget') RETURNING 'row:' || name"
- name: check
  image: alpine:3
  commands:
  - grep -q "hello from the repository" README.md
  - test "$DRONE_COMMIT_SHA" = "$(git rev-parse HEAD)"
---
kind: pipeline
type: docker
name: deploy
depends_on: [test]
steps:
- name: ship
  image: alpine:3
  commands:
  - echo "shipping build $DRONE_BUILD_NUMBER"
`;

const FAILING = `kind: pipeline
type: docker
name: test
steps:
- name: unit
  image: alpine:3
  commands:
  - echo "running the unit tests"
  - exit 3
---
kind: pipeline
type: docker
name: deploy
depends_on: [test]
steps:
- name: ship
  image: alpine:3
  commands:
  - echo "never"
`;

// `steps` is a mapping here, where a list is expected.
const INVALID = `kind: pipeline
type: docker
name: test
steps:
  build:
    image: alpine:3
`;

let aws: LocalAws;
let git: FakeGitHost;
let plane: ControlPlane;
let store: BuildStore;
let repoDir: string;
const errors: string[] = [];
// The handlers' JSON log lines (one object per line, as in CloudWatch), kept for assertions
// and for the message of a wait that timed out.
const logLines: Record<string, unknown>[] = [];

function gitIn(dir: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: dir, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'Dev', GIT_AUTHOR_EMAIL: 'dev@example.com', GIT_COMMITTER_NAME: 'Dev', GIT_COMMITTER_EMAIL: 'dev@example.com' },
  }).trim();
}

/** Commits the pipeline file on main in the local repository and serves it from the fake host. */
function commit(pipeline: string, message: string): string {
  writeFileSync(join(repoDir, '.drone.yml'), pipeline);
  writeFileSync(join(repoDir, 'README.md'), `hello from the repository (${message})\n`);
  gitIn(repoDir, 'add', '.');
  gitIn(repoDir, 'commit', '-q', '-m', message);
  const sha = gitIn(repoDir, 'rev-parse', 'HEAD');
  git.setFile(REPO, sha, '.drone.yml', pipeline);
  return sha;
}

type Example = { name: string; examples: Record<string, unknown>[] };
/** GitHub's own push payload (a branch push), pointed at the local repository and commit. */
function pushPayload(sha: string, message: string): Record<string, unknown> {
  const push = (examples as unknown as Example[]).find((e) => e.name === 'push')!.examples.find((e) => (e.ref as string).startsWith('refs/heads/'))!;
  const payload = structuredClone(push) as Record<string, any>;
  payload.ref = 'refs/heads/main';
  payload.after = sha;
  payload.repository.clone_url = repoDir;
  payload.repository.default_branch = 'main';
  payload.head_commit = { ...payload.head_commit, id: sha, message };
  payload.commits = [{ ...payload.commits[0], id: sha, message, added: [], removed: [], modified: ['.drone.yml', 'README.md'] }];
  return payload;
}

/** The webhook Lambda behind its Function URL, as AWS invokes it. */
async function deliver(payload: unknown, delivery: string): Promise<{ statusCode: number; body: Record<string, unknown> }> {
  const body = JSON.stringify(payload);
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/github',
    rawQueryString: '',
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'x-github-event': 'push',
      'x-github-delivery': delivery,
      'x-hub-signature-256': `sha256=${hmacSha256Hex(SECRET, body)}`,
      'user-agent': 'GitHub-Hookshot/e2e',
    },
    requestContext: { http: { method: 'POST', path: '/github', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'GitHub-Hookshot/e2e' } },
    body,
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
  const res = await webhookHandler(event);
  return { statusCode: res.statusCode ?? 0, body: JSON.parse(String(res.body)) as Record<string, unknown> };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, explain: () => Promise<string> = async () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) {
      const recent = logLines.slice(-15).map((l) => JSON.stringify(l)).join('\n') + `\n(${logLines.length} lines)`;
      throw new Error(`timed out waiting for ${what}; ${await explain()}; control plane ${JSON.stringify(plane.stats)}; errors: ${errors.join(' | ') || 'none'}; last log lines:\n${recent}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const FINAL = ['success', 'failure', 'error', 'killed'];
async function finishedBuild(delivery: string): Promise<BuildDetail> {
  const id = await waitFor(`a build for delivery ${delivery}`, () => store.buildForDelivery(`github:${delivery}`));
  const state = async () => {
    const detail = await store.getBuildDetail(id);
    const stages = detail?.stages.map((s) => `${s.name}=${s.status}${s.message ? ` (${s.message})` : ''}`).join(', ');
    return `build ${detail?.status}; stages ${stages}; ECS tasks ${aws.ecs.tasks().map((t) => `${t.lastStatus}/${t.stopCode ?? ''}`).join(' ')}`;
  };
  return waitFor(`build ${id} to finish`, async () => {
    const detail = await store.getBuildDetail(id);
    return detail && FINAL.includes(detail.status) ? detail : undefined;
  }, 30_000, state);
}

const statusesOf = (sha: string): RecordedStatus[] => git.statuses.filter((s) => s.sha === sha && s.context === 'continuous-integration/slipway');
const waitForFinalStatus = (sha: string) => git.waitForStatuses(() => statusesOf(sha).some((s) => s.state !== 'pending'), 15_000);
const stepTable = (detail: BuildDetail) => detail.stages.map((s) => ({ stage: s.name, status: s.status, steps: s.steps.map((x) => `${x.kind}:${x.name}=${x.status}`) }));

beforeAll(async () => {
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    try {
      logLines.push(JSON.parse(String(line)) as Record<string, unknown>);
    } catch {
      logLines.push({ text: String(line) });
    }
  });
  // Task events are duplicated and reordered on purpose: the consumers must not care.
  [aws, git] = await Promise.all([
    startLocalAws({ ecs: { eventDelivery: { duplicateProbability: 0.3, reorderProbability: 0.2, seed: 11 } } }),
    startFakeGitHost(),
  ]);
  const ddb = new DynamoDBClient(aws.clientConfig('dynamodb'));
  await ensureTable(ddb, TABLE);
  store = new BuildStore(DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } }), TABLE);
  const sqs = new SQSClient(aws.clientConfig('sqs'));
  const queue = async (QueueName: string) => (await sqs.send(new CreateQueueCommand({ QueueName, Attributes: { VisibilityTimeout: '5' } }))).QueueUrl!;
  // The queue URLs as fauxqs names them (sqs.<region>.localhost): the handlers must reach
  // them through AWS_ENDPOINT_URL_SQS alone.
  const [eventsUrl, jobsUrl] = [await queue('e2e-events'), await queue('e2e-jobs')];

  repoDir = mkdtempSync(join(tmpdir(), 'slipway-e2e-repo-'));
  gitIn(repoDir, 'init', '-q', '-b', 'main');

  plane = await startControlPlane({
    env: {
      ...aws.env(),
      TABLE_NAME: TABLE,
      EVENTS_QUEUE_URL: eventsUrl,
      JOBS_QUEUE_URL: jobsUrl,
      CLUSTER: 'slipway',
      SUBNET_IDS: 'subnet-local',
      WEBHOOK_SECRET: SECRET,
      SCM_CREDENTIALS: JSON.stringify({ github: { apiUrl: git.apiUrl, token: 'gh-e2e-token' } }),
      DEFAULT_CPU: '512',
      DEFAULT_MEMORY: '1024',
    },
    ecs: aws.ecs,
    scheduleMs: 2_000,
    onError: (where, err) => errors.push(`${where}: ${(err as Error).message}`),
  });
}, 60_000);

afterAll(async () => {
  await plane?.stop();
  vi.restoreAllMocks();
  await Promise.all([aws?.stop(), git?.stop()]);
  if (repoDir) rmSync(repoDir, { recursive: true, force: true });
});

describe('control plane end to end on the local stand-ins', () => {
  let good: { sha: string; delivery: string; detail: BuildDetail };

  it('a push builds two dependent pipelines with a postgres service; statuses pending then success; a redelivery runs nothing', async () => {
    const sha = commit(GOOD, 'add the pipeline');
    const delivery = 'e2e-good-1';
    const first = await deliver(pushPayload(sha, 'add the pipeline'), delivery);
    expect(first.statusCode).toBe(202);
    // GitHub redelivers the same delivery id: acknowledged, recorded once.
    const again = await deliver(pushPayload(sha, 'add the pipeline'), delivery);
    expect(again).toEqual({ statusCode: 200, body: { ok: true, duplicate: true, deliveryId: `github:${delivery}` } });

    const detail = await finishedBuild(delivery);
    expect({ status: detail.status, error: detail.error }).toEqual({ status: 'success', error: undefined });
    expect(stepTable(detail)).toEqual([
      { stage: 'test', status: 'success', steps: ['clone:clone=success', 'service:db=success', 'step:migrate=success', 'step:check=success'] },
      { stage: 'deploy', status: 'success', steps: ['clone:clone=success', 'step:ship=success'] },
    ]);
    expect(detail.stages.map((s) => [s.reason, s.attempts, s.exitCode])).toEqual([
      ['steps-passed', 1, 0],
      ['steps-passed', 1, 0],
    ]);
    // The dependent pipeline started only after the first one ended.
    expect(detail.stages[1]!.startedAt!).toBeGreaterThanOrEqual(detail.stages[0]!.finishedAt!);

    // Really ran: the step reached postgres, and each stage had exactly one task.
    const [test, deploy] = detail.stages;
    const migrate = test!.steps.find((s) => s.name === 'migrate')!;
    expect(aws.ecs.logs(test!.taskArn!, migrate.container).map((l) => l.message).join('\n')).toContain('row:widget');
    expect(aws.ecs.logs(deploy!.taskArn!, deploy!.steps.find((s) => s.name === 'ship')!.container).map((l) => l.message)).toContain(`shipping build ${detail.number}`);
    expect(aws.ecs.tasks().map((t) => t.taskArn).sort()).toEqual([test!.taskArn, deploy!.taskArn].sort());

    await waitForFinalStatus(sha);
    expect(statusesOf(sha).map((s) => s.state)).toEqual(['pending', 'success']);
    expect(statusesOf(sha).every((s) => s.token === 'gh-e2e-token' && s.repo === REPO)).toBe(true);
    // One build for the two deliveries of the same id.
    expect((await store.listBuilds(REPO)).items.filter((b) => b.commit === sha)).toHaveLength(1);
    good = { sha, delivery, detail };
  }, 60_000);

  it('a duplicate or stale task event changes nothing', async () => {
    const stage = good.detail.stages[0]!;
    const history = aws.ecs.events(stage.taskArn!);
    const stopped = history.filter((e) => e.detail.lastStatus === 'STOPPED').at(-1)!;
    const running = history.find((e) => e.detail.lastStatus === 'RUNNING')!;
    const before = await store.getBuildDetail(good.detail.id);
    const posted = git.statuses.length;

    for (const event of [stopped, running, stopped] as TaskStateChangeEvent[]) {
      const result = await taskEventsHandler(event);
      expect(result.applied).toBe(false);
    }
    const after = await store.getBuildDetail(good.detail.id);
    expect(after).toEqual(before);
    expect(git.statuses.length).toBe(posted);
  }, 20_000);

  it('a failing step fails the build and skips the dependent pipeline; statuses pending then failure', async () => {
    const sha = commit(FAILING, 'break the tests');
    expect((await deliver(pushPayload(sha, 'break the tests'), 'e2e-failing-1')).statusCode).toBe(202);
    const detail = await finishedBuild('e2e-failing-1');
    expect(detail.status).toBe('failure');
    expect(stepTable(detail)).toEqual([
      { stage: 'test', status: 'failure', steps: ['clone:clone=success', 'step:unit=failure'] },
      { stage: 'deploy', status: 'skipped', steps: ['clone:clone=skipped', 'step:ship=skipped'] },
    ]);
    expect(detail.stages[0]!.reason).toBe('step-failed');
    expect(detail.stages[0]!.steps[1]!.exitCode).toBe(3);
    expect(detail.stages[1]!.reason).toBe('dependency-failed');
    expect(detail.stages[1]!.taskArn).toBeUndefined();
    await waitForFinalStatus(sha);
    expect(statusesOf(sha).map((s) => s.state)).toEqual(['pending', 'failure']);
  }, 40_000);

  it('an invalid .drone.yml makes an errored build with FILE:LINE:COLUMN, a failed status, and no task', async () => {
    const tasksBefore = aws.ecs.tasks().length;
    const sha = commit(INVALID, 'a broken pipeline file');
    expect((await deliver(pushPayload(sha, 'a broken pipeline file'), 'e2e-invalid-1')).statusCode).toBe(202);
    const detail = await finishedBuild('e2e-invalid-1');
    expect(detail.status).toBe('error');
    expect(detail.error).toMatch(/^\.drone\.yml:5:3: /m);
    expect(detail.stages).toEqual([]);
    await waitForFinalStatus(sha);
    const states = statusesOf(sha);
    expect(states.map((s) => s.state)).toEqual(['error']);
    expect(states[0]!.description).toContain('.drone.yml:5:3');
    await plane.idle();
    expect(aws.ecs.tasks().length).toBe(tasksBefore);
    expect(errors).toEqual([]);
    expect(logLines.filter((l) => l.message === 'build created').length).toBe(2);
    expect(logLines.filter((l) => /not posted|failed/.test(String(l.message)))).toEqual([]);
  }, 30_000);
});
