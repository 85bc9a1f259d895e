// Cancelling a build. Stages that run get their task stopped (StopTask with a reason);
// the task-events flow then records them `killed` (stop code UserInitiated), skips what
// depends on them and finishes the build, exactly as for any other stopped task. Stages
// that have no task yet are marked `killed` here, guarded on `pending` so a stage the
// autoscaler starts at this very moment is stopped instead (and a task whose RunTask
// answer comes after the kill is stopped by the autoscaler). When nothing was running,
// nothing will send an event: the build is finished here, and its final commit status
// is handed to the code that holds the Git host credentials (`buildFinished`).

import { buildStatusOf, isStageDone, isStepDone } from '../../core/builds/status.js';
import type { BuildStore } from '../../core/builds/ports.js';
import type { Build, Stage } from '../../core/builds/types.js';
import type { SlipwayMetrics } from '../shared/observability/metrics.js';

export interface CancelDeps {
  store: Pick<BuildStore, 'listStagesAndSteps' | 'updateStage' | 'updateStep' | 'getStage' | 'updateBuild' | 'getBuild'>;
  /** ECS StopTask of the build cluster. */
  stopTask(taskArn: string, reason: string): Promise<void>;
  /** A build finished here: post its final commit status (deployed: a message to the planner). */
  buildFinished?(build: Build): Promise<void>;
  now(): number;
  log(message: string, fields?: Record<string, unknown>): void;
  /** Counts the build finished here (BuildsFinished); absent: nothing is counted. */
  metrics?: Pick<SlipwayMetrics, 'buildFinished'>;
}

export interface CancelResult {
  build: Build;
  /** Tasks asked to stop (their stages turn `killed` when ECS reports them stopped). */
  stopped: string[];
}

/** ECS limits StopTask's reason to 255 characters. */
const reasonFor = (who: string): string => `Cancelled by ${who} through the Slipway API`.slice(0, 255);

export async function cancelBuild(deps: CancelDeps, build: Build, who: string): Promise<CancelResult> {
  const { stages, steps } = await deps.store.listStagesAndSteps(build.id);
  const now = deps.now();
  const stopped: string[] = [];
  const reason = reasonFor(who);

  const stop = async (stage: Stage): Promise<void> => {
    if (!stage.taskArn) return;
    await deps.stopTask(stage.taskArn, reason);
    stopped.push(stage.taskArn);
  };

  for (const stage of stages) {
    if (isStageDone(stage.status)) continue;
    // A pending stage with a task was claimed by that task's first event: it is starting.
    if (stage.status === 'running' || stage.taskArn !== undefined) {
      await stop(stage);
      continue;
    }
    const killed = await deps.store.updateStage(
      build.id,
      stage.number,
      { status: 'killed', reason: 'cancelled', message: `cancelled by ${who} before it started`, finishedAt: now },
      { fromStatuses: ['pending'] },
    );
    if (killed) {
      for (const step of steps.filter((s) => s.stageNumber === stage.number && !isStepDone(s.status))) {
        await deps.store.updateStep(build.id, stage.number, step.number, { status: 'skipped', reason: 'the build was cancelled' });
      }
      continue;
    }
    // The autoscaler started it meanwhile: stop its task like the others.
    const current = await deps.store.getStage(build.id, stage.number);
    if (current && !isStageDone(current.status)) await stop(current);
  }

  // The service tasks of split stages: not the stages' own tasks, stopped at once too (the
  // autoscaler's pass would stop them once their stage is done).
  for (const stage of stages) {
    if (!isStageDone(stage.status) && stage.serviceTaskArn) await deps.stopTask(stage.serviceTaskArn, reason);
  }

  if (stopped.length === 0) {
    const after = (await deps.store.listStagesAndSteps(build.id)).stages;
    if (after.every((s) => isStageDone(s.status))) {
      const status = after.length === 0 ? 'killed' : buildStatusOf(after);
      const finished = await deps.store.updateBuild(build.id, { status, finishedAt: now }, { fromStatuses: ['pending', 'running'] });
      if (finished) {
        deps.log('build cancelled before any task ran', { buildId: build.id, by: who });
        deps.metrics?.buildFinished(finished.status);
        try {
          if (deps.buildFinished) await deps.buildFinished(finished);
          else deps.log('final commit status not requested: no path to the Git host is wired', { buildId: build.id });
        } catch (err) {
          // The cancellation stands; only the Git host's status is missing: say so loudly.
          deps.log('final commit status not requested', { buildId: build.id, error: (err as Error).message });
        }
        return { build: finished, stopped };
      }
    }
  }
  deps.log('build cancel requested', { buildId: build.id, by: who, stoppedTasks: stopped.length });
  return { build: (await deps.store.getBuild(build.id)) ?? build, stopped };
}
