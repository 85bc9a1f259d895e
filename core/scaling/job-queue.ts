// The JobQueue port: the queue that announces ready stages. A message is only an
// announcement (the stage itself waits in the table, lambdas/autoscaler/autoscaler.ts):
// the planner and a stage's end announce, the autoscaler samples, removes what it read and
// parks what will never decode. Implemented on SQS by adapters/sqs/job-queue.ts; in memory
// by the tests. Pure types: core does no I/O.

import type { StageJob } from './job.js';

/** Announces a ready stage. */
export interface JobQueue {
  /** Duplicates are harmless: the autoscaler starts a stage once. Throws when the queue refused it. */
  enqueue(job: StageJob): Promise<void>;
}

/** An announcement as read from the queue. */
export interface QueuedJob {
  /** The queue's id of the message, for logs. */
  id: string;
  /** The encoded job (core/scaling/job.ts, encodeJob), or whatever else was sent. */
  body: string;
  /** Opaque: what removing this read of the message takes. */
  receipt: string;
}

/** A message the queue did not remove: it is read again after its visibility timeout. */
export interface NotRemoved {
  id: string;
  code?: string;
  message?: string;
}

/** The autoscaler's side of the queue. */
export interface JobQueueReader {
  /**
   * A sample of the announcements visible now (a pass's worth), hidden from other readers for
   * about one pass. `waitSeconds`: the first read waits up to this long for one to be visible
   * (and sees every one that is: core/scaling/pass-schedule.ts, NUDGED_RECEIVE_WAIT_SECONDS).
   */
  sample(options?: { waitSeconds?: number }): Promise<QueuedJob[]>;
  /** Removes announcements read; returns those the queue did not remove. */
  remove(messages: QueuedJob[]): Promise<NotRemoved[]>;
  /**
   * Puts an announcement back to be read in `delaySeconds` (0–900, SQS DelaySeconds) as a new
   * message, with a receive count of its own, and removes this read of it: for a job that waits
   * by choice (an index-image job while builds need the quota), which read again pass after pass
   * would reach the queue's maxReceiveCount and be dead-lettered. Returns what was not removed
   * (read again later: the job's own idempotency makes the duplicate harmless).
   */
  postpone(message: QueuedJob, delaySeconds: number): Promise<NotRemoved[]>;
  /**
   * Moves an announcement that will never decode to the dead-letter queue with why, and
   * removes it; `parkedIn` names that queue. Without one configured it stays where it is.
   */
  deadLetter(message: QueuedJob, error: string): Promise<{ parkedIn?: string; notRemoved?: NotRemoved[] }>;
}
