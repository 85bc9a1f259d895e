// The steps that waited in their containers and finished while their stage ran: their records
// took no start, or the one the agent's log showed, when their containers stopped, and that stop
// as their end; the agent's result, read once the stage (or its segment) has ended, gives their
// commands' start and end.

import { commandEndFixes, commandStartFixes } from '../../../core/builds/step-times.js';
import type { StageOutcome, StepChange } from '../../../core/builds/status.js';
import type { StepRecord, StepStatus } from '../../../core/builds/types.js';
import type { ExecutionDeps } from './deps.js';

/** One step's commands' start, end or both, as the agent's result gives them. */
export interface CommandTimeFix {
  number: number;
  status: StepStatus;
  startedAt?: number;
  finishedAt?: number;
}

/**
 * Writes the starts commandStartFixes and the ends commandEndFixes (step-times.ts) find, one
 * write per step, and returns them; `changes`: the steps this event writes anyway.
 */
export async function writeCommandTimes(
  deps: Pick<ExecutionDeps, 'store'>,
  buildId: string,
  stageNumber: number,
  steps: readonly StepRecord[],
  outcome: StageOutcome,
  changes: readonly StepChange[],
): Promise<CommandTimeFix[]> {
  const changed = new Set(changes.map((c) => c.number));
  const fixes = new Map<number, CommandTimeFix>();
  for (const fix of commandStartFixes(steps, outcome.startedSteps, changed)) fixes.set(fix.number, fix);
  // Their ends too, where their containers stayed up after their commands (commandEndFixes).
  for (const fix of commandEndFixes(steps, outcome.endedSteps, changed)) fixes.set(fix.number, { ...fixes.get(fix.number), ...fix });
  for (const { number, status, ...times } of fixes.values()) {
    await deps.store.updateStep(buildId, stageNumber, number, { status, ...times }, { fromStatuses: [status] });
  }
  return [...fixes.values()];
}

/** `written` (the step records as an event leaves them, by number) with the times writeCommandTimes wrote. */
export function withCommandTimes(written: Map<number, StepRecord>, fixes: readonly CommandTimeFix[]): void {
  for (const { number, status: _status, ...times } of fixes) written.set(number, { ...written.get(number)!, ...times });
}
