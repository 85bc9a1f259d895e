// An events-queue batch: each message planned on its own; the ones that failed are
// reported (reportBatchItemFailures), so only they come back, and after the queue's
// maxReceiveCount they land in the dead-letter queue.

import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { EVENTS_MAX_RECEIVES, type EventMessage } from '../../core/scm/types.js';
import { decodeQueueMessage } from '../shared/events-queue.js';
import { postFinishedStatus, type FinishedOutcome } from './build-finished.js';
import { planEvent, recordPlannerFailure, type PlanOutcome, type PlannerDeps } from './plan-event.js';

export async function processEventBatch(event: SQSEvent, deps: PlannerDeps): Promise<SQSBatchResponse> {
  const processor = new BatchProcessor(EventType.SQS);
  const maxReceives = deps.maxReceives ?? EVENTS_MAX_RECEIVES;
  const record = async (r: SQSRecord): Promise<PlanOutcome | FinishedOutcome> => {
    const receives = Number(r.attributes?.ApproximateReceiveCount ?? 1);
    let message: ReturnType<typeof decodeQueueMessage> | undefined;
    try {
      message = decodeQueueMessage(r.body);
      // A registry or a Git host that does not answer gets one more delivery (a visibility
      // timeout later), not all of them: the commit shows no status until the build exists.
      const finalAttempt = receives >= Math.min(2, maxReceives);
      const outcome = 'kind' in message ? await postFinishedStatus(message, deps) : await planEvent(message, deps, { finalAttempt });
      if (outcome.kind === 'skipped') deps.log('nothing to build', { messageId: r.messageId, reason: outcome.reason });
      return outcome;
    } catch (err) {
      deps.log('message failed', { messageId: r.messageId, receiveCount: r.attributes?.ApproximateReceiveCount, error: (err as Error).message });
      // Its last delivery: the push becomes an error build saying why before the message is dead-lettered.
      if (message && !('kind' in message) && receives >= maxReceives) return recordOrRethrow(message, err);
      throw err;
    }
  };
  const recordOrRethrow = async (message: EventMessage, err: unknown): Promise<PlanOutcome> => {
    try {
      return await recordPlannerFailure(message, deps, err);
    } catch (recordErr) {
      deps.log('planner failure not recorded', { deliveryId: message.deliveryId, error: (recordErr as Error).message });
      throw err;
    }
  };
  // A batch where every message failed is reported like any other, not thrown.
  return processPartialResponse(event, record, processor, { throwOnFullBatchFailure: false }) as Promise<SQSBatchResponse>;
}
