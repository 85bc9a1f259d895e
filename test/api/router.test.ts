import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildDetailResponse, BuildListResponse, LogPageResponse, MetricsResponse, RepoActivationResponse, RepoListResponse, RepoUpdateResponse } from '../../core/builds/api.js';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { DynamoStageStore } from '../../adapters/dynamodb/stage-store.js';
import type { Build } from '../../core/builds/types.js';
import { LogStore } from '../../local/ecs/logs.js';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { startLocalCloudWatchLogs, type LocalCloudWatchLogs } from '../../local/cloudwatch-logs/index.js';
import { cloudWatchLogReader } from '../../adapters/cloudwatch-logs/log-reader.js';
import { tokenAuthorizer } from '../../lambdas/api/auth.js';
import { logStreamName } from '../../core/pipeline/log-configuration.js';
import { localLogReader } from '../../local/log-reader.js';
import { recentRecordsReader } from '../../adapters/dynamodb/recent-records.js';
import { handleApiRequest, type ApiDeps } from '../../lambdas/api/router.js';
import { startDynamoLocal, type LocalDynamo } from '../support/dynamodb-local.js';
import { seedBuild } from './seed.js';

const GROUP = '/slipway/builds';
const NOW = Date.UTC(2030, 0, 15, 12);
let db: LocalDynamo;
let store: DynamoBuildStore;
let logsDir: string;
let deps: ApiDeps;
let now = NOW;
const stopped: { taskArn: string; reason: string }[] = [];
const restarted: Build[] = [];
const finishedHandOffs: Build[] = [];
const finishedCounts: string[] = [];

beforeAll(async () => {
  db = await startDynamoLocal('slipway-api-test');
  store = new DynamoBuildStore(db.doc, db.tableName);
  logsDir = mkdtempSync(join(tmpdir(), 'slipway-api-logs-'));
  for (const slug of ['acme/api', 'acme/web']) {
    await store.ensureRepository({ slug, scm: 'github', httpUrl: `https://git.example/${slug}.git`, link: `https://git.example/${slug}`, defaultBranch: 'main', private: false });
  }
  // 30 builds of acme/api (every other one on `dev`, every fifth a failure), 5 of acme/web.
  for (let n = 1; n <= 30; n++) {
    await seedBuild(store, { repo: 'acme/api', number: n, createdAt: NOW - (40 - n) * 3_600_000, branch: n % 2 ? 'main' : 'dev', status: n % 5 === 0 ? 'failure' : 'success' });
  }
  for (let n = 1; n <= 5; n++) await seedBuild(store, { repo: 'acme/web', number: n, createdAt: NOW - (40 - n) * 3_600_000 - 1800_000 });
  deps = {
    store,
    stages: new DynamoStageStore(db.doc, db.tableName),
    listRepositories: (page) => store.listRepositories(page),
    recentRecords: recentRecordsReader(db.doc, db.tableName),
    logs: localLogReader(logsDir, GROUP),
    logGraceMs: 0,
    stopTask: async (taskArn, reason) => void stopped.push({ taskArn, reason }),
    buildFinished: async (build) => void finishedHandOffs.push(build),
    restart: async (build) => {
      restarted.push(build);
      return { ...build, id: `${build.repo}#99`, number: 99, parent: build.number, status: 'pending' };
    },
    now: () => now,
    log: () => {},
    metrics: { buildFinished: (status) => void finishedCounts.push(status) },
  };
});

afterAll(async () => {
  await db?.stop();
  if (logsDir) rmSync(logsDir, { recursive: true, force: true });
});

/** The DynamoDB commands the store and the API's queries send until `stop()`. */
function commandsDuring(): { stop(): string[] } {
  const names: string[] = [];
  const name = `count-${Math.random()}`;
  db.doc.middlewareStack.add((next, context) => async (args) => {
    names.push(context.commandName ?? '?');
    return next(args);
  }, { step: 'initialize', name });
  return {
    stop() {
      db.doc.middlewareStack.remove(name);
      return names;
    },
  };
}

async function call(method: string, url: string, extra: Partial<ApiDeps> = {}, headers: Record<string, string> = {}) {
  const u = new URL(url, 'http://api.test');
  const res = await handleApiRequest({ method, path: u.pathname, query: u.searchParams, headers }, { ...deps, ...extra });
  return { status: res.statusCode, body: JSON.parse(res.body), headers: res.headers };
}

describe('builds list', () => {
  it('lists builds of every repository newest first, paged with a cursor', async () => {
    const first = await call('GET', '/api/builds?limit=10');
    expect(first.status).toBe(200);
    const page1 = first.body as BuildListResponse;
    expect(page1.builds).toHaveLength(10);
    const created = page1.builds.map((b) => b.createdAt);
    expect(created).toEqual([...created].sort((a, b) => b - a));
    expect(page1.builds[0]).toMatchObject({ repo: 'acme/api', number: 30, status: 'failure' });
    expect(page1.next).toBeTypeOf('string');

    const seen = new Set(page1.builds.map((b) => b.id));
    let cursor = page1.next;
    while (cursor) {
      const page = (await call('GET', `/api/builds?limit=10&cursor=${encodeURIComponent(cursor)}`)).body as BuildListResponse;
      for (const b of page.builds) seen.add(b.id);
      cursor = page.next;
    }
    expect(seen.size).toBe(35);
  });

  it('filters by repository, branch and status without overfilling a page', async () => {
    const web = (await call('GET', '/api/builds?repo=acme/web')).body as BuildListResponse;
    expect(web.builds.map((b) => b.number)).toEqual([5, 4, 3, 2, 1]);
    expect(web.next).toBeUndefined();

    const dev = (await call('GET', '/api/builds?repo=acme/api&branch=dev&limit=4')).body as BuildListResponse;
    expect(dev.builds.map((b) => b.number)).toEqual([30, 28, 26, 24]);
    const devRest = (await call('GET', `/api/builds?repo=acme/api&branch=dev&limit=100&cursor=${encodeURIComponent(dev.next!)}`)).body as BuildListResponse;
    expect(devRest.builds.map((b) => b.number)).toEqual([22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2]);

    const failed = (await call('GET', '/api/builds?status=failure')).body as BuildListResponse;
    expect(failed.builds.map((b) => b.number)).toEqual([30, 25, 20, 15, 10, 5]);
    expect(failed.builds.every((b) => b.repo === 'acme/api')).toBe(true);
  });

  it('rejects bad query parameters with a 400 that says what was expected', async () => {
    const status = await call('GET', '/api/builds?status=green');
    expect(status.status).toBe(400);
    expect(status.body.error).toMatch(/^api: status="green" is not one of pending, running/);
    expect((await call('GET', '/api/builds?limit=0')).body.error).toMatch(/limit="0" must be an integer from 1 to 100/);
    expect((await call('GET', '/api/builds?cursor=nonsense')).status).toBe(400);
  });

  it('answers 400, never 500, to a forged page cursor (of builds or repositories) or a malformed escape', async () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const page1 = (await call('GET', '/api/builds?repo=acme/api&limit=2')).body as BuildListResponse;
    const otherRepoKey = JSON.parse(Buffer.from(page1.next!, 'base64url').toString('utf8')) as Record<string, string>;
    const forged = [
      b64(1), b64('x'), b64(null), b64([1]), b64({}), b64({ x: 1 }), b64({ pk: { S: 'a' } }), b64({ pk: 1, sk: true }),
      b64(Object.fromEntries(Object.entries(otherRepoKey).map(([k, v]) => [k, typeof v === 'string' ? v.replace('acme/api', 'acme/web') : v]))),
      '%E0%A4%A', '\u0000', 'x'.repeat(5000),
    ];
    for (const cursor of forged) {
      for (const url of [
        `/api/builds?cursor=${encodeURIComponent(cursor)}`,
        `/api/builds?repo=acme/api&cursor=${encodeURIComponent(cursor)}`,
        `/api/builds?repo=acme/api&status=failure&cursor=${encodeURIComponent(cursor)}`,
        // The repository list pages with the store's cursors too: a key of another query is refused, not a 500.
        `/api/repos?cursor=${encodeURIComponent(cursor)}`,
      ]) {
        const res = await call('GET', url);
        expect(res.status, `${url}`).toBe(400);
        expect(res.body.error).toMatch(/cursor/);
      }
    }
    // A malformed %-escape in the path or the query.
    for (const url of ['/api/builds/acme/api/%E0%A4%A', '/api/builds?repo=%E0%A4%A', '/api/builds/acme%2/api/1']) {
      expect((await call('GET', url)).status, url).toBeGreaterThanOrEqual(400);
      expect((await call('GET', url)).status, url).toBeLessThan(500);
    }
  });
});

describe('repositories, builds, metrics', () => {
  it('lists repositories', async () => {
    const res = (await call('GET', '/api/repos')).body as RepoListResponse;
    expect(res.repos.map((r) => r.slug)).toEqual(['acme/api', 'acme/web']);
    expect(res.repos[0]).toMatchObject({ scm: 'github', defaultBranch: 'main', configPath: '.drone.yml' });
    expect(res.repos[0]).not.toHaveProperty('PK');
  });

  it('returns a build with its stages, steps and timings', async () => {
    const res = await call('GET', '/api/repos/acme/api/builds/7');
    expect(res.status).toBe(200);
    const build = res.body as BuildDetailResponse;
    expect(build).toMatchObject({ repo: 'acme/api', number: 7, status: 'success' });
    expect(build.stages).toHaveLength(1);
    expect(build.stages[0]!.steps.map((s) => [s.name, s.status])).toEqual([['clone', 'success'], ['build', 'success'], ['test', 'success']]);
    expect(build.stages[0]!.steps[1]!.finishedAt! - build.stages[0]!.steps[1]!.startedAt!).toBe(9000);
    expect((await call('GET', '/api/repos/acme/api/builds/700')).status).toBe(404);
    expect((await call('GET', '/api/repos/acme/api/builds/x')).status).toBe(400);
  });

  it('lists repositories by name a page at a time, from the index: no Scan', async () => {
    const sent = commandsDuring();
    const first = (await call('GET', '/api/repos?limit=1')).body as RepoListResponse;
    expect(first.repos.map((r) => r.slug)).toEqual(['acme/api']);
    expect(first.next).toBeTypeOf('string');
    const second = (await call('GET', `/api/repos?limit=1&cursor=${first.next}`)).body as RepoListResponse;
    expect(second.repos.map((r) => r.slug)).toEqual(['acme/web']);
    const rest = (await call('GET', `/api/repos?limit=1&cursor=${second.next}`)).body as RepoListResponse;
    expect(rest).toEqual({ repos: [] });
    expect(sent.stop()).toEqual(['QueryCommand', 'QueryCommand', 'QueryCommand']);
    expect((await call('GET', '/api/repos?limit=5000')).status).toBe(400);
    expect((await call('GET', '/api/repos?cursor=WzFd')).status).toBe(400);
  });

  it('computes metrics over whole UTC days with two queries, not one per build', async () => {
    const sent = commandsDuring();
    const res = (await call('GET', '/api/metrics?days=1')).body as MetricsResponse;
    // acme/api #28..#30 were created today (00:00, 01:00, 02:00 UTC); #27 at 23:00 yesterday.
    expect(res.perDay).toEqual([{ day: '2030-01-15', total: 3, success: 2, failure: 1, other: 0, costUsd: 0 }]);
    expect(res.repos.map((r) => [r.repo, r.builds])).toEqual([['acme/api', 3]]);
    // Queue wait from the stages' index: each seeded stage waited 1.9 s (queued +100 ms, started +2 s).
    expect(res.repos[0]!.queueWait).toEqual({ p50: 1900, p95: 1900 });
    expect(res).toMatchObject({ from: Date.UTC(2030, 0, 15), to: NOW });
    expect(res).not.toHaveProperty('countedFrom');
    expect(sent.stop()).toEqual(['QueryCommand', 'QueryCommand']);
  });

  it('counts metrics from where its budget ran out, and says so', async () => {
    const reader = recentRecordsReader(db.doc, db.tableName);
    const res = (await call('GET', '/api/metrics?days=7', { recentRecords: (since) => reader(since, { builds: 10 }) })).body as MetricsResponse;
    expect(res.perDay.reduce((n, d) => n + d.total, 0)).toBe(10);
    // The ten newest: acme/api #21..#30, the oldest created 19 hours before NOW.
    expect(res.countedFrom).toBe(NOW - 19 * 3_600_000);
  });

  it('computes metrics over the requested window', async () => {
    const res = (await call('GET', '/api/metrics?days=7')).body as MetricsResponse;
    expect(res.days).toBe(7);
    const api = res.repos.find((r) => r.repo === 'acme/api')!;
    expect(api.builds).toBe(30);
    expect(api.successRate).toBeCloseTo(24 / 30);
    expect(res.perDay.reduce((n, d) => n + d.total, 0)).toBe(35);
    expect((await call('GET', '/api/metrics?days=9999')).status).toBe(400);
  });

  it('serves the OpenAPI document and answers unknown routes and methods clearly', async () => {
    expect((await call('GET', '/api/openapi.json')).body.openapi).toBe('3.1.0');
    const missing = await call('GET', '/api/nothing');
    expect(missing.status).toBe(404);
    const wrong = await call('DELETE', '/api/builds');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET');
  });
});

describe('where each stage\'s time went', () => {
  it('returns the phases of each ended stage from the push (control plane), with why it was queued; a build stored before either was kept still has its phases', async () => {
    const T = NOW - 3_600_000;
    const because = 'waiting: no Fargate capacity or quota (RunTask on FARGATE: Capacity is unavailable at this time); retrying with back-off';
    // Queued at +100 ms (seedBuild); the task created at 1.5 s, pulled 2–9 s, the agent ready at 2.9 s; its second step (after the clone) runs 13–22 s (seedBuild).
    const timeline = { queuedBecause: because, taskCreatedAt: T + 1500, pullStartedAt: T + 2000, pullStoppedAt: T + 9000, agentStartedAt: T + 2500, clonedAt: T + 2600, readyAt: T + 2900, stoppingAt: T + 59_000, stoppedAt: T + 60_000 };
    const stages = [
      { name: 'test', timeline, steps: [{ name: 'clone', kind: 'clone' as const }, { name: 'unit' }] },
      { name: 'deploy', dependsOn: ['test'], timeline: { taskCreatedAt: T + 1500, stoppedAt: T + 60_000 }, steps: [{ name: 'ship' }] },
      { name: 'lint', status: 'running' as const, steps: [{ name: 'eslint' }] },
    ];
    await seedBuild(store, { repo: 'acme/phases', number: 1, createdAt: T, receivedAt: T - 1200, status: 'running', stages });
    const build = (await call('GET', '/api/repos/acme/phases/builds/1')).body as BuildDetailResponse;
    expect(build.receivedAt).toBe(T - 1200);
    const [first, dependent, running] = build.stages;
    expect(first!.phases!.map((p) => [p.name, p.from - T, p.to - T])).toEqual([
      ['control plane', -1200, 100],
      ['queued', 100, 1500],
      ['provisioning', 1500, 2000],
      ['pulls', 2000, 9000],
      ['clone', 2500, 2600],
      ['services ready', 2600, 2900],
      ['first step', 2900, 13_000],
      ['steps', 13_000, 22_000],
      ['teardown', 22_000, 60_000],
    ]);
    expect(first!.phases![1]!.note).toBe(because);
    // A stage queued when its dependency ended: its time starts there, not at the push.
    expect(dependent!.phases!.map((p) => p.name)).toEqual(['queued', 'steps', 'teardown']);
    expect(running).not.toHaveProperty('phases');

    await seedBuild(store, { repo: 'acme/phases', number: 2, createdAt: T, stages: [{ name: 'test', timeline: { taskCreatedAt: T + 1500, stoppedAt: T + 60_000 }, steps: [{ name: 'unit' }] }] });
    const old = (await call('GET', '/api/repos/acme/phases/builds/2')).body as BuildDetailResponse;
    expect(old.stages[0]!.phases).toEqual([{ name: 'queued', from: T + 100, to: T + 1500 }, { name: 'steps', from: T + 3000, to: T + 12_000 }, { name: 'teardown', from: T + 12_000, to: T + 60_000 }]);
  });
});

describe('stage notes', () => {
  it("returns each stage's compiler notes, as the OpenAPI document describes them", async () => {
    const notes = ['secrets withheld from this build (pull request from a fork): deploy_token', 'steps "a", "b" share one container (ECS allows 10 containers per task)'];
    await seedBuild(store, {
      repo: 'acme/notes', number: 1, createdAt: NOW,
      stages: [{ name: 'test', notes, steps: [{ name: 'unit' }] }, { name: 'lint', steps: [{ name: 'eslint' }] }],
    });
    // A later stage update (as task events make) leaves the notes in place.
    await store.updateStage('acme/notes#1', 1, { message: 'all steps passed' }, { fromStatuses: ['success'] });
    const build = (await call('GET', '/api/repos/acme/notes/builds/1')).body as BuildDetailResponse;
    expect(build.stages[0]).toMatchObject({ name: 'test', message: 'all steps passed', notes });
    expect(build.stages[1]).not.toHaveProperty('notes');

    const doc = (await call('GET', '/api/openapi.json')).body;
    const schema = doc.components.schemas.Stage.properties.notes;
    expect(schema).toMatchObject({ type: 'array', items: { type: 'string' } });
    for (const stage of build.stages) {
      if (stage.notes === undefined) continue;
      expect(stage.notes.length).toBeLessThanOrEqual(schema.maxItems);
      for (const note of stage.notes) expect([...note].length).toBeLessThanOrEqual(schema.items.maxLength);
    }
  });
});

describe('step logs', () => {
  it('pages a running step by offset and completes once it has finished', async () => {
    const taskArn = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/abc123';
    await seedBuild(store, {
      repo: 'acme/logs', number: 1, status: 'running', createdAt: NOW,
      stages: [{ name: 'test', taskArn, steps: [{ name: 'compile', status: 'running' }, { name: 'later', status: 'pending' }] }],
    });
    const writer = new LogStore(logsDir).writer({ group: GROUP, stream: logStreamName('compile', taskArn), taskArn, container: 'compile' });
    writer.write('stdout', 'one\ntwo\n');
    const first = (await call('GET', '/api/repos/acme/logs/builds/1/logs/1/1')).body as LogPageResponse;
    expect(first.lines.map((l) => [l.offset, l.text])).toEqual([[0, 'one'], [1, 'two']]);
    expect(first).toMatchObject({ next: 2, complete: false });
    expect(first.lines[0]!.time).toBeGreaterThan(0);

    writer.write('stdout', 'three\n');
    const second = (await call('GET', `/api/repos/acme/logs/builds/1/logs/1/1?offset=${first.next}`)).body as LogPageResponse;
    expect(second.lines.map((l) => l.text)).toEqual(['three']);
    expect(second.complete).toBe(false);

    await store.updateStep('acme/logs#1', 1, 1, { status: 'success', finishedAt: now, exitCode: 0 });
    const last = (await call('GET', '/api/repos/acme/logs/builds/1/logs/1/1?offset=3')).body as LogPageResponse;
    expect(last).toMatchObject({ lines: [], next: 3, more: false, complete: true });
    // With an ingestion grace (CloudWatch), a just-finished step is not complete yet.
    expect(((await call('GET', '/api/repos/acme/logs/builds/1/logs/1/1?offset=3', { logGraceMs: 5000 })).body as LogPageResponse).complete).toBe(false);

    const pending = (await call('GET', '/api/repos/acme/logs/builds/1/logs/1/2')).body as LogPageResponse;
    expect(pending).toMatchObject({ lines: [], next: 0, more: false, complete: false });
    expect((await call('GET', '/api/repos/acme/logs/builds/1/logs/1/9')).status).toBe(404);
  });
});

describe('step logs of a split stage with services', () => {
  it("reads a service's log from the service task and a step's from the stage's task", async () => {
    const taskArn = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/seg2';
    const serviceTaskArn = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/svc';
    await seedBuild(store, {
      repo: 'acme/split', number: 1, status: 'running', createdAt: NOW,
      stages: [{ name: 'big', taskArn, serviceTaskArn, steps: [{ name: 'cache', kind: 'service', status: 'running' }, { name: 'read', status: 'running' }] }],
    });
    const logs = new LogStore(logsDir);
    logs.writer({ group: GROUP, stream: logStreamName('cache', serviceTaskArn), taskArn: serviceTaskArn, container: 'cache' }).write('stdout', 'Ready to accept connections\n');
    logs.writer({ group: GROUP, stream: logStreamName('read', taskArn), taskArn, container: 'read' }).write('stdout', 'read-ok\n');
    expect(((await call('GET', '/api/repos/acme/split/builds/1/logs/1/1')).body as LogPageResponse).lines.map((l) => l.text)).toEqual(['Ready to accept connections']);
    expect(((await call('GET', '/api/repos/acme/split/builds/1/logs/1/2')).body as LogPageResponse).lines.map((l) => l.text)).toEqual(['read-ok']);
  });
});

describe('step logs of a split stage, by the task each step ran in', () => {
  it("reads a step of segment 1 from segment 1's task once segment 2 runs; a record without its task reads the stage's", async () => {
    const segment1 = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/seg-one';
    const segment2 = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/seg-two';
    await seedBuild(store, {
      repo: 'acme/segments', number: 1, status: 'running', createdAt: NOW,
      stages: [{ name: 'big', taskArn: segment2, steps: [{ name: 'make', taskArn: segment1 }, { name: 'read', status: 'running', taskArn: segment2 }, { name: 'older', status: 'running' }] }],
    });
    const logs = new LogStore(logsDir);
    const write = (container: string, taskArn: string, text: string) => logs.writer({ group: GROUP, stream: logStreamName(container, taskArn), taskArn, container }).write('stdout', text);
    write('make', segment1, 'made in segment 1\n');
    write('read', segment2, 'read in segment 2\n');
    write('older', segment2, 'a record from before steps kept their task\n');
    const lines = async (step: number) => ((await call('GET', `/api/repos/acme/segments/builds/1/logs/1/${step}`)).body as LogPageResponse).lines.map((l) => l.text);
    expect(await lines(1)).toEqual(['made in segment 1']);
    expect(await lines(2)).toEqual(['read in segment 2']);
    expect(await lines(3)).toEqual(['a record from before steps kept their task']);
  });
});

describe('step logs from CloudWatch Logs (the stand-in, through the real SDK client)', () => {
  let cw: LocalCloudWatchLogs;
  let client: CloudWatchLogsClient;
  let cwDeps: Partial<ApiDeps>;
  const taskArn = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/cw1';
  const stream = logStreamName('compile', taskArn);
  const url = '/api/repos/acme/cwlogs/builds/1/logs/1/1';

  beforeAll(async () => {
    cw = await startLocalCloudWatchLogs({ scanWindowMs: 60_000, requestsPerSecond: 0 });
    cw.createGroup(GROUP);
    client = new CloudWatchLogsClient({ endpoint: cw.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
    cwDeps = { logs: cloudWatchLogReader(client, GROUP) };
    await seedBuild(store, {
      repo: 'acme/cwlogs', number: 1, status: 'running', createdAt: NOW,
      stages: [{ name: 'test', taskArn, steps: [{ name: 'compile', status: 'running' }, { name: 'other', status: 'running' }] }],
    });
  });
  afterAll(async () => {
    client?.destroy();
    await cw?.stop();
  });

  it('follows a running step with the cursor: each poll resumes from the last token, past pauses, until complete', async () => {
    cw.put(GROUP, stream, Array.from({ length: 2500 }, (_, i) => ({ timestamp: NOW + i, message: `line ${i}` })));
    const seen: string[] = [];
    let page = (await call('GET', url, cwDeps)).body as LogPageResponse;
    seen.push(...page.lines.map((l) => l.text));
    while (page.more) {
      page = (await call('GET', `${url}?cursor=${page.cursor}`, cwDeps)).body as LogPageResponse;
      seen.push(...page.lines.map((l) => l.text));
    }
    expect(seen).toHaveLength(2500);
    expect(page).toMatchObject({ next: 2500, more: false, complete: false });

    // A pause longer than a GetLogEvents page's scan, then the last lines: polls go on past the empty pages.
    cw.put(GROUP, stream, [{ timestamp: NOW + 5 * 60_000, message: 'after a pause' }]);
    const before = cw.requests.length;
    const polls: LogPageResponse[] = [];
    do {
      polls.push((await call('GET', `${url}?cursor=${(polls.at(-1) ?? page).cursor}`, cwDeps)).body as LogPageResponse);
    } while (polls.at(-1)!.more || polls.flatMap((p) => p.lines).length === 0);
    expect(polls.flatMap((p) => p.lines)).toEqual([{ time: NOW + 5 * 60_000, offset: 2500, text: 'after a pause' }]);
    expect(cw.requests.slice(before).every((r) => typeof r.input.nextToken === 'string')).toBe(true);

    await store.updateStep('acme/cwlogs#1', 1, 1, { status: 'success', finishedAt: now, exitCode: 0 });
    const last = (await call('GET', `${url}?cursor=${polls.at(-1)!.cursor}`, cwDeps)).body as LogPageResponse;
    expect(last).toMatchObject({ lines: [], next: 2501, more: false, complete: true });
  });

  it('a cursor given before the task started still reads the log once it runs', async () => {
    const arn = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/cw2';
    await seedBuild(store, { repo: 'acme/cwlogs', number: 2, status: 'pending', createdAt: NOW, stages: [{ name: 'test', status: 'pending', steps: [{ name: 'compile', status: 'pending' }] }] });
    const before = (await call('GET', '/api/repos/acme/cwlogs/builds/2/logs/1/1', cwDeps)).body as LogPageResponse;
    expect(before).toMatchObject({ lines: [], more: false, complete: false });
    await store.updateStage('acme/cwlogs#2', 1, { status: 'running', taskArn: arn, startedAt: NOW });
    await store.updateStep('acme/cwlogs#2', 1, 1, { status: 'running', startedAt: NOW });
    cw.put(GROUP, logStreamName('compile', arn), [{ timestamp: NOW, message: 'first line' }]);
    const after = await call('GET', `/api/repos/acme/cwlogs/builds/2/logs/1/1?cursor=${before.cursor}`, cwDeps);
    expect(after.status).toBe(200);
    expect((after.body as LogPageResponse).lines.map((l) => l.text)).toEqual(['first line']);
  });

  it("refuses a cursor from another step's log, or one it did not make", async () => {
    const page = (await call('GET', url, cwDeps)).body as LogPageResponse;
    const other = await call('GET', `/api/repos/acme/cwlogs/builds/1/logs/1/2?cursor=${page.cursor}`, cwDeps);
    expect(other.status).toBe(400);
    expect(other.body.error).toMatch(/another step's log.*offset=N/);
    expect((await call('GET', `${url}?cursor=bm90LWEtY3Vyc29y`, cwDeps)).status).toBe(400);
  });

  it('answers 503 with Retry-After when CloudWatch Logs throttles the read', async () => {
    cw.throttleNext(5);
    const res = await call('GET', url, cwDeps);
    cw.throttleNext(0);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.body.error).toMatch(/CloudWatch Logs is throttling reads of slipway\/compile\/cw1/);
  });
});

describe('cancel and restart', () => {
  it('stops the running stage, kills the stages that have not started', async () => {
    const taskArn = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/run1';
    await seedBuild(store, {
      repo: 'acme/cancel', number: 1, status: 'running', createdAt: NOW,
      stages: [
        { name: 'test', taskArn, steps: [{ name: 'unit', status: 'running' }] },
        { name: 'deploy', status: 'pending', dependsOn: ['test'], steps: [{ name: 'ship', status: 'pending' }] },
      ],
    });
    const res = await call('POST', '/api/repos/acme/cancel/builds/1/cancel');
    expect(res.status).toBe(200);
    expect(stopped).toEqual([{ taskArn, reason: 'Cancelled by an API user through the Slipway API' }]);
    const detail = (await call('GET', '/api/repos/acme/cancel/builds/1')).body as BuildDetailResponse;
    expect(detail.stages.map((s) => s.status)).toEqual(['running', 'killed']);
    expect(detail.stages[1]).toMatchObject({ reason: 'cancelled' });
    expect(detail.stages[1]!.steps[0]!.status).toBe('skipped');
    // The build settles when ECS reports the stopped task (task-events flow).
    expect(detail.status).toBe('running');
  });

  it('stops the task of a pending stage its task already claimed (first event seen, RunTask not yet recorded)', async () => {
    const taskArn = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/claimed1';
    await seedBuild(store, { repo: 'acme/claimed', number: 1, status: 'pending', createdAt: NOW, stages: [{ name: 'test', status: 'pending', taskArn, steps: [{ name: 'unit', status: 'pending' }] }] });
    stopped.length = 0;
    const res = await call('POST', '/api/repos/acme/claimed/builds/1/cancel');
    expect(res.status).toBe(200);
    expect(stopped.map((s) => s.taskArn)).toEqual([taskArn]);
    // Its stop event (UserInitiated) ends the stage and the build, as for a running one.
    expect(res.body.build.status).toBe('pending');
    expect(finishedHandOffs.map((b) => b.id)).not.toContain('acme/claimed#1');
  });

  it('finishes a build killed before anything ran, and refuses to cancel a finished one', async () => {
    await seedBuild(store, { repo: 'acme/cancel', number: 2, status: 'pending', createdAt: NOW, stages: [{ name: 'test', status: 'pending', steps: [{ name: 'unit', status: 'pending' }] }] });
    const res = await call('POST', '/api/repos/acme/cancel/builds/2/cancel');
    expect(res.status).toBe(200);
    expect(res.body.build).toMatchObject({ number: 2, status: 'killed', finishedAt: now });
    // No task will ever report: the final commit status is handed to the planner, once.
    expect(finishedHandOffs.map((b) => [b.id, b.status])).toEqual([['acme/cancel#2', 'killed']]);
    // …and counted as a finished build (BuildsFinished, status killed), once.
    expect(finishedCounts).toEqual(['killed']);
    const again = await call('POST', '/api/repos/acme/cancel/builds/2/cancel');
    expect(again.status).toBe(409);
    expect(again.body.error).toMatch(/already finished \(killed\)/);
    expect((await call('GET', '/api/repos/acme/cancel/builds/2/cancel')).status).toBe(405);
  });

  it('restarts a finished build and refuses a running one', async () => {
    const res = await call('POST', '/api/repos/acme/api/builds/5/restart');
    expect(res.status).toBe(200);
    expect(res.body.build).toMatchObject({ number: 99, parent: 5 });
    expect(restarted.at(-1)).toMatchObject({ repo: 'acme/api', number: 5 });
    expect((await call('POST', '/api/repos/acme/cancel/builds/1/restart')).status).toBe(409);
    expect((await call('POST', '/api/repos/acme/api/builds/404/restart')).status).toBe(404);
  });
});

describe('authentication', () => {
  it('refuses requests without the right bearer token and accepts the right one', async () => {
    const authorize = tokenAuthorizer(async () => '# rotated tokens\nsha256:' + (await import('node:crypto')).createHash('sha256').update('s3cret-token').digest('hex') + '\n');
    const anonymous = await call('GET', '/api/builds', { authorize });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await call('GET', '/api/builds', { authorize }, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await call('POST', '/api/repos/acme/api/builds/5/restart', { authorize }, { authorization: 'Bearer s3cret-tokeN' })).status).toBe(401);
    expect((await call('GET', '/api/builds?limit=1', { authorize }, { authorization: 'Bearer s3cret-token' })).status).toBe(200);
    // The document that describes the API is public.
    expect((await call('GET', '/api/openapi.json', { authorize })).status).toBe(200);
  });
});

describe('repository activation', () => {
  const written = new Map<string, string>();
  const activation = (): Partial<ApiDeps> => ({
    activation: {
      store,
      secrets: {
        put: async (host, slug, value) => void written.set(`${host} ${slug}`, value),
        remove: async (host, slug) => void written.delete(`${host} ${slug}`),
      },
      webhookUrl: 'https://hooks.example.com/',
      now: () => now,
    },
  });

  it('activates a repository with its own secret, shown once, and lists it without the secret', async () => {
    const res = await call('POST', '/api/repos/activate?repo=team/svc&host=gitea', activation());
    expect(res.status).toBe(201);
    const body = res.body as RepoActivationResponse;
    expect(body.webhook).toEqual({ host: 'gitea', url: 'https://hooks.example.com/gitea', secret: written.get('gitea team/svc') });
    expect(body.webhook.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(body.repo).toMatchObject({ slug: 'team/svc', scm: 'gitea', visibility: 'private', private: true, active: true, activatedAt: now, counter: 0 });
    const listed = (await call('GET', '/api/repos')).body as RepoListResponse;
    expect(listed.repos.find((r) => r.slug === 'team/svc')).toMatchObject({ scm: 'gitea', active: true });
    expect(JSON.stringify(listed)).not.toContain(body.webhook.secret);
    // Twice is a mistake that would silently replace the pasted secret: refused.
    const again = await call('POST', '/api/repos/activate?repo=team/svc&host=gitea', activation());
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('api: repository team/svc is already activated on gitea; for a new webhook secret: slipway repo rotate-secret team/svc; to change its settings: slipway repo update team/svc');
  });

  it('refuses a repository active on another host, an unknown host, a bad name or visibility', async () => {
    await call('POST', '/api/repos/activate?repo=acme/twice&host=github&visibility=public', activation());
    const other = await call('POST', '/api/repos/activate?repo=acme/twice&host=gitlab', activation());
    expect(other.status).toBe(409);
    expect(other.body.error).toBe('api: repository acme/twice is active on github; remove it there first (slipway repo rm acme/twice) to activate it on gitlab');
    expect((await call('POST', '/api/repos/activate?repo=acme/x&host=bitbucket', activation())).body.error).toBe('api: host="bitbucket" must be one of github, gitea, gitlab');
    expect((await call('POST', '/api/repos/activate?repo=acme/..&host=github', activation())).status).toBe(400);
    expect((await call('POST', '/api/repos/activate?repo=acme/x&host=github&visibility=secret', activation())).status).toBe(400);
    expect((await call('GET', '/api/repos/activate?repo=acme/x&host=github', activation())).status).toBe(405);
    expect((await call('POST', '/api/repos/activate?repo=acme/x&host=github')).status).toBe(501);
  });

  it('rotates a secret (the new one replaces the old), and removes a repository (its secret deleted, its record kept inactive)', async () => {
    const first = (await call('POST', '/api/repos/activate?repo=acme/rot&host=github', activation())).body as RepoActivationResponse;
    const rotated = await call('POST', '/api/repos/rotate-secret?repo=acme/rot', activation());
    expect(rotated.status).toBe(200);
    expect(rotated.body.webhook.secret).not.toBe(first.webhook.secret);
    expect(written.get('github acme/rot')).toBe(rotated.body.webhook.secret);
    const removed = await call('POST', '/api/repos/remove?repo=acme/rot', activation());
    expect(removed.status).toBe(200);
    expect(removed.body.repo).toMatchObject({ slug: 'acme/rot', active: false });
    expect(written.has('github acme/rot')).toBe(false);
    expect((await call('POST', '/api/repos/rotate-secret?repo=acme/rot', activation())).status).toBe(404);
    // Added again later: activated with a new secret, its build numbers kept.
    expect((await call('POST', '/api/repos/activate?repo=acme/rot&host=github', activation())).status).toBe(201);
  });

  it('updates only the settings named, says each before and after, and keeps the secret and the counter (issue 19)', async () => {
    const added = (await call('POST', '/api/repos/activate?repo=acme/upd&host=github&capacity=fargate', activation())).body as RepoActivationResponse;
    await store.nextBuildNumber('acme/upd');
    now = NOW + 60_000;
    const res = await call('POST', '/api/repos/update?repo=acme/upd&trusted=true', activation());
    expect(res.status).toBe(200);
    const body = res.body as RepoUpdateResponse;
    expect(body.changes).toEqual([{ setting: 'trusted', from: false, to: true }]);
    expect(body.repo).toMatchObject({ slug: 'acme/upd', trusted: true, trustSetAt: NOW + 60_000, capacity: 'fargate', visibility: 'private', counter: 1, active: true, activatedAt: NOW });
    // The webhook secret is not touched: update is no rotation.
    expect(written.get('github acme/upd')).toBe(added.webhook.secret);
    const more = (await call('POST', '/api/repos/update?repo=acme/upd&capacity=warm&visibility=public', activation())).body as RepoUpdateResponse;
    expect(more.changes).toEqual([{ setting: 'capacity', from: 'fargate', to: 'warm' }, { setting: 'visibility', from: 'private', to: 'public' }]);
    expect(await store.getRepository('acme/upd')).toMatchObject({ trusted: true, trustSetAt: NOW + 60_000, capacity: 'warm', visibility: 'public', private: false, counter: 1 });
    const off = (await call('POST', '/api/repos/update?repo=acme/upd&trusted=false', activation())).body as RepoUpdateResponse;
    expect(off.changes).toEqual([{ setting: 'trusted', from: true, to: false }]);
    now = NOW;
  });

  it("activates with the pull-through cache on unless pullThroughCache=false, turns it off and on in place, logs each change and lists it (repo list --json)", async () => {
    const logged: { message: string; fields: Record<string, unknown> }[] = [];
    const withLog = (): Partial<ApiDeps> => ({ ...activation(), log: (message: string, fields: Record<string, unknown> = {}) => void logged.push({ message, fields }) });
    expect(((await call('POST', '/api/repos/activate?repo=acme/cache-on&host=github', withLog())).body as RepoActivationResponse).repo).toMatchObject({ pullThroughCache: true });
    const out = await call('POST', '/api/repos/activate?repo=acme/cache-out&host=github&pullThroughCache=false', withLog());
    expect(out.status).toBe(201);
    expect((out.body as RepoActivationResponse).repo).toMatchObject({ pullThroughCache: false });
    expect(await call('POST', '/api/repos/activate?repo=acme/cache-bad&host=github&pullThroughCache=no', withLog())).toMatchObject({ status: 400, body: { error: 'api: pullThroughCache="no" must be true or false' } });
    expect(await store.getRepository('acme/cache-bad')).toBeNull();

    await store.nextBuildNumber('acme/cache-on');
    const off = await call('POST', '/api/repos/update?repo=acme/cache-on&pullThroughCache=false', withLog());
    expect(off.status).toBe(200);
    expect((off.body as RepoUpdateResponse).changes).toEqual([{ setting: 'pullThroughCache', from: true, to: false }]);
    expect(await store.getRepository('acme/cache-on')).toMatchObject({ pullThroughCache: false, trusted: false, counter: 1, active: true });
    expect(logged.find((l) => l.message === 'repository settings changed')?.fields).toEqual({ repo: 'acme/cache-on', changes: [{ setting: 'pullThroughCache', from: true, to: false }] });
    const on = (await call('POST', '/api/repos/update?repo=acme/cache-on&pullThroughCache=true&capacity=warm', withLog())).body as RepoUpdateResponse;
    expect(on.changes).toEqual([{ setting: 'capacity', to: 'warm' }, { setting: 'pullThroughCache', from: false, to: true }]);
    expect(await call('POST', '/api/repos/update?repo=acme/cache-on&pullThroughCache=off', withLog())).toMatchObject({ status: 400, body: { error: 'api: pullThroughCache="off" must be true or false' } });

    // A record written before the setting existed (none on it) reads as on: its change says so.
    await store.ensureRepository({ slug: 'acme/cache-old', scm: 'github', httpUrl: 'https://github.com/acme/cache-old.git', link: 'https://github.com/acme/cache-old', defaultBranch: 'main', private: true });
    const old = (await call('POST', '/api/repos/update?repo=acme/cache-old&pullThroughCache=false', withLog())).body as RepoUpdateResponse;
    expect(old.changes).toEqual([{ setting: 'pullThroughCache', from: true, to: false }]);

    const listed = ((await call('GET', '/api/repos')).body as RepoListResponse).repos;
    expect(listed.find((r) => r.slug === 'acme/cache-on')).toMatchObject({ pullThroughCache: true, capacity: 'warm' });
    expect(listed.find((r) => r.slug === 'acme/cache-out')).toMatchObject({ pullThroughCache: false });
  });

  it('refuses an update of an unknown, removed or local repository, of nothing, of an unknown setting or a bad value; as the other routes, behind the token', async () => {
    const update = (query: string, extra: Partial<ApiDeps> = activation()) => call('POST', `/api/repos/update?${query}`, extra);
    const unknown = await update('repo=acme/nobody&trusted=true');
    expect(unknown).toMatchObject({ status: 404, body: { error: 'api: repository acme/nobody is not activated; activate it with: slipway repo add acme/nobody --host HOST' } });
    await call('POST', '/api/repos/activate?repo=acme/removed&host=github', activation());
    await call('POST', '/api/repos/remove?repo=acme/removed', activation());
    expect((await update('repo=acme/removed&trusted=true')).status).toBe(404);
    expect((await store.getRepository('acme/removed'))?.trusted).toBe(false);
    await store.activateRepository({ slug: 'local/dir', scm: 'local', visibility: 'public', activatedAt: NOW, httpUrl: 'file:///x', link: 'file:///x', trusted: true });
    expect(await update('repo=local/dir&trusted=false')).toMatchObject({ status: 409, body: { error: expect.stringMatching(/local directory \(slipway run\), activated again by each run/) } });
    await call('POST', '/api/repos/activate?repo=acme/strict&host=github', activation());
    expect(await update('repo=acme/strict')).toMatchObject({ status: 400, body: { error: 'api: name a setting to change: trusted=, capacity=, visibility=, pullThroughCache=' } });
    // A misspelt setting is refused, never ignored as if it had applied.
    expect(await update('repo=acme/strict&trust=true')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^api: unknown parameter "trust"/) } });
    expect(await update('repo=acme/strict&trusted=yes')).toMatchObject({ status: 400, body: { error: 'api: trusted="yes" must be true or false' } });
    expect(await update('repo=acme/strict&capacity=')).toMatchObject({ status: 400, body: { error: 'api: capacity="" must be one of warm, fargate' } });
    expect((await update('repo=acme/strict&visibility=secret')).status).toBe(400);
    expect((await update('trusted=true')).status).toBe(400);
    expect(await store.getRepository('acme/strict')).toMatchObject({ trusted: false, visibility: 'private' });
    expect((await call('GET', '/api/repos/update?repo=acme/strict&trusted=true', activation())).status).toBe(405);
    expect((await update('repo=acme/strict&trusted=true', {})).status).toBe(501);
    const authorize = tokenAuthorizer(async () => 'the-token');
    expect((await update('repo=acme/strict&trusted=true', { ...activation(), authorize })).status).toBe(401);
    expect((await store.getRepository('acme/strict'))?.trusted).toBe(false);
    const allowed = await call('POST', '/api/repos/update?repo=acme/strict&trusted=true', { ...activation(), authorize }, { authorization: 'Bearer the-token' });
    expect(allowed.status).toBe(200);
  });

  it("stores the GitHub App's webhook secret from the JSON body under github/_app, never echoing it, and refuses what GitHub could not match", async () => {
    const post = (body: string | undefined, extra: Partial<ApiDeps> = activation()) =>
      handleApiRequest({ method: 'POST', path: '/api/app/github/secret', query: new URLSearchParams(), headers: {}, ...(body !== undefined ? { body } : {}) }, { ...deps, ...extra });
    const secret = 'f'.repeat(64);
    const res = await post(JSON.stringify({ secret }));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ app: 'github', webhookUrl: 'https://hooks.example.com/github' });
    expect(res.body).not.toContain(secret);
    expect(written.get('github _app')).toBe(secret);
    const refused = async (body: string | undefined) => ((r) => ({ status: r.statusCode, error: JSON.parse(r.body).error }))(await post(body));
    expect(await refused(undefined)).toMatchObject({ status: 400, error: expect.stringMatching(/^api: the body must be JSON \{"secret": "…"\}/) });
    expect(await refused(JSON.stringify({ secret: 42 }))).toEqual({ status: 400, error: 'api: the body must be JSON {"secret": "…"} with the secret as a string' });
    expect((await refused(JSON.stringify({ secret: 'short' }))).error).toBe('api: the secret has 5 characters; use 16 to 4096 (for example: openssl rand -hex 32), in the App\'s settings too');
    expect((await refused(JSON.stringify({ secret: `${'a'.repeat(20)} b` }))).status).toBe(400);
    expect(written.get('github _app')).toBe(secret);
    expect((await call('GET', '/api/app/github/secret', activation())).status).toBe(405);
    expect((await post(JSON.stringify({ secret }), { activation: undefined })).statusCode).toBe(501);
  });
});

describe('GitLab subgroup repositories: every build route takes the full name in ?repo=', () => {
  it('shows, logs, cancels and restarts a build of group/sub/proj; the first OWNER/NAME routes keep working', async () => {
    const taskArn = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/nested1';
    await seedBuild(store, { repo: 'group/sub/proj', number: 1, createdAt: NOW, stages: [{ name: 'test', taskArn, steps: [{ name: 'unit' }] }] });
    await seedBuild(store, { repo: 'group/sub/proj', number: 2, status: 'running', createdAt: NOW, stages: [{ name: 'test', taskArn: `${taskArn}-2`, steps: [{ name: 'unit', status: 'running' }] }] });
    const q = 'repo=group%2Fsub%2Fproj';
    const shown = await call('GET', `/api/builds/1?${q}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ repo: 'group/sub/proj', number: 1 });
    // Unencoded slashes in the query are fine too.
    expect((await call('GET', '/api/builds/1?repo=group/sub/proj')).body).toMatchObject({ repo: 'group/sub/proj', number: 1 });
    const log = await call('GET', `/api/builds/1/logs/1/1?${q}&offset=0`);
    expect(log.status).toBe(200);
    expect(log.body).toMatchObject({ lines: [], next: 0 });
    const cancelled = await call('POST', `/api/builds/2/cancel?${q}`);
    expect(cancelled.status).toBe(200);
    expect(stopped.at(-1)).toMatchObject({ taskArn: `${taskArn}-2` });
    const restartedRes = await call('POST', `/api/builds/1/restart?${q}`);
    expect(restartedRes.status).toBe(200);
    expect(restarted.at(-1)).toMatchObject({ repo: 'group/sub/proj', number: 1 });
    // The first form: OWNER/NAME in the path, the nested name as one encoded segment.
    expect((await call('GET', '/api/repos/group/sub%2Fproj/builds/1')).body).toMatchObject({ repo: 'group/sub/proj', number: 1 });
    expect((await call('GET', '/api/repos/acme/api/builds/7')).body).toMatchObject({ repo: 'acme/api', number: 7 });
    // A missing or partial name says what is expected.
    for (const bad of ['/api/builds/1', '/api/builds/1?repo=proj', '/api/builds/1?repo=group//proj']) {
      const res = await call('GET', bad);
      expect(res.status, bad).toBe(400);
      expect(res.body.error).toMatch(/^api: repo=".*" must be the repository's full name, OWNER\/NAME \(GitLab: GROUP\/SUBGROUP\/NAME\)$/);
    }
    expect((await call('GET', `/api/builds/9?${q}`)).status).toBe(404);
  });
});
