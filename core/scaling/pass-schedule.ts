// When the autoscaler passes without being nudged: its schedule (lib/functions/autoscaler.ts
// creates the rule from this), and the wait of the jobs queue's first receive in a pass that
// the planner nudged right after queueing a stage.

/** Seconds between two scheduled passes: the latest a startable stage waits when no nudge comes. */
export const SCHEDULED_PASS_SECONDS = 60;

/**
 * The first ReceiveMessage of a pass the planner nudged long-polls this long. The planner sent
 * the stage's message just before the nudge; a short poll (WaitTimeSeconds 0) "queries only a
 * subset of the servers" and on an almost empty queue "you might not receive any messages"
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html).
 * A stage not announced waits for a scheduled pass (lambdas/autoscaler/autoscaler.ts, wasSeen),
 * up to a minute. A long poll queries every server and returns as soon as a message is there,
 * so it costs nothing when the message is found; 1 s is the shortest long poll SQS takes
 * (WaitTimeSeconds is whole seconds), spent only when the queue is really empty (a duplicate nudge).
 */
export const NUDGED_RECEIVE_WAIT_SECONDS = 1;
