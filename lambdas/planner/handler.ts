// The planner Lambda: consumes the events queue (SQS event source with
// reportBatchItemFailures).

import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { lambdaLogger, startInvocation } from '../shared/observability/logger.js';
import { lambdaMetrics, withMetricsFlushed } from '../shared/observability/metrics.js';
import { plannerDepsFromEnv } from './deps.js';
import type { PlannerDeps } from './plan-event.js';
import { processEventBatch } from './process-batch.js';
import { isPlannerDoctorRequest, type PlannerDoctorRequest } from '../../core/doctor/planner-probe.js';
import { answerDoctor, type DoctorAnswer } from './doctor.js';
import { isKeepWarmEvent, type KeepWarmEvent } from '../../core/config/keep-warm.js';

/** The handler over dependencies built on its first batch: local mode passes its own (local/up.ts). */
export function plannerHandler(makeDeps: () => PlannerDeps): (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse> {
  const answer = plannerInvocationHandler(makeDeps);
  return answer as (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;
}

/**
 * Events-queue batches, and `slipway doctor`'s direct invocations (doctor.ts), which only an
 * identity allowed lambda:InvokeFunction on this function can make.
 */
export function plannerInvocationHandler(
  makeDeps: () => PlannerDeps,
): (event: SQSEvent | PlannerDoctorRequest | KeepWarmEvent, context?: Context) => Promise<SQSBatchResponse | DoctorAnswer> {
  const logger = lambdaLogger('planner');
  let deps: PlannerDeps | undefined;
  return async (event, context) => {
    startInvocation(logger, context);
    deps ??= makeDeps();
    const ready = deps;
    // The stack's keepWarm schedule (core/config/keep-warm.ts): initialized above, nothing to plan.
    if (isKeepWarmEvent(event)) return { batchItemFailures: [] };
    if (isPlannerDoctorRequest(event)) {
      ready.log('doctor request', { doctor: event.slipwayDoctor });
      return withMetricsFlushed(lambdaMetrics(), () => answerDoctor(event, ready));
    }
    return withMetricsFlushed(lambdaMetrics(), () => processEventBatch(event as SQSEvent, ready));
  };
}

export const handler = plannerInvocationHandler(() => plannerDepsFromEnv());
