// The stop of one segment's task of a split stage (docs/design/split-pipelines.md): when the
// next segment runs (core/builds/segment-run.ts afterSegment), this segment's steps are
// recorded, the stage goes back to the queue for the next segment (StageStore.advanceSegment,
// once per stopped task) and the next segment's job is enqueued. Otherwise the stage ends
// as any stage does (apply-event.ts), its later segments' steps reported skipped.
// Duplicated, retried and reordered events: advanceSegment applies once (the stopped task
// must still be the stage's, and the event newer than the last applied); the job is enqueued
// after the advance, and a retry of a crash in between finds the advance done and the stage
// pending at the next segment, which the reconciler's pass re-queues like any queued stage.

import { isoMillis, stepChanges, type StageOutcome } from '../../../core/builds/status.js';
import type { TaskStateChangeDetail } from '../../../core/builds/task-event.js';
import { stepTimes } from '../../../core/builds/step-times.js';
import { queuedReason, stageTimeline, stepMarks } from '../../../core/builds/stage-timeline.js';
import type { Stage } from '../../../core/builds/types.js';
import { afterSegment, segmentTimeoutSeconds } from '../../../core/builds/segment-run.js';
import { AGENT_CONTAINER, EARLY_EXIT_CODE, type AgentSetupTimes } from '../../../core/pipeline/contract.js';
import { jobTimeoutMs, segmentJob } from '../../../core/scaling/job.js';
import type { ExecutionDeps } from './deps.js';
import { stageKeys } from '../observability/logger.js';
import type { ApplyResult } from './apply-event.js';
import { withCommandTimes, writeCommandTimes } from './command-times.js';

export interface SegmentEnd {
  key: string;
  stage: Stage;
  detail: TaskStateChangeDetail;
  outcome: StageOutcome;
  /** When the change happened (ECS's time). */
  at: number;
  now: number;
  attempt: number;
  /** The agent's phase times, from its result line, when it was read (apply-event.ts). */
  setup?: AgentSetupTimes;
}

/** Undefined when the stage ends here (the caller finishes it as any stage). */
export async function advanceSegment(deps: ExecutionDeps, end: SegmentEnd): Promise<ApplyResult | undefined> {
  const { key, stage, detail, outcome, at, now } = end;
  const { buildId, number: stageNumber } = stage;
  const segment = stage.segment ?? 1;
  const count = stage.segments ?? 1;
  const stored = await deps.stages.getStageJob(buildId, stageNumber);
  if (!stored?.segments) throw new Error(`task-events: stage ${key} has ${count} segments but its stored job has none: cannot go on to segment ${segment + 1}`);
  const current = stored.segments.find((s) => s.number === segment);
  if (!current) throw new Error(`task-events: stage ${key}: its stored job has no segment ${segment}`);
  const earlyExit = detail.containers.some((c) => c.name !== AGENT_CONTAINER && c.exitCode === EARLY_EXIT_CODE);
  const decision = afterSegment({ number: segment, count, reason: outcome.reason, earlyExit, later: current.later });
  if (decision.kind === 'end') return undefined;

  // The pipeline's timeout counts from the first segment's start: none left, the stage ends.
  const timeoutMinutes = jobTimeoutMs(stored) / 60_000;
  const left = segmentTimeoutSeconds(timeoutMinutes, stage.startedAt ?? at, now);
  if (left === undefined) return undefined;

  // This segment's steps only: the next segments' are still to run.
  const mine = new Set(current.containers);
  const steps = (await deps.store.listSteps(buildId, stageNumber)).filter((s) => s.kind === 'clone' || mine.has(s.container));
  // Where each step's log stays readable once the next segment's task is the stage's (StepRecord.taskArn).
  const here = new Set(detail.containers.map((c) => c.name));
  const changes = stepChanges(detail, steps, outcome);
  const fixed = await writeCommandTimes(deps, buildId, stageNumber, steps, outcome, changes);
  // The step records as this event leaves them, for the segment's timeline.
  const written = new Map(steps.map((s) => [s.number, s]));
  withCommandTimes(written, fixed);
  for (const change of changes) {
    const step = steps.find((s) => s.number === change.number)!;
    const times = stepTimes(step, change, at, isoMillis(detail.stoppedAt) ?? at);
    written.set(step.number, change.status === 'skipped' ? { ...step, status: 'skipped', startedAt: undefined, finishedAt: undefined } : { ...step, status: change.status, ...times });
    await deps.store.updateStep(buildId, stageNumber, change.number, {
      status: change.status,
      ...(change.exitCode !== undefined ? { exitCode: change.exitCode } : {}),
      ...(change.reason !== undefined ? { reason: change.reason } : {}),
      ...(here.has(step.container) ? { taskArn: detail.taskArn } : {}),
      ...times,
    });
  }
  const next = decision.number;
  const queuedBecause = queuedReason(stage);
  const advanced = await deps.stages.advanceSegment(buildId, stageNumber, {
    taskArn: detail.taskArn,
    version: detail.version,
    queuedAt: now,
    segment: next,
    message: `segment ${segment} of ${count} ended (${outcome.reason}); segment ${next} is queued`,
    // Its workspace snapshot is this attempt's (snapshotKey): the next segment reads that one.
    attempt: end.attempt,
    // Where this segment's time went, kept beside the next segments' (Stage.segmentTimelines).
    timeline: {
      segment,
      attempt: end.attempt,
      ...(stage.queuedAt !== undefined ? { queuedAt: stage.queuedAt } : {}),
      ...(queuedBecause !== undefined ? { queuedBecause } : {}),
      ...stageTimeline(detail, end.setup),
      ...stepMarks([...written.values()]),
    },
  });
  if (!advanced) return { applied: false, stageKey: key, reason: `segment ${segment} already ended, or the stage no longer runs ${detail.taskArn}` };
  await deps.jobs.enqueue({ ...segmentJob(stored, next), queuedAt: now });
  await deps.store.updateBuild(buildId, { status: 'running', startedAt: stage.startedAt ?? at }, { fromStatuses: ['pending'] });
  await deps.nudge();
  deps.log('segment ended; next segment queued', { ...stageKeys(key), segment, next, reason: outcome.reason, secondsLeft: left });
  return { applied: true, stageKey: key, status: 'pending' };
}
