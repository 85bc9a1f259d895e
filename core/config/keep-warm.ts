// Keeping the push path's Lambdas warm (the stack's `keepWarm` option, off by default): a
// scheduled rule invokes the webhook and the planner with KEEP_WARM_EVENT every few minutes,
// so that a push finds an initialized execution environment instead of a cold start. Pure
// data, shared by the construct (lib/functions/keep-warm.ts), the handlers that answer the
// ping, and the start model (bench/lib/start-ladder.ts), which reads its cold shares here.

import { SCHEDULED_PASS_SECONDS } from '../scaling/pass-schedule.js';
import type { LambdaName } from './lambda-env.js';

/** The ping's payload: no Git host, queue or Function URL can send an event of this shape. */
export const KEEP_WARM_EVENT = { slipwayKeepWarm: true } as const;
export type KeepWarmEvent = typeof KEEP_WARM_EVENT;

/** The functions a push waits for that no other schedule keeps warm. */
export const KEPT_WARM_FUNCTIONS = ['webhook', 'planner'] as const satisfies readonly LambdaName[];

/** Minutes between two pings of each kept-warm function. */
export const KEEP_WARM_RATE_MINUTES = 5;

/** Minutes between two scheduled autoscaler passes (lib/functions/autoscaler.ts): it is kept warm by its own schedule. */
export const AUTOSCALER_PASS_RATE_MINUTES = SCHEDULED_PASS_SECONDS / 60;

export function isKeepWarmEvent(event: unknown): event is KeepWarmEvent {
  return typeof event === 'object' && event !== null && (event as Partial<KeepWarmEvent>).slipwayKeepWarm === true;
}
