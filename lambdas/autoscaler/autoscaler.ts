// One pass of the autoscaler: read new jobs from the jobs queue, take the waiting stages
// from the table, decide (core/scaling/decide-scale.ts), start what the decision says with
// RunTask, and leave the rest waiting with the reason. Scheduled passes also reconcile.
//
// Where waiting stages live: in the table (the active-stages index, GSI2 STAGES#pending, in
// queue order), where a wait costs nothing. A job message only announces a stage: it is
// deleted as soon as it is read, because the stage it names was written as waiting before the
// message was sent (planner, afterStageEnd, Spot requeue). Receiving a message again and again
// while its stage waits would raise its receive count until the queue's maxReceiveCount sends
// it to the dead-letter queue. Failures to start (errors, not waits) are counted on the stage
// (startFailures, retryAfter) and back off from that count; waits never count.

import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type ECSClient, RunTaskCommand, type RunTaskCommandInput, type RunTaskCommandOutput, StopTaskCommand } from '@aws-sdk/client-ecs';
import { isStageDone, startAttempt } from '../../core/builds/status.js';
import { stageKey, type Stage } from '../../core/builds/types.js';
import {
  decideScale,
  initialScaleState,
  startRetryDelayMs,
  withCapacityBackoff,
  type QueuedStage,
  type ScaleDecision,
  type ScaleState,
} from '../../core/scaling/decide-scale.js';
import { decodeJob, runTaskTokens, type StageJob } from '../../core/scaling/job.js';
import { classifyAwsError, describeAwsError, isEcsCapacityReason, type AwsErrorInfo } from '../../core/util/aws-errors.js';
import { AGENT_CONTAINER, AGENT_ENV } from '../../core/pipeline/contract.js';
import type { ExecutionDeps } from '../shared/execution/deps.js';
import { afterStageEnd } from '../shared/execution/stage-end.js';
import type { ExecutionConfig } from './config.js';
import { ensureTaskDefinition } from './register.js';
import { reconcile, type ReconcileReport } from './reconcile.js';

export interface AutoscalerDeps extends ExecutionDeps {
  ecs: ECSClient;
  config: ExecutionConfig;
}

export interface PassReport {
  /** Job messages read (and deleted) this pass. */
  sampled: number;
  /** Stages waiting in the table this pass (what the decision saw). */
  waiting: number;
  started: { stageKey: string; taskArn: string; capacity: string; webhookToRunTaskMs?: number; queueWaitMs: number }[];
  deferred: { stageKey: string; reason: string }[];
  failed: { stageKey: string; message: string }[];
  /** Starts that failed and will be tried again (capacity refusals, errors worth a retry). */
  runTaskFailures: { stageKey: string; reason: string; kind: 'capacity' | 'retry' }[];
  reconcile?: ReconcileReport;
}

/** Messages read per pass (a burst is read over a few passes; the table keeps the rest waiting). */
const MAX_SAMPLE = 200;
/** Long enough for one pass: a message not deleted (the pass died) is read again after this. */
const SAMPLE_VISIBILITY_SECONDS = 60;
/** How long a queued stage may go unannounced before a pass takes it anyway (see wasSeen). */
export const ANNOUNCE_GRACE_MS = 60_000;
/** Failed starts (errors, not waits) after which a stage ends `error`. */
export const MAX_START_FAILURES = 8;  // with startRetryDelayMs: about 45 min of tries

// Kept between invocations of a warm Lambda (reserved concurrency 1): the token buckets,
// the capacity back-off and the jobs already read. A cold start begins with full buckets,
// as ECS's refill would, and reads jobs from the table again.
let scaleState: ScaleState | undefined;
let capacityFailures = 0;
const jobCache = new Map<string, StageJob>();

/** Tests: forget the state carried between passes. */
export function resetAutoscalerState(): void {
  scaleState = undefined;
  capacityFailures = 0;
  jobCache.clear();
}

interface Waiting {
  job: StageJob;
  stage: Stage;
}

export async function runPass(deps: AutoscalerDeps, options: { reconcile: boolean }): Promise<PassReport> {
  const report: PassReport = { sampled: 0, waiting: 0, started: [], deferred: [], failed: [], runTaskFailures: [] };

  // 1. New jobs from the queue: remembered, then deleted (their stages already wait in the table).
  const messages = await sample(deps.sqs, deps.config.jobsQueueUrl);
  report.sampled = messages.length;
  const announced = new Map<string, StageJob>();
  const done: Message[] = [];
  for (const message of messages) {
    let job: StageJob;
    try {
      job = decodeJob(message.Body ?? '');
    } catch (err) {
      await deadLetter(deps, message, (err as Error).message);
      continue;
    }
    announced.set(job.stageKey, job);
    done.push(message);
  }

  // 2. The waiting set: pending stages that are queued and have no task yet, once announced.
  const waitingStages = new Map<string, Stage>();
  const listedAt = deps.now();
  for (const stage of await listAll(deps, 'pending')) {
    const key = stageKey(stage.buildId, stage.number);
    if (isWaiting(stage) && (announced.has(key) || jobCache.has(key) || wasSeen(stage, listedAt))) waitingStages.set(key, stage);
  }
  // The index lags behind writes ("All reads from GSIs and streams are eventually consistent",
  // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html):
  // a stage just announced is read directly, strongly consistent.
  await inBatches([...announced.values()].filter((job) => !waitingStages.has(job.stageKey)), async (job) => {
    const stage = await deps.stages.getStageConsistent(job.buildId, job.stageNumber);
    if (stage && isWaiting(stage)) waitingStages.set(job.stageKey, stage);
  });
  await deleteMessages(deps, done);

  // Their jobs: announced, read before, or stored with the stage.
  for (const [key, job] of announced) jobCache.set(key, job);
  const unknown = [...waitingStages.entries()].filter(([key]) => !jobCache.has(key)).map(([, s]) => ({ buildId: s.buildId, stageNumber: s.number }));
  if (unknown.length > 0) for (const [key, job] of await deps.stages.getStageJobs(unknown)) jobCache.set(key, job);
  for (const key of jobCache.keys()) if (!waitingStages.has(key)) jobCache.delete(key);

  const now = deps.now();
  const waiting = new Map<string, Waiting>();
  for (const [key, stage] of waitingStages) {
    const job = jobCache.get(key);
    if (!job) {
      const message = 'cannot start: no job is stored for this stage (its build was created incompletely); restart the build';
      if (await deps.stages.finish(stage.buildId, stage.number, { status: 'error', reason: 'could-not-start', message, finishedAt: now })) {
        report.failed.push({ stageKey: key, message });
        await afterStageEnd(deps, stage.buildId);
      }
      continue;
    }
    waiting.set(key, { job, stage });
  }
  report.waiting = waiting.size;

  const running = await listAll(deps, 'running');
  const queued: QueuedStage[] = [...waiting.values()].map(({ job, stage }) => ({
    id: job.stageKey,
    repo: job.repo,
    pipeline: job.pipeline,
    ...(job.concurrencyLimit !== undefined ? { concurrencyLimit: job.concurrencyLimit } : {}),
    queuedAt: stage.queuedAt ?? job.queuedAt,
    cpu: job.cpu,
    ...(stage.retryAfter !== undefined ? { notBefore: stage.retryAfter } : {}),
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

  for (const { stage: q, message } of decision.rejected) {
    const w = waiting.get(q.id)!;
    await deps.stages.finish(w.job.buildId, w.job.stageNumber, { status: 'error', message: `cannot start: ${message}`, finishedAt: now });
    await afterStageEnd(deps, w.job.buildId);
    report.failed.push({ stageKey: q.id, message });
  }

  // RunTask in parallel, a few at a time: the decision already respects the API rates.
  const toStart = decision.start.map((q) => waiting.get(q.id)!);
  let capacityRefused = false;
  for (let i = 0; i < toStart.length && !capacityRefused; i += 10) {
    await Promise.all(
      toStart.slice(i, i + 10).map(async (w) => {
        const result = await startStage(deps, w);
        if (result.kind === 'started') report.started.push(result.started);
        else if (result.kind === 'failed') report.failed.push({ stageKey: w.job.stageKey, message: result.message });
        else if (result.kind === 'gone') return;
        else {
          report.runTaskFailures.push({ stageKey: w.job.stageKey, reason: result.reason, kind: result.kind });
          if (result.kind === 'capacity') capacityRefused = true;
        }
      }),
    );
  }
  if (capacityRefused) {
    capacityFailures += 1;
    scaleState = withCapacityBackoff(scaleState, deps.now(), capacityFailures);
  } else if (report.started.length > 0) {
    capacityFailures = 0;
  }

  // A burst leaves hundreds deferred per pass: their writes go in parallel, and a stage
  // whose stated reason is already the same is not written again.
  await inBatches(decision.deferred, async (d) => {
    const w = waiting.get(d.stage.id)!;
    report.deferred.push({ stageKey: d.stage.id, reason: d.reason });
    // A stage backing off after a failed start keeps the message that says what failed.
    if (d.reason === 'retry-backoff') return;
    const text = `waiting: ${d.detail}`;
    if (w.stage.message !== text) await deps.stages.noteWaiting(w.job.buildId, w.job.stageNumber, text);
  });

  if (options.reconcile) report.reconcile = await reconcile(deps);
  return report;
}

/**
 * A queued stage no message announced (this pass or, warm, an earlier one) is taken once a
 * pass has noted why it waits, or once it has been queued ANNOUNCE_GRACE_MS (its message was
 * lost). Not before: the planner writes a build's stages, then posts the pending commit
 * status, then sends their messages; a stage started (and failed) in between would have its
 * final status overtaken by that pending one.
 */
function wasSeen(stage: Stage, now: number): boolean {
  return stage.message?.startsWith('waiting: ') === true || now - stage.queuedAt! >= ANNOUNCE_GRACE_MS;
}

/** Queued (its dependencies are done) and not yet claimed by a task. */
function isWaiting(stage: Stage): boolean {
  return stage.status === 'pending' && stage.queuedAt !== undefined && stage.taskArn === undefined;
}

type StartResult =
  | { kind: 'started'; started: PassReport['started'][number] }
  /** Capacity or quota refused it: it waits (the pass backs off capacity for everyone). */
  | { kind: 'capacity'; reason: string }
  /** An error worth another try: counted on the stage, retried after a back-off. */
  | { kind: 'retry'; reason: string }
  | { kind: 'failed'; message: string }
  /** Started or finished by someone else meanwhile. */
  | { kind: 'gone' };

type Capacity = 'FARGATE' | 'FARGATE_SPOT';

async function startStage(deps: AutoscalerDeps, w: Waiting): Promise<StartResult> {
  const { job } = w;
  const { config } = deps;
  // The index may lag behind: the stage as last written decides (and gives the attempt).
  const stage = await deps.stages.getStageConsistent(job.buildId, job.stageNumber);
  const attempt = stage && isWaiting(stage) ? startAttempt(stage) : null;
  if (!stage || attempt === null) return { kind: 'gone' };

  let taskDefinitionArn: string;
  try {
    taskDefinitionArn = await ensureTaskDefinition(deps.ecs, job.taskDefinition, {
      ...(config.executionRoleArn ? { executionRoleArn: config.executionRoleArn } : {}),
      ...(config.taskRoleArn ? { taskRoleArn: config.taskRoleArn } : {}),
    });
  } catch (err) {
    const info = classifyAwsError(err);
    return afterError(deps, stage, attempt, info, `RegisterTaskDefinition: ${describeAwsError(info)}`);
  }

  // A Spot interruption requeues on on-demand (the stage says so); otherwise Spot first when
  // in use, for X86_64 and ARM64 alike. The sources disagree on ARM64: the ECS Developer
  // Guide's "Fargate capacity provider considerations" still says Fargate Spot runs X86_64
  // only, while the API Reference (CapacityProviderStrategyItem, the newer text) says
  // "FARGATE_SPOT supports Linux tasks with the ARM64 architecture on platform version 1.4.0
  // or later". We follow the API Reference; where a Region refuses, the refusal (an exception
  // or a failures[] reason) sends the stage to on-demand in the same pass, below.
  // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CapacityProviderStrategyItem.html
  // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html
  const onDemand = job.onDemand === true || (stage.reason === 'spot-interrupted' && stage.capacity === 'FARGATE');
  const spot = config.useSpot && !onDemand;
  const capacities: Capacity[] = spot ? ['FARGATE_SPOT', 'FARGATE'] : ['FARGATE'];
  const refusals: string[] = [];
  let refusedForCapacity = true;
  for (const capacity of capacities) {
    const tokens = runTaskTokens(job.stageKey, attempt, spot ? capacity : undefined);
    const input = runTaskInput(config, job, taskDefinitionArn, capacity, tokens);
    let res: RunTaskCommandOutput;
    try {
      res = await deps.ecs.send(new RunTaskCommand(input));
    } catch (err) {
      const info = classifyAwsError(err);
      const text = `RunTask on ${capacity}: ${describeAwsError(info)}`;
      // The token already started this attempt's task with other parameters: that task is the stage's.
      if (info.kind === 'conflict' && info.resourceIds?.[0]) return recordStarted(deps, w, stage, attempt, info.resourceIds[0], capacity);
      // Anything but a throttle or a server fault from Spot (no capacity, a platform Spot does
      // not offer, …): on-demand may still take it.
      if (capacity === 'FARGATE_SPOT' && (info.kind === 'capacity' || info.kind === 'fatal')) {
        deps.log('Fargate Spot refused; trying on-demand', { stageKey: job.stageKey, error: text });
        refusals.push(text);
        if (info.kind !== 'capacity') refusedForCapacity = false;
        continue;
      }
      return afterError(deps, stage, attempt, info, [...refusals, text].join('; '));
    }
    const task = res.tasks?.[0];
    if (task?.taskArn) return recordStarted(deps, w, stage, attempt, task.taskArn, capacity);
    const reasons = (res.failures ?? []).map((f) => `${f.reason ?? 'unknown'}${f.detail ? ` (${f.detail})` : ''}`);
    const text = `RunTask on ${capacity}: ${reasons.join('; ') || 'returned neither a task nor a failure'}`;
    if (!reasons.some(isEcsCapacityReason)) refusedForCapacity = false;
    refusals.push(text);
    deps.log('RunTask failure', { stageKey: job.stageKey, capacity, reason: text });
    // Spot without capacity: the same pass tries on-demand.
  }
  const reason = refusals.join('; ');
  if (refusedForCapacity) {
    await deps.stages.noteWaiting(job.buildId, job.stageNumber, `waiting: no Fargate capacity or quota (${reason}); retrying with back-off`);
    return { kind: 'capacity', reason };
  }
  // failures[] reasons other than capacity: counted like errors, retried a few times.
  return afterError(deps, stage, attempt, { kind: 'transient', retryable: true, name: 'RunTaskFailure', message: reason }, reason);
}

/**
 * After an error starting a stage: capacity waits; a retryable error is counted on the
 * stage and retried after a back-off, until MAX_START_FAILURES; anything else ends it.
 */
async function afterError(deps: AutoscalerDeps, stage: Stage, attempt: number, info: AwsErrorInfo, text: string): Promise<StartResult> {
  const key = stageKey(stage.buildId, stage.number);
  if (info.kind === 'capacity') {
    await deps.stages.noteWaiting(stage.buildId, stage.number, `waiting: no Fargate capacity or quota (${text}); retrying with back-off`);
    return { kind: 'capacity', reason: text };
  }
  const failures = (stage.startFailures ?? 0) + 1;
  if (info.retryable && failures < MAX_START_FAILURES) {
    const delay = startRetryDelayMs(failures);
    const retryAfter = deps.now() + delay;
    const noted = await deps.stages.noteStartFailure(stage.buildId, stage.number, {
      attempt,
      retryAfter,
      message: `waiting: start failed ${failures} of at most ${MAX_START_FAILURES} times (${text}); next try after ${new Date(retryAfter).toISOString()}`,
    });
    deps.log('start failed; retrying with back-off', { stageKey: key, error: text, kind: info.kind, failures, retryInMs: delay });
    return noted ? { kind: 'retry', reason: text } : { kind: 'gone' };
  }
  const message = info.retryable
    ? `cannot start: ${failures} attempts failed; the last: ${text}`
    : `cannot start: ${text}`;
  const finished = await deps.stages.finish(stage.buildId, stage.number, { status: 'error', reason: 'could-not-start', message, finishedAt: deps.now() });
  if (!finished) return { kind: 'gone' };
  await afterStageEnd(deps, stage.buildId);
  deps.log('stage could not start', { stageKey: key, error: text, kind: info.kind, failures });
  return { kind: 'failed', message };
}

async function recordStarted(deps: AutoscalerDeps, w: Waiting, stage: Stage, attempt: number, taskArn: string, capacity: Capacity): Promise<StartResult> {
  const { job } = w;
  const startedAt = deps.now();
  const marked = await deps.stages.markRunning(job.buildId, job.stageNumber, { attempt, taskArn, capacity, startedAt, cpu: job.cpu });
  if (!marked) await stopOrphanedTask(deps, job, taskArn);
  const queueWaitMs = startedAt - (stage.queuedAt ?? job.queuedAt);
  const webhookToRunTaskMs = job.receivedAt !== undefined ? startedAt - job.receivedAt : undefined;
  deps.log('stage started', { stageKey: job.stageKey, taskArn, capacity, queueWaitMs, webhookToRunTaskMs, ...metric({ QueueWait: queueWaitMs, ...(webhookToRunTaskMs !== undefined ? { WebhookToRunTask: webhookToRunTaskMs } : {}) }) });
  return { kind: 'started', started: { stageKey: job.stageKey, taskArn, capacity, queueWaitMs, ...(webhookToRunTaskMs !== undefined ? { webhookToRunTaskMs } : {}) } };
}

/**
 * RunTask went through but markRunning was refused. If the stage finished meanwhile
 * (cancelled while pending, or failed by a reconcile) and not by this task's own events,
 * nothing would ever stop this task: stop it. A refusal for any other reason (another
 * pass already recorded the task) leaves it alone.
 */
async function stopOrphanedTask(deps: AutoscalerDeps, job: StageJob, taskArn: string): Promise<void> {
  const current = await deps.stages.getStageConsistent(job.buildId, job.stageNumber);
  if (!current || !isStageDone(current.status) || current.taskArn === taskArn) {
    deps.log('RunTask succeeded but the stage had moved on', { stageKey: job.stageKey, taskArn, status: current?.status });
    return;
  }
  const reason = current.reason === 'cancelled' ? 'build cancelled' : `stage already ${current.status}`;
  await deps.ecs.send(new StopTaskCommand({ cluster: deps.config.cluster, task: taskArn, reason }));
  deps.log('stopped a task started for a finished stage', { stageKey: job.stageKey, taskArn, status: current.status, reason });
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

async function sample(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
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
          }),
        ),
      ),
    );
    for (const res of batches) messages.push(...(res.Messages ?? []));
    // A short answer means the queue has no more visible messages right now.
    if (batches.some((res) => (res.Messages ?? []).length < 10)) return messages;
  }
  return messages;
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
  await deleteMessages(deps, [message]);
}

/** DeleteMessageBatch, 10 a call. A message not deleted comes back after its visibility: harmless (the table decides). */
async function deleteMessages(deps: AutoscalerDeps, messages: Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    const batch = messages.slice(i, i + 10);
    const res = await deps.sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: deps.config.jobsQueueUrl, Entries: batch.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle })) }),
    );
    for (const failed of res.Failed ?? []) deps.log('job message not deleted; it will be read again', { id: failed.Id, code: failed.Code, error: failed.Message });
  }
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

