// The times a step's record carries. Pure; used where step records are written (the
// task-events path) and where they are shown (the API, the CLI, the dashboard), so that
// every view agrees on what a step's span is.
//
// A skipped step has no span of its own: its commands never ran, whatever its container
// did (a step that starts with the task waits in its wrapper for the setup, and after a
// failed setup skips itself). Drone gives it none either: runner-go pipeline/state.go `skip`
// stamps Started and Stopped with the same instant, so its UI and API show no duration.

import type { StepStatus, StepRecord } from './types.js';

/** The time fields of a step record. */
export type StepSpan = Pick<StepRecord, 'startedAt' | 'finishedAt'>;

/** The step fields that are times, which a skipped step never keeps. */
export const STEP_TIME_FIELDS = ['startedAt', 'finishedAt'] as const satisfies readonly (keyof StepRecord)[];

/**
 * The times to write with a step's new status: a running step starts (`startedAt`: when its
 * commands started, when known apart from the event's time); a finished one ends at `endedAt`
 * and starts then too when it was never seen running; a skipped one has none (the store drops
 * what it had: BuildStore.updateStep).
 */
export function stepTimes(step: StepSpan, change: { status: StepStatus; startedAt?: number }, at: number, endedAt: number = at): StepSpan {
  if (change.status === 'skipped') return {};
  const startedAt = change.startedAt ?? at;
  if (change.status === 'running') return { startedAt };
  return { ...(step.startedAt === undefined ? { startedAt } : {}), finishedAt: endedAt };
}

/** A step as users see it: a skipped one without times (records written before this rule kept its container's). */
export function shownStep<T extends Pick<StepRecord, 'status'> & StepSpan>(step: T): T {
  if (step.status !== 'skipped' || (step.startedAt === undefined && step.finishedAt === undefined)) return step;
  const { startedAt: _startedAt, finishedAt: _finishedAt, ...rest } = step;
  return rest as T;
}
