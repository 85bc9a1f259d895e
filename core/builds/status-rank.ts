// The order of statuses and what "finished" means, apart from the state machine
// (status.ts) so that the dashboard's browser bundle can ask it without Node's modules.

import type { BuildStatus, StageStatus, StepStatus } from './types.js';

/** The rank of finished statuses: final, nothing moves a record out of it. */
export const FINAL_RANK = 2;

/**
 * The order of statuses, for builds, stages and steps alike: waiting (0), running (1),
 * finished (FINAL_RANK). A status may stay at its rank or move up, never down. The stores
 * keep it in each item (`statusRank`) so their conditional writes refuse a late update.
 */
export function statusRank(status: StageStatus | StepStatus | BuildStatus): number {
  if (status === 'pending') return 0;
  if (status === 'running') return 1;
  return FINAL_RANK;
}

/** Finished: nothing moves a build, stage or step out of this status. */
export function isFinished(status: StageStatus | StepStatus | BuildStatus): boolean {
  return statusRank(status) === FINAL_RANK;
}

/** A step that ran and ended (finished, and not skipped): the ones a user reads the log of. */
export function hasRun(status: StepStatus): boolean {
  return isFinished(status) && status !== 'skipped';
}
