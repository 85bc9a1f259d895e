// The pipeline timeout. ECS has no task timeout of its own: the agent enforces it by
// stopping (its exit stops the task and every container in it).

import type { StopSwitch } from './signals.js';

/**
 * The longest delay setTimeout takes (2^31 - 1 ms, about 24.8 days). A longer one is
 * replaced by 1 ms with a TimeoutOverflowWarning: the deadline is chained in steps of at
 * most this much instead, so any pipeline timeout holds.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The next delay to arm for a deadline `remainingMs` away. */
export function nextTimerDelay(remainingMs: number): number {
  return Math.max(0, Math.min(remainingMs, MAX_TIMER_MS));
}

/** Arms the deadline; returns a function that disarms it. */
export function armDeadline(stop: StopSwitch, timeoutMs: number, log: (message: string) => void, label: string): () => void {
  const deadline = Date.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const remaining = deadline - Date.now();
    if (remaining > 0) {
      timer = setTimeout(arm, nextTimerDelay(remaining));
      return;
    }
    if (stop.stop({ kind: 'timed-out' })) log(`pipeline timeout of ${label} reached: stopping`);
  };
  timer = setTimeout(arm, nextTimerDelay(timeoutMs));
  return () => clearTimeout(timer);
}
