// An events-queue batch: each message planned on its own; the ones that failed are
// reported (reportBatchItemFailures), so only they come back, and after the queue's
// maxReceiveCount they land in the dead-letter queue.

import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { EVENTS_MAX_RECEIVES } from '../../core/scm/types.js';
import { decodeQueueMessage } from '../shared/events-queue.js';
import { postFinishedStatus, type FinishedOutcome } from './build-finished.js';
import { planEvent, type PlanOutcome, type PlannerDeps } from './plan-event.js';

export async function processEventBatch(event: SQSEvent, deps: PlannerDeps): Promise<SQSBatchResponse> {
  const processor = new BatchProcessor(EventType.SQS);
  const record = async (r: SQSRecord): Promise<PlanOutcome | FinishedOutcome> => {
    try {
      const message = decodeQueueMessage(r.body);
      // A registry that does not answer gets one more delivery (a visibility timeout later), not
      // all of them: the commit shows no status until the build exists.
      const receives = Number(r.attributes?.ApproximateReceiveCount ?? 1);
      const finalAttempt = receives >= Math.min(2, deps.maxReceives ?? EVENTS_MAX_RECEIVES);
      const outcome = 'kind' in message ? await postFinishedStatus(message, deps) : await planEvent(message, deps, { finalAttempt });
      if (outcome.kind === 'skipped') deps.log('nothing to build', { messageId: r.messageId, reason: outcome.reason });
      return outcome;
    } catch (err) {
      deps.log('message failed', { messageId: r.messageId, receiveCount: r.attributes?.ApproximateReceiveCount, error: (err as Error).message });
      throw err;
    }
  };
  // A batch where every message failed is reported like any other, not thrown.
  return processPartialResponse(event, record, processor, { throwOnFullBatchFailure: false }) as Promise<SQSBatchResponse>;
}
