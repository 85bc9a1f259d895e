// Exponential back-off with a ceiling: probes and polls start fast (a service is often
// up within a second) and settle at a gentle rate.

export interface Backoff {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export const PROBE_BACKOFF: Backoff = { initialMs: 100, maxMs: 2000, factor: 2 };
/**
 * The readiness gate's looks at its own task's services (gate.ts): a TCP connect on localhost
 * and one GET of the task metadata endpoint, whose agent allows 40 requests a second
 * (ECS_TASK_METADATA_RPS_LIMIT; amazon-ecs-agent agent/config/config.go: DefaultRpsLimit 40, DefaultRpsBurstLimit 60). A service with a
 * health command turns HEALTHY only at a health check, 5 s or more apart (the ECS minimum,
 * API_HealthCheck.html), so a look every 2 s found it up to 2 s late on every first step;
 * every 0.5 s, at most 0.5 s (bench/lib/ec2-start-model.ts reads this).
 */
export const GATE_BACKOFF: Backoff = { initialMs: 100, maxMs: 500, factor: 2 };
export const METADATA_ERROR_BACKOFF: Backoff = { initialMs: 500, maxMs: 10_000, factor: 2 };
export const GIT_RETRY_BACKOFF: Backoff = { initialMs: 1000, maxMs: 10_000, factor: 2 };

/** Delay before attempt `attempt + 1` (attempt counts from 0). */
export function backoffDelay(attempt: number, policy: Backoff): number {
  const delay = policy.initialMs * policy.factor ** Math.max(0, attempt);
  return Math.min(policy.maxMs, delay);
}

/** The one abortable sleep (core/util/retry.ts): wakes early, without an error, when the signal aborts. */
export { sleep } from '../core/util/retry.js';
