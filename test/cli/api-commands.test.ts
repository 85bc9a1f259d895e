// The API commands of the CLI against a real local server (local/server.ts: the same
// router as the API Lambda) over DynamoDB Local, seeded through the store.

import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import type { CliIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { DEFAULT_SERVER, serverUrl } from '../../cli/client.js';
import { writeServerFile } from '../../local/local-runs.js';
import { LogStore } from '../../local/ecs/logs.js';
import { startLocalServer, type LocalServer } from '../../local/server.js';
import { localWebhookSecrets } from '../../local/secrets.js';
import { hmacSha256Hex } from '../../core/scm/verify-signature.js';
import type { EventMessage } from '../../core/scm/types.js';
import { buildId } from '../../core/builds/types.js';
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import { logStreamName } from '../../core/pipeline/log-configuration.js';
import { localLogReader } from '../../local/log-reader.js';
import { cloudWatchLogReader } from '../../adapters/cloudwatch-logs/log-reader.js';
import { startLocalCloudWatchLogs, type LocalCloudWatchLogs } from '../../local/cloudwatch-logs/index.js';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { buildDashboard } from '../../web/build.js';
import { startDynamoLocal, type LocalDynamo } from '../support/dynamodb-local.js';
import { seedBuild, seededApiDeps } from '../api/seed.js';

const GROUP = '/slipway/builds';
const TASK = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/feed01';
let db: LocalDynamo;
let store: DynamoBuildStore;
let server: LocalServer;
let dir: string;
const stopped: string[] = [];
const enqueued: EventMessage[] = [];
/** A body naming the activated repository acme/app (whose webhook secret is set in beforeAll). */
const HOOK_BODY = JSON.stringify({ repository: { full_name: 'acme/app' } });
const NOTES = ['secrets withheld from this build (pull request from a fork): deploy_token', 'resources: the task was raised to hold its containers: cpu 256 → 512'];

beforeAll(async () => {
  db = await startDynamoLocal('slipway-cli-test');
  store = new DynamoBuildStore(db.doc, db.tableName);
  dir = mkdtempSync(join(tmpdir(), 'slipway-cli-'));
  await store.ensureRepository({ slug: 'acme/app', scm: 'github', httpUrl: 'https://git.example/acme/app.git', link: 'https://git.example/acme/app', defaultBranch: 'main', private: false });
  await localWebhookSecrets(join(dir, 'home')).put('github', 'acme/app', 'hook-secret');
  const t0 = Date.now() - 3_600_000;
  await seedBuild(store, { repo: 'acme/app', number: 1, createdAt: t0, status: 'success' });
  // What the control plane stores when build #1 finished (core/cost).
  await store.updateBuild(buildId('acme/app', 1), { cost: SEEDED_COST });
  await seedBuild(store, { repo: 'acme/app', number: 2, createdAt: t0 + 1000, status: 'failure', stages: [{ name: 'test', taskArn: TASK, notes: NOTES, steps: [{ name: 'clone', kind: 'clone' }, { name: 'unit', status: 'failure' }] }] });
  await seedBuild(store, { repo: 'acme/app', number: 3, createdAt: t0 + 2000, status: 'running', stages: [{ name: 'test', steps: [{ name: 'unit', status: 'running' }] }] });
  const writer = new LogStore(join(dir, 'logs')).writer({ group: GROUP, stream: logStreamName('unit', TASK), taskArn: TASK, container: 'unit' });
  writer.write('stdout', '+ go test ./...\nFAIL: TestThing\n');
  server = await startLocalServer({
    port: 0,
    webDir: buildDashboard(join(dir, 'web')),
    api: seededApiDeps(store, db, localLogReader(join(dir, 'logs'), GROUP), {
      stopTask: async (arn) => void stopped.push(arn),
      activation: { store, secrets: localWebhookSecrets(join(dir, 'home')), webhookUrl: 'http://localhost:8080/hooks', now: Date.now },
    }),
    webhook: { repositories: store, secrets: localWebhookSecrets(join(dir, 'home')), deliveries: store, enqueue: async (m) => void enqueued.push(m) },
  });
});

afterAll(async () => {
  await server?.stop();
  await db?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const SEEDED_COST = {
  currency: 'USD' as const, region: 'us-east-1', pricesAsOf: '2026-12-02', pricesSource: 'defaults', total: 0.0123, fargate: 0.012, storage: 0, publicIpv4: 0.0003, controlPlane: 0, logs: 0,
  lines: [{ item: 'Fargate vCPU (x86_64, on-demand)', quantity: 0.25, unit: 'vCPU-hours', rate: 0.04048, usd: 0.01012 }], estimates: ['logs: 2 container(s) × 64 KiB assumed'],
};

async function cli(...args: string[]) {
  return cliWithInput(undefined, ...args);
}

async function cliWithInput(stdin: string | undefined, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    cwd: dir,
    env: { SLIPWAY_SERVER: server.url, SLIPWAY_HOME: join(dir, 'home') },
    ...(stdin !== undefined ? { stdin: async () => stdin } : {}),
  };
  const code = await main(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('slipway builds / build / logs / cancel', () => {
  it('lists builds as a table and as JSON', async () => {
    const table = await cli('builds');
    expect(table.code).toBe(0);
    const lines = table.out.split('\n');
    expect(lines[0]).toMatch(/^REPO\s+BUILD\s+STATUS\s+EVENT\s+BRANCH/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual(['acme/app #3 running', 'acme/app #2 failure', 'acme/app #1 success']);
    // The COST column: the priced build's total, `-` for those without a cost.
    const costAt = lines[0]!.indexOf('COST');
    expect(lines.slice(1).map((l) => l.slice(costAt).split(/\s+/)[0])).toEqual(['-', '-', '$0.0123']);
    const json = await cli('builds', '--json', '--status', 'failure');
    expect(JSON.parse(json.out).builds.map((b: { number: number }) => b.number)).toEqual([2]);
    expect((await cli('builds', '--status', 'green')).code).toBe(2);
  });

  it('shows a build with its steps (the only repository is the default)', async () => {
    const res = await cli('build', '2');
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/^acme\/app #2 {2}failure/);
    expect(res.out).toMatch(/1\.2\s+unit\s+failure\s+9\.0s\s+exit code 1/);
    // The stage's notes follow its row, before its steps, outside the table's columns.
    const lines = res.out.split('\n');
    const stageRow = lines.findIndex((l) => /^1\s+test\s+failure/.test(l));
    expect(lines.slice(stageRow + 1, stageRow + 4)).toEqual([
      `    note: ${NOTES[0]}`,
      `    note: ${NOTES[1]}`,
      expect.stringMatching(/^1\.1\s+clone\s+failure/),
    ]);
    const json = JSON.parse((await cli('build', '2', '--json')).out);
    expect(json.stages[0].steps).toHaveLength(2);
    expect(json.stages[0].notes).toEqual(NOTES);
    // A build whose stages noted nothing prints no note lines.
    expect((await cli('build', '1')).out).not.toMatch(/note:/);
    const missing = await cli('build', '9');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/build acme\/app #9 does not exist/);
    expect((await cli('build')).code).toBe(2);
  });

  it('prints and follows a step log; a followed failed step exits 1', async () => {
    const res = await cli('logs', '2', 'unit');
    expect(res).toMatchObject({ code: 0, out: '+ go test ./...\nFAIL: TestThing' });
    const followed = await cli('logs', '2', '1.2', '--follow', '--timestamps');
    expect(followed.code).toBe(1);
    expect(followed.out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}\+ go test/);
    expect(followed.err).toMatch(/\[unit: failure, 9\.0s\]/);
    const unknown = await cli('logs', '2', 'lint');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/has no step "lint" \(steps: clone, unit\)/);
  });

  it('cancels a running build and refuses a finished one', async () => {
    const res = await cli('cancel', '3', '--repo', 'acme/app');
    expect(res.code).toBe(0);
    expect(stopped).toHaveLength(1);
    const again = await cli('cancel', '1');
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already finished \(success\)/);
  });

  it('says clearly when the server cannot be reached', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['builds'], { out: (t) => out.push(t), err: (t) => err.push(t), cwd: dir, env: { SLIPWAY_SERVER: 'http://127.0.0.1:9' } });
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/cannot reach the Slipway API at http:\/\/127\.0\.0\.1:9 .*is `slipway up` running/);
  });

  it('without SLIPWAY_SERVER, finds the server slipway up announced (started with PORT: not on 8080), as slipway run does', async () => {
    const home = mkdtempSync(join(tmpdir(), 'slipway-cli-home-'));
    try {
      const run = async (env: NodeJS.ProcessEnv) => {
        const out: string[] = [];
        const err: string[] = [];
        const code = await main(['builds'], { out: (t) => out.push(t), err: (t) => err.push(t), cwd: dir, env });
        return { code, out: out.join('\n'), err: err.join('\n') };
      };
      writeServerFile(home, { url: server.url, pid: process.pid, token: 'run-token' });
      const found = await run({ SLIPWAY_HOME: home });
      expect(found.err).toBe('');
      expect(found.out).toMatch(/acme\/app\s+#3\s+running/);
      // SLIPWAY_SERVER still wins over the file.
      expect((await run({ SLIPWAY_HOME: home, SLIPWAY_SERVER: 'http://127.0.0.1:9' })).err).toMatch(/cannot reach the Slipway API at http:\/\/127\.0\.0\.1:9 /);
      // A file whose server is gone is not followed: the default address is.
      writeServerFile(home, { url: server.url, pid: 2 ** 22 + 1, token: 'run-token' });
      expect(serverUrl({ SLIPWAY_HOME: home })).toBe(DEFAULT_SERVER);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('slipway logs over CloudWatch Logs (the stand-in, through the real SDK client)', () => {
  const CW_TASK = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/cw0001';
  let cw: LocalCloudWatchLogs;
  let client: CloudWatchLogsClient;
  let cwServer: LocalServer;

  beforeAll(async () => {
    // One minute of event time per GetLogEvents page: a ten-minute pause gives empty pages.
    cw = await startLocalCloudWatchLogs({ scanWindowMs: 60_000, requestsPerSecond: 0 });
    cw.createGroup(GROUP);
    client = new CloudWatchLogsClient({ endpoint: cw.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
    const t0 = Date.now() - 1_800_000;
    await seedBuild(store, { repo: 'acme/app', number: 4, createdAt: t0, status: 'success', stages: [{ name: 'test', taskArn: CW_TASK, steps: [{ name: 'e2e' }] }] });
    cw.put(GROUP, logStreamName('e2e', CW_TASK), [
      { timestamp: t0, message: 'starting the browser' },
      { timestamp: t0 + 10 * 60_000, message: 'all 12 scenarios passed' },
    ]);
    cwServer = await startLocalServer({
      port: 0,
      webDir: buildDashboard(join(dir, 'web-cw')),
      api: seededApiDeps(store, db, cloudWatchLogReader(client, GROUP, { retryAfterSeconds: 1 })),
      webhook: { repositories: store, secrets: { get: async () => 'hook-secret' }, deliveries: store, enqueue: async () => {} },
    });
  });
  afterAll(async () => {
    await cwServer?.stop();
    client?.destroy();
    await cw?.stop();
  });

  async function cwCli(...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t), cwd: dir, env: { SLIPWAY_SERVER: cwServer.url, SLIPWAY_HOME: join(dir, 'home') } });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('prints the whole log: an empty page before a pause ends is not the end', async () => {
    const res = await cwCli('logs', '4', 'e2e', '--repo', 'acme/app');
    expect(res).toMatchObject({ code: 0, out: 'starting the browser\nall 12 scenarios passed' });
  });

  it('follows through throttled reads, waiting as the API asks', async () => {
    cw.throttleNext(2);
    const res = await cwCli('logs', '4', 'e2e', '--repo', 'acme/app', '--follow');
    expect(res.code).toBe(0);
    expect(res.out).toBe('starting the browser\nall 12 scenarios passed');
    expect(res.err).toMatch(/CloudWatch Logs is throttling reads .*; trying again in 1 s/);
  });
});

describe('slipway secrets (local store)', () => {
  it('adds, lists and removes without ever printing a value', async () => {
    expect((await cli('secrets', 'add', '--repo', 'acme/app', 'DB_PASSWORD', '--value', 'hunter2')).code).toBe(0);
    expect((await cli('secrets', 'add', '--repo', 'acme/app', 'TOKEN', '--value', 't0k')).code).toBe(0);
    const list = await cli('secrets', 'list', '--repo', 'acme/app');
    expect(list.out).toBe('NAME         UPDATED\nDB_PASSWORD  -\nTOKEN        -');
    expect(list.out).not.toContain('hunter2');
    const { LocalSecretStore } = await import('../../local/secrets.js');
    const local = new LocalSecretStore(join(dir, 'home'));
    expect(await local.resolve('arn:aws:ssm:us-east-1:000000000000:parameter/slipway/acme/app/DB_PASSWORD')).toBe('hunter2');
    expect((await cli('secrets', 'rm', '--repo', 'acme/app', 'TOKEN')).code).toBe(0);
    expect((await cli('secrets', 'rm', '--repo', 'acme/app', 'TOKEN')).code).toBe(1);
    await expect(local.resolve('/slipway/acme/app/TOKEN')).rejects.toThrow(/slipway secrets add --repo acme\/app TOKEN/);
    expect((await cli('secrets', 'add', '--repo', 'acme/app', '9BAD', '--value', 'x')).code).toBe(2);
    expect((await cli('secrets', 'add', 'X', '--value', 'x')).code).toBe(2);
  });
});

describe('local server', () => {
  it('serves the dashboard, refuses path escapes, and routes webhooks to the webhook handler', async () => {
    const index = await fetch(`${server.url}/`);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(await index.text()).toContain('<main id="app"');
    expect((await fetch(`${server.url}/app.js`)).status).toBe(200);
    expect((await fetch(`${server.url}/..%2f..%2fpackage.json`)).status).toBe(404);
    const unsigned = await fetch(`${server.url}/hooks/github`, { method: 'POST', headers: { 'x-github-event': 'push' }, body: HOOK_BODY });
    expect(unsigned.status).toBe(401);
    expect((await fetch(`${server.url}/hooks/github`)).status).toBe(405);
  });
});

/** A request with headers fetch would not let us set (Host). */
function raw(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, method, path, headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the open local API keeps other web pages out', () => {
  const builds = '/api/repos/acme/app/builds';

  it('answers only to a loopback Host (no DNS rebinding)', async () => {
    for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`, `[::1]:${server.port}`]) {
      expect((await raw('GET', '/api/builds', { host })).status).toBe(200);
    }
    for (const host of [`attacker.example:${server.port}`, 'localhost', `localhost:${server.port + 1}`, `127.0.0.1.attacker.example:${server.port}`]) {
      const refused = await raw('GET', '/api/builds', { host });
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body).error).toMatch(/Host header .* only answers to localhost/);
    }
    // Webhooks are signed: a tunnel's Host reaches the handler, which checks the signature.
    const hook = await raw('POST', '/hooks/github', { host: 'hooks.tunnel.example', 'x-github-event': 'push' }, HOOK_BODY);
    expect(hook.status).toBe(401);
  });

  it('refuses a cross-site POST (no CSRF) and takes the CLI, dashboard and same-origin ones', async () => {
    const host = `localhost:${server.port}`;
    const before = stopped.length;
    for (const headers of [{ host }, { host, origin: 'https://attacker.example' }, { host, 'x-slipway-request': 'yes' }] as Record<string, string>[]) {
      const refused = await raw('POST', `${builds}/2/restart`, headers);
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body).error).toMatch(/needs the header 'x-slipway-request: 1'/);
    }
    expect((await raw('POST', `${builds}/3/cancel`, { host })).status).toBe(403);
    expect(stopped).toHaveLength(before);
    // Past the guard, the router answers: build 1 finished long ago, so it cannot be cancelled.
    for (const headers of [{ host, 'x-slipway-request': '1' }, { host, origin: `http://${host}` }] as Record<string, string>[]) {
      const passed = await raw('POST', `${builds}/1/cancel`, headers);
      expect(passed.status).toBe(409);
      expect(passed.body).toMatch(/already finished/);
    }
  });
});

const push = (repo: string): string => {
  const payload = structuredClone((examples as unknown as { name: string; examples: Record<string, any>[] }[]).find((e) => e.name === 'push')!.examples.find((e) => String(e.ref).startsWith('refs/heads/'))!);
  payload.repository.full_name = repo;
  // Pushed now by its signed time (the example's is from 2019: a replay by today's clock).
  payload.repository.pushed_at = Math.floor(Date.now() / 1000);
  return JSON.stringify(payload);
};
const deliver = async (repo: string, secret: string) => {
  const body = push(repo);
  const res = await fetch(`${server.url}/hooks/github`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': `d-${Math.random()}`, 'x-hub-signature-256': `sha256=${hmacSha256Hex(secret, body)}` },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('slipway repo', () => {
  it('add prints the webhook URL and the secret, which then signs that repository’s webhooks', async () => {
    const before = await deliver('octo/hooked', 'anything');
    expect(before).toMatchObject({ status: 200, body: { ignored: 'repository octo/hooked is not activated on github; activate it with: slipway repo add octo/hooked --host github' } });
    const added = await cli('repo', 'add', 'octo/hooked', '--host', 'github');
    expect(added.code).toBe(0);
    expect(added.out).toMatch(/^Activated github repository octo\/hooked \(private: cloned with the github clone token\)\./);
    expect(added.out).toContain('  URL:     http://localhost:8080/hooks/github');
    const secret = /Secret:\s+([0-9a-f]{64})/.exec(added.out)?.[1];
    expect(secret).toBeDefined();
    expect((await deliver('octo/hooked', 'not-the-secret')).status).toBe(401);
    expect((await deliver('octo/hooked', secret!)).status).toBe(202);
    expect(enqueued.at(-1)?.hook.repo.slug).toBe('octo/hooked');

    const listed = await cli('repo', 'list');
    expect(listed.out.split('\n').find((l) => l.startsWith('octo/hooked'))).toMatch(/^octo\/hooked\s+github\s+private\s+yes\s+0\s+\d{4}-/);
    expect(listed.out).not.toContain(secret!);
  });

  it('rotate-secret replaces the secret at once; rm stops the webhooks', async () => {
    const added = JSON.parse((await cli('repo', 'add', 'octo/rotating', '--host', 'github', '--visibility', 'public', '--json')).out);
    expect(added.repo).toMatchObject({ visibility: 'public', private: false });
    const rotated = JSON.parse((await cli('repo', 'rotate-secret', 'octo/rotating', '--json')).out);
    expect((await deliver('octo/rotating', added.webhook.secret)).status).toBe(401);
    expect((await deliver('octo/rotating', rotated.webhook.secret)).status).toBe(202);
    const removed = await cli('repo', 'rm', 'octo/rotating');
    expect(removed.out).toMatch(/^removed octo\/rotating: its webhooks run nothing now/);
    expect((await deliver('octo/rotating', rotated.webhook.secret)).body.ignored).toMatch(/is not activated on github/);
  });

  it('add --trusted --capacity warm stores the repository settings EC2 capacity reads (issue 19)', async () => {
    const added = await cli('repo', 'add', 'octo/trusted', '--host', 'github', '--trusted', '--capacity', 'warm');
    expect(added.out).toMatch(/trusted: may run on EC2 capacity; capacity warm\)/);
    const plain = JSON.parse((await cli('repo', 'add', 'octo/plain', '--host', 'github', '--json')).out);
    expect(plain.repo).toMatchObject({ trusted: false });
    expect(plain.repo.capacity).toBeUndefined();
    const refused = await cli('repo', 'add', 'octo/odd', '--host', 'github', '--capacity', 'hot');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/capacity="hot" must be one of warm, fargate/);
    expect((await cli('repo', 'rm', 'octo/trusted', '--trusted')).code).toBe(2);
  });

  it('update changes trust and capacity in place: the webhook secret still signs, the numbering goes on (issue 19)', async () => {
    const added = JSON.parse((await cli('repo', 'add', 'octo/upd', '--host', 'github', '--json')).out);
    expect((await deliver('octo/upd', added.webhook.secret)).status).toBe(202);
    const trusted = await cli('repo', 'update', 'octo/upd', '--trusted', '--capacity', 'warm');
    expect(trusted).toMatchObject({ code: 0, err: '' });
    expect(trusted.out).toBe([
      'Updated octo/upd:',
      '  trusted   false → true',
      '  capacity  (none) → warm',
      'Builds planned from now on use these settings (a restart too); builds already planned keep theirs.',
    ].join('\n'));
    const off = JSON.parse((await cli('repo', 'update', 'octo/upd', '--no-trusted', '--json')).out);
    expect(off.changes).toEqual([{ setting: 'trusted', from: true, to: false }]);
    expect(off.repo).toMatchObject({ slug: 'octo/upd', trusted: false, capacity: 'warm', active: true });
    expect((await cli('repo', 'update', 'octo/upd', '--capacity', 'warm')).out).toMatch(/^ {2}capacity {2}warm \(unchanged\)$/m);
    // Nothing was re-activated: the secret pasted into the host still signs its webhooks
    // (taken: 202, or 200 as a redelivery of the same push within its second; never 401 or ignored).
    const again = await deliver('octo/upd', added.webhook.secret);
    expect([200, 202]).toContain(again.status);
    expect(again.body.ignored).toBeUndefined();
  });

  it('add --no-pull-through-cache and update --pull-through-cache|--no-pull-through-cache keep the opt-out on the repository; list --json shows it', async () => {
    const out = await cli('repo', 'add', 'octo/cache-out', '--host', 'github', '--no-pull-through-cache');
    expect(out.code).toBe(0);
    expect(out.out).toMatch(/^Activated github repository octo\/cache-out \(private: cloned with the github clone token; images pulled as written, not through the pull-through cache\)\.$/m);
    const on = JSON.parse((await cli('repo', 'add', 'octo/cache-on', '--host', 'github', '--json')).out);
    expect(on.repo).toMatchObject({ pullThroughCache: true });
    const off = await cli('repo', 'update', 'octo/cache-on', '--no-pull-through-cache');
    expect(off).toMatchObject({ code: 0, err: '' });
    expect(off.out).toBe([
      'Updated octo/cache-on:',
      '  pullThroughCache  true → false',
      'Builds planned from now on use these settings (a restart too); builds already planned keep theirs.',
    ].join('\n'));
    const back = JSON.parse((await cli('repo', 'update', 'octo/cache-out', '--pull-through-cache', '--json')).out);
    expect(back.changes).toEqual([{ setting: 'pullThroughCache', from: false, to: true }]);
    const listed = JSON.parse((await cli('repo', 'list', '--json')).out).repos as { slug: string; pullThroughCache?: boolean }[];
    expect(listed.filter((r) => r.slug.startsWith('octo/cache-')).map((r) => [r.slug, r.pullThroughCache])).toEqual([['octo/cache-on', false], ['octo/cache-out', true]]);
    expect((await cli('repo', 'update', 'octo/cache-on', '--pull-through-cache', '--no-pull-through-cache')).err).toMatch(/^slipway repo: --pull-through-cache and --no-pull-through-cache contradict each other/);
    expect((await cli('repo', 'add', 'octo/cache-y', '--host', 'github', '--pull-through-cache')).err).toMatch(/^slipway repo: --pull-through-cache belongs to update \(add uses the cache unless --no-pull-through-cache\)/);
    expect((await cli('repo', 'rm', 'octo/cache-on', '--no-pull-through-cache')).code).toBe(2);
  });

  it('update says what is wrong: an unknown repository, nothing to change, contradictions, a host', async () => {
    expect(await cli('repo', 'update', 'octo/nobody', '--trusted')).toMatchObject({ code: 1, err: 'slipway repo: api: repository octo/nobody is not activated; activate it with: slipway repo add octo/nobody --host HOST' });
    expect((await cli('repo', 'update', 'octo/upd')).err).toMatch(/^slipway repo: update needs a setting to change: --trusted, --no-trusted, --capacity, --visibility, --pull-through-cache or --no-pull-through-cache/);
    expect((await cli('repo', 'update', 'octo/upd', '--trusted', '--no-trusted')).err).toMatch(/^slipway repo: --trusted and --no-trusted contradict each other/);
    expect((await cli('repo', 'update', 'octo/upd', '--host', 'gitlab')).err).toMatch(/^slipway repo: update cannot move a repository to another host: slipway repo rm octo\/upd, then slipway repo add octo\/upd --host gitlab/);
    expect((await cli('repo', 'add', 'octo/y', '--host', 'github', '--no-trusted')).code).toBe(2);
    const bad = await cli('repo', 'update', 'octo/upd', '--capacity', 'hot');
    expect(bad).toMatchObject({ code: 1 });
    expect(bad.err).toMatch(/capacity="hot" must be one of warm, fargate/);
  });

  it('says what is wrong with a usage or a refused request', async () => {
    expect((await cli('repo', 'add', 'octo/x')).err).toMatch(/^slipway repo: add needs --host github, gitea or gitlab/);
    expect((await cli('repo', 'add', 'octo', '--host', 'github')).code).toBe(2);
    expect((await cli('repo', 'rm', 'octo/x', '--host', 'github')).code).toBe(2);
    const refused = await cli('repo', 'add', 'octo/hooked', '--host', 'gitlab');
    expect(refused.code).toBe(1);
    expect(refused.err).toBe('slipway repo: api: repository octo/hooked is active on github; remove it there first (slipway repo rm octo/hooked) to activate it on gitlab');
    expect((await cli('repo', 'rotate-secret', 'octo/unknown')).err).toBe('slipway repo: api: repository octo/unknown is not activated; activate it with: slipway repo add octo/unknown --host HOST');
  });
});

describe('slipway app set-secret', () => {
  const appSecret = 'a'.repeat(24) + '-app-webhook-secret';
  it("stores the GitHub App's webhook secret read from standard input, after which the App's deliveries build activated repositories", async () => {
    await cli('repo', 'add', 'octo/app-installed', '--host', 'github');
    expect((await deliver('octo/app-installed', appSecret)).status).toBe(401);
    const set = await cliWithInput(`${appSecret}\n`, 'app', 'set-secret');
    expect(set).toMatchObject({ code: 0, err: '' });
    expect(set.out).toContain('Webhook URL http://localhost:8080/hooks/github');
    expect(set.out).not.toContain(appSecret);
    expect((await deliver('octo/app-installed', appSecret)).status).toBe(202);
    // Still only for activated repositories.
    expect((await deliver('octo/not-activated', appSecret)).body.ignored).toMatch(/is not activated on github/);
  });

  it('never takes the secret as an argument, and refuses an empty or short one', async () => {
    const arg = await cliWithInput('', 'app', 'set-secret', 'x'.repeat(32));
    expect(arg.code).toBe(2);
    expect(arg.err).toMatch(/^slipway app: unexpected argument "x+": the secret is read from standard input, never from an argument/);
    expect((await cliWithInput('\n', 'app', 'set-secret')).err).toMatch(/^slipway app: standard input was empty/);
    const short = await cliWithInput('short\n', 'app', 'set-secret');
    expect(short.code).toBe(1);
    expect(short.err).toBe('slipway app: api: the secret has 5 characters; use 16 to 4096 (for example: openssl rand -hex 32), in the App\'s settings too');
  });
});

// Last: it adds a second repository, after which commands need --repo.
describe('text from a push on the terminal', () => {
  it('prints no terminal control sequence from a commit message, a branch or a log line', async () => {
    const task = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/e5c0de';
    await store.ensureRepository({ slug: 'evil/app', scm: 'github', httpUrl: 'https://git.example/evil/app.git', link: 'https://git.example/evil/app', defaultBranch: 'main', private: false });
    await seedBuild(store, {
      repo: 'evil/app', number: 1, createdAt: Date.now(), status: 'failure',
      message: 'fix\u001b]0;owned\u0007 \u001b[2Jcleared \u202eevil', branch: 'x\u001b[8mhidden',
      stages: [{ name: 'test', taskArn: task, steps: [{ name: 'unit', status: 'failure' }, { name: 'l\u001b]0;owned\u0007int', status: 'success' }] }],
    });
    const writer = new LogStore(join(dir, 'logs')).writer({ group: GROUP, stream: logStreamName('unit', task), taskArn: task, container: 'unit' });
    writer.write('stdout', 'copy \u001b]52;c;ZXZpbA==\u0007done\rfake ok\n');
    const outputs = [await cli('builds', '--repo', 'evil/app'), await cli('build', '1', '--repo', 'evil/app'), await cli('logs', '1', 'unit', '--repo', 'evil/app')];
    for (const res of outputs) {
      expect(res.code).not.toBe(2);
      expect(`${res.out}${res.err}`).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    }
    expect(outputs[0]!.out).toMatch(/evil\/app\s+#1\s+failure\s+push\s+xhidden/);
    expect(outputs[2]!.out).toBe('copy donefake ok');
    // Standard error too: an unknown step's error lists the build's step names.
    const unknown = await cli('logs', '1', 'nosuch', '--repo', 'evil/app');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('lint');
    expect(unknown.err).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
  });
});

describe('GitLab subgroup repositories (group/subgroup/name)', () => {
  it('shows, logs and cancels a subgroup build with the full name in the query, never an encoded slash in the path', async () => {
    const task = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/5b6r0p';
    await store.ensureRepository({ slug: 'group/sub/proj', scm: 'gitlab', httpUrl: 'https://gitlab.example/group/sub/proj.git', link: 'https://gitlab.example/group/sub/proj', defaultBranch: 'main', private: true });
    await seedBuild(store, { repo: 'group/sub/proj', number: 1, createdAt: Date.now(), status: 'failure', stages: [{ name: 'test', taskArn: task, steps: [{ name: 'unit', status: 'failure' }] }] });
    await seedBuild(store, { repo: 'group/sub/proj', number: 2, createdAt: Date.now(), status: 'running', stages: [{ name: 'test', taskArn: `${task}-2`, steps: [{ name: 'unit', status: 'running' }] }] });
    new LogStore(join(dir, 'logs')).writer({ group: GROUP, stream: logStreamName('unit', task), taskArn: task, container: 'unit' }).write('stdout', 'nested ok\n');
    const urls: URL[] = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (input, init) => (urls.push(new URL(String(input))), realFetch(input, init));
    try {
      const shown = await cli('build', '1', '--repo', 'group/sub/proj');
      expect(shown.code).toBe(0);
      expect(shown.out).toMatch(/^group\/sub\/proj #1 {2}failure/);
      expect(await cli('logs', '1', 'unit', '--repo', 'group/sub/proj')).toMatchObject({ code: 0, out: 'nested ok' });
      expect((await cli('cancel', '2', '--repo', 'group/sub/proj')).code).toBe(0);
    } finally {
      globalThis.fetch = realFetch;
    }
    const asked = urls.filter((u) => u.pathname !== '/api/repos').map((u) => `${u.pathname} ${u.searchParams.get('repo')}`);
    expect(new Set(asked)).toEqual(new Set(['/api/builds/1 group/sub/proj', '/api/builds/1/logs/1/1 group/sub/proj', '/api/builds/2/cancel group/sub/proj']));
    expect(stopped.at(-1)).toBe(`${task}-2`);
    for (const u of urls) expect(u.pathname).not.toMatch(/%2F/i);
  });
});

describe('a build that ended before it ran (issue 17: a planner failure is an error build)', () => {
  it('says why in `slipway builds` and `slipway build`', async () => {
    const reason = 'cannot read .drone.yml of acme/down at c0ffee000000: the github API did not answer: scm: no answer from http://127.0.0.1:9/repos/acme/down/contents/.drone.yml (connection refused: ECONNREFUSED)';
    await store.ensureRepository({ slug: 'acme/down', scm: 'github', httpUrl: 'https://git.example/acme/down.git', link: 'https://git.example/acme/down', defaultBranch: 'main', private: false });
    await seedBuild(store, { repo: 'acme/down', number: 1, createdAt: Date.now(), status: 'error', stages: [] });
    await store.updateBuild('acme/down#1', { error: reason });
    const listed = await cli('builds', '--repo', 'acme/down');
    expect(listed.out.split('\n')[1]).toMatch(/^acme\/down\s+#1\s+error\s+push\s+main\s+c0ffee00\s+.*error: cannot read \.drone\.yml of acme\/down at c0ffee000000: the github API did not answer: scm: no/);
    const shown = await cli('build', '1', '--repo', 'acme/down');
    expect(shown.code).toBe(0);
    expect(shown.out.split('\n')[1]).toBe(`error: ${reason}`);
  });
});
