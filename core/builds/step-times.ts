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
 * A step whose container starts before its commands: it waits in its wrapper for the clone and
 * the services (afterSetup) or for the steps before it (waitsInContainer). Its start is when its
 * commands started (the agent's `.started` marker), as Drone's runner stamps a step's Started
 * only once its dependencies are done (drone/runner-go pipeline/runtime/execer.go, `state.Start`
 * just before `engine.Run`), never its container's start, which holds the wait.
 */
export function startsAtCommands(step: Pick<StepRecord, 'kind' | 'afterSetup' | 'waitsInContainer'>): boolean {
  return step.kind === 'step' && (step.afterSetup === true || step.waitsInContainer === true);
}

/** A step's new status with what is known of its start. */
export interface TimedChange {
  status: StepStatus;
  /** When its commands started, when known apart from the event's time (it wins over a stored start). */
  startedAt?: number;
  /** Its start is not the event's time and not known yet (startsAtCommands): none is written. */
  startUnknown?: boolean;
  /** When it ended, when known apart from the event's time (its commands' end): it wins over `endedAt`. */
  finishedAt?: number;
}

/**
 * The times to write with a step's new status: a running step starts (`startedAt`: when its
 * commands started, when known apart from the event's time); a finished one ends at `endedAt`
 * and starts then too when it was never seen running, unless its start is unknown; a skipped
 * one has none (the store drops what it had: BuildStore.updateStep).
 */
export function stepTimes(step: StepSpan, change: TimedChange, at: number, endedAt: number = at): StepSpan {
  if (change.status === 'skipped') return {};
  if (change.status === 'running') return { startedAt: change.startedAt ?? at };
  const startedAt = change.startedAt ?? step.startedAt ?? (change.startUnknown ? undefined : at);
  return { ...(startedAt !== undefined && startedAt !== step.startedAt ? { startedAt } : {}), finishedAt: change.finishedAt ?? endedAt };
}

/**
 * Steps that finished while their stage ran, recorded with their container's stop as their end,
 * where their commands ended earlier (AgentResult.ended, StageOutcome.endedSteps): a container
 * another step names in an ECS START stays up after its commands until that one is up
 * (core/pipeline/script.ts, lingerLines). Their end from the agent's result, once the stage has
 * ended. `changed`: the steps this event already writes (their end goes with their change).
 */
export function commandEndFixes(
  steps: readonly Pick<StepRecord, 'number' | 'kind' | 'container' | 'status' | 'afterSetup' | 'waitsInContainer' | 'startedAt' | 'finishedAt'>[],
  endedSteps: Readonly<Record<string, number>> | undefined,
  changed: ReadonlySet<number>,
): { number: number; status: StepStatus; finishedAt: number }[] {
  if (endedSteps === undefined) return [];
  const out: { number: number; status: StepStatus; finishedAt: number }[] = [];
  for (const step of steps) {
    if (changed.has(step.number) || !startsAtCommands(step) || step.finishedAt === undefined || step.status === 'skipped') continue;
    const finishedAt = endedSteps[step.container];
    if (finishedAt === undefined || Number.isNaN(finishedAt) || finishedAt >= step.finishedAt) continue;
    if (step.startedAt !== undefined && finishedAt < step.startedAt) continue;
    out.push({ number: step.number, status: step.status, finishedAt });
  }
  return out;
}

/**
 * Steps that finished while their stage ran, before their commands' start was known (or known
 * only from a line of the agent's log): their start from the agent's result (AgentResult.started,
 * StageOutcome.startedSteps), once the stage has ended. `changed`: the steps this event already
 * writes (their start goes with their change).
 */
export function commandStartFixes(
  steps: readonly Pick<StepRecord, 'number' | 'container' | 'kind' | 'status' | 'afterSetup' | 'waitsInContainer' | 'startedAt' | 'finishedAt'>[],
  startedSteps: Readonly<Record<string, number>> | undefined,
  changed: ReadonlySet<number>,
): { number: number; status: StepStatus; startedAt: number }[] {
  if (startedSteps === undefined) return [];
  const out: { number: number; status: StepStatus; startedAt: number }[] = [];
  for (const step of steps) {
    if (changed.has(step.number) || !startsAtCommands(step) || step.status === 'skipped' || step.status === 'pending' || step.status === 'running') continue;
    const startedAt = startedSteps[step.container];
    if (startedAt === undefined || Number.isNaN(startedAt) || startedAt === step.startedAt) continue;
    if (step.finishedAt !== undefined && startedAt > step.finishedAt) continue;
    out.push({ number: step.number, status: step.status, startedAt });
  }
  return out;
}

/** A step as users see it: a skipped one without times (records written before this rule kept its container's). */
export function shownStep<T extends Pick<StepRecord, 'status'> & StepSpan>(step: T): T {
  if (step.status !== 'skipped' || (step.startedAt === undefined && step.finishedAt === undefined)) return step;
  const { startedAt: _startedAt, finishedAt: _finishedAt, ...rest } = step;
  return rest as T;
}
