// Which autoscaler passes wait for the jobs queue's message (lambdas/autoscaler/handler.ts,
// core/scaling/pass-schedule.ts): the one the planner nudges right after queueing a stage
// long-polls, since a short poll of an almost empty queue may return nothing and the stage
// would then wait for the scheduled pass; every other pass short-polls.
import { describe, expect, it } from 'vitest';
import { NUDGED_RECEIVE_WAIT_SECONDS } from '../../core/scaling/pass-schedule.js';
import { isScheduledPass, receiveWaitSeconds, type AutoscalerEvent } from '../../lambdas/autoscaler/handler.js';
import { NUDGE_SOURCE, nudgePayload } from '../../lambdas/shared/nudge.js';
import { INSTANCE_NUDGE } from '../../lib/instance-registration-nudge.js';

const event = (source: string): AutoscalerEvent => JSON.parse(nudgePayload(source)) as AutoscalerEvent;

describe("the autoscaler pass's first receive", () => {
  it("waits (long poll) in the pass the planner's own nudge starts", () => {
    expect(NUDGED_RECEIVE_WAIT_SECONDS).toBeGreaterThanOrEqual(1);
    expect(receiveWaitSeconds(event(NUDGE_SOURCE.planner))).toBe(NUDGED_RECEIVE_WAIT_SECONDS);
  });
  it('does not wait in the scheduled pass, a task event nudge or an instance joining the cluster', () => {
    const scheduled: AutoscalerEvent = { source: 'aws.events', 'detail-type': 'Scheduled Event' };
    expect(isScheduledPass(scheduled)).toBe(true);
    expect(receiveWaitSeconds(scheduled)).toBe(0);
    expect(receiveWaitSeconds(event('task-events'))).toBe(0);
    expect(receiveWaitSeconds(INSTANCE_NUDGE)).toBe(0);
    // An instance's nudge is a pass without reconciliation, like any nudge.
    expect(isScheduledPass(INSTANCE_NUDGE)).toBe(false);
  });
});
