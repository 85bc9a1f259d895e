// The JobQueue port (core/scaling/job-queue.ts) on SQS: the jobs queue and its dead-letter
// queue. The client is injected (deployed: `new SQSClient({ useQueueUrlAsEndpoint: false })`,
// tests: the fauxqs stand-in).

import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { encodeJob, type StageJob } from '../../core/scaling/job.js';
import type { JobQueue, JobQueueReader, NotRemoved, QueuedJob } from '../../core/scaling/job-queue.js';

/** Messages read per pass (a burst is read over a few passes; the table keeps the rest waiting). */
const MAX_SAMPLE = 200;
/** Long enough for one pass: a message not deleted (the pass died) is read again after this. */
const SAMPLE_VISIBILITY_SECONDS = 60;
/** Receives in parallel (SQS gives at most 10 per call): a deep queue is sampled in a few round trips. */
const PARALLEL_RECEIVES = 5;
/** ReceiveMessage's and DeleteMessageBatch's largest batch (API_ReceiveMessage MaxNumberOfMessages; API_DeleteMessageBatch). */
const BATCH = 10;

/** ReceiveMessage's WaitTimeSeconds: whole seconds, 0–20 (API_ReceiveMessage). */
export function waitTimeSeconds(seconds: number | undefined): number {
  if (seconds === undefined) return 0;
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > 20) throw new Error(`jobs queue: a receive waits 0–20 whole seconds (SQS WaitTimeSeconds), not ${seconds}`);
  return seconds;
}

export class SqsJobQueue implements JobQueue, JobQueueReader {
  constructor(
    private readonly sqs: SQSClient,
    readonly queueUrl: string,
    /** JOBS_DLQ_URL: where an undecodable message is parked at once; absent: it stays. */
    readonly deadLetterQueueUrl?: string,
  ) {}

  async enqueue(job: StageJob): Promise<void> {
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: encodeJob(job) }));
  }

  async sample(options: { waitSeconds?: number } = {}): Promise<QueuedJob[]> {
    const messages: QueuedJob[] = [];
    for (let round = 0; messages.length < MAX_SAMPLE; round += 1) {
      // One call first: a shallow queue (the usual nudge) costs one round trip, a deep one a few.
      const calls = messages.length === 0 ? 1 : Math.min(PARALLEL_RECEIVES, Math.ceil((MAX_SAMPLE - messages.length) / BATCH));
      // The first call may long-poll (every server asked, answered at the first message); the
      // others short-poll: what they miss stays for the next pass.
      const wait = round === 0 ? waitTimeSeconds(options.waitSeconds) : 0;
      const batches = await Promise.all(
        Array.from({ length: calls }, () =>
          this.sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: this.queueUrl,
              MaxNumberOfMessages: BATCH,
              VisibilityTimeout: SAMPLE_VISIBILITY_SECONDS,
              WaitTimeSeconds: wait,
            }),
          ),
        ),
      );
      for (const res of batches) {
        for (const m of res.Messages ?? []) messages.push({ id: m.MessageId ?? 'unknown', body: m.Body ?? '', receipt: m.ReceiptHandle ?? '' });
      }
      // A short answer means the queue has no more visible messages right now.
      if (batches.some((res) => (res.Messages ?? []).length < BATCH)) return messages;
    }
    return messages;
  }

  /** DeleteMessageBatch, 10 a call. A message not deleted comes back after its visibility: harmless (the table decides). */
  async remove(messages: QueuedJob[]): Promise<NotRemoved[]> {
    const failed: NotRemoved[] = [];
    for (let i = 0; i < messages.length; i += BATCH) {
      const batch = messages.slice(i, i + BATCH);
      const res = await this.sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: batch.map((m, n) => ({ Id: String(n), ReceiptHandle: m.receipt })) }),
      );
      // Entry ids are the batch positions: each failure names its message.
      for (const f of res.Failed ?? []) failed.push({ id: batch[Number(f.Id)]?.id ?? `entry ${f.Id}`, ...(f.Code ? { code: f.Code } : {}), ...(f.Message ? { message: f.Message } : {}) });
    }
    return failed;
  }

  async postpone(message: QueuedJob, delaySeconds: number): Promise<NotRemoved[]> {
    // SendMessage's DelaySeconds: 0 to 900 (API_SendMessage).
    if (!Number.isInteger(delaySeconds) || delaySeconds < 0 || delaySeconds > 900) throw new Error(`jobs queue: a message is delayed 0–900 whole seconds (SQS DelaySeconds), not ${delaySeconds}`);
    // Sent before the read is removed: a failure in between leaves two copies, never none.
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: message.body, DelaySeconds: delaySeconds }));
    return this.remove([message]);
  }

  async deadLetter(message: QueuedJob, error: string): Promise<{ parkedIn?: string; notRemoved?: NotRemoved[] }> {
    const dlq = this.deadLetterQueueUrl;
    if (!dlq) return {};
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: dlq,
        MessageBody: message.body || '(empty body)',
        MessageAttributes: {
          error: { DataType: 'String', StringValue: error.slice(0, 1000) },
          sourceMessageId: { DataType: 'String', StringValue: message.id },
        },
      }),
    );
    const notRemoved = await this.remove([message]);
    return { parkedIn: dlq, ...(notRemoved.length > 0 ? { notRemoved } : {}) };
  }
}
