// The planner Lambda: consumes the events queue (SQS event source with
// reportBatchItemFailures).

import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { plannerDepsFromEnv } from './deps.js';
import type { PlannerDeps } from './plan-event.js';
import { processEventBatch } from './process-batch.js';

let deps: PlannerDeps | undefined;

export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  deps ??= plannerDepsFromEnv();
  return processEventBatch(event, deps);
}
