// The steps that waited in their containers and finished while their stage ran: their records
// took no start, or the one the agent's log showed, when their containers stopped; the agent's
// result, read once the stage (or its segment) has ended, gives their commands' start.

import { commandStartFixes } from '../../../core/builds/step-times.js';
import type { StageOutcome, StepChange } from '../../../core/builds/status.js';
import type { StepRecord } from '../../../core/builds/types.js';
import type { ExecutionDeps } from './deps.js';

/** Writes the starts commandStartFixes (step-times.ts) finds, and returns them; `changes`: the steps this event writes anyway. */
export async function writeCommandStarts(
  deps: Pick<ExecutionDeps, 'store'>,
  buildId: string,
  stageNumber: number,
  steps: readonly StepRecord[],
  outcome: StageOutcome,
  changes: readonly StepChange[],
): Promise<{ number: number; startedAt: number }[]> {
  const fixes = commandStartFixes(steps, outcome.startedSteps, new Set(changes.map((c) => c.number)));
  for (const fix of fixes) {
    await deps.store.updateStep(buildId, stageNumber, fix.number, { status: fix.status, startedAt: fix.startedAt }, { fromStatuses: [fix.status] });
  }
  return fixes;
}
