// One pass of the autoscaler: sample the jobs queue and the running stages, decide
// (core/scaling/decide-scale.ts), start what the decision says with RunTask, and leave
// the rest queued with the reason it waits. Scheduled passes also reconcile.

import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { type ECSClient, RunTaskCommand, type RunTaskCommandInput, StopTaskCommand } from '@aws-sdk/client-ecs';
import { isStageDone, startAttempt } from '../../core/builds/status.js';
import type { Stage } from '../../core/builds/types.js';
import {
  decideScale,
  initialScaleState,
  retryDelaySeconds,
  withCapacityBackoff,
  type QueuedStage,
  type ScaleDecision,
  type ScaleState,
} from '../../core/scaling/decide-scale.js';
import { decodeJob, runTaskTokens, type StageJob } from '../../core/scaling/job.js';
import { AGENT_CONTAINER, AGENT_ENV } from '../../core/pipeline/contract.js';
import type { ExecutionDeps } from '../task-events/deps.js';
import { afterStageEnd } from '../task-events/stage-end.js';
import type { ExecutionConfig } from './config.js';
import { ensureTaskDefinition } from './register.js';
import { reconcile, type ReconcileReport } from './reconcile.js';

export interface AutoscalerDeps extends ExecutionDeps {
  ecs: ECSClient;
  config: ExecutionConfig;
}

export interface PassReport {
  sampled: number;
  started: { stageKey: string; taskArn: string; capacity: string; webhookToRunTaskMs?: number; queueWaitMs: number }[];
  deferred: { stageKey: string; reason: string }[];
  failed: { stageKey: string; message: string }[];
  runTaskFailures: { stageKey: string; reason: string }[];
  reconcile?: ReconcileReport;
}

/** Messages read per pass: the decision needs the oldest, and a pass must stay short. */
const MAX_SAMPLE = 200;
/** Long enough for one pass; deferred messages are released earlier. */
const SAMPLE_VISIBILITY_SECONDS = 60;

// Kept between invocations of a warm Lambda (reserved concurrency 1): the token buckets
// and the capacity back-off. A cold start begins with full buckets, as ECS's refill would.
let scaleState: ScaleState | undefined;
let capacityFailures = 0;

/** Tests: forget the state carried between passes. */
export function resetAutoscalerState(): void {
  scaleState = undefined;
  capacityFailures = 0;
}

interface Sampled {
  message: Message;
  job: StageJob;
  stage: Stage;
  /** The attempt its RunTask belongs to (startAttempt): its tokens are derived from it. */
  attempt: number;
}

export async function runPass(deps: AutoscalerDeps, options: { reconcile: boolean }): Promise<PassReport> {
  const report: PassReport = { sampled: 0, started: [], deferred: [], failed: [], runTaskFailures: [] };
  const { messages, drained } = await sample(deps.sqs, deps.config.jobsQueueUrl);
  report.sampled = messages.length;

  // One candidate per pending stage; other messages for it (duplicates, stale) go.
  const candidates = new Map<string, Sampled>();
  await Promise.all(
    messages.map(async (message) => {
      let job: StageJob;
      try {
        job = decodeJob(message.Body ?? '');
      } catch (err) {
        await deadLetter(deps, message, (err as Error).message);
        return;
      }
      const stage = await deps.store.getStage(job.buildId, job.stageNumber);
      // A pending stage that already has its task (claimed by the task's first event) was
      // started: a duplicate message must not RunTask again (a new attempt's token would
      // start a second task). Its events move it on; the reconciler watches the task.
      const attempt = stage ? startAttempt(stage) : null;
      if (!stage || attempt === null || candidates.has(job.stageKey)) {
        await deleteMessage(deps, message);
        return;
      }
      candidates.set(job.stageKey, { message, job, stage, attempt });
    }),
  );

  const running = await listAll(deps, 'running');
  const now = deps.now();
  const queued: QueuedStage[] = [...candidates.values()].map(({ job, stage }) => ({
    id: job.stageKey,
    repo: job.repo,
    pipeline: job.pipeline,
    ...(job.concurrencyLimit !== undefined ? { concurrencyLimit: job.concurrencyLimit } : {}),
    queuedAt: stage.queuedAt ?? job.queuedAt,
    cpu: job.cpu,
  }));
  const state = scaleState ?? initialScaleState(deps.config.limits, now);
  const decision: ScaleDecision = decideScale({
    now,
    queued,
    running: running.map((s) => ({ stageId: `${s.buildId}/${s.number}`, repo: s.repo, pipeline: s.name, cpu: s.cpu ?? deps.config.defaultCpu })),
    limits: deps.config.limits,
    state,
  });
  scaleState = decision.state;

  for (const { stage: q, message } of decision.rejected.map((r) => ({ stage: r.stage, message: r.message }))) {
    const c = candidates.get(q.id)!;
    await deps.stages.finish(c.job.buildId, c.job.stageNumber, { status: 'error', message: `cannot start: ${message}`, finishedAt: now });
    await deleteMessage(deps, c.message);
    await afterStageEnd(deps, c.job.buildId);
    report.failed.push({ stageKey: q.id, message });
  }

  // RunTask in parallel, a few at a time: the decision already respects the API rates.
  const toStart = decision.start.map((q) => candidates.get(q.id)!);
  let stop = false;
  for (let i = 0; i < toStart.length && !stop; i += 10) {
    await Promise.all(
      toStart.slice(i, i + 10).map(async (c) => {
        const result = await startStage(deps, c);
        if (result.kind === 'started') report.started.push(result.started);
        else if (result.kind === 'failed') report.failed.push({ stageKey: c.job.stageKey, message: result.message });
        else {
          report.runTaskFailures.push({ stageKey: c.job.stageKey, reason: result.reason });
          if (result.capacity) stop = true;
        }
      }),
    );
  }
  if (report.runTaskFailures.some((f) => /capacity|vcpu|limit/i.test(f.reason))) {
    capacityFailures += 1;
    scaleState = withCapacityBackoff(scaleState, deps.now(), capacityFailures);
  } else if (report.started.length > 0) {
    capacityFailures = 0;
  }
  const unstarted = toStart.filter((c) => !report.started.some((s) => s.stageKey === c.job.stageKey) && !report.runTaskFailures.some((f) => f.stageKey === c.job.stageKey) && !report.failed.some((f) => f.stageKey === c.job.stageKey));
  await inBatches(unstarted, (c) => release(deps, c.message, 0));

  // A burst leaves hundreds deferred per pass: their writes go in parallel, and a stage
  // whose stated reason is already the same is not written again.
  const backoffUntil = scaleState.backoffUntil;
  await inBatches(decision.deferred, async (d) => {
    const c = candidates.get(d.stage.id)!;
    report.deferred.push({ stageKey: d.stage.id, reason: d.reason });
    const text = `waiting: ${d.detail}`;
    if (c.stage.message !== text) await deps.stages.noteWaiting(c.job.buildId, c.job.stageNumber, text);
    // Visible again at once, so the next nudge (capacity freed) sees it; rate and back-off waits are known.
    const delay = d.reason === 'capacity-backoff' && backoffUntil ? Math.ceil((backoffUntil - deps.now()) / 1000) : d.reason === 'rate-limit' ? 1 : 0;
    await release(deps, c.message, delay);
  });

  if (options.reconcile) report.reconcile = await reconcile(deps, { sampledStageKeys: new Set(candidates.keys()), queueDrained: drained });
  return report;
}

type StartResult =
  | { kind: 'started'; started: PassReport['started'][number] }
  | { kind: 'retry'; reason: string; capacity: boolean }
  | { kind: 'failed'; message: string };

async function startStage(deps: AutoscalerDeps, c: Sampled): Promise<StartResult> {
  const { job, stage, message, attempt } = c;
  const { config } = deps;
  let taskDefinitionArn: string;
  try {
    taskDefinitionArn = await ensureTaskDefinition(deps.ecs, job.taskDefinition, {
      ...(config.executionRoleArn ? { executionRoleArn: config.executionRoleArn } : {}),
      ...(config.taskRoleArn ? { taskRoleArn: config.taskRoleArn } : {}),
    });
  } catch (err) {
    return failOrRetry(deps, c, err, 'RegisterTaskDefinition');
  }
  const spot = config.useSpot && !job.onDemand;
  const capacities: ('FARGATE_SPOT' | 'FARGATE')[] = spot ? ['FARGATE_SPOT', 'FARGATE'] : ['FARGATE'];
  let lastReason = '';
  for (const capacity of capacities) {
    const tokens = runTaskTokens(job.stageKey, attempt, spot ? capacity : undefined);
    const input = runTaskInput(config, job, taskDefinitionArn, capacity, tokens);
    let res;
    try {
      res = await deps.ecs.send(new RunTaskCommand(input));
    } catch (err) {
      return failOrRetry(deps, c, err, 'RunTask');
    }
    const task = res.tasks?.[0];
    if (task?.taskArn) {
      const startedAt = deps.now();
      const marked = await deps.stages.markRunning(job.buildId, job.stageNumber, { attempt, taskArn: task.taskArn, capacity, startedAt, cpu: job.cpu });
      if (!marked) await stopOrphanedTask(deps, job, task.taskArn);
      await deleteMessage(deps, message);
      const queueWaitMs = startedAt - (stage.queuedAt ?? job.queuedAt);
      const webhookToRunTaskMs = job.receivedAt !== undefined ? startedAt - job.receivedAt : undefined;
      deps.log('stage started', { stageKey: job.stageKey, taskArn: task.taskArn, capacity, queueWaitMs, webhookToRunTaskMs, ...metric({ QueueWait: queueWaitMs, ...(webhookToRunTaskMs !== undefined ? { WebhookToRunTask: webhookToRunTaskMs } : {}) }) });
      return { kind: 'started', started: { stageKey: job.stageKey, taskArn: task.taskArn, capacity, queueWaitMs, ...(webhookToRunTaskMs !== undefined ? { webhookToRunTaskMs } : {}) } };
    }
    lastReason = (res.failures ?? []).map((f) => `${f.reason ?? 'unknown'}${f.detail ? ` (${f.detail})` : ''}`).join('; ') || 'RunTask returned neither a task nor a failure';
    deps.log('RunTask failure', { stageKey: job.stageKey, capacity, reason: lastReason });
    // Spot without capacity: the same pass tries on-demand.
  }
  const receives = Number(message.Attributes?.ApproximateReceiveCount ?? '1');
  await release(deps, message, retryDelaySeconds(receives));
  await deps.stages.noteWaiting(job.buildId, job.stageNumber, `waiting: RunTask failed (${lastReason}); retrying with back-off`);
  return { kind: 'retry', reason: lastReason, capacity: /capacity|vcpu|limit/i.test(lastReason) };
}

/**
 * RunTask went through but markRunning was refused. If the stage finished meanwhile
 * (cancelled while pending, or failed by a reconcile) and not by this task's own events,
 * nothing would ever stop this task: stop it. A refusal for any other reason (another
 * pass already recorded the task) leaves it alone.
 */
async function stopOrphanedTask(deps: AutoscalerDeps, job: StageJob, taskArn: string): Promise<void> {
  const current = await deps.store.getStage(job.buildId, job.stageNumber);
  if (!current || !isStageDone(current.status) || current.taskArn === taskArn) {
    deps.log('RunTask succeeded but the stage had moved on', { stageKey: job.stageKey, taskArn, status: current?.status });
    return;
  }
  const reason = current.reason === 'cancelled' ? 'build cancelled' : `stage already ${current.status}`;
  await deps.ecs.send(new StopTaskCommand({ cluster: deps.config.cluster, task: taskArn, reason }));
  deps.log('stopped a task started for a finished stage', { stageKey: job.stageKey, taskArn, status: current.status, reason });
}

/** Throttling and network errors retry; ECS refusing the definition or the parameters fails the stage. */
async function failOrRetry(deps: AutoscalerDeps, c: Sampled, err: unknown, call: string): Promise<StartResult> {
  const name = (err as { name?: string }).name ?? '';
  const text = `${call}: ${name}: ${(err as Error).message}`;
  if (/InvalidParameter|ClientException|AccessDenied/.test(name) && !/concurrent|rate|throttl/i.test((err as Error).message)) {
    const message = `cannot start: ${text}`;
    await deps.stages.finish(c.job.buildId, c.job.stageNumber, { status: 'error', reason: 'could-not-start', message, finishedAt: deps.now() });
    await deleteMessage(deps, c.message);
    await afterStageEnd(deps, c.job.buildId);
    return { kind: 'failed', message };
  }
  const receives = Number(c.message.Attributes?.ApproximateReceiveCount ?? '1');
  await release(deps, c.message, retryDelaySeconds(receives));
  deps.log('start deferred after an error', { stageKey: c.job.stageKey, error: text });
  return { kind: 'retry', reason: text, capacity: false };
}

export function runTaskInput(
  config: ExecutionConfig,
  job: StageJob,
  taskDefinitionArn: string,
  capacity: 'FARGATE' | 'FARGATE_SPOT',
  tokens: { clientToken: string; startedBy: string },
): RunTaskCommandInput {
  const overrides = (job.runTask.overrides ?? {}) as NonNullable<RunTaskCommandInput['overrides']>;
  // The agent always learns its stage id, and the task events carry it back.
  const containerOverrides = [...(overrides.containerOverrides ?? [])];
  const agentIndex = containerOverrides.findIndex((o) => o.name === AGENT_CONTAINER);
  const agent = agentIndex >= 0 ? containerOverrides[agentIndex]! : { name: AGENT_CONTAINER };
  const environment = (agent.environment ?? []).filter((e) => e.name !== AGENT_ENV.stageId);
  environment.push({ name: AGENT_ENV.stageId, value: job.stageKey });
  const withStage = { ...agent, environment };
  if (agentIndex >= 0) containerOverrides[agentIndex] = withStage;
  else containerOverrides.push(withStage);
  return {
    ...(job.runTask as Partial<RunTaskCommandInput>),
    cluster: config.cluster,
    taskDefinition: taskDefinitionArn,
    count: 1,
    clientToken: tokens.clientToken,
    startedBy: tokens.startedBy,
    capacityProviderStrategy: [{ capacityProvider: capacity, weight: 1 }],
    networkConfiguration: {
      awsvpcConfiguration: {
        subnets: config.subnets,
        ...(config.securityGroups.length ? { securityGroups: config.securityGroups } : {}),
        assignPublicIp: config.assignPublicIp,
      },
    },
    overrides: { ...overrides, containerOverrides },
  };
}

/** CloudWatch embedded metric format: the log line becomes metrics without an API call. */
function metric(values: Record<string, number>): Record<string, unknown> {
  return {
    _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: 'Slipway', Dimensions: [[]], Metrics: Object.keys(values).map((Name) => ({ Name, Unit: 'Milliseconds' })) }] },
    ...values,
  };
}

/** Receives in parallel (SQS gives at most 10 per call): a deep queue is sampled in a few round trips. */
const PARALLEL_RECEIVES = 5;

async function sample(sqs: SQSClient, queueUrl: string): Promise<{ messages: Message[]; drained: boolean }> {
  const messages: Message[] = [];
  while (messages.length < MAX_SAMPLE) {
    // One call first: a shallow queue (the usual nudge) costs one round trip, a deep one a few.
    const calls = messages.length === 0 ? 1 : Math.min(PARALLEL_RECEIVES, Math.ceil((MAX_SAMPLE - messages.length) / 10));
    const batches = await Promise.all(
      Array.from({ length: calls }, () =>
        sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            VisibilityTimeout: SAMPLE_VISIBILITY_SECONDS,
            WaitTimeSeconds: 0,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
        ),
      ),
    );
    for (const res of batches) messages.push(...(res.Messages ?? []));
    // A short answer means the queue has no more visible messages right now.
    if (batches.some((res) => (res.Messages ?? []).length < 10)) return { messages, drained: true };
  }
  return { messages, drained: false };
}

/** Runs `fn` over `items`, a bounded number at a time (the table and the queue take them in parallel). */
async function inBatches<T>(items: readonly T[], fn: (item: T) => Promise<void>, size = 20): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/**
 * A job message that cannot be decoded will never decode: waiting for maxReceiveCount
 * (kept high because deferred jobs are received on every pass) would hide it for hours.
 * It goes to the jobs dead-letter queue at once, with why, and leaves the jobs queue.
 */
async function deadLetter(deps: AutoscalerDeps, message: Message, error: string): Promise<void> {
  const dlq = deps.config.jobsDeadLetterQueueUrl;
  if (!dlq) {
    deps.log('poison job message left on the queue: set JOBS_DLQ_URL to park it at once', { messageId: message.MessageId, error });
    return;
  }
  await deps.sqs.send(
    new SendMessageCommand({
      QueueUrl: dlq,
      MessageBody: message.Body || '(empty body)',
      MessageAttributes: {
        error: { DataType: 'String', StringValue: error.slice(0, 1000) },
        sourceMessageId: { DataType: 'String', StringValue: message.MessageId ?? 'unknown' },
      },
    }),
  );
  await deleteMessage(deps, message);
  deps.log('poison job message moved to the dead-letter queue', { messageId: message.MessageId, error, deadLetterQueue: dlq });
}

async function deleteMessage(deps: AutoscalerDeps, message: Message): Promise<void> {
  await deps.sqs.send(new DeleteMessageCommand({ QueueUrl: deps.config.jobsQueueUrl, ReceiptHandle: message.ReceiptHandle }));
}

async function release(deps: AutoscalerDeps, message: Message, delaySeconds: number): Promise<void> {
  await deps.sqs.send(
    new ChangeMessageVisibilityCommand({ QueueUrl: deps.config.jobsQueueUrl, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: Math.max(0, Math.min(43_200, Math.round(delaySeconds))) }),
  );
}

export async function listAll(deps: AutoscalerDeps, status: 'pending' | 'running'): Promise<Stage[]> {
  const out: Stage[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.store.listActiveStages(status, { limit: 100, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  return out;
}

