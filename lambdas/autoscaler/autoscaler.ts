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
// The jobs queue: the JobQueue port (core/scaling/job-queue.ts; on SQS, adapters/sqs/job-queue.ts);
// starting one stage: start-stage.ts.

import type { Stage } from '../../core/builds/types.js';
import { stageKey } from '../../core/builds/types.js';
import { decideScale, initialScaleState, withCapacityBackoff, type ConverterUse, type QueuedStage, type ScaleDecision, type ScaleInput, type ScaleState, type ServiceTaskUse } from '../../core/scaling/decide-scale.js';
import { decodeJob, segmentJob, type StageJob } from '../../core/scaling/job.js';
import { isStageDone } from '../../core/builds/status.js';
import { ec2ArchOf } from '../../core/pipeline/ec2-task.js';
import { DEFAULT_KEEP_IDLE_MS, decideFleet } from '../../core/scaling/ec2-fleet.js';
import type { Arch } from '../../core/pipeline/types.js';
import type { NotRemoved, QueuedJob } from '../../core/scaling/job-queue.js';
import { afterStageEnd } from '../shared/execution/stage-end.js';
import { isWaiting, listAll, type AutoscalerDeps, type PassReport, type Waiting } from './deps.js';
import { reconcile } from './reconcile.js';
import { startStage } from './start-stage.js';
import { stopFinishedServiceTasks, stopSegmentsWithoutServices } from './service-task.js';
import { refreshPrepullLists } from './prepull.js';
import { classifyAwsError, describeAwsError } from '../../core/util/aws-errors.js';
import { INDEX_JOB_MAX_AGE_MS, indexImageJobOf, indexJobExpired, type IndexImageJob } from '../../core/images/soci.js';
import { indexImage } from './index-image.js';
import { convertersInUse, listClusterTasks, noteConverterStarted, resetConverterStarts } from './converters.js';
import type { Task } from '@aws-sdk/client-ecs';
import { SOCI_CONVERTER_CPU } from '../../core/images/soci.js';
import { ENV } from '../../core/config/lambda-env.js';

export type { AutoscalerDeps, PassReport } from './deps.js';

/** How long an index-image job waits, once builds need the vCPU its converter would take, before a pass takes it again. */
export const INDEX_JOB_POSTPONE_SECONDS = 60;

/** How long a queued stage may go unannounced before a pass takes it anyway (see wasSeen). */
export const ANNOUNCE_GRACE_MS = 60_000;

// Kept between invocations of a warm Lambda (reserved concurrency 1): the token buckets,
// the capacity back-off and the jobs already read. A cold start begins with full buckets,
// as ECS's refill would, and reads jobs from the table again.
let scaleState: ScaleState | undefined;
let capacityFailures = 0;
const jobCache = new Map<string, StageJob>();
/** The converters of the last pass that could list them: what a pass that cannot counts. */
let lastConverters: ConverterUse[] = [];

/** Tests: forget the state carried between passes. */
export function resetAutoscalerState(): void {
  scaleState = undefined;
  capacityFailures = 0;
  jobCache.clear();
  lastConverters = [];
  resetConverterStarts();
}

export interface PassOptions {
  reconcile: boolean;
  /** The first receive of the jobs queue waits up to this long (a pass the planner nudged: core/scaling/pass-schedule.ts). */
  receiveWaitSeconds?: number;
}

export async function runPass(deps: AutoscalerDeps, options: PassOptions): Promise<PassReport> {
  const report: PassReport = { sampled: 0, waiting: 0, started: [], deferred: [], failed: [], runTaskFailures: [] };

  // 1. New jobs from the queue: remembered, then deleted (their stages already wait in the table).
  const messages = await deps.jobs.sample(options.receiveWaitSeconds ? { waitSeconds: options.receiveWaitSeconds } : {});
  report.sampled = messages.length;
  const announced = new Map<string, StageJob>();
  const done: QueuedJob[] = [];
  const indexJobs: { message: QueuedJob; job: IndexImageJob }[] = [];
  for (const message of messages) {
    // The cache's events share the queue (lib/soci-indexes.ts): index-image jobs, taken after the
    // stages. Recognised whether or not this deployment converts images (one put on the queue
    // before the setting was turned off is no stage job, and no poison for the dead-letter queue).
    const soci = deps.config.soci && deps.soci ? deps.config.soci : undefined;
    const reading = indexImageJobOf(message.body, soci?.prefixes ?? []);
    if (reading.kind === 'job' && soci) {
      indexJobs.push({ message, job: reading.job });
      continue;
    }
    if (reading.kind !== 'other') {
      const reason = reading.kind === 'ignored' && soci ? reading.reason : `SOCI indexes are off in this deployment (${ENV.sociIndexes} unset)`;
      deps.log('pull through cache event ignored', { messageId: message.id, reason });
      done.push(message);
      continue;
    }
    let job: StageJob;
    try {
      job = decodeJob(message.body);
    } catch (err) {
      await parkPoison(deps, message, (err as Error).message);
      continue;
    }
    announced.set(job.stageKey, job);
    done.push(message);
  }

  // 2.–4. The stages, then the index-image jobs whatever became of the stages: received with the
  // stage jobs, they would otherwise wait for a pass that does not throw, their receive count
  // rising pass after pass until the queue dead-letters them (JOBS_MAX_RECEIVES).
  // What converters may take of the quota once the stages had theirs: none when the stage part
  // threw (nothing known of what builds need).
  const converterRoom = { units: 0 };
  try {
    converterRoom.units = await takeStages(deps, report, announced, done);
  } finally {
    if (indexJobs.length > 0) report.indexImages = await takeIndexJobs(deps, indexJobs, converterRoom);
  }
  if (options.reconcile) report.reconcile = await reconcile(deps);
  return report;
}

/**
 * The stages' part of a pass: the waiting set, the decision, the starts, and the split stages'
 * service tasks. Returns the CPU units of the quota SOCI converters may take after it.
 */
async function takeStages(deps: AutoscalerDeps, report: PassReport, announced: Map<string, StageJob>, done: QueuedJob[]): Promise<number> {
  // 2. The waiting set: pending stages that are queued and have no task yet, once announced.
  const waitingStages = new Map<string, Stage>();
  const listedAt = deps.now();
  const pending = await listAll(deps, 'pending');
  for (const stage of pending) {
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
  logNotRemoved(deps, await deps.jobs.remove(done));

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

  const [running, cluster] = await Promise.all([listAll(deps, 'running'), clusterTasksOf(deps)]);
  const ec2 = await sizeEc2Capacity(deps, [...waiting.values()], report);
  const queued: QueuedStage[] = [...waiting.values()].map(({ job, stage }) => ({
    id: job.stageKey,
    repo: job.repo,
    pipeline: job.pipeline,
    ...(job.concurrencyLimit !== undefined ? { concurrencyLimit: job.concurrencyLimit } : {}),
    queuedAt: stage.queuedAt ?? job.queuedAt,
    // A split stage starts the segment it is at (start-stage.ts), with that segment's size.
    cpu: segmentJob(job, stage.segment ?? 1).cpu,
    // …and its service task first, when it has none yet (service-task.ts).
    ...(job.serviceTask && stage.serviceTaskArn === undefined ? { serviceCpu: job.serviceTask.cpu } : {}),
    ...(stage.retryAfter !== undefined ? { notBefore: stage.retryAfter } : {}),
    ...(ec2ArchOf(job.taskDefinition) ? { ec2Arch: ec2ArchOf(job.taskDefinition)! } : {}),
  }));
  const state = scaleState ?? initialScaleState(deps.config.limits, now);
  const decision: ScaleDecision = decideScale({
    now,
    queued,
    running: running.map((s) => ({ stageId: `${s.buildId}/${s.number}`, repo: s.repo, pipeline: s.name, cpu: s.cpu ?? deps.config.defaultCpu, ...(s.capacity === 'EC2' ? { ec2: true } : {}) })),
    limits: deps.config.limits,
    state,
    ...(ec2 ? { ec2 } : {}),
    serviceTasks: serviceTasksInUse([...pending, ...waitingStages.values(), ...running], deps.config.defaultCpu),
    converters: cluster.converters,
  });
  scaleState = decision.state;
  report.vcpu = { usedUnits: decision.vcpuUnits.used, serviceTaskUnits: decision.vcpuUnits.serviceTasks, converterUnits: decision.vcpuUnits.converters, quotaUnits: decision.vcpuUnits.quota };

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
        else if (result.kind === 'waiting') report.deferred.push({ stageKey: w.job.stageKey, reason: result.reason });
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

  // Service tasks of split stages that are done (last segment, failure, cancel, timeout): stopped.
  try {
    report.serviceTasksStopped = await stopFinishedServiceTasks(deps, cluster.tasks);
  } catch (err) {
    const info = classifyAwsError(err);
    deps.log('service tasks not checked this pass: the next one tries again', { error: describeAwsError(info), kind: info.kind });
  }
  // Segments whose service task is gone (it failed, was stopped, never started): stopped, their stage ended.
  try {
    const ended = await stopSegmentsWithoutServices(deps, [...pending, ...running]);
    if (ended.length > 0) report.segmentsWithoutServices = ended;
  } catch (err) {
    const info = classifyAwsError(err);
    deps.log('segments\' service tasks not checked this pass: the next one tries again', { error: describeAwsError(info), kind: info.kind });
  }
  // A refusal for capacity or quota leaves none for a converter; nor does a pass that could not list them.
  return capacityRefused || cluster.tasks === undefined ? 0 : decision.converterRoomUnits;
}

/**
 * The build cluster's running tasks, listed once for the pass (the service tasks to stop after
 * their stage read them too), and the SOCI converters holding vCPU (converters.ts). A listing
 * that fails is logged: the pass counts the converters the last one found, and starts none.
 */
async function clusterTasksOf(deps: AutoscalerDeps): Promise<{ tasks?: Task[]; converters: ConverterUse[] }> {
  try {
    const tasks = await listClusterTasks(deps);
    lastConverters = await convertersInUse(deps, tasks);
    return { tasks, converters: lastConverters };
  } catch (err) {
    const info = classifyAwsError(err);
    deps.log('cluster tasks not listed this pass: the converters last seen count, and none starts', { error: describeAwsError(info), kind: info.kind, converters: lastConverters.length });
    return { converters: lastConverters };
  }
}

/**
 * The index-image jobs of this pass, one at a time (a few per new image at most): each that
 * came to an end is removed; one that threw stays on the queue for its next delivery.
 */
async function takeIndexJobs(deps: AutoscalerDeps, jobs: { message: QueuedJob; job: IndexImageJob }[], room: { units: number }): Promise<{ digest: string; outcome: string }[]> {
  const out: { digest: string; outcome: string }[] = [];
  const finished: QueuedJob[] = [];
  for (const { message, job } of jobs) {
    try {
      const outcome = await indexImage(job, { ...deps.soci!, ecs: deps.ecs, config: { ...deps.config, soci: deps.config.soci! }, now: deps.now, log: deps.log, room });
      if (outcome.kind === 'started') noteConverterStarted(outcome.taskArn, SOCI_CONVERTER_CPU, deps.now());
      // Postponed pass after pass while builds hold the quota, a job would otherwise wait forever.
      const expired = outcome.kind === 'deferred' && indexJobExpired(job, deps.now());
      out.push({ digest: job.digest, outcome: expired ? 'expired' : outcome.kind });
      if (expired) dropExpiredIndexJob(deps, job, outcome.reason);
      if (outcome.kind === 'deferred' && !expired) await postponeIndexJob(deps, message, job, outcome.reason);
      else finished.push(message);
    } catch (err) {
      const info = classifyAwsError(err);
      deps.log('index-image job not done; its message is read again', { repository: job.repository, digest: job.digest, error: describeAwsError(info) });
      out.push({ digest: job.digest, outcome: 'retry' });
    }
  }
  try {
    logNotRemoved(deps, await deps.jobs.remove(finished));
  } catch (err) {
    // Read again after their visibility timeout: the store's claims make a second take harmless.
    const info = classifyAwsError(err);
    deps.log('index-image job messages not deleted; they will be read again', { count: finished.length, error: describeAwsError(info) });
  }
  return out;
}

/**
 * An index-image job that waited for the vCPU past its age limit (core/images/soci.ts,
 * INDEX_JOB_MAX_AGE_MS, from the event's own time): removed, said in a log line and counted
 * (SociJobsExpired). Nothing else is lost: no claim was taken, the image stays cached and pulled
 * whole, and the cache's next sync of it is a new event that starts over.
 */
function dropExpiredIndexJob(deps: AutoscalerDeps, job: IndexImageJob, reason: string): void {
  const ageHours = Math.round(((deps.now() - job.eventTime) / 3600_000) * 10) / 10;
  deps.log('SOCI conversion dropped: its job waited past its age limit for the vCPU builds need; the image stays unconverted until the cache syncs it again', {
    repository: job.repository, tag: job.tag, digest: job.digest, eventTime: new Date(job.eventTime).toISOString(), ageHours, maxAgeHours: INDEX_JOB_MAX_AGE_MS / 3600_000, reason,
  });
  deps.metrics?.sociJobExpired();
}

/**
 * An index-image job whose converter would take vCPU builds need: sent again for a later pass
 * (a fresh message, so waiting out a long burst never reaches the queue's maxReceiveCount). If
 * that fails, this read comes back after its visibility timeout.
 */
async function postponeIndexJob(deps: AutoscalerDeps, message: QueuedJob, job: IndexImageJob, reason: string): Promise<void> {
  try {
    logNotRemoved(deps, await deps.jobs.postpone(message, INDEX_JOB_POSTPONE_SECONDS));
    deps.log('SOCI conversion waits: builds need the vCPU', { repository: job.repository, digest: job.digest, reason, retryInSeconds: INDEX_JOB_POSTPONE_SECONDS });
  } catch (err) {
    const info = classifyAwsError(err);
    deps.log('index-image job not postponed; its message is read again', { repository: job.repository, digest: job.digest, error: describeAwsError(info) });
  }
}

/**
 * The EC2 capacity for this pass (core/scaling/ec2-fleet.ts): the fleet as it is, sized by the
 * stages waiting for it (terminating spent and long-idle instances, raising the desired
 * capacity), and what is free now for the decision. Nothing without a fleet (local mode).
 */
async function sizeEc2Capacity(deps: AutoscalerDeps, waiting: Waiting[], report: PassReport): Promise<ScaleInput['ec2'] | undefined> {
  if (!deps.fleet) return undefined;
  const now = deps.now();
  const wanting: Partial<Record<Arch, number>> = {};
  const oldestWaiting: Partial<Record<Arch, number>> = {};
  for (const w of waiting) {
    const arch = ec2ArchOf(w.job.taskDefinition);
    if (!arch || (w.stage.retryAfter !== undefined && w.stage.retryAfter > now)) continue;
    wanting[arch] = (wanting[arch] ?? 0) + 1;
    const queuedAt = w.stage.queuedAt ?? w.job.queuedAt;
    oldestWaiting[arch] = Math.min(oldestWaiting[arch] ?? queuedAt, queuedAt);
  }
  const instances = await deps.fleet.describe(now);
  const decision = decideFleet({ now, instances, waiting: wanting, maxInstances: deps.fleet.maxInstances, keepIdleMs: DEFAULT_KEEP_IDLE_MS, spot: deps.fleet.spot, oldestWaiting });
  const live = (a: Arch) => instances.filter((i) => i.arch === a && (i.state === 'booting' || i.state === 'ready')).length;
  const changed = decision.terminate.length > 0 || deps.fleet.arches.some((a) => (decision.desired[a] ?? 0) !== live(a));
  // Instances about to launch (and those refilling a warm pool after them) read their list at boot.
  const growing = deps.fleet.arches.filter((a) => (decision.desired[a] ?? 0) > live(a));
  const prepull = await refreshPrepullLists(deps, growing, waiting);
  if (prepull) report.prepull = prepull;
  // Spot groups: the adapter switches their on-demand share only when it differs from the last one it read.
  if (changed || Object.keys(decision.onDemand).length > 0) await deps.fleet.apply(decision);
  if (changed) deps.log('EC2 capacity sized', { desired: decision.desired, terminated: decision.terminate, waiting: wanting, overLimit: decision.overLimit, onDemand: decision.onDemand });
  report.ec2 = { desired: decision.desired, terminated: decision.terminate.map((t) => t.instanceId) };
  const booting = Object.fromEntries(deps.fleet.arches.map((a) => [a, instances.filter((i) => i.arch === a && i.state === 'booting').length + Math.max(0, (decision.desired[a] ?? 0) - instances.filter((i) => i.arch === a && (i.state === 'booting' || i.state === 'ready')).length)]));
  return { free: decision.free, booting, capacity: deps.fleet.arches };
}

/**
 * The started service tasks of split stages not done (a segment runs, or the stage waits
 * between segments or for the service task to run), once each: they hold their vCPU of the
 * quota until a pass stops them after their stage (service-task.ts). A record from before
 * their CPU was kept counts the default task size.
 */
export function serviceTasksInUse(stages: readonly Stage[], defaultCpu: number): ServiceTaskUse[] {
  const byStage = new Map<string, ServiceTaskUse>();
  for (const stage of stages) {
    if (stage.serviceTaskArn === undefined || isStageDone(stage.status)) continue;
    const stageId = stageKey(stage.buildId, stage.number);
    byStage.set(stageId, { stageId, cpu: stage.serviceTaskCpu ?? defaultCpu });
  }
  return [...byStage.values()];
}

/**
 * A queued stage no message announced (this pass or, warm, an earlier one) is taken once a
 * pass has noted why it waits, or once it has been queued ANNOUNCE_GRACE_MS (its message was
 * lost). Not before: the planner writes a build's stages before it sends their messages
 * (start-build.ts), so a stage just written is on its way to the queue; the table is the
 * fallback for a lost message, not a second way in that races the first. (The pending commit
 * status no longer comes between the two: it is posted beside the messages, and a final
 * status it overtakes is posted again, start-build.ts.)
 */
function wasSeen(stage: Stage, now: number): boolean {
  return stage.message?.startsWith('waiting: ') === true || now - stage.queuedAt! >= ANNOUNCE_GRACE_MS;
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
async function parkPoison(deps: AutoscalerDeps, message: QueuedJob, error: string): Promise<void> {
  const { parkedIn, notRemoved = [] } = await deps.jobs.deadLetter(message, error);
  if (!parkedIn) {
    deps.log('poison job message left on the queue: set JOBS_DLQ_URL to park it at once', { messageId: message.id, error });
    return;
  }
  logNotRemoved(deps, notRemoved);
  deps.log('poison job message moved to the dead-letter queue', { messageId: message.id, error, deadLetterQueue: parkedIn });
}

/** A message not removed comes back after its visibility: harmless (the table decides). */
function logNotRemoved(deps: AutoscalerDeps, notRemoved: NotRemoved[]): void {
  for (const failed of notRemoved) deps.log('job message not deleted; it will be read again', { id: failed.id, code: failed.code, error: failed.message });
}
