// What happens after a stage ends (task event, autoscaler rejection, reconciliation):
// dependent stages are queued or skipped (Drone's depends_on + trigger status), the build
// finishes when every stage has, and its final commit status is posted. Idempotent: a
// duplicate or retried call finds the work done and does nothing twice.

import { buildFailureSummary, buildStatusOf, isStageDone, resolveDependents } from '../../../core/builds/status.js';
import type { BuildStore, StageStore } from '../../../core/builds/ports.js';
import type { Build, Stage } from '../../../core/builds/types.js';
import type { UpstreamState } from '../../../core/pipeline/contract.js';
import type { ExecutionDeps } from './deps.js';
import { costOfBuild } from './cost.js';

/** What the stage end needs: narrow ports, so it runs as well on the in-memory stores of the tests. */
export type StageEndDeps = Pick<ExecutionDeps, 'jobs' | 'postBuildStatus' | 'nudge' | 'now' | 'log' | 'metrics' | 'cost'> & {
  store: Pick<BuildStore, 'getBuild' | 'listStagesAndSteps' | 'updateStep' | 'updateBuild'>;
  stages: Pick<StageStore, 'getStageJob' | 'finish' | 'markQueued'>;
};

/** `freedCapacity`: a task stopped, so the autoscaler is nudged even when nothing was queued. */
export async function afterStageEnd(deps: StageEndDeps, buildId: string, options: { freedCapacity?: boolean } = {}): Promise<Build | null> {
  const build = await deps.store.getBuild(buildId);
  if (!build) {
    deps.log('build not found after stage end', { buildId });
    return null;
  }
  let { stages, steps } = await deps.store.listStagesAndSteps(buildId);
  const decision = resolveDependents(stages, build.status === 'killed');
  const now = deps.now();
  for (const { stage, message, reason } of decision.skip) {
    await deps.stages.finish(buildId, stage.number, { status: 'skipped', ...(reason ? { reason } : {}), message, finishedAt: now });
    for (const step of steps.filter((s) => s.stageNumber === stage.number)) {
      await deps.store.updateStep(buildId, stage.number, step.number, { status: 'skipped', reason: message });
    }
  }
  let queued = 0;
  for (const stage of decision.enqueue) {
    const job = await deps.stages.getStageJob(buildId, stage.number);
    if (!job) {
      await deps.stages.finish(buildId, stage.number, { status: 'error', message: `no job was stored for stage ${stage.name}: it cannot start`, finishedAt: now });
      continue;
    }
    // Marked first: the reconciler re-sends the message if this call dies in between.
    await deps.stages.markQueued(buildId, stage.number, now, upstreamOf(build, stages));
    await deps.jobs.enqueue({ ...job, queuedAt: now });
    queued++;
  }
  if (queued > 0 || options.freedCapacity) await deps.nudge();
  if (decision.skip.length > 0 || decision.enqueue.length > 0) ({ stages, steps } = await deps.store.listStagesAndSteps(buildId));

  const status = buildStatusOf(stages);
  if (!stages.every((s) => isStageDone(s.status))) return build;
  // The build ended when its last stage did (ECS's stop time, see apply-event.ts).
  const finishedAt = Math.max(0, ...stages.map((s) => s.finishedAt ?? 0)) || now;
  // Priced with the usage its tasks recorded as they stopped (cost.ts); a task stopping later reprices it.
  const cost = build.status === 'pending' || build.status === 'running' ? await costOfBuild(deps, buildId, stages, steps) : undefined;
  const finished = await deps.store.updateBuild(buildId, { status, finishedAt, statusHandOffStartedAt: now, ...(cost ? { cost } : {}) }, { fromStatuses: ['pending', 'running'] });
  if (finished) {
    deps.log('build finished', { buildId, status });
    deps.metrics?.buildFinished(status);
    return handOffStatus(deps, finished, stages);
  }
  // Finished by another call. If that call died before handing the status off (the queue
  // refused it; the event is retried a minute later), this one owes it; while the other
  // may still be sending, it does not. Posting a status twice would be harmless, losing it not.
  const current = await deps.store.getBuild(buildId);
  const started = current?.statusHandOffStartedAt;
  const owed = current && isStageDone(current.status) && current.statusHandedOffAt === undefined && (started === undefined || now - started > HAND_OFF_LEASE_MS);
  if (owed) return handOffStatus(deps, current, stages);
  return current ?? build;
}

/**
 * What the build had done when a dependent stage is released, for its steps' DRONE_FAILED_STAGES
 * and DRONE_BUILD_STARTED: Drone gives each step the build with its stages as they are
 * (runner-go environ.go, failedStages: failing, error or killed).
 */
export function upstreamOf(build: Pick<Build, 'startedAt'>, stages: Pick<Stage, 'name' | 'status'>[]): UpstreamState {
  const failedStages = stages.filter((s) => s.status === 'failure' || s.status === 'error' || s.status === 'killed').map((s) => s.name);
  return { failedStages, ...(build.startedAt !== undefined ? { buildStarted: Math.floor(build.startedAt / 1000) } : {}) };
}

/** How long the call that finished a build has to hand its status off before a retry takes it over. */
export const HAND_OFF_LEASE_MS = 30_000;

async function handOffStatus(deps: StageEndDeps, build: Build, stages: Pick<Stage, 'name' | 'status' | 'message'>[]): Promise<Build> {
  // The commit status shows `error` after the status word (core/scm/commit-state.ts): a
  // failed build says why there, from its stages. Not stored: the stages hold it.
  const summary = build.error === undefined ? buildFailureSummary(build.status, stages) : undefined;
  await deps.postBuildStatus(summary === undefined ? build : { ...build, error: summary });
  return (await deps.store.updateBuild(build.id, { statusHandedOffAt: deps.now() })) ?? build;
}
