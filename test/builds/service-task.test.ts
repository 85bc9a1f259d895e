// The control plane's decisions about a split stage's service task (core/builds/service-task.ts):
// what a segment starts with, and when a running segment is stopped because its services are gone.
// They read the task as DescribeTasks shows it; ECS's events come at least once and in any order
// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_cwet_handling.html).

import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { segmentServices, segmentToStop, serviceTaskPhase } from '../../core/builds/service-task.js';
import type { Stage } from '../../core/builds/types.js';

const arn = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/svc';
const isAddress = (host: string) => isIP(host) !== 0;

describe('the service task as DescribeTasks shows it', () => {
  it.each([
    [{ lastStatus: 'PROVISIONING', desiredStatus: 'RUNNING' }, { kind: 'starting', status: 'provisioning' }],
    [{ lastStatus: 'PENDING', desiredStatus: 'RUNNING' }, { kind: 'starting', status: 'pending' }],
    [{ lastStatus: 'RUNNING', desiredStatus: 'RUNNING', address: '10.0.1.7' }, { kind: 'running', address: '10.0.1.7' }],
    [{ lastStatus: 'RUNNING', desiredStatus: 'STOPPED', stoppedReason: 'Task stopped by user' }, { kind: 'gone', why: 'the service task is stopping: Task stopped by user' }],
    [{ lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stopCode: 'TaskFailedToStart' }, { kind: 'gone', why: 'the service task stopped: TaskFailedToStart' }],
    [{ lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stoppedReason: 'CannotPullContainerError: pull access denied' }, { kind: 'gone', why: 'the service task stopped: CannotPullContainerError: pull access denied' }],
  ])('%j is %j', (task, phase) => {
    expect(serviceTaskPhase(arn, task)).toEqual(phase);
  });

  it('is gone when ECS no longer knows it', () => {
    expect(serviceTaskPhase(arn, undefined, 'MISSING')).toEqual({ kind: 'gone', why: `ECS no longer knows the service task ${arn} (MISSING)` });
  });
});

describe('what a segment starts with', () => {
  it('the first segment starts beside a service task that is still starting, and reads the address later', () => {
    expect(segmentServices(1, { kind: 'starting', status: 'provisioning' }, isAddress)).toEqual({ kind: 'read-address' });
  });

  it('a later segment waits for a service task that is not running (it ran with the segment before)', () => {
    expect(segmentServices(2, { kind: 'starting', status: 'pending' }, isAddress)).toEqual({ kind: 'wait', reason: 'waiting: the task of its services is pending' });
  });

  it('any segment gets the address of a running service task in its overrides', () => {
    expect(segmentServices(1, { kind: 'running', address: '10.0.1.7' }, isAddress)).toEqual({ kind: 'host', host: '10.0.1.7' });
    expect(segmentServices(3, { kind: 'running', address: '10.0.1.7' }, isAddress)).toEqual({ kind: 'host', host: '10.0.1.7' });
  });

  it('ends the stage when the service task is gone, or runs without an address a wrapper could use', () => {
    expect(segmentServices(2, { kind: 'gone', why: 'the service task stopped: OutOfMemoryError' }, isAddress)).toEqual({ kind: 'end', message: 'cannot start segment 2: the service task stopped: OutOfMemoryError' });
    expect(segmentServices(1, { kind: 'running', address: 'db; rm -rf /' }, isAddress)).toMatchObject({ kind: 'end', message: expect.stringContaining('no private IP address') });
    expect(segmentServices(1, { kind: 'running', address: undefined }, isAddress)).toMatchObject({ kind: 'end' });
  });
});

describe('a segment whose service task is gone', () => {
  const stage = (over: Partial<Stage> = {}): Stage => ({
    buildId: 'b',
    repo: 'octo/app',
    buildNumber: 1,
    number: 1,
    name: 'big',
    status: 'running',
    dependsOn: [],
    attempts: 1,
    segments: 2,
    segment: 1,
    taskArn: 'arn:seg-1',
    serviceTaskArn: arn,
    ...over,
  });
  const gone = serviceTaskPhase(arn, { lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stoppedReason: 'Essential container in task exited' });
  const runningSegment = { lastStatus: 'RUNNING', desiredStatus: 'RUNNING' };

  it('is stopped, with a message that says which segment and why', () => {
    expect(segmentToStop(stage(), gone, runningSegment)).toEqual({
      taskArn: 'arn:seg-1',
      message: 'the task of its services stopped while segment 1 of 2 ran, so Slipway stopped the segment: the service task stopped: Essential container in task exited',
    });
    // A segment still starting (its agent waiting for the address) alike.
    expect(segmentToStop(stage({ status: 'pending' }), gone, { lastStatus: 'PROVISIONING', desiredStatus: 'RUNNING' })?.taskArn).toBe('arn:seg-1');
  });

  it('is left alone when its services run or start, or the stage is done', () => {
    expect(segmentToStop(stage(), { kind: 'running', address: '10.0.0.1' }, runningSegment)).toBeUndefined();
    expect(segmentToStop(stage(), { kind: 'starting', status: 'pending' }, runningSegment)).toBeUndefined();
    for (const status of ['success', 'failure', 'error', 'killed'] as const) expect(segmentToStop(stage({ status }), gone, runningSegment)).toBeUndefined();
  });

  it('is left to its own stop event when it is stopping or stopped itself (a cancel stops both; an event may come late)', () => {
    expect(segmentToStop(stage(), gone, { lastStatus: 'RUNNING', desiredStatus: 'STOPPED' })).toBeUndefined();
    expect(segmentToStop(stage(), gone, { lastStatus: 'STOPPED', desiredStatus: 'STOPPED' })).toBeUndefined();
  });

  it('between segments (no segment task) is left to the next segment\'s start, which sees the service task gone', () => {
    const between = stage({ status: 'pending', segment: 2 });
    delete between.taskArn;
    expect(segmentToStop(between, gone, undefined)).toBeUndefined();
  });
});
