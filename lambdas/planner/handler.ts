// The planner Lambda: consumes the events queue (SQS event source with
// reportBatchItemFailures).

import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { plannerDepsFromEnv } from './deps.js';
import type { PlannerDeps } from './plan-event.js';
import { processEventBatch } from './process-batch.js';

/** The handler over dependencies built on its first batch: local mode passes its own (local/up.ts). */
export function plannerHandler(makeDeps: () => PlannerDeps): (event: SQSEvent) => Promise<SQSBatchResponse> {
  let deps: PlannerDeps | undefined;
  return async (event) => {
    deps ??= makeDeps();
    return processEventBatch(event, deps);
  };
}

export const handler = plannerHandler(() => plannerDepsFromEnv());
