// A burst of webhooks through local mode: 1,000 signed GitHub pushes (distinct delivery
// ids and commits over 20 repositories) plus 100 redeliveries of them (same delivery id,
// same body, 10 %), sent in random order by 32 concurrent loopback clients to the local
// server's POST /hooks/github (local/server.ts → the webhook handler). Behind it the
// local Lambda runtime (local/control-plane.ts) runs the real planner, autoscaler and
// task-events handlers against DynamoDB Local, fauxqs and the ECS stand-in.
//
// It prints: builds created (must equal the distinct deliveries), RunTask calls per stage
// (must be one), webhook → RunTask latency p50/p95 (goal: p50 < 150 ms locally), and
// whether every build reached a final status.
//
// What the tasks do: nothing. The agent image is set (AGENT_IMAGE) to one the stand-in
// cannot run, so each task is accepted by RunTask and stops at once with
// "could not start" (builds end `error`, their statuses posted): the bench measures the
// control plane, not 1,000 agent processes on a laptop. Tasks share the host network
// (no namespace set-up per task). RunTask calls are counted by a loopback proxy in front
// of the ECS stand-in (each request's clientToken and stage id), independently of the
// stand-in's own clientToken de-duplication.
//
// The autoscaler keeps AWS's rates (core/scaling DEFAULT_LIMITS: RunTask burst 100,
// Fargate launches 20/s): a burst of 1,000 cannot start faster than that, so the burst's
// latency is mostly rate-limit queueing. A second, paced phase (100 pushes at 10/s, under
// the launch rate, started once every burst build has ended) measures the latency of the
// path itself against the 150 ms goal.
// The autoscaler's schedule is AWS's one minute: passes come from nudges (planner
// batches, stopped tasks) and from its own follow-up passes while rate-limited.
// `BENCH_DELIVERIES=200 npm run bench -- burst` runs a smaller burst.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startLocalAws, type LocalAws } from '../local/aws.js';
import { startControlPlane, type ControlPlane } from '../local/control-plane.js';
import { startLocalServer, type LocalServer } from '../local/server.js';
import { apiDepsFromEnv } from '../lambdas/api/wiring.js';
import { localLogReader } from '../local/log-reader.js';
import { ensureTable } from '../lambdas/shared/table.js';
import { dynamoDocument, sqsClient } from '../lambdas/shared/clients.js';
import { sendEventMessage } from '../lambdas/shared/events-queue.js';
import { deliveryId } from '../core/scm/parse-event.js';
import { DynamoBuildStore } from '../adapters/dynamodb/store.js';
import type { Build } from '../core/builds/types.js';
import { AGENT_CONTAINER, AGENT_ENV } from '../core/pipeline/contract.js';
import { hmacSha256Hex } from '../core/scm/verify-signature.js';
import { startFakeGitHost, type FakeGitHost } from '../test/support/fake-git-host.js';

const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 1000);
const REDELIVERED = DELIVERIES / 10;
const REPOS = 20;
const CONCURRENCY = 32;
const PACED = 100;
const PACED_PER_SECOND = 10;
const SECRET = 'bench-webhook-secret';
const TABLE = 'bench-builds';
const LOG_GROUP = '/slipway/builds';
const DEADLINE_MS = 5 * 60_000;
const FINISHED = ['success', 'failure', 'error', 'killed'];

const PIPELINE = `kind: pipeline
type: docker
name: unit
steps:
- name: test
  image: alpine:3
  commands:
  - "true"
`;

const out = (line = ''): void => void process.stdout.write(`${line}\n`);

// The handlers log one JSON line per event: thousands here. Keep them for the figures
// the autoscaler records itself, out of the bench's output.
const handlerLines: Record<string, unknown>[] = [];
console.log = (line: unknown) => {
  const at = Date.now();
  try {
    handlerLines.push({ ...(JSON.parse(String(line)) as Record<string, unknown>), at });
  } catch {
    handlerLines.push({ text: String(line), at });
  }
};

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
const ms = (v: number): string => `${v.toFixed(0)} ms`;

interface RunTaskCall {
  stageId: string;
  clientToken: string;
  /** When the stand-in's answer came back through the proxy. */
  at: number;
  ok: boolean;
}

/** A loopback proxy in front of the ECS stand-in that records every RunTask request. */
async function startEcsCounter(upstream: string): Promise<{ url: string; calls: RunTaskCall[]; stop(): Promise<void> }> {
  const calls: RunTaskCall[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const target = String(req.headers['x-amz-target'] ?? '');
      try {
        const answer = await fetch(upstream + (req.url ?? '/'), {
          method: req.method ?? 'POST',
          headers: { 'content-type': String(req.headers['content-type'] ?? 'application/x-amz-json-1.1'), 'x-amz-target': target },
          body,
        });
        const text = Buffer.from(await answer.arrayBuffer());
        if (target.endsWith('.RunTask')) {
          const input = JSON.parse(body.toString('utf8')) as { clientToken?: string; overrides?: { containerOverrides?: { name?: string; environment?: { name: string; value: string }[] }[] } };
          const agent = input.overrides?.containerOverrides?.find((o) => o.name === AGENT_CONTAINER);
          const stageId = agent?.environment?.find((e) => e.name === AGENT_ENV.stageId)?.value ?? '(none)';
          calls.push({ stageId, clientToken: input.clientToken ?? '', at: Date.now(), ok: answer.ok });
        }
        const headers: Record<string, string> = {};
        for (const name of ['content-type', 'x-amzn-requestid', 'x-amzn-errortype']) {
          const value = answer.headers.get(name);
          if (value) headers[name] = value;
        }
        res.writeHead(answer.status, headers);
        res.end(text);
      } catch (err) {
        res.writeHead(502, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ __type: 'ServerException', message: `bench proxy: ${(err as Error).message}` }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Example = { name: string; examples: Record<string, unknown>[] };
const branchPush = (examples as unknown as Example[]).find((e) => e.name === 'push')!.examples.find((e) => String(e.ref).startsWith('refs/heads/'))!;

interface Delivery {
  id: string;
  repo: string;
  sha: string;
  body: string;
  /** When its first copy was sent, and when that copy was answered. */
  sentAt?: number;
  answeredAt?: number;
}

function makeDelivery(git: FakeGitHost, index: number, tag: string): Delivery {
  const repo = `bench/repo-${index % REPOS}`;
  const sha = randomBytes(20).toString('hex');
  git.setFile(repo, sha, '.drone.yml', PIPELINE);
  const payload = structuredClone(branchPush) as Record<string, any>;
  payload.ref = 'refs/heads/main';
  payload.after = sha;
  payload.repository = { ...payload.repository, full_name: repo, name: repo.split('/')[1], owner: { ...payload.repository.owner, login: 'bench', name: 'bench' }, clone_url: `https://git.example/${repo}.git`, html_url: `https://git.example/${repo}`, default_branch: 'main', pushed_at: Math.floor(Date.now() / 1000) };
  payload.head_commit = { ...payload.head_commit, id: sha, message: `change ${index}` };
  payload.commits = [{ ...payload.commits[0], id: sha, message: `change ${index}` }];
  return { id: `${tag}-${index}-${createHash('sha256').update(sha).digest('hex').slice(0, 8)}`, repo, sha, body: JSON.stringify(payload) };
}

async function send(hookUrl: string, d: Delivery): Promise<number> {
  d.sentAt ??= Date.now();
  const res = await fetch(hookUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': d.id,
      'x-hub-signature-256': `sha256=${hmacSha256Hex(SECRET, d.body)}`,
      'user-agent': 'GitHub-Hookshot/bench',
    },
    body: d.body,
  });
  await res.arrayBuffer();
  d.answeredAt ??= Date.now();
  return res.status;
}

let progress: () => string = () => '';
async function waitUntil(what: string, probe: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  let told = start;
  while (!(await probe())) {
    if (Date.now() - told > 10_000) {
      told = Date.now();
      process.stderr.write(`  … ${what}: ${progress()}\n`);
    }
    if (Date.now() - start > timeoutMs) throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return Date.now() - start;
}

async function allBuilds(store: DynamoBuildStore): Promise<Build[]> {
  const builds: Build[] = [];
  for (let r = 0; r < REPOS; r++) {
    let cursor: string | undefined;
    do {
      const page = await store.listBuilds(`bench/repo-${r}`, { limit: 100, ...(cursor ? { cursor } : {}) });
      builds.push(...page.items);
      cursor = page.cursor;
    } while (cursor);
  }
  return builds;
}

async function main(): Promise<void> {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const errors: string[] = [];
  const guard = setTimeout(() => {
    process.stderr.write(`bench: still running after ${DEADLINE_MS / 1000} s; giving up\n`);
    process.exit(1);
  }, DEADLINE_MS);
  guard.unref();
  try {
    const t0 = Date.now();
    // Room for every task at once: the bench measures the control plane, not the quota.
    const aws: LocalAws = await startLocalAws({ ecs: { namespaces: false, maxTasks: 5000, vcpuQuota: 5000 } });
    cleanups.push(() => aws.stop());
    const git = await startFakeGitHost();
    cleanups.push(() => git.stop());
    const counter = await startEcsCounter(aws.endpoints.ecs);
    cleanups.push(() => counter.stop());

    const ddb = new DynamoDBClient(aws.clientConfig('dynamodb'));
    cleanups.push(() => ddb.destroy());
    await ensureTable(ddb, TABLE);
    const sqs = new SQSClient(aws.clientConfig('sqs'));
    cleanups.push(() => sqs.destroy());
    const queue = async (QueueName: string, Attributes: Record<string, string> = {}) => (await sqs.send(new CreateQueueCommand({ QueueName, Attributes }))).QueueUrl!;
    await queue('bench-events-dlq');
    const eventsUrl = await queue('bench-events', {
      VisibilityTimeout: '30',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: `arn:aws:sqs:${aws.region}:000000000000:bench-events-dlq`, maxReceiveCount: '5' }),
    });
    const jobsUrl = await queue('bench-jobs');

    const env: Record<string, string> = {
      ...aws.env(),
      AWS_ENDPOINT_URL_ECS: counter.url,
      TABLE_NAME: TABLE,
      EVENTS_QUEUE_URL: eventsUrl,
      JOBS_QUEUE_URL: jobsUrl,
      CLUSTER: 'slipway',
      SUBNET_IDS: 'subnet-local',
      BUILD_LOG_GROUP: LOG_GROUP,
      SCM_CREDENTIALS: JSON.stringify({ github: { apiUrl: git.apiUrl, webUrl: 'https://git.example', token: 'bench-token' } }),
      AGENT_IMAGE: 'slipway/bench-agent-not-runnable-locally:1',
      DEFAULT_CPU: '256',
      DEFAULT_MEMORY: '512',
      MAX_CONCURRENT_BUILDS: '5000',
      VCPU_QUOTA: '5000',
    };
    const plane: ControlPlane = await startControlPlane({ env, ecs: aws.ecs, scheduleMs: 60_000, onError: (where, err) => errors.push(`${where}: ${(err as Error).message}`) });
    cleanups.push(() => plane.stop());

    // The local server needs a dashboard directory; the bench serves an empty page.
    const webDir = mkdtempSync(join(tmpdir(), 'slipway-bench-web-'));
    cleanups.push(() => rmSync(webDir, { recursive: true, force: true }));
    writeFileSync(join(webDir, 'index.html'), '<!doctype html><title>bench</title>\n');
    // The webhook's dependencies exactly as the Lambda builds them from the environment.
    const store = new DynamoBuildStore(dynamoDocument(), TABLE);
    const server: LocalServer = await startLocalServer({
      port: 0,
      webDir,
      api: apiDepsFromEnv(process.env, { open: true, logs: localLogReader(aws.ecs.logsDir, LOG_GROUP), submit: async () => ({ skipped: 'not used by the bench' }) }),
      webhook: {
        repositories: store,
        // Every bench repository is activated with the same secret (below).
        secrets: { get: async () => SECRET },
        deliveries: store,
        enqueue: (message) => sendEventMessage(sqsClient(), eventsUrl, message),
      },
    });
    cleanups.push(() => server.stop());
    for (let i = 0; i < REPOS; i++) await store.activateRepository({ slug: `bench/repo-${i}`, scm: 'github', visibility: 'public', activatedAt: Date.now() });
    const hookUrl = `http://127.0.0.1:${server.port}/hooks/github`;
    progress = () => {
      const passes = handlerLines.filter((l) => l.source === 'autoscaler' && l.message === 'pass');
      const last = passes.at(-1);
      return `${new Set(counter.calls.filter((c) => c.ok).map((c) => c.stageId)).size} stages started, ${counter.calls.length} RunTask calls, ${JSON.stringify(plane.stats)}, last pass ${JSON.stringify(last)}, errors ${errors.length}${errors.length ? `: ${errors.at(-1)}` : ''}`;
    };
    out(`local mode up in ${Date.now() - t0} ms (ECS stand-in: ${aws.ecs.isolation} network)`);

    // --- the burst ---
    const deliveries = Array.from({ length: DELIVERIES }, (_, i) => makeDelivery(git, i, 'burst'));
    const copies = [...deliveries, ...deliveries.slice(0, REDELIVERED)];
    for (let i = copies.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [copies[i], copies[j]] = [copies[j]!, copies[i]!];
    }
    const answers = new Map<number, number>();
    const sendStart = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < copies.length) {
          const d = copies[next++]!;
          const status = await send(hookUrl, d);
          answers.set(status, (answers.get(status) ?? 0) + 1);
        }
      }),
    );
    const sendMs = Date.now() - sendStart;
    out(`sent ${copies.length} webhooks (${DELIVERIES} distinct + ${REDELIVERED} redelivered) in ${sendMs} ms (${((copies.length / sendMs) * 1000).toFixed(0)}/s, ${CONCURRENCY} concurrent)`);
    out(`  answers: ${[...answers].map(([s, n]) => `${s}×${n}`).join(', ')}`);

    const burstDrainMs = await waitUntil('a RunTask for every burst delivery', async () => new Set(counter.calls.filter((c) => c.ok).map((c) => c.stageId)).size >= DELIVERIES, DEADLINE_MS / 2);
    out(`all ${DELIVERIES} stages had their RunTask ${burstDrainMs} ms after the last webhook was answered`);
    // The paced phase starts on a settled system: every burst build has ended.
    const burstEndMs = await waitUntil('every burst build to finish', async () => (await allBuilds(store)).filter((b) => FINISHED.includes(b.status)).length >= DELIVERIES, 120_000);
    await plane.idle();
    out(`all ${DELIVERIES} burst builds ended ${burstEndMs} ms later`);

    // --- the paced phase ---
    const paced = Array.from({ length: PACED }, (_, i) => makeDelivery(git, i, 'paced'));
    const pacedAnswers: number[] = [];
    await Promise.all(
      paced.map(
        (d, i) =>
          new Promise<void>((resolve, reject) => {
            setTimeout(() => send(hookUrl, d).then((s) => (pacedAnswers.push(s), resolve()), reject), (i * 1000) / PACED_PER_SECOND);
          }),
      ),
    );
    await waitUntil('a RunTask for every paced delivery', async () => new Set(counter.calls.filter((c) => c.ok).map((c) => c.stageId)).size >= DELIVERIES + PACED, 60_000);

    // Every build reaches a final status (here `error`: its task could not start).
    const total = DELIVERIES + PACED;
    const endMs = await waitUntil(
      'every build to finish',
      async () => (await allBuilds(store)).filter((b) => FINISHED.includes(b.status)).length >= total,
      120_000,
    );
    await plane.idle();

    // --- figures ---
    const builds = await allBuilds(store);
    const byDelivery = new Map(builds.map((b) => [b.deliveryId, b]));
    const stageOf = (d: Delivery): string | undefined => {
      const b = byDelivery.get(deliveryId('github', d.repo, d.body));
      return b ? `${b.id}/1` : undefined;
    };
    const callsPerStage = new Map<string, number>();
    for (const c of counter.calls) callsPerStage.set(c.stageId, (callsPerStage.get(c.stageId) ?? 0) + 1);
    const perStageHistogram = new Map<number, number>();
    for (const n of callsPerStage.values()) perStageHistogram.set(n, (perStageHistogram.get(n) ?? 0) + 1);
    const tasksPerStage = new Map<string, number>();
    for (const t of aws.ecs.tasks() as { overrides?: { containerOverrides?: { name?: string; environment?: { name: string; value: string }[] }[] } }[]) {
      const id = t.overrides?.containerOverrides?.find((o) => o.name === AGENT_CONTAINER)?.environment?.find((e) => e.name === AGENT_ENV.stageId)?.value ?? '(none)';
      tasksPerStage.set(id, (tasksPerStage.get(id) ?? 0) + 1);
    }
    const firstCall = new Map<string, number>();
    for (const c of counter.calls) if (c.ok && !firstCall.has(c.stageId)) firstCall.set(c.stageId, c.at);
    const latencies = (set: Delivery[]): number[] =>
      set.flatMap((d) => {
        const stage = stageOf(d);
        const at = stage ? firstCall.get(stage) : undefined;
        return at !== undefined && d.sentAt !== undefined ? [at - d.sentAt] : [];
      });
    const burstLatency = latencies(deliveries);
    const pacedLatency = latencies(paced);
    // Where the paced pushes' time goes: answered, planned (build created), RunTask.
    const plannedAt = new Map(handlerLines.filter((l) => l.message === 'build created').map((l) => [String(l.deliveryId), l.at as number]));
    const segments = (set: Delivery[]) => {
      const answer: number[] = [];
      const plan: number[] = [];
      const start: number[] = [];
      for (const d of set) {
        const planned = plannedAt.get(deliveryId('github', d.repo, d.body));
        const stage = stageOf(d);
        const run = stage ? firstCall.get(stage) : undefined;
        if (d.sentAt === undefined || d.answeredAt === undefined || planned === undefined || run === undefined) continue;
        answer.push(d.answeredAt - d.sentAt);
        plan.push(planned - d.answeredAt);
        start.push(run - planned);
      }
      return `webhook answered p50 ${ms(percentile(answer, 50))}, then planned p50 ${ms(percentile(plan, 50))}, then RunTask p50 ${ms(percentile(start, 50))}`;
    };
    const recorded = handlerLines.filter((l) => l.message === 'stage started' && typeof l.webhookToRunTaskMs === 'number').map((l) => l.webhookToRunTaskMs as number);
    const statuses = builds.reduce<Record<string, number>>((acc, b) => ((acc[b.status] = (acc[b.status] ?? 0) + 1), acc), {});
    const finalStatuses = git.statuses.filter((s) => s.state !== 'pending').length;
    // The Git host keeps the last status it received: none may end pending.
    const lastState = new Map<string, string>();
    for (const st of git.statuses) lastState.set(st.sha, st.state);
    const stuckPending = [...lastState.values()].filter((state) => state === 'pending').length;

    out();
    out(`builds created:            ${builds.length} for ${total} distinct deliveries (${DELIVERIES} burst + ${PACED} paced) ${builds.length === total ? 'OK' : 'MISMATCH'}`);
    out(`deliveries with >1 build:  ${builds.length - byDelivery.size}`);
    out(`RunTask calls per stage:   ${[...perStageHistogram].map(([calls, stages]) => `${calls} call(s): ${stages} stages`).join(', ')} ${perStageHistogram.size === 1 && perStageHistogram.has(1) ? 'OK' : 'NOT ONE'}`);
    out(`ECS tasks per stage:       max ${Math.max(...tasksPerStage.values())}, tasks ${[...tasksPerStage.values()].reduce((a, b) => a + b, 0)}`);
    out(`webhook → RunTask, burst:  p50 ${ms(percentile(burstLatency, 50))}  p95 ${ms(percentile(burstLatency, 95))}  max ${ms(percentile(burstLatency, 100))}  (n=${burstLatency.length}; Fargate launch rate 20/s ⇒ ≥ ${((DELIVERIES - 20) / 20).toFixed(0)} s to start ${DELIVERIES})`);
    out(`webhook → RunTask, paced:  p50 ${ms(percentile(pacedLatency, 50))}  p95 ${ms(percentile(pacedLatency, 95))}  max ${ms(percentile(pacedLatency, 100))}  (n=${pacedLatency.length}, ${PACED_PER_SECOND}/s) goal p50 < 150 ms: ${percentile(pacedLatency, 50) < 150 ? 'met' : 'NOT met'}`);
    out(`  paced, by segment: ${segments(paced)}`);
    out(`  as the autoscaler records it (webhook accepted → stage marked running): p50 ${ms(percentile(recorded, 50))}  p95 ${ms(percentile(recorded, 95))} (n=${recorded.length})`);
    out(`builds ended:              ${Object.entries(statuses).map(([s, n]) => `${s} ${n}`).join(', ')} (the paced ones ${endMs} ms after their last RunTask); final commit statuses posted: ${finalStatuses}; commits left pending on the Git host: ${stuckPending}`);
    out(`control plane:             ${plane.stats.plannerBatches} planner batches (${plane.stats.plannerFailures} failed records), ${plane.stats.autoscalerPasses} autoscaler passes, ${plane.stats.taskEvents} task events; handler errors: ${errors.length}`);
    for (const e of errors.slice(0, 5)) out(`  ${e}`);
    // BENCH_TRACE=file: every handler log line (JSON, with its time), for a closer look.
    if (process.env.BENCH_TRACE) writeFileSync(process.env.BENCH_TRACE, handlerLines.map((l) => JSON.stringify(l)).join('\n'));
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        process.stderr.write(`bench: cleanup failed: ${(err as Error).message}\n`);
      }
    }
    clearTimeout(guard);
  }
}

await main();
