// The service task of a split stage (docs/design/split-pipelines.md, "Services and detached
// steps across the cut"): the task that runs the pipeline's services (and its first detached
// steps) for the stage's whole life, beside its consecutive segment tasks.
// - Started in the same pass as the first segment, which is given a URL at which the service
//   task's agent leaves its private IP (AGENT_ENV.servicesAddressIn/Out); later segments (and a
//   first one started again once it runs) get the IP from DescribeTasks in their override
//   (AGENT_ENV.servicesHost).
// - A service task that stops (fails, is stopped, never starts) stops the segment running
//   beside it and ends the stage `error` (stopSegmentsWithoutServices).
// - Stopped once the stage is done, whatever ended it (last segment, failure, cancel,
//   timeout, a lost task): every autoscaler pass looks for running service tasks whose stage
//   is done (or that are not their stage's), so none outlives its stage by more than a pass.
//   Its agent also ends itself at the pipeline's timeout.

import { isIP } from 'node:net';
import { MAX_ADDRESS_CHARS, startOverridesError } from '../../core/pipeline/override-budget.js';
import { DescribeTasksCommand, RunTaskCommand, StopTaskCommand, type Task } from '@aws-sdk/client-ecs';
import { isStageDone } from '../../core/builds/status.js';
import { segmentToStop, serviceTaskPhase, type ServiceTaskPhase, type ServiceTaskView } from '../../core/builds/service-task.js';
import { parseStageKey, stageKey, type Stage } from '../../core/builds/types.js';
import { afterStageEnd } from '../shared/execution/stage-end.js';
import { AGENT_CONTAINER, AGENT_ENV } from '../../core/pipeline/contract.js';
import { SERVICE_TASK_STARTED_BY_PREFIX, serviceTaskTokens, type StageJob } from '../../core/scaling/job.js';
import { classifyAwsError, describeAwsError, describeRunTaskFailures } from '../../core/util/aws-errors.js';
import { stageKeys } from '../shared/observability/logger.js';
import { taskRoles, type ExecutionConfig } from './config.js';
import type { AutoscalerDeps } from './deps.js';
import { ensureTaskDefinition } from './register.js';
import { runTaskInput } from './start-stage.js';
import { listClusterTasks } from './converters.js';

export type ServiceTaskState =
  /** Started before: as DescribeTasks shows it now (core/builds/service-task.ts). */
  | { kind: 'known'; phase: ServiceTaskPhase }
  /** Started by this call: it is starting. */
  | { kind: 'started' }
  /** The stage moved on while it started (it was stopped again): nothing else starts. */
  | { kind: 'waiting'; reason: string }
  /** RunTask failed in a way worth another try. */
  | { kind: 'retry'; reason: string }
  /** It cannot start: the stage cannot go on. */
  | { kind: 'gone'; message: string };

/**
 * Where the stage's service task is: started now when it has none (segment 1 only), else as
 * DescribeTasks shows it. `env`: the per-run agent environment of the service task when it is
 * started now (what is left of the timeout, so that its agent ends itself with the pipeline; the
 * URL at which it leaves its address for the first segment).
 */
export async function serviceTaskState(deps: AutoscalerDeps, job: StageJob, stage: Stage, env: () => Promise<{ name: string; value: string }[]>): Promise<ServiceTaskState> {
  if (stage.serviceTaskArn === undefined) {
    if ((stage.segment ?? 1) > 1) return { kind: 'gone', message: `the stage has no service task at segment ${stage.segment}: its services are gone` };
    return startServiceTask(deps, job, stage, await env());
  }
  const res = await deps.ecs.send(new DescribeTasksCommand({ cluster: deps.config.cluster, tasks: [stage.serviceTaskArn] }));
  const task = res.tasks?.[0];
  return { kind: 'known', phase: serviceTaskPhase(stage.serviceTaskArn, task && viewOf(task), res.failures?.[0]?.reason) };
}

/** The fields of a DescribeTasks task the decisions read (core/builds/service-task.ts). */
export function viewOf(task: Task): ServiceTaskView {
  const address = privateIp(task);
  return {
    ...(task.lastStatus ? { lastStatus: task.lastStatus } : {}),
    ...(task.desiredStatus ? { desiredStatus: task.desiredStatus } : {}),
    ...(task.stoppedReason ? { stoppedReason: task.stoppedReason } : {}),
    ...(task.stopCode ? { stopCode: task.stopCode } : {}),
    ...(address !== undefined ? { address } : {}),
  };
}

/** An address the segments' agents may be given: an IP, within the room the compiler kept (override-budget.ts, SERVICES_HOST_RESERVE). */
export function isServicesAddress(host: string): boolean {
  return isIP(host) !== 0 && host.length <= MAX_ADDRESS_CHARS;
}

/**
 * The task's private IPv4 address. Fargate gives every task one ENI with a primary private IP
 * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html);
 * DescribeTasks shows it on each container (`networkInterfaces[].privateIpv4Address`,
 * https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_NetworkInterface.html) and in
 * the task's ElasticNetworkInterface attachment (`details` name `privateIPv4Address`,
 * https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Attachment.html).
 */
export function privateIp(task: Task): string | undefined {
  for (const c of task.containers ?? []) {
    const ip = c.networkInterfaces?.find((n) => n.privateIpv4Address)?.privateIpv4Address;
    if (ip) return ip;
  }
  const eni = task.attachments?.find((a) => a.type === 'ElasticNetworkInterface' && a.status === 'ATTACHED');
  return eni?.details?.find((d) => d.name === 'privateIPv4Address')?.value;
}

async function startServiceTask(deps: AutoscalerDeps, job: StageJob, stage: Stage, env: { name: string; value: string }[]): Promise<ServiceTaskState> {
  const service = job.serviceTask!;
  const { config } = deps;
  let arn: string;
  try {
    arn = await ensureTaskDefinition(deps.ecs, service.taskDefinition, taskRoles(config));
  } catch (err) {
    const info = classifyAwsError(err);
    return info.retryable ? { kind: 'retry', reason: `service task: RegisterTaskDefinition: ${describeAwsError(info)}` } : { kind: 'gone', message: `cannot start its service task: ${describeAwsError(info)}` };
  }
  // On-demand, never Spot: a Spot interruption of the services would fail whatever segment runs.
  const input = runTaskInput(serviceTaskConfig(config), { ...job, runTask: service.runTask }, arn, 'FARGATE', serviceTaskTokens(job.stageKey), stage.upstream, env);
  // As for a stage's own task (start-stage.ts): over RunTask's limit, every start would be refused.
  const oversized = startOverridesError(service.runTask.overrides, input.overrides);
  if (oversized !== undefined) return { kind: 'gone', message: `cannot start its service task: ${oversized}` };
  let taskArn: string | undefined;
  try {
    const res = await deps.ecs.send(new RunTaskCommand(input));
    taskArn = res.tasks?.[0]?.taskArn;
    if (!taskArn) {
      const reasons = describeRunTaskFailures(res.failures);
      return { kind: 'retry', reason: `service task: RunTask: ${reasons || 'returned neither a task nor a failure'}` };
    }
  } catch (err) {
    const info = classifyAwsError(err);
    // The token already started it (with other parameters): that task is the stage's.
    if (info.kind === 'conflict' && info.resourceIds?.[0]) taskArn = info.resourceIds[0];
    else return info.retryable || info.kind === 'capacity' ? { kind: 'retry', reason: `service task: RunTask: ${describeAwsError(info)}` } : { kind: 'gone', message: `cannot start its service task: ${describeAwsError(info)}` };
  }
  const noted = await deps.stages.noteServiceTask(job.buildId, job.stageNumber, { taskArn, cpu: service.cpu });
  if (!noted) {
    // The stage moved on meanwhile (cancelled, or another start recorded another): this one would run unwatched.
    await deps.ecs.send(new StopTaskCommand({ cluster: config.cluster, task: taskArn, reason: 'Slipway: its stage no longer waits for it' }));
    return { kind: 'waiting', reason: 'waiting: the stage changed while its service task started' };
  }
  deps.log('service task started', { ...stageKeys(job.stageKey), taskArn, cpu: service.cpu });
  return { kind: 'started' };
}

/**
 * Stops every running service task whose stage is done, is gone, or records another service
 * task. Returns the ARNs stopped. `tasks`: the cluster's tasks whose desired status is RUNNING,
 * as the pass listed them (converters.ts, listClusterTasks: one ListTasks, and a DescribeTasks
 * per 100 tasks, per pass; the build cluster holds only Slipway's tasks); listed here when not given.
 */
export async function stopFinishedServiceTasks(deps: AutoscalerDeps, tasks?: readonly Task[]): Promise<string[]> {
  const listed = tasks ?? (await listClusterTasks(deps));
  const stopped: string[] = [];
  for (const task of listed) {
    if (!task.startedBy?.startsWith(SERVICE_TASK_STARTED_BY_PREFIX) || !task.taskArn) continue;
    const key = task.overrides?.containerOverrides?.find((o) => o.name === AGENT_CONTAINER)?.environment?.find((e) => e.name === AGENT_ENV.stageId)?.value;
    const parsed = key ? parseStageKey(key) : null;
    const stage = parsed ? await deps.store.getStage(parsed.buildId, parsed.stageNumber) : null;
    const why = !stage ? 'its stage does not exist' : isStageDone(stage.status) ? `its stage is ${stage.status}` : stage.serviceTaskArn !== undefined && stage.serviceTaskArn !== task.taskArn ? 'its stage runs another service task' : undefined;
    if (why === undefined) continue;
    await deps.ecs.send(new StopTaskCommand({ cluster: deps.config.cluster, task: task.taskArn, reason: `Slipway: service task no longer needed: ${why}`.slice(0, 255) }));
    deps.log('service task stopped', { ...(key ? stageKeys(key) : {}), taskArn: task.taskArn, why });
    stopped.push(task.taskArn);
  }
  return stopped;
}

/**
 * Stops the segment of every active split stage whose service task is gone (stopped, stopping,
 * or unknown to ECS: it failed, was stopped, or never started), and ends the stage `error`
 * saying so (core/builds/service-task.ts segmentToStop). Every pass does it, the one the
 * task-events handler nudges when a service task stops included; it reads DescribeTasks, not the
 * event, so duplicated, late or reordered events change nothing. StopTask first, as for a task
 * past its timeout (reconcile.ts): if the stage's write fails, the next pass stops it again.
 * Returns the keys of the stages ended.
 */
export async function stopSegmentsWithoutServices(deps: AutoscalerDeps, stages: readonly Stage[]): Promise<string[]> {
  const byKey = new Map<string, Stage>();
  for (const s of stages) if (s.serviceTaskArn !== undefined && s.taskArn !== undefined && !isStageDone(s.status)) byKey.set(stageKey(s.buildId, s.number), s);
  const watched = [...byKey.values()];
  const ended: string[] = [];
  // Each stage's service task and segment task: 100 tasks per DescribeTasks.
  for (let i = 0; i < watched.length; i += 50) {
    const batch = watched.slice(i, i + 50);
    const res = await deps.ecs.send(new DescribeTasksCommand({ cluster: deps.config.cluster, tasks: batch.flatMap((s) => [s.serviceTaskArn!, s.taskArn!]) }));
    for (const stage of batch) {
      const task = res.tasks?.find((t) => t.taskArn === stage.serviceTaskArn);
      const failure = res.failures?.find((f) => f.arn === stage.serviceTaskArn);
      // Neither answered: nothing is known of it this pass.
      if (!task && !failure) continue;
      const segmentTask = res.tasks?.find((t) => t.taskArn === stage.taskArn);
      // A segment task ECS does not know is the reconciliation's (reconcile.ts: task-lost).
      if (!segmentTask) continue;
      const stop = segmentToStop(stage, serviceTaskPhase(stage.serviceTaskArn!, task && viewOf(task), failure?.reason), viewOf(segmentTask));
      if (!stop) continue;
      const key = stageKey(stage.buildId, stage.number);
      await deps.ecs.send(new StopTaskCommand({ cluster: deps.config.cluster, task: stop.taskArn, reason: `Slipway: ${stop.message}`.slice(0, 255) }));
      const now = deps.now();
      const finished = await deps.stages.finish(stage.buildId, stage.number, { status: 'error', reason: 'service-not-ready', message: stop.message, finishedAt: now, onlyIfTaskArn: stop.taskArn });
      if (!finished) continue;
      for (const step of await deps.store.listSteps(stage.buildId, stage.number)) {
        if (step.status !== 'pending' && step.status !== 'running') continue;
        // What ran in the service task failed with it; the segment's steps were stopped.
        const inServiceTask = step.kind === 'service' || step.detached === true;
        await deps.store.updateStep(
          stage.buildId,
          stage.number,
          step.number,
          inServiceTask ? { status: 'failure', reason: stop.message, finishedAt: now } : { status: 'killed', reason: 'the task of its services stopped', finishedAt: now },
          { fromStatuses: ['pending', 'running'] },
        );
      }
      deps.log('segment stopped: its service task is gone', { ...stageKeys(key), taskArn: stop.taskArn, serviceTaskArn: stage.serviceTaskArn, message: stop.message });
      await afterStageEnd(deps, stage.buildId, { freedCapacity: true });
      ended.push(key);
    }
  }
  return ended;
}

/**
 * The service task runs in its own security group, the one build tasks may connect to
 * (lib/network.ts); ordinary build tasks keep theirs, which lets nothing in. Without one
 * (local mode has no security groups) it keeps the build tasks' groups.
 */
export function serviceTaskConfig(config: ExecutionConfig): ExecutionConfig {
  return config.serviceSecurityGroups.length > 0 ? { ...config, securityGroups: config.serviceSecurityGroups } : config;
}
