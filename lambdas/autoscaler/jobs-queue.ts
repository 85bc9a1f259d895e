// The jobs queue as the autoscaler reads it: a sample of new job messages per pass, deleted
// once read (their stages wait in the table), and undecodable ones parked in the dead-letter
// queue at once. See autoscaler.ts for why a message is only an announcement.

import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { AutoscalerDeps } from './deps.js';

type QueueDeps = Pick<AutoscalerDeps, 'sqs' | 'config' | 'log'>;

/** Messages read per pass (a burst is read over a few passes; the table keeps the rest waiting). */
const MAX_SAMPLE = 200;
/** Long enough for one pass: a message not deleted (the pass died) is read again after this. */
const SAMPLE_VISIBILITY_SECONDS = 60;

/** Receives in parallel (SQS gives at most 10 per call): a deep queue is sampled in a few round trips. */
const PARALLEL_RECEIVES = 5;

export async function sample(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
  const messages: Message[] = [];
  while (messages.length < MAX_SAMPLE) {
    // One call first: a shallow queue (the usual nudge) costs one round trip, a deep one a few.
    const calls = messages.length === 0 ? 1 : Math.min(PARALLEL_RECEIVES, Math.ceil((MAX_SAMPLE - messages.length) / 10));
    const batches = await Promise.all(
      Array.from({ length: calls }, () =>
        sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            VisibilityTimeout: SAMPLE_VISIBILITY_SECONDS,
            WaitTimeSeconds: 0,
          }),
        ),
      ),
    );
    for (const res of batches) messages.push(...(res.Messages ?? []));
    // A short answer means the queue has no more visible messages right now.
    if (batches.some((res) => (res.Messages ?? []).length < 10)) return messages;
  }
  return messages;
}

/**
 * A job message that cannot be decoded will never decode: waiting for maxReceiveCount
 * (kept high because deferred jobs are received on every pass) would hide it for hours.
 * It goes to the jobs dead-letter queue at once, with why, and leaves the jobs queue.
 */
export async function deadLetter(deps: QueueDeps, message: Message, error: string): Promise<void> {
  const dlq = deps.config.jobsDeadLetterQueueUrl;
  if (!dlq) {
    deps.log('poison job message left on the queue: set JOBS_DLQ_URL to park it at once', { messageId: message.MessageId, error });
    return;
  }
  await deps.sqs.send(
    new SendMessageCommand({
      QueueUrl: dlq,
      MessageBody: message.Body || '(empty body)',
      MessageAttributes: {
        error: { DataType: 'String', StringValue: error.slice(0, 1000) },
        sourceMessageId: { DataType: 'String', StringValue: message.MessageId ?? 'unknown' },
      },
    }),
  );
  await deleteMessage(deps, message);
  deps.log('poison job message moved to the dead-letter queue', { messageId: message.MessageId, error, deadLetterQueue: dlq });
}

async function deleteMessage(deps: QueueDeps, message: Message): Promise<void> {
  await deleteMessages(deps, [message]);
}

/** DeleteMessageBatch, 10 a call. A message not deleted comes back after its visibility: harmless (the table decides). */
export async function deleteMessages(deps: QueueDeps, messages: Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    const batch = messages.slice(i, i + 10);
    const res = await deps.sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: deps.config.jobsQueueUrl, Entries: batch.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle })) }),
    );
    for (const failed of res.Failed ?? []) deps.log('job message not deleted; it will be read again', { id: failed.Id, code: failed.Code, error: failed.Message });
  }
}
