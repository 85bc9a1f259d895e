// The scheduled pass's repair of what events and messages can lose, so that nothing
// stays "waiting for a runner" without a visible reason, and nothing runs (and bills) forever:
// - a stage marked running (or claimed by its task's first event) whose task ECS no
//   longer knows → error, task-lost;
// - a stage marked running whose task STOPPED but whose stop event never came → the
//   task as DescribeTasks shows it is applied as that event;
// - a task still running past its pipeline timeout plus a grace (its agent, which enforces
//   the timeout, is wedged) → StopTask with the reason, the stage ends `error`, timed-out;
// - a stage waiting on dependencies that have all ended → decided (queued or skipped);
// - a build left unfinished although all its stages are final → finished, with its
//   final commit status (afterStageEnd is idempotent: a build finished meanwhile is left);
// - a running task whose agent is HEALTHY (its clone is done) while the clone step is still
//   `running` → the clone passed: health is only in DescribeTasks, never in an event.
// Queued stages need no repair here: they wait in the table, which every pass reads.

import { DescribeTasksCommand, StopTaskCommand, type Task } from '@aws-sdk/client-ecs';
import { cloneSeenDone, isStageDone } from '../../core/builds/status.js';
import type { TaskStateChangeDetail } from '../../core/builds/task-event.js';
import { stageKey, type Stage } from '../../core/builds/types.js';
import { jobTimeoutMs } from '../../core/scaling/job.js';
import { AGENT_CONTAINER } from '../../core/pipeline/contract.js';
import { applyTaskEvent } from '../shared/execution/apply-event.js';
import { afterStageEnd } from '../shared/execution/stage-end.js';
import { stageKeys } from '../shared/observability/logger.js';
import { listAll, type AutoscalerDeps } from './deps.js';

export interface ReconcileReport {
  lost: string[];
  stopApplied: string[];
  /** Stages whose task ran past its timeout plus the grace and was stopped. */
  timedOut: string[];
  dependentsResolved: string[];
  /** Builds finished here because all their stages were final. */
  buildsFinished: string[];
  /** Stages whose clone was seen done here (their agent HEALTHY). */
  clonesDone: string[];
}

/**
 * How long past its pipeline timeout a task may run before it is stopped. The agent starts
 * its timer when it starts, after provisioning and image pulls (minutes for large images),
 * and stops the task itself at the timeout: only a wedged agent needs this.
 */
export const TIMEOUT_GRACE_MS = 15 * 60_000;
/** A build whose last stage ended this recently may still be being finished by the task-events path. */
export const UNFINISHED_BUILD_GRACE_MS = 2 * 60_000;
/** How far back unfinished builds are looked for (the recent-builds index, newest first). */
export const UNFINISHED_BUILD_LOOKBACK_MS = 24 * 3_600_000;

const keyOf = (s: Stage): string => stageKey(s.buildId, s.number);

export async function reconcile(deps: AutoscalerDeps): Promise<ReconcileReport> {
  const report: ReconcileReport = { lost: [], stopApplied: [], timedOut: [], dependentsResolved: [], buildsFinished: [], clonesDone: [] };
  const now = deps.now();

  const running = await listAll(deps, 'running');
  const pending = await listAll(deps, 'pending');
  // A pending stage claimed by its task's first event is watched like a running one.
  const withTask = [...running, ...pending].filter((s) => s.taskArn !== undefined);
  for (const stage of running.filter((s) => s.taskArn === undefined)) {
    await deps.stages.finish(stage.buildId, stage.number, { status: 'error', reason: 'task-lost', message: 'marked running without a task (reconciled)', finishedAt: now });
    report.lost.push(keyOf(stage));
    await afterStageEnd(deps, stage.buildId);
  }
  // Jobs (for their timeouts) only of stages that have run longer than the grace alone.
  const old = withTask.filter((s) => s.startedAt !== undefined && now - s.startedAt > TIMEOUT_GRACE_MS);
  const jobs = old.length > 0 ? await deps.stages.getStageJobs(old.map((s) => ({ buildId: s.buildId, stageNumber: s.number }))) : new Map();
  for (let i = 0; i < withTask.length; i += 100) {
    const batch = withTask.slice(i, i + 100);
    const res = await deps.ecs.send(new DescribeTasksCommand({ cluster: deps.config.cluster, tasks: batch.map((s) => s.taskArn!) }));
    for (const failure of res.failures ?? []) {
      const stage = batch.find((s) => s.taskArn === failure.arn);
      if (!stage) continue;
      const finished = await deps.stages.finish(stage.buildId, stage.number, {
        status: 'error',
        reason: 'task-lost',
        message: `ECS no longer knows task ${failure.arn} (${failure.reason ?? 'MISSING'}); no stop event was received`,
        finishedAt: now,
        onlyIfTaskArn: stage.taskArn!,
      });
      if (finished) {
        report.lost.push(keyOf(stage));
        await afterStageEnd(deps, stage.buildId);
      }
    }
    for (const task of res.tasks ?? []) {
      const stage = batch.find((s) => s.taskArn === task.taskArn);
      if (!stage) continue;
      if (task.lastStatus === 'STOPPED') {
        const result = await applyTaskEvent(deps, detailFromTask(task));
        if (result.applied) report.stopApplied.push(keyOf(stage));
        continue;
      }
      const job = jobs.get(keyOf(stage));
      if (job && stage.startedAt !== undefined && now - stage.startedAt > jobTimeoutMs(job) + TIMEOUT_GRACE_MS) {
        if (await stopOverdue(deps, stage, jobTimeoutMs(job), now)) report.timedOut.push(keyOf(stage));
        continue;
      }
      if (await noteCloneDone(deps, stage, task, now)) report.clonesDone.push(keyOf(stage));
    }
  }

  const buildsToResolve = new Set<string>();
  for (const stage of pending) {
    if (stage.taskArn === undefined && stage.queuedAt === undefined && stage.dependsOn.length > 0) buildsToResolve.add(stage.buildId);
  }
  for (const buildId of buildsToResolve) {
    const before = (await deps.store.listStages(buildId)).filter((s) => s.status === 'pending' && s.queuedAt === undefined).length;
    await afterStageEnd(deps, buildId);
    const after = (await deps.store.listStages(buildId)).filter((s) => s.status === 'pending' && s.queuedAt === undefined).length;
    if (after < before) report.dependentsResolved.push(buildId);
  }

  report.buildsFinished = await finishUnfinishedBuilds(deps, now);
  if (report.lost.length || report.stopApplied.length || report.timedOut.length || report.dependentsResolved.length || report.buildsFinished.length || report.clonesDone.length) {
    deps.log('reconciled', { ...report });
  }
  return report;
}

const minutes = (ms: number): string => (ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`);

/**
 * Stops a task that ran past its pipeline timeout plus the grace, then ends its stage
 * (only if the stage still runs that task) with a message saying so, and its unfinished
 * steps as killed. StopTask first: if the write fails, the next pass stops it again
 * (StopTask of a stopping task is harmless) rather than leave it running unwatched.
 */
async function stopOverdue(deps: AutoscalerDeps, stage: Stage, timeoutMs: number, now: number): Promise<boolean> {
  const ranMs = now - stage.startedAt!;
  const reason = `Slipway: ran ${minutes(ranMs)}, past the pipeline timeout (${minutes(timeoutMs)}) plus ${minutes(TIMEOUT_GRACE_MS)} grace`;
  await deps.ecs.send(new StopTaskCommand({ cluster: deps.config.cluster, task: stage.taskArn!, reason: reason.slice(0, 255) }));
  const message =
    `the task ran ${minutes(ranMs)}, past the pipeline timeout of ${minutes(timeoutMs)} plus a grace of ${minutes(TIMEOUT_GRACE_MS)}, ` +
    'without its agent ending it; Slipway stopped it (StopTask)';
  const finished = await deps.stages.finish(stage.buildId, stage.number, { status: 'error', reason: 'timed-out', message, finishedAt: now, onlyIfTaskArn: stage.taskArn! });
  if (!finished) return false;
  for (const step of await deps.store.listSteps(stage.buildId, stage.number)) {
    if (step.status !== 'pending' && step.status !== 'running') continue;
    await deps.store.updateStep(stage.buildId, stage.number, step.number, { status: 'killed', reason: 'the stage ran past its timeout and was stopped', finishedAt: now }, { fromStatuses: ['pending', 'running'] });
  }
  deps.log('stopped a task past its timeout', { ...stageKeys(keyOf(stage)), taskArn: stage.taskArn, ranMs, timeoutMs });
  await afterStageEnd(deps, stage.buildId, { freedCapacity: true });
  return true;
}

/**
 * Builds of the last UNFINISHED_BUILD_LOOKBACK_MS still pending or running although every
 * stage is final (the write that should have finished them was lost): finished now, which
 * also posts their final commit status. Idempotent: afterStageEnd finishes a build once.
 */
async function finishUnfinishedBuilds(deps: AutoscalerDeps, now: number): Promise<string[]> {
  const finished: string[] = [];
  let cursor: string | undefined;
  scan: do {
    const page = await deps.store.listRecentBuilds({ limit: 100, ...(cursor ? { cursor } : {}) });
    for (const build of page.items) {
      if (build.createdAt < now - UNFINISHED_BUILD_LOOKBACK_MS) break scan;
      if (build.status !== 'pending' && build.status !== 'running') continue;
      const stages = await deps.store.listStages(build.id);
      if (stages.length === 0 || !stages.every((s) => isStageDone(s.status))) continue;
      const lastEnd = Math.max(...stages.map((s) => s.finishedAt ?? 0));
      if (now - lastEnd < UNFINISHED_BUILD_GRACE_MS) continue;
      const after = await afterStageEnd(deps, build.id);
      if (after && after.status !== 'pending' && after.status !== 'running') finished.push(build.id);
    }
    cursor = page.cursor;
  } while (cursor);
  return finished;
}

/**
 * The clone step's success when the task's agent is HEALTHY. Its end is known only to this
 * pass's minute: `now` (the agent's own time comes with its result when the stage ends).
 */
async function noteCloneDone(deps: AutoscalerDeps, stage: Stage, task: Task, now: number): Promise<boolean> {
  if (!task.containers?.some((c) => c.name === AGENT_CONTAINER && c.healthStatus === 'HEALTHY')) return false;
  const change = cloneSeenDone(detailFromTask(task), await deps.store.listSteps(stage.buildId, stage.number));
  if (!change) return false;
  return (await deps.store.updateStep(stage.buildId, stage.number, change.number, { status: 'success', finishedAt: now })) !== null;
}

/** The size, times and attributes of a DescribeTasks task, as an event carries them (ISO times). */
function usageFields(task: Task): Partial<TaskStateChangeDetail> {
  const iso = (d: Date | undefined) => (d ? { value: d.toISOString() } : undefined);
  const times = { createdAt: iso(task.createdAt), pullStartedAt: iso(task.pullStartedAt), startedAt: iso(task.startedAt), stoppedAt: iso(task.stoppedAt) };
  return {
    ...Object.fromEntries(Object.entries(times).flatMap(([k, v]) => (v ? [[k, v.value]] : []))),
    ...(task.cpu ? { cpu: task.cpu } : {}),
    ...(task.memory ? { memory: task.memory } : {}),
    ...(task.ephemeralStorage?.sizeInGiB ? { ephemeralStorage: { sizeInGiB: task.ephemeralStorage.sizeInGiB } } : {}),
    ...(task.attributes?.length ? { attributes: task.attributes.map((a) => ({ name: a.name ?? '', ...(a.value ? { value: a.value } : {}) })) } : {}),
  };
}

/** A DescribeTasks task in the shape of an "ECS Task State Change" detail. */
export function detailFromTask(task: Task): TaskStateChangeDetail {
  return {
    clusterArn: task.clusterArn ?? '',
    taskArn: task.taskArn ?? '',
    taskDefinitionArn: task.taskDefinitionArn ?? '',
    ...(task.startedBy ? { startedBy: task.startedBy } : {}),
    lastStatus: task.lastStatus ?? 'STOPPED',
    desiredStatus: task.desiredStatus ?? 'STOPPED',
    version: task.version ?? 0,
    ...(task.stopCode ? { stopCode: task.stopCode } : {}),
    ...(task.stoppedReason ? { stoppedReason: task.stoppedReason } : {}),
    ...(task.capacityProviderName ? { capacityProviderName: task.capacityProviderName } : {}),
    // What a lost stop event would have said about the task's size and times: its cost (core/cost/task-usage.ts).
    ...usageFields(task),
    containers: (task.containers ?? []).map((c) => ({
      name: c.name ?? '',
      lastStatus: c.lastStatus ?? 'STOPPED',
      ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
      ...(c.reason ? { reason: c.reason } : {}),
      ...(c.healthStatus ? { healthStatus: c.healthStatus as 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN' } : {}),
    })),
    overrides: {
      containerOverrides: (task.overrides?.containerOverrides ?? []).map((o) => ({
        name: o.name ?? '',
        environment: (o.environment ?? []).map((e) => ({ name: e.name ?? '', value: e.value ?? '' })),
      })),
    },
  };
}

