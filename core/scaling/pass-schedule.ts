// When the autoscaler passes without being nudged: its schedule (lib/functions/autoscaler.ts
// creates the rule from this), and the wait of the jobs queue's first receive in a pass that
// the planner nudged right after queueing a stage.

/** Seconds between two scheduled passes: the latest a startable stage waits when no nudge comes. */
export const SCHEDULED_PASS_SECONDS = 60;

/**
 * The first ReceiveMessage of a pass the planner nudged long-polls this long. The planner sent
 * the stage's message just before the nudge; a short poll (WaitTimeSeconds 0) samples "a
 * weighted random set of machines ... If the number of messages in the queue is extremely
 * small, you might not receive any messages in a particular ReceiveMessage response"
 * (ReceiveMessage, AWS SDK API reference). A stage not announced waits for a scheduled pass
 * (lambdas/autoscaler/autoscaler.ts, wasSeen), up to a minute. Long polling removes "false
 * empty responses (when messages are available but aren't included in a response)" and
 * returns as soon as a message is there; its shortest wait is 1 s
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/best-practices-setting-up-long-polling.html),
 * spent only when the queue really is empty (a duplicate nudge).
 */
export const NUDGED_RECEIVE_WAIT_SECONDS = 1;
