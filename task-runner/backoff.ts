// Exponential back-off with a ceiling: probes and polls start fast (a service is often
// up within a second) and settle at a gentle rate.

export interface Backoff {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export const PROBE_BACKOFF: Backoff = { initialMs: 100, maxMs: 2000, factor: 2 };
export const METADATA_ERROR_BACKOFF: Backoff = { initialMs: 500, maxMs: 10_000, factor: 2 };
export const GIT_RETRY_BACKOFF: Backoff = { initialMs: 1000, maxMs: 10_000, factor: 2 };

/** Delay before attempt `attempt + 1` (attempt counts from 0). */
export function backoffDelay(attempt: number, policy: Backoff): number {
  const delay = policy.initialMs * policy.factor ** Math.max(0, attempt);
  return Math.min(policy.maxMs, delay);
}

/** The one abortable sleep (core/util/retry.ts): wakes early, without an error, when the signal aborts. */
export { sleep } from '../core/util/retry.js';
