// One retry helper: a bounded number of attempts, exponential back-off with full jitter
// (the AWS Architecture Blog's "Exponential Backoff And Jitter": sleep = random(0, min(cap,
// base · 2^attempt))), and whether an error is worth another attempt decided by the AWS
// error classifier unless the caller says otherwise.

import { classifyAwsError, type AwsErrorInfo } from './aws-errors.js';

export interface RetryOptions {
  /** Calls in all, the first included (≥ 1). */
  attempts: number;
  /** Milliseconds of the first back-off's ceiling; doubles with each retry. */
  baseMs: number;
  /** The most one back-off may last. */
  maxMs: number;
  /** Whether `err` deserves another call; default: the classifier's `retryable`. */
  retryable?: (err: unknown, info: AwsErrorInfo) => boolean;
  /** Called before each back-off (for logs). */
  onRetry?: (err: unknown, info: AwsErrorInfo, attempt: number, delayMs: number) => void;
  /** Uniform in [0, 1); injected by tests. */
  random?: () => number;
  /** false: wait the full ceiling (a caller whose waits are part of its contract); default true. */
  jitter?: boolean;
  /** The wait before retry number `retry` (1 = the first), replacing the back-off (e.g. a fixed list of delays). */
  delayMs?: (retry: number) => number;
  /**
   * Ends a back-off early: when it aborts, no further call is made and the last error is
   * thrown (the caller, which knows what the signal means, reports it).
   */
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** The back-off before retry number `retry` (1 = the first retry), with full jitter. */
export function backoffMs(retry: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/** The back-off ceiling without jitter (for a delay that must not come early, e.g. an SQS visibility). */
export function backoffCeilingMs(retry: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
}

/** Resolves after `ms` (at most setTimeout's 2^31 - 1), or as soon as `signal` aborts, without an error. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, Math.min(ms, 2 ** 31 - 1));
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Calls `fn` until it succeeds, the error is not retryable, or `attempts` calls were made;
 * then throws the last error, unchanged (its name and status stay classifiable).
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  if (!(options.attempts >= 1)) throw new RangeError(`retry: attempts must be at least 1, not ${options.attempts}`);
  const random = options.random ?? Math.random;
  const wait = options.sleep ?? sleep;
  const { signal } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const info = classifyAwsError(err);
      const again = options.retryable ? options.retryable(err, info) : info.retryable;
      if (!again || attempt >= options.attempts || signal?.aborted) throw err;
      const delay = options.delayMs
        ? options.delayMs(attempt)
        : options.jitter === false
          ? backoffCeilingMs(attempt, options.baseMs, options.maxMs)
          : backoffMs(attempt, options.baseMs, options.maxMs, random);
      options.onRetry?.(err, info, attempt, delay);
      await wait(delay, signal);
      if (signal?.aborted) throw err;
    }
  }
}
