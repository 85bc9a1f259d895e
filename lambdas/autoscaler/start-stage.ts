// Starting one stage: register its task definition, RunTask on Spot then on-demand, and
// record the task on the stage; or count the failure and back off, or end the stage when
// it cannot start (core/util/aws-errors.ts classifies what ECS answered).

import { RunTaskCommand, type RunTaskCommandInput, type RunTaskCommandOutput, StopTaskCommand } from '@aws-sdk/client-ecs';
import { isStageDone, startAttempt } from '../../core/builds/status.js';
import { startsWithBuild } from '../../core/builds/stage-timeline.js';
import { stageKey, type Stage } from '../../core/builds/types.js';
import { AGENT_CONTAINER, AGENT_ENV, type UpstreamState } from '../../core/pipeline/contract.js';
import { startOverridesError, upstreamOverride } from '../../core/pipeline/override-budget.js';
import { startRetryDelayMs } from '../../core/scaling/decide-scale.js';
import { jobTimeoutMs, runTaskTokens, segmentJob, type StageJob } from '../../core/scaling/job.js';
import { SnapshotUrlError, segmentRunKey, segmentTimeoutSeconds } from '../../core/builds/segment-run.js';
import { servicesAddressKey, snapshotKey } from '../../core/pipeline/segments.js';
import type { StageOutcomeReason, StageStatus } from '../../core/builds/types.js';
import { classifyAwsError, describeAwsError, isEcsCapacityReason, type AwsErrorInfo } from '../../core/util/aws-errors.js';
import { afterStageEnd } from '../shared/execution/stage-end.js';
import { stageKeys } from '../shared/observability/logger.js';
import { taskRoles, type ExecutionConfig } from './config.js';
import { isWaiting, type AutoscalerDeps, type PassReport, type Waiting } from './deps.js';
import { ensureTaskDefinition } from './register.js';
import { isEc2Task, rootOnInstance } from '../../core/pipeline/ec2-task.js';
import { CloneTokenError } from '../shared/clone-tokens.js';
import { isServicesAddress, serviceTaskState, type ServiceTaskState } from './service-task.js';
import { segmentServices, type SegmentServices } from '../../core/builds/service-task.js';

/**
 * How long a clone token this instance wrote must still live to be used again for a stage of
 * the same repository (clone-tokens.ts, reuseMinLifeMs). ECS hands it to the agent when the
 * task starts, and the agent clones as soon as its image is pulled: the token must outlive
 * provisioning and pulls, and nothing bounds those (the reconciler stops a task only once it
 * has run TIMEOUT_GRACE_MS past its pipeline timeout, counted from RunTask, reconcile.ts). A
 * clone that fails on an expired token fails the build with git's authentication error, which
 * no user can act on, so reuse is kept to tokens minted at most 15 of their 60 minutes ago
 * (GitHub sets the expiry): a start may take 40 minutes, far beyond the start model's p95 of
 * about 3 minutes (bench/lib/start-measurements.ts), and the clocks of GitHub and this Lambda
 * may disagree by five. Bursts of pushes, where the saved calls matter, fall inside 15 minutes.
 */
export const CLONE_TOKEN_MIN_LIFE_MS = 45 * 60_000;

/** Failed starts (errors, not waits) after which a stage ends `error`. */
export const MAX_START_FAILURES = 8;  // with startRetryDelayMs: about 45 min of tries

export type StartResult =
  | { kind: 'started'; started: PassReport['started'][number] }
  /** Capacity or quota refused it: it waits (the pass backs off capacity for everyone). */
  | { kind: 'capacity'; reason: string }
  /** ECS placed it on no EC2 instance (the fleet's view was behind): it waits for the next pass, nothing else does. */
  | { kind: 'ec2-wait'; reason: string }
  /** An error worth another try: counted on the stage, retried after a back-off. */
  | { kind: 'retry'; reason: string }
  | { kind: 'failed'; message: string }
  /** Started or finished by someone else meanwhile. */
  | { kind: 'gone' }
  /** A split stage waits for the task of its services to run (service-task.ts). */
  | { kind: 'waiting'; reason: string };

type Capacity = 'FARGATE' | 'FARGATE_SPOT' | 'EC2';

export async function startStage(deps: AutoscalerDeps, waiting: Waiting): Promise<StartResult> {
  const { config } = deps;
  // The index may lag behind: the stage as last written decides (and gives the attempt).
  const stage = await deps.stages.getStageConsistent(waiting.job.buildId, waiting.job.stageNumber);
  const attempt = stage && isWaiting(stage) ? startAttempt(stage) : null;
  if (!stage || attempt === null) return { kind: 'gone' };
  // A split stage starts the segment it is at (segment-run.ts): that segment's task, with the
  // execution role its build may have (its service task too: serviceTaskState takes this job).
  const segment = stage.segment ?? 1;
  const fork = await isForkJob(deps, waiting.job);
  const w: Waiting = { ...waiting, job: { ...segmentJob(waiting.job, segment), fork } };
  const { job } = w;
  const segmentRun = await segmentEnvironment(deps, job, stage, segment, attempt);
  if ('end' in segmentRun) {
    const finished = await deps.stages.finish(stage.buildId, stage.number, { ...segmentRun.end, finishedAt: deps.now() });
    if (!finished) return { kind: 'gone' };
    await afterStageEnd(deps, stage.buildId);
    deps.log('split stage ended before its next segment', { ...stageKeys(job.stageKey), segment, message: segmentRun.end.message });
    return { kind: 'failed', message: segmentRun.end.message };
  }

  // A split stage with services: their task, started in the same pass as the first segment,
  // which reads the address once the service task has one; later segments get it at RunTask.
  if (job.serviceTask) {
    const timeLeft = segmentRun.env.filter((e) => e.name === AGENT_ENV.timeoutSeconds);
    const addressUrl = (method: 'GET' | 'PUT') => servicesAddressUrl(deps, job, method, Number(timeLeft[0]?.value ?? 0));
    let services: ServiceTaskState;
    try {
      services = await serviceTaskState(deps, job, stage, async () => [...timeLeft, { name: AGENT_ENV.servicesAddressOut, value: await addressUrl('PUT') }]);
    } catch (err) {
      if (!(err instanceof SnapshotUrlError)) throw err;
      services = { kind: 'gone', message: `cannot start its service task: ${err.message}` };
    }
    if (services.kind === 'waiting') {
      if (stage.message !== services.reason) await deps.stages.noteWaiting(stage.buildId, stage.number, services.reason);
      return { kind: 'waiting', reason: services.reason };
    }
    if (services.kind === 'retry') return afterError(deps, stage, attempt, { kind: 'transient', retryable: true, name: 'ServiceTaskStart', message: services.reason }, services.reason);
    const decision: SegmentServices =
      services.kind === 'gone'
        ? { kind: 'end', message: `cannot start segment ${segment}: ${services.message}` }
        : segmentServices(segment, services.kind === 'started' ? { kind: 'starting', status: 'starting' } : services.phase, isServicesAddress);
    if (decision.kind === 'wait') {
      if (stage.message !== decision.reason) await deps.stages.noteWaiting(stage.buildId, stage.number, decision.reason);
      return { kind: 'waiting', reason: decision.reason };
    }
    if (decision.kind === 'end') return cannotStart(deps, stage, decision.message);
    if (decision.kind === 'host') segmentRun.env.push({ name: AGENT_ENV.servicesHost, value: decision.host });
    else {
      try {
        segmentRun.env.push({ name: AGENT_ENV.servicesAddressIn, value: await addressUrl('GET') });
      } catch (err) {
        if (!(err instanceof SnapshotUrlError)) throw err;
        // Its service task, started, is stopped by the next pass: its stage is done.
        return cannotStart(deps, stage, `cannot start segment ${segment}: ${err.message}`);
      }
    }
  }

  // A GitHub App clone token, bought now rather than at planning: it lives an hour and the
  // stage may have waited longer. It is asked for while the task definition is registered:
  // both must be done before RunTask, neither needs the other. GitHub down is retried with
  // back-off like a failed start (MAX_START_FAILURES); the App not installed or a wrong key
  // ends the stage saying so. A failed registration is reported first, as before; a token
  // written for a start that then does not happen is harmless (the next start writes or
  // reuses one, and a task reads the parameter only when it starts).
  const [registered, token] = await Promise.allSettled([
    ensureTaskDefinition(deps.ecs, job.taskDefinition, taskRoles(config)),
    deps.cloneTokens ? deps.cloneTokens(job) : Promise.resolve(undefined),
  ]);
  // An error the minter does not word (a bug, not GitHub or SSM) surfaces whatever the registration did.
  if (token.status === 'rejected' && !(token.reason instanceof CloneTokenError)) throw token.reason;
  if (registered.status === 'rejected') {
    const info = classifyAwsError(registered.reason);
    return afterError(deps, stage, attempt, info, `RegisterTaskDefinition: ${describeAwsError(info)}`);
  }
  const taskDefinitionArn = registered.value;
  if (token.status === 'rejected') {
    const err = token.reason as CloneTokenError;
    return afterError(deps, stage, attempt, { kind: err.retryable ? 'transient' : 'fatal', retryable: err.retryable, name: err.name, message: err.message }, err.message);
  }
  if (token.value) {
    deps.log(token.value.reused ? 'clone token reused' : 'clone token written', { stageKey: job.stageKey, parameter: token.value.parameter, expiresAt: new Date(token.value.expiresAt).toISOString() });
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
  // A task in its EC2 form (core/pipeline/ec2-task.ts) runs on the deployment's EC2 capacity
  // only, with the capacity provider and placement the compiler wrote.
  const ec2 = isEc2Task(job.taskDefinition);
  const onDemand = job.onDemand === true || (stage.reason === 'spot-interrupted' && stage.capacity === 'FARGATE');
  const spot = config.useSpot && !onDemand && !ec2;
  const capacities: Capacity[] = ec2 ? ['EC2'] : spot ? ['FARGATE_SPOT', 'FARGATE'] : ['FARGATE'];
  const refusals: string[] = [];
  let refusedForCapacity = true;
  for (const capacity of capacities) {
    const tokens = runTaskTokens(segmentRunKey(job.stageKey, segment), attempt, spot && capacity !== 'EC2' ? capacity : undefined);
    const input = runTaskInput(config, job, taskDefinitionArn, capacity, tokens, stage.upstream, segmentRun.env);
    // Measured as RunTask measures them: a stage over the limit would be refused at every start.
    const oversized = startOverridesError(job.runTask.overrides, input.overrides);
    if (oversized !== undefined) {
      deps.log('stage could not start: its overrides are over RunTask\'s limit', { ...stageKeys(job.stageKey), error: oversized });
      return cannotStart(deps, stage, `cannot start: ${oversized}`);
    }
    let res: RunTaskCommandOutput;
    try {
      res = await deps.ecs.send(new RunTaskCommand(input));
    } catch (err) {
      const info = classifyAwsError(err);
      const text = `RunTask on ${capacity}: ${describeAwsError(info)}`;
      if (info.kind !== 'conflict') deps.metrics?.runTaskFailure(info.name);
      // The token already started this attempt's task with other parameters: that task is the stage's.
      if (info.kind === 'conflict' && info.resourceIds?.[0]) return recordStarted(deps, w, stage, attempt, info.resourceIds[0], capacity);
      // Anything but a throttle or a server fault from Spot (no capacity, a platform Spot does
      // not offer, …): on-demand may still take it.
      if (capacity === 'FARGATE_SPOT' && (info.kind === 'capacity' || info.kind === 'fatal')) {
        deps.log('Fargate Spot refused; trying on-demand', { ...stageKeys(job.stageKey), error: text });
        refusals.push(text);
        if (info.kind !== 'capacity') refusedForCapacity = false;
        continue;
      }
      return afterError(deps, stage, attempt, info, [...refusals, text].join('; '));
    }
    const task = res.tasks?.[0];
    if (task?.taskArn) {
      // Placed at once on EC2: the instance is marked before anything else can be placed there
      // after this build, which is root on it (ec2-task.ts, SPENT_ATTRIBUTE).
      if (capacity === 'EC2' && deps.fleet && rootOnInstance(job.taskDefinition) && task.containerInstanceArn) await deps.fleet.markSpent(task.containerInstanceArn);
      return recordStarted(deps, w, stage, attempt, task.taskArn, capacity);
    }
    const reasons = (res.failures ?? []).map((f) => `${f.reason ?? 'unknown'}${f.detail ? ` (${f.detail})` : ''}`);
    for (const failure of res.failures?.length ? res.failures : [{ reason: 'no task and no failure' }]) deps.metrics?.runTaskFailure(failure.reason ?? 'unknown');
    const text = `RunTask on ${capacity}: ${reasons.join('; ') || 'returned neither a task nor a failure'}`;
    if (!reasons.some(isEcsCapacityReason)) refusedForCapacity = false;
    refusals.push(text);
    deps.log('RunTask failure', { ...stageKeys(job.stageKey), capacity, reason: text });
    // Spot without capacity: the same pass tries on-demand.
  }
  const reason = refusals.join('; ');
  if (ec2) {
    await deps.stages.noteWaiting(job.buildId, job.stageNumber, `waiting: no EC2 instance took it (${reason}); the next pass tries again`);
    return { kind: 'ec2-wait', reason };
  }
  if (refusedForCapacity) {
    await deps.stages.noteWaiting(job.buildId, job.stageNumber, `waiting: no Fargate capacity or quota (${reason}); retrying with back-off`);
    return { kind: 'capacity', reason };
  }
  // failures[] reasons other than capacity: counted like errors, retried a few times.
  return afterError(deps, stage, attempt, { kind: 'transient', retryable: true, name: 'RunTaskFailure', message: reason }, reason);
}

/** Ends a stage that cannot start (`error`, could-not-start) with `message`, unless it ended meanwhile. */
/**
 * Whether the stage's task runs with the fork roles. The planner marks every job it
 * stores (`fork`); a job without the mark was stored before jobs carried it (a build in flight
 * across the upgrade, a stage enqueued later from its stored job, a Spot retry, a later
 * segment), and its build record decides, as the build's own `fork` decided its compile. A job
 * whose build is gone is no trusted build's: it runs as a fork's. Nothing is read where the
 * deployment has neither fork role (local mode): there is no other role to choose. Either one
 * is enough to read it: a fork task role without a fork execution role (a deployment that sets
 * TASK_ROLE_ARN and no execution role) still keeps the build task role from a fork's containers.
 */
export async function isForkJob(
  deps: { config: Pick<ExecutionConfig, 'forkExecutionRoleArn' | 'forkTaskRoleArn'>; store: Pick<AutoscalerDeps['store'], 'getBuild'> },
  job: Pick<StageJob, 'buildId' | 'fork'>,
): Promise<boolean> {
  if (job.fork !== undefined) return job.fork;
  if (!deps.config.forkExecutionRoleArn && !deps.config.forkTaskRoleArn) return false;
  const build = await deps.store.getBuild(job.buildId);
  return build === null || build.fork;
}

async function cannotStart(deps: AutoscalerDeps, stage: Stage, message: string): Promise<StartResult> {
  const finished = await deps.stages.finish(stage.buildId, stage.number, { status: 'error', reason: 'could-not-start', message, finishedAt: deps.now() });
  if (!finished) return { kind: 'gone' };
  await afterStageEnd(deps, stage.buildId, { freedCapacity: true });
  return { kind: 'failed', message };
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
    deps.log('start failed; retrying with back-off', { ...stageKeys(key), error: text, kind: info.kind, failures, retryInMs: delay });
    return noted ? { kind: 'retry', reason: text } : { kind: 'gone' };
  }
  const message = info.retryable
    ? `cannot start: ${failures} attempts failed; the last: ${text}`
    : `cannot start: ${text}`;
  const finished = await deps.stages.finish(stage.buildId, stage.number, { status: 'error', reason: 'could-not-start', message, finishedAt: deps.now() });
  if (!finished) return { kind: 'gone' };
  await afterStageEnd(deps, stage.buildId);
  deps.log('stage could not start', { ...stageKeys(key), error: text, kind: info.kind, failures });
  return { kind: 'failed', message };
}

async function recordStarted(deps: AutoscalerDeps, w: Waiting, stage: Stage, attempt: number, taskArn: string, capacity: Capacity): Promise<StartResult> {
  const { job } = w;
  const startedAt = deps.now();
  // Its waiting message (why it was queued) goes to its timeline: the stage runs now.
  const queuedBecause = stage.message !== undefined ? { queuedBecause: stage.message } : {};
  const marked = await deps.stages.markRunning(job.buildId, job.stageNumber, { attempt, taskArn, capacity, startedAt, cpu: job.cpu, ...queuedBecause });
  if (!marked) await stopOrphanedTask(deps, job, taskArn);
  const queueWaitMs = startedAt - (stage.queuedAt ?? job.queuedAt);
  // Every stored job carries the build's receipt time (a dependent stage's, a Spot retry's, a
  // later segment's): only a stage that starts with the build measures webhook → RunTask.
  const webhookToRunTaskMs = job.receivedAt !== undefined && startsWithBuild(stage, attempt) ? startedAt - job.receivedAt : undefined;
  deps.log('stage started', { ...stageKeys(job.stageKey), taskArn, capacity, queueWaitMs, webhookToRunTaskMs });
  deps.metrics?.stageStarted({ queueWaitMs, ...(webhookToRunTaskMs !== undefined ? { webhookToRunTaskMs } : {}) });
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
    deps.log('RunTask succeeded but the stage had moved on', { ...stageKeys(job.stageKey), taskArn, status: current?.status });
    return;
  }
  const reason = current.reason === 'cancelled' ? 'build cancelled' : `stage already ${current.status}`;
  await deps.ecs.send(new StopTaskCommand({ cluster: deps.config.cluster, task: taskArn, reason }));
  deps.log('stopped a task started for a finished stage', { ...stageKeys(job.stageKey), taskArn, status: current.status, reason });
}

export function runTaskInput(
  config: ExecutionConfig,
  job: StageJob,
  taskDefinitionArn: string,
  capacity: Capacity,
  tokens: { clientToken: string; startedBy: string },
  /** What the build had done when the stage was released (Stage.upstream): the agent's SLIPWAY_UPSTREAM. */
  upstream?: UpstreamState,
  /** A segment of a split stage: its snapshot URLs and what is left of the timeout (segmentEnvironment). */
  segmentEnv: { name: string; value: string }[] = [],
): RunTaskCommandInput {
  const compiled = (job.runTask.overrides ?? {}) as NonNullable<RunTaskCommandInput['overrides']>;
  // A fork's stage runs with the execution role refused the credentialed cache rules: ECS takes
  // it from TaskOverride.executionRoleArn (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_TaskOverride.html),
  // so that IAM, not only the compiler, keeps the fork's images from the deployment's registry token;
  // and with the fork task role (TaskOverride.taskRoleArn), so that its containers get none of
  // what the build task role is given, whatever role the stored task definition names.
  const overrides = job.fork
    ? {
        ...compiled,
        ...(config.forkExecutionRoleArn ? { executionRoleArn: config.forkExecutionRoleArn } : {}),
        ...(config.forkTaskRoleArn ? { taskRoleArn: config.forkTaskRoleArn } : {}),
      }
    : compiled;
  // The agent always learns its stage id, and the task events carry it back.
  const containerOverrides = [...(overrides.containerOverrides ?? [])];
  const agentIndex = containerOverrides.findIndex((o) => o.name === AGENT_CONTAINER);
  const agent = agentIndex >= 0 ? containerOverrides[agentIndex]! : { name: AGENT_CONTAINER };
  const replaced = new Set([AGENT_ENV.stageId, AGENT_ENV.upstream, ...segmentEnv.map((e) => e.name)]);
  const environment = (agent.environment ?? []).filter((e) => !replaced.has(e.name as never));
  environment.push({ name: AGENT_ENV.stageId, value: job.stageKey }, ...segmentEnv);
  // Within the room the compiler kept for it (override-budget.ts, UPSTREAM_RESERVE).
  if (upstream) environment.push(upstreamOverride(upstream));
  const withStage = { ...agent, environment };
  if (agentIndex >= 0) containerOverrides[agentIndex] = withStage;
  else containerOverrides.push(withStage);
  if (capacity === 'EC2') {
    // The compiler's capacity provider, distinctInstance and group stay; host mode takes no network configuration.
    const { networkConfiguration: _network, ...ec2Run } = job.runTask as Partial<RunTaskCommandInput>;
    return { ...ec2Run, cluster: config.cluster, taskDefinition: taskDefinitionArn, count: 1, clientToken: tokens.clientToken, startedBy: tokens.startedBy, overrides: { ...overrides, containerOverrides } };
  }
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

/**
 * A URL of where the stage's service task leaves its address (core/pipeline/segments.ts
 * servicesAddressKey): PUT for the service task's agent, GET for the first segment's. Both live
 * as long as the pipeline may still run: the segment reads it after its clone, the service task
 * writes it once provisioned and pulled, and either may wait long for capacity and images.
 */
function servicesAddressUrl(deps: Pick<AutoscalerDeps, 'snapshotUrls'>, job: StageJob, method: 'GET' | 'PUT', secondsLeft: number): Promise<string> {
  // segmentEnvironment has ended a split stage that has no snapshot bucket: this one has one.
  const expires = Math.min(MAX_PRESIGN_SECONDS, Math.max(1, secondsLeft) + SNAPSHOT_OUT_MARGIN_SECONDS);
  return deps.snapshotUrls!.url(servicesAddressKey(job.buildId, job.stageNumber), method, expires);
}

/** How long the URL of the previous segment's snapshot lives: the agent reads it as it starts. */
const SNAPSHOT_IN_SECONDS = 3600;
/** Past the segment's timeout, for the upload at its end (S3 allows a presigned URL 7 days at most). */
const SNAPSHOT_OUT_MARGIN_SECONDS = 3600;
const MAX_PRESIGN_SECONDS = 604_800;

/**
 * The agent environment of one segment of a split stage: what is left of the pipeline's
 * timeout (it counts across segments, from the first segment's start), a GET URL of the
 * previous segment's workspace snapshot and a PUT URL for its own. `end` when the segment
 * cannot run: no time left, or no snapshot bucket in this deployment.
 */
export async function segmentEnvironment(
  deps: Pick<AutoscalerDeps, 'snapshotUrls' | 'now'>,
  job: StageJob,
  stage: Pick<Stage, 'segments' | 'startedAt' | 'snapshotAttempt'>,
  segment: number,
  /** This start's attempt of the segment (Stage.attempts): its snapshot has a key of its own. */
  attempt: number,
): Promise<{ env: { name: string; value: string }[] } | { end: { status: StageStatus; reason: StageOutcomeReason; message: string } }> {
  const count = stage.segments ?? 1;
  if (count <= 1) return { env: [] };
  if (!deps.snapshotUrls) {
    return { end: { status: 'error', reason: 'could-not-start', message: `cannot start: the pipeline runs as ${count} consecutive tasks, which needs the snapshot bucket this deployment does not have` } };
  }
  const now = deps.now();
  const left = segmentTimeoutSeconds(jobTimeoutMs(job) / 60_000, stage.startedAt ?? now, now);
  if (left === undefined) return { end: { status: 'failure', reason: 'timed-out', message: `timed out before segment ${segment} of ${count} could start` } };
  const env: { name: string; value: string }[] = [{ name: AGENT_ENV.timeoutSeconds, value: String(left) }];
  try {
    if (segment > 1) {
      // The snapshot the segment before left: that of its attempt that ended (Stage.snapshotAttempt).
      const previous = snapshotKey(job.buildId, job.stageNumber, segment - 1, stage.snapshotAttempt ?? 0);
      env.push({ name: AGENT_ENV.snapshotIn, value: await deps.snapshotUrls.url(previous, 'GET', SNAPSHOT_IN_SECONDS) });
    }
    if (segment < count) {
      // Used when the segment ends: it must outlive the whole of what is left of the timeout.
      const expires = Math.min(MAX_PRESIGN_SECONDS, left + SNAPSHOT_OUT_MARGIN_SECONDS);
      env.push({ name: AGENT_ENV.snapshotOut, value: await deps.snapshotUrls.url(snapshotKey(job.buildId, job.stageNumber, segment, attempt), 'PUT', expires) });
    }
  } catch (err) {
    if (!(err instanceof SnapshotUrlError)) throw err;
    return { end: { status: 'error', reason: 'could-not-start', message: `cannot start segment ${segment} of ${count}: ${err.message}` } };
  }
  return { env };
}
