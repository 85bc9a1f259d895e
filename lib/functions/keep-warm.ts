// The `keepWarm` option: one scheduled rule pings the webhook and the planner every
// KEEP_WARM_RATE_MINUTES, so that a push meets initialized functions. Off by default: it
// invokes them while nothing is built (cents a month, README "Start time and cost"), and the
// project's promise is no compute billed while idle. The autoscaler needs none: its own
// one-minute schedule keeps it warm.
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { KEEP_WARM_EVENT, KEEP_WARM_RATE_MINUTES, KEPT_WARM_FUNCTIONS } from '../../core/config/keep-warm.js';
import type { FunctionContext } from './context.js';

export function configureKeepWarm(ctx: FunctionContext): void {
  if (ctx.settings.keepWarm !== true) return;
  new events.Rule(ctx.scope, 'KeepWarmSchedule', {
    description: 'Slipway: keeps the webhook and the planner warm (keepWarm option)',
    schedule: events.Schedule.rate(Duration.minutes(KEEP_WARM_RATE_MINUTES)),
    // A missed ping is replaced by the next one: nothing to retry.
    targets: KEPT_WARM_FUNCTIONS.map(
      (name) => new targets.LambdaFunction(ctx.functions[name], { event: events.RuleTargetInput.fromObject(KEEP_WARM_EVENT), retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
    ),
  });
}
