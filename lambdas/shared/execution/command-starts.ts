// The steps that waited in their containers and finished while their stage ran: their records
// took no start, or the one the agent's log showed, when their containers stopped, and that stop
// as their end; the agent's result, read once the stage (or its segment) has ended, gives their
// commands' start and end.

import { commandEndFixes, commandStartFixes } from '../../../core/builds/step-times.js';
import type { StageOutcome, StepChange } from '../../../core/builds/status.js';
import type { StepRecord } from '../../../core/builds/types.js';
import type { ExecutionDeps } from './deps.js';

/** Writes the starts commandStartFixes and the ends commandEndFixes (step-times.ts) find, and returns them; `changes`: the steps this event writes anyway. */
export async function writeCommandStarts(
  deps: Pick<ExecutionDeps, 'store'>,
  buildId: string,
  stageNumber: number,
  steps: readonly StepRecord[],
  outcome: StageOutcome,
  changes: readonly StepChange[],
): Promise<{ starts: { number: number; startedAt: number }[]; ends: { number: number; finishedAt: number }[] }> {
  const changed = new Set(changes.map((c) => c.number));
  const starts = commandStartFixes(steps, outcome.startedSteps, changed);
  for (const fix of starts) {
    await deps.store.updateStep(buildId, stageNumber, fix.number, { status: fix.status, startedAt: fix.startedAt }, { fromStatuses: [fix.status] });
  }
  // Their ends too, where their containers stayed up after their commands (commandEndFixes).
  const ends = commandEndFixes(steps, outcome.endedSteps, changed);
  for (const fix of ends) {
    await deps.store.updateStep(buildId, stageNumber, fix.number, { status: fix.status, finishedAt: fix.finishedAt }, { fromStatuses: [fix.status] });
  }
  return { starts, ends };
}
