// The build's final commit status leaves the execution Lambdas (task-events, the
// autoscaler's reconciliation) as a "build-finished" message on the events queue, the same
// retried, dead-lettered path a cancelled build's status takes (lambdas/api/cancel.ts).
// The planner, which holds the Git host credentials, posts it (lambdas/planner/build-finished.ts):
// a host that is down or throttling is retried at each visibility timeout, up to the queue's
// maxReceiveCount, then the message waits in the dead-letter queue where it can be seen
// and redriven — never a status lost after a second of trouble.

import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Build } from '../../../core/builds/types.js';
import { sendBuildFinished } from '../events-queue.js';

/** Hands a finished build's commit status to the planner. Throws when SQS refuses the message. */
export function buildFinishedSender(sqs: SQSClient, eventsQueueUrl: string, now: () => number = Date.now): (build: Build) => Promise<void> {
  return async (build) => {
    await sendBuildFinished(sqs, eventsQueueUrl, build.id, now());
  };
}
