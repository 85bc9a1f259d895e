// Waiting in tests: a hang guard, never a speed goal. The probe decides when the wait is
// over; the deadline only turns a hang into a failure that says what was awaited (and,
// through `explain`, what the system looked like then). A loaded 2-core machine was
// measured at 32 s for one stage's webhook-to-RunTask, hence the generous default.

import { FINAL_RANK, statusRank } from '../../core/builds/status.js';
import type { BuildStatus } from '../../core/builds/types.js';

export const HANG_GUARD_MS = 150_000;

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What to add to the failure: the state the test was waiting on. */
  explain?: () => string | Promise<string>;
}

/** Polls `probe` until it gives a truthy value, and returns that. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, options: WaitOptions = {}): Promise<T> {
  const { timeoutMs = HANG_GUARD_MS, intervalMs = 100, explain } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) {
      const detail = explain ? `; ${await explain()}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * The build, as `read` gives it (a Build, a BuildDetail), once its status is final (success,
 * failure, killed, error: core/builds/status.ts's rank).
 */
export function buildFinished<B extends { status: BuildStatus }>(read: (id: string) => Promise<B | null | undefined>, id: string, options: WaitOptions = {}): Promise<B> {
  return waitFor(
    `build ${id} to finish`,
    async () => {
      const b = await read(id);
      return b && statusRank(b.status) === FINAL_RANK ? b : undefined;
    },
    options,
  );
}
