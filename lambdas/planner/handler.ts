// The planner Lambda: consumes the events queue (SQS event source with
// reportBatchItemFailures).

import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { lambdaLogger, startInvocation } from '../shared/observability/logger.js';
import { lambdaMetrics, withMetricsFlushed } from '../shared/observability/metrics.js';
import { plannerDepsFromEnv } from './deps.js';
import type { PlannerDeps } from './plan-event.js';
import { processEventBatch } from './process-batch.js';

/** The handler over dependencies built on its first batch: local mode passes its own (local/up.ts). */
export function plannerHandler(makeDeps: () => PlannerDeps): (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse> {
  const logger = lambdaLogger('planner');
  let deps: PlannerDeps | undefined;
  return async (event, context) => {
    startInvocation(logger, context);
    deps ??= makeDeps();
    const ready = deps;
    return withMetricsFlushed(lambdaMetrics(), () => processEventBatch(event, ready));
  };
}

export const handler = plannerHandler(() => plannerDepsFromEnv());
