// What keeping the push path's Lambdas warm costs a month, the two ways Lambda allows, for the
// functions the keepWarm option pings at their deployed memory (lib/functions.ts): a scheduled
// ping (what the option does) and provisioned concurrency of 1 (what it does not do). Prices:
// us-east-1 list prices.

import { KEEP_WARM_RATE_MINUTES, KEPT_WARM_FUNCTIONS } from '../../core/config/keep-warm.js';
import { memorySizeOf } from '../../lib/functions.js';

export const LAMBDA_PRICES = {
  /** Per request. */
  request: { usd: 0.2 / 1e6, source: 'aws.amazon.com/lambda/pricing: $0.20 per million requests' },
  /** Per GB-second of duration, arm64 (the stack's architecture). */
  armGbSecond: { usd: 0.0000133334, source: 'aws.amazon.com/lambda/pricing: arm64 duration, first tier, us-east-1' },
  /**
   * Per GB-second provisioned, whether invoked or not: the x86 list price (AWS Price List,
   * "Lambda Provisioned-Concurrency", us-east-1); arm64's is lower by about the same 20 % as its duration.
   */
  provisionedGbSecond: { usd: 0.0000041667, source: 'AWS Price List us-east-1 "Lambda Provisioned-Concurrency" (x86; arm64 ≈ 20 % less)' },
  /** EventBridge: at most the custom-event rate per scheduled invocation. */
  event: { usd: 1 / 1e6, source: 'aws.amazon.com/eventbridge/pricing: $1.00 per million events (upper bound for a scheduled rule)' },
} as const;

const MONTH_SECONDS = 30 * 24 * 3600;
/** A warm ping's billed duration: Lambda bills in 1 ms steps; the handler returns at once. */
const PING_MS = 10;

export interface KeepWarmCost {
  functions: { name: string; memoryMb: number }[];
  pingsPerMonth: number;
  /** USD a month, the scheduled ping. */
  ping: number;
  /** USD a month, provisioned concurrency 1 on each function. */
  provisioned: number;
}

export function keepWarmCost(): KeepWarmCost {
  const functions = KEPT_WARM_FUNCTIONS.map((name) => ({ name, memoryMb: memorySizeOf(name) }));
  const perFunction = MONTH_SECONDS / 60 / KEEP_WARM_RATE_MINUTES;
  let ping = 0;
  let provisioned = 0;
  for (const f of functions) {
    const gb = f.memoryMb / 1024;
    ping += perFunction * (LAMBDA_PRICES.request.usd + LAMBDA_PRICES.event.usd + (PING_MS / 1000) * gb * LAMBDA_PRICES.armGbSecond.usd);
    provisioned += MONTH_SECONDS * gb * LAMBDA_PRICES.provisionedGbSecond.usd;
  }
  return { functions, pingsPerMonth: perFunction * functions.length, ping, provisioned };
}
