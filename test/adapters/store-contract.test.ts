// One contract for the two implementations of the build-record ports (core/builds/ports.ts):
// the DynamoDB adapters on DynamoDB Local and the in-memory stores the execution tests use
// (test/support/memory-stores.ts). The same cases run on both, so a test that passes on the
// memory stores says something about the deployed ones: the conditional writes that decide
// which task owns a stage, what an ECS event may change, and what a Spot requeue forgets.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { DynamoStageStore } from '../../adapters/dynamodb/stage-store.js';
import type { BuildStore, StageStore } from '../../core/builds/ports.js';
import { buildId as makeBuildId, type Build, type Stage, type StepRecord } from '../../core/builds/types.js';
import { startDynamoLocal, type LocalDynamo } from '../support/dynamodb-local.js';
import { MemoryBuildStore, MemoryStageStore } from '../support/memory-stores.js';

interface Stores {
  store: BuildStore;
  stages: StageStore;
  /** Writes a build with its stages and steps as the planner would. */
  seed(build: Build, stages: Stage[], steps: StepRecord[]): Promise<void>;
}

let db: LocalDynamo;
let dynamo: Stores;

beforeAll(async () => {
  db = await startDynamoLocal('contract');
  const store = new DynamoBuildStore(db.doc, db.tableName);
  dynamo = {
    store,
    stages: new DynamoStageStore(db.doc, db.tableName),
    seed: async (build, stages, steps) => {
      const result = await store.createBuild({ build, stages, steps });
      if (!result.created) throw new Error(`test: build ${build.id} was not created`);
    },
  };
});

afterAll(async () => {
  await db?.stop();
});

function memory(): Stores {
  const store = new MemoryBuildStore();
  return { store, stages: new MemoryStageStore(store), seed: async (build, stages, steps) => store.add(build, stages, steps) };
}

const TASK = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/aaaa';
const OTHER = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/bbbb';
let counter = 0;

/** A build with one stage, queued at attempt 0 with no task, and one pending step. */
async function oneStage(stores: Stores, extra: Partial<Stage> = {}): Promise<string> {
  const repo = 'acme/contract';
  const number = ++counter;
  const id = makeBuildId(repo, number);
  const createdAt = 1_700_000_000_000 + number;
  await stores.seed(
    {
      id, repo, number, status: 'pending', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: 'c'.repeat(40),
      message: '', author: '', link: '', deliveryId: `contract-${number}`, fork: false, createdAt,
    },
    [{ buildId: id, repo, buildNumber: number, number: 1, name: 'test', status: 'pending', dependsOn: [], attempts: 0, queuedAt: createdAt, ...extra }],
    [{ buildId: id, stageNumber: 1, number: 1, name: 'test', container: 'step-test', status: 'pending', detached: false, kind: 'step' }],
  );
  return id;
}

describe.each([
  ['DynamoDB Local (adapters/dynamodb)', () => dynamo],
  ['memory (test/support/memory-stores.ts)', memory],
])('build-record ports on %s', (_name, make) => {
  it("the task's first event claims the stage and counts the attempt once; its later events count nothing", async () => {
    const s = make();
    const id = await oneStage(s);
    const claimed = await s.stages.applyEvent(id, 1, { taskArn: TASK, version: 1, attempt: 0 });
    expect(claimed).toMatchObject({ taskArn: TASK, attempts: 1, eventVersion: 1, status: 'pending' });
    // `attempt` only matters to a claim: an event of the stage's own task counts nothing, whatever it says.
    const running = await s.stages.applyEvent(id, 1, { taskArn: TASK, version: 2, attempt: 7, status: 'running', startedAt: 5, firstStepAt: 6 });
    expect(running).toMatchObject({ status: 'running', attempts: 1, startedAt: 5, firstStepAt: 6 });
    // RunTask's answer after its own task's events: applies, counts nothing more, keeps the first start.
    expect(await s.stages.markRunning(id, 1, { attempt: 0, taskArn: TASK, capacity: 'FARGATE', startedAt: 9, cpu: 256 })).toMatchObject({ attempts: 1, startedAt: 5 });
  });

  it('refuses an older or repeated event, another task, and anything once the stage is final', async () => {
    const s = make();
    const id = await oneStage(s);
    await s.stages.applyEvent(id, 1, { taskArn: TASK, version: 3, attempt: 0, status: 'running', startedAt: 5 });
    expect(await s.stages.applyEvent(id, 1, { taskArn: TASK, version: 3, attempt: 0, status: 'running' })).toBeNull();
    expect(await s.stages.applyEvent(id, 1, { taskArn: TASK, version: 2, attempt: 0, status: 'running' })).toBeNull();
    expect(await s.stages.applyEvent(id, 1, { taskArn: OTHER, version: 9, attempt: 0, status: 'failure' })).toBeNull();
    expect(await s.stages.applyEvent(id, 1, { taskArn: TASK, version: 4, attempt: 0, status: 'success', message: 'done', exitCode: 0, finishedAt: 8 })).toMatchObject({
      status: 'success', message: 'done', exitCode: 0, finishedAt: 8, startedAt: 5,
    });
    expect(await s.stages.applyEvent(id, 1, { taskArn: TASK, version: 5, attempt: 0, status: 'failure' })).toBeNull();
    expect(await s.stages.finish(id, 1, { status: 'killed', message: 'cancelled', finishedAt: 9 })).toBeNull();
    expect((await s.store.getStage(id, 1))?.status).toBe('success');
  });

  it('a start claims a waiting stage only at its attempt; start failures count only while it waits', async () => {
    const s = make();
    const id = await oneStage(s);
    expect(await s.stages.markRunning(id, 1, { attempt: 1, taskArn: TASK, capacity: 'FARGATE', startedAt: 5, cpu: 256 })).toBeNull();
    expect(await s.stages.noteStartFailure(id, 1, { attempt: 0, message: 'throttled', retryAfter: 7 })).toMatchObject({ startFailures: 1, retryAfter: 7, message: 'throttled' });
    expect(await s.stages.markRunning(id, 1, { attempt: 0, taskArn: TASK, capacity: 'FARGATE_SPOT', startedAt: 5, cpu: 512 })).toMatchObject({
      status: 'running', taskArn: TASK, attempts: 1, capacity: 'FARGATE_SPOT', cpu: 512, startedAt: 5,
    });
    expect(await s.stages.noteStartFailure(id, 1, { attempt: 0, message: 'again', retryAfter: 9 })).toBeNull();
    expect(await s.stages.markRunning(id, 1, { attempt: 0, taskArn: OTHER, capacity: 'FARGATE', startedAt: 6, cpu: 256 })).toBeNull();
  });

  it('a start moves the waiting message into the timeline: the running stage no longer says it waits, and its end keeps the reason', async () => {
    const s = make();
    const id = await oneStage(s);
    const waiting = 'waiting: no Fargate capacity or quota (RunTask on FARGATE: Capacity is unavailable at this time); retrying with back-off';
    await s.stages.noteWaiting(id, 1, waiting);
    expect((await s.store.getStage(id, 1))?.message).toBe(waiting);
    const running = await s.stages.markRunning(id, 1, { attempt: 0, taskArn: TASK, capacity: 'FARGATE', startedAt: 5, cpu: 256, queuedBecause: waiting });
    expect(running).toMatchObject({ status: 'running', timeline: { queuedBecause: waiting } });
    expect(running?.message).toBeUndefined();
    expect((await s.store.getStage(id, 1))?.message).toBeUndefined();
    // The end's timeline carries it (apply-event.ts copies it), and its message is the outcome's.
    const ended = await s.stages.applyEvent(id, 1, { taskArn: TASK, version: 2, attempt: 0, status: 'success', message: 'steps passed', finishedAt: 9, timeline: { queuedBecause: waiting, stoppedAt: 9 } });
    expect(ended).toMatchObject({ message: 'steps passed', timeline: { queuedBecause: waiting, stoppedAt: 9 } });

    // The task's own running event may claim the stage before RunTask's answer is recorded: it moves the message too.
    const claimed = await oneStage(s);
    await s.stages.noteWaiting(claimed, 1, waiting);
    const byEvent = await s.stages.applyEvent(claimed, 1, { taskArn: TASK, version: 1, attempt: 0, status: 'running', startedAt: 5, queuedBecause: waiting });
    expect(byEvent).toMatchObject({ status: 'running', timeline: { queuedBecause: waiting } });
    expect(byEvent?.message).toBeUndefined();
    // A start with nothing to say clears nothing it should keep, and writes no timeline.
    const quiet = await oneStage(s);
    const plain = await s.stages.markRunning(quiet, 1, { attempt: 0, taskArn: TASK, capacity: 'FARGATE', startedAt: 5, cpu: 256 });
    expect(plain?.timeline).toBeUndefined();
  });

  it("a Spot requeue applies once, forgets the task and its times, and refuses the old task's late events", async () => {
    const s = make();
    const id = await oneStage(s);
    await s.stages.applyEvent(id, 1, { taskArn: TASK, version: 2, attempt: 0, status: 'running', startedAt: 5, firstStepAt: 6 });
    const requeued = await s.stages.requeue(id, 1, { taskArn: TASK, version: 3, queuedAt: 10, message: 'interrupted', attempt: 0 });
    expect(requeued).toMatchObject({ status: 'pending', queuedAt: 10, capacity: 'FARGATE', reason: 'spot-interrupted', message: 'interrupted', attempts: 1 });
    expect([requeued?.taskArn, requeued?.startedAt, requeued?.firstStepAt, requeued?.eventVersion]).toEqual([undefined, undefined, undefined, undefined]);
    expect(await s.stages.requeue(id, 1, { taskArn: TASK, version: 4, queuedAt: 11, message: 'again', attempt: 0 })).toBeNull();
    expect(await s.stages.applyEvent(id, 1, { taskArn: TASK, version: 5, attempt: 0, status: 'failure' })).toBeNull();
    // The next task's first event claims attempt 1.
    expect(await s.stages.applyEvent(id, 1, { taskArn: OTHER, version: 1, attempt: 1, status: 'running', startedAt: 12 })).toMatchObject({ taskArn: OTHER, attempts: 2 });
  });

  it("a split stage's next segment is queued once per stopped task: duplicates, older events, another task and a finished stage are refused; the first start is kept", async () => {
    const s = make();
    const id = await oneStage(s, { segments: 3 });
    await s.stages.applyEvent(id, 1, { taskArn: TASK, version: 3, attempt: 0, status: 'running', startedAt: 5 });
    const input = { taskArn: TASK, version: 4, queuedAt: 10, segment: 2, message: 'segment 2 queued', attempt: 0 };
    expect(await s.stages.advanceSegment(id, 1, { ...input, version: 2 })).toBeNull();
    expect(await s.stages.advanceSegment(id, 1, { ...input, taskArn: OTHER })).toBeNull();
    expect(await s.stages.advanceSegment(id, 1, { ...input, segment: 3 })).toBeNull();
    const advanced = await s.stages.advanceSegment(id, 1, input);
    // Attempts are the segment's: its first Spot interruption is requeued like the first segment's.
    expect(advanced).toMatchObject({ status: 'pending', segment: 2, queuedAt: 10, startedAt: 5, attempts: 0, snapshotAttempt: 0, message: 'segment 2 queued' });
    expect([advanced?.taskArn, advanced?.eventVersion]).toEqual([undefined, undefined]);
    expect(await s.stages.advanceSegment(id, 1, input)).toBeNull();
    const done = await oneStage(s, { segments: 2 });
    await s.stages.applyEvent(done, 1, { taskArn: TASK, version: 3, attempt: 0, status: 'failure' });
    expect(await s.stages.advanceSegment(done, 1, input)).toBeNull();
  });

  it("a split stage keeps each ended segment's timeline, in order; the next segment's starts empty, and a Spot requeue keeps them", async () => {
    const s = make();
    const id = await oneStage(s, { segments: 3 });
    const segment = (n: number) => ({ segment: n, attempt: 0, queuedAt: n * 100, queuedBecause: `queued ${n}`, taskCreatedAt: n * 100 + 10, stoppedAt: n * 100 + 90 });
    await s.stages.markRunning(id, 1, { attempt: 0, taskArn: TASK, capacity: 'FARGATE', startedAt: 5, cpu: 256, queuedBecause: 'queued 1' });
    const second = await s.stages.advanceSegment(id, 1, { taskArn: TASK, version: 4, queuedAt: 200, segment: 2, message: 'segment 2 queued', attempt: 0, timeline: segment(1) });
    expect(second?.segmentTimelines).toEqual([segment(1)]);
    expect(second?.timeline).toBeUndefined();
    await s.stages.markRunning(id, 1, { attempt: 0, taskArn: OTHER, capacity: 'FARGATE', startedAt: 205, cpu: 256, queuedBecause: 'segment 2 queued' });
    // Segment 2 interrupted: it runs again, segment 1's timeline stays.
    const requeued = await s.stages.requeue(id, 1, { taskArn: OTHER, version: 5, queuedAt: 250, message: 'interrupted', attempt: 0, segment: 2 });
    expect(requeued?.segmentTimelines).toEqual([segment(1)]);
    await s.stages.markRunning(id, 1, { attempt: 1, taskArn: TASK, capacity: 'FARGATE', startedAt: 260, cpu: 256 });
    const third = await s.stages.advanceSegment(id, 1, { taskArn: TASK, version: 6, queuedAt: 300, segment: 3, message: 'segment 3 queued', attempt: 1, timeline: segment(2) });
    expect(third?.segmentTimelines).toEqual([segment(1), segment(2)]);
    // A refused advance appends nothing.
    expect(await s.stages.advanceSegment(id, 1, { taskArn: TASK, version: 6, queuedAt: 300, segment: 3, message: 'again', attempt: 1, timeline: segment(9) })).toBeNull();
    expect((await s.store.getStage(id, 1))?.segmentTimelines).toHaveLength(2);
  });

  it("a Spot requeue of a later segment keeps the stage's start (the pipeline timeout counts from the first segment's); of segment 1 it starts over", async () => {
    const s = make();
    const id = await oneStage(s, { segments: 3 });
    await s.stages.applyEvent(id, 1, { taskArn: TASK, version: 3, attempt: 0, status: 'running', startedAt: 5, firstStepAt: 6 });
    await s.stages.advanceSegment(id, 1, { taskArn: TASK, version: 4, queuedAt: 10, segment: 2, message: 'segment 2 queued', attempt: 0 });
    expect(await s.stages.applyEvent(id, 1, { taskArn: OTHER, version: 1, attempt: 0, status: 'running', startedAt: 50 })).toMatchObject({ segment: 2, startedAt: 5, attempts: 1 });
    const interrupted = { taskArn: OTHER, version: 2, queuedAt: 60, message: 'interrupted', attempt: 0 };
    // Not at the segment the caller read: refused (a stale read must not requeue another segment).
    expect(await s.stages.requeue(id, 1, { ...interrupted, segment: 3 })).toBeNull();
    expect(await s.stages.requeue(id, 1, { ...interrupted, segment: 1 })).toBeNull();
    const requeued = await s.stages.requeue(id, 1, { ...interrupted, segment: 2 });
    expect(requeued).toMatchObject({ status: 'pending', segment: 2, startedAt: 5, firstStepAt: 6, attempts: 1, capacity: 'FARGATE', reason: 'spot-interrupted' });
    expect(requeued?.taskArn).toBeUndefined();
    // The retry's start does not replace it either.
    expect(await s.stages.markRunning(id, 1, { attempt: 1, taskArn: TASK, capacity: 'FARGATE', startedAt: 70, cpu: 256 })).toMatchObject({ startedAt: 5, attempts: 2 });
    // Segment 3 starts from the snapshot of the attempt that ended (the retry's, attempt 1).
    expect(await s.stages.advanceSegment(id, 1, { taskArn: TASK, version: 9, queuedAt: 80, segment: 3, message: 'segment 3 queued', attempt: 1 })).toMatchObject({
      segment: 3, attempts: 0, snapshotAttempt: 1, startedAt: 5,
    });

    const first = await oneStage(s, { segments: 2 });
    await s.stages.applyEvent(first, 1, { taskArn: TASK, version: 3, attempt: 0, status: 'running', startedAt: 5 });
    const restarted = await s.stages.requeue(first, 1, { taskArn: TASK, version: 4, queuedAt: 60, message: 'interrupted', attempt: 0, segment: 1 });
    expect(restarted).toMatchObject({ status: 'pending', attempts: 1 });
    expect(restarted?.startedAt).toBeUndefined();
  });

  it("a split stage's service task is recorded once, only while the stage waits, and a retried start finds the same one", async () => {
    const s = make();
    const id = await oneStage(s, { segments: 2 });
    expect(await s.stages.noteServiceTask(id, 1, { taskArn: TASK, cpu: 512 })).toMatchObject({ status: 'pending', serviceTaskArn: TASK, serviceTaskCpu: 512 });
    expect(await s.stages.noteServiceTask(id, 1, { taskArn: TASK, cpu: 512 })).toMatchObject({ serviceTaskArn: TASK });
    expect(await s.stages.noteServiceTask(id, 1, { taskArn: OTHER, cpu: 512 })).toBeNull();
    const done = await oneStage(s, { segments: 2 });
    await s.stages.finish(done, 1, { status: 'killed', message: 'cancelled', finishedAt: 9 });
    expect(await s.stages.noteServiceTask(done, 1, { taskArn: TASK, cpu: 512 })).toBeNull();
    expect((await s.store.getStage(done, 1))?.serviceTaskArn).toBeUndefined();
  });

  it('a stage is queued once; its waiting note is written only while it waits', async () => {
    const s = make();
    const id = await oneStage(s, { queuedAt: undefined });
    expect(await s.stages.markQueued(id, 1, 20, { failedStages: ['lint'] })).toMatchObject({ queuedAt: 20, upstream: { failedStages: ['lint'] } });
    expect(await s.stages.markQueued(id, 1, 21)).toBeNull();
    await s.stages.noteWaiting(id, 1, 'waiting: capacity');
    expect((await s.store.getStage(id, 1))?.message).toBe('waiting: capacity');
    await s.stages.finish(id, 1, { status: 'error', message: 'gone', finishedAt: 22 });
    await s.stages.noteWaiting(id, 1, 'waiting: later');
    expect((await s.store.getStage(id, 1))?.message).toBe('gone');
  });

  it('finish with onlyIfTaskArn ends only the stage that runs that task', async () => {
    const s = make();
    const id = await oneStage(s);
    await s.stages.applyEvent(id, 1, { taskArn: TASK, version: 1, attempt: 0, status: 'running', startedAt: 5 });
    expect(await s.stages.finish(id, 1, { status: 'error', message: 'lost', finishedAt: 9, onlyIfTaskArn: OTHER })).toBeNull();
    expect(await s.stages.finish(id, 1, { status: 'error', reason: 'task-lost', message: 'lost', finishedAt: 9, onlyIfTaskArn: TASK })).toMatchObject({
      status: 'error', reason: 'task-lost', message: 'lost',
    });
  });

  it('a step made skipped keeps no times: its container ran, its commands did not (core/builds/step-times.ts)', async () => {
    const s = make();
    const id = await oneStage(s);
    await s.store.updateStep(id, 1, 1, { status: 'running', startedAt: 5, taskArn: TASK });
    const skipped = await s.store.updateStep(id, 1, 1, { status: 'skipped', reason: 'service not ready' });
    expect(skipped).toMatchObject({ status: 'skipped', reason: 'service not ready', taskArn: TASK });
    expect([skipped?.startedAt, skipped?.finishedAt]).toEqual([undefined, undefined]);
    const [read] = await s.store.listSteps(id, 1);
    expect([read?.startedAt, read?.finishedAt]).toEqual([undefined, undefined]);
  });

  it("what an agent's log showed of a step is written only while the stage runs that task and the step is no other task's, in one write", async () => {
    const s = make();
    const id = await oneStage(s);
    // No task yet (waiting, or requeued: a requeue removes it), then another task: refused.
    expect(await s.stages.updateStepOfTask(id, 1, 1, TASK, { status: 'running', startedAt: 7, taskArn: TASK }, ['pending'])).toBe(false);
    await s.stages.applyEvent(id, 1, { taskArn: OTHER, version: 1, attempt: 0, status: 'running', startedAt: 5 });
    expect(await s.stages.updateStepOfTask(id, 1, 1, TASK, { status: 'running', startedAt: 7, taskArn: TASK }, ['pending'])).toBe(false);
    expect((await s.store.listSteps(id, 1))[0]).toMatchObject({ status: 'pending' });
    // The stage's own task: written, under the status guard.
    expect(await s.stages.updateStepOfTask(id, 1, 1, OTHER, { status: 'running', startedAt: 7, taskArn: OTHER }, ['pending'])).toBe(true);
    expect((await s.store.listSteps(id, 1))[0]).toMatchObject({ status: 'running', startedAt: 7, taskArn: OTHER });
    expect(await s.stages.updateStepOfTask(id, 1, 1, OTHER, { status: 'running', startedAt: 6 }, ['pending'])).toBe(false);
    // A step recorded for another task than the stage's is not this read's to change.
    await s.store.updateStep(id, 1, 1, { status: 'running', taskArn: TASK });
    expect(await s.stages.updateStepOfTask(id, 1, 1, OTHER, { status: 'running', startedAt: 6 }, ['running'])).toBe(false);
    expect((await s.store.listSteps(id, 1))[0]).toMatchObject({ startedAt: 7, taskArn: TASK });
  });

  it("a stage's first step start is the earliest it was given, from events and reads, and only for its task; a read time only for its task", async () => {
    const s = make();
    const id = await oneStage(s);
    expect(await s.stages.noteFirstStepAt(id, 1, TASK, 9)).toBe(false);
    await s.stages.applyEvent(id, 1, { taskArn: TASK, version: 1, attempt: 0, status: 'running', startedAt: 5, firstStepAt: 9 });
    expect(await s.stages.applyEvent(id, 1, { taskArn: TASK, version: 2, attempt: 0, firstStepAt: 8 })).toMatchObject({ firstStepAt: 8, eventVersion: 2 });
    expect(await s.stages.applyEvent(id, 1, { taskArn: TASK, version: 3, attempt: 0, firstStepAt: 10 })).toMatchObject({ firstStepAt: 8, eventVersion: 3 });
    expect(await s.stages.noteFirstStepAt(id, 1, TASK, 8)).toBe(false);
    expect(await s.stages.noteFirstStepAt(id, 1, OTHER, 6)).toBe(false);
    expect(await s.stages.noteFirstStepAt(id, 1, TASK, 7)).toBe(true);
    expect((await s.store.getStage(id, 1))?.firstStepAt).toBe(7);
    expect(await s.stages.noteAgentRead(id, 1, OTHER, 20)).toBe(false);
    expect(await s.stages.noteAgentRead(id, 1, TASK, 21)).toBe(true);
    expect((await s.store.getStage(id, 1))?.agentReadAt).toBe(21);
  });

  it('a reset step is pending again, without what the last attempt recorded', async () => {
    const s = make();
    const id = await oneStage(s);
    await s.store.updateStep(id, 1, 1, { status: 'failure', exitCode: 1, startedAt: 5, finishedAt: 6, reason: 'exit 1', taskArn: TASK });
    const reset = await s.store.resetStep(id, 1, 1);
    expect(reset).toMatchObject({ status: 'pending', name: 'test' });
    expect([reset?.exitCode, reset?.startedAt, reset?.finishedAt, reset?.reason, reset?.taskArn]).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  it('an update with an event version applies only when newer, and a stage update keeps to the status order', async () => {
    const s = make();
    const id = await oneStage(s);
    expect(await s.store.updateStage(id, 1, { status: 'running', startedAt: 5 }, { eventVersion: 2 })).toMatchObject({ status: 'running', eventVersion: 2 });
    expect(await s.store.updateStage(id, 1, { message: 'late' }, { eventVersion: 2 })).toBeNull();
    expect(await s.store.updateStage(id, 1, { status: 'pending' })).toBeNull();
    expect(await s.store.updateStage(id, 1, { status: 'killed', message: 'cancelled' }, { fromStatuses: ['pending', 'running'] })).toMatchObject({ status: 'killed' });
    expect(await s.store.updateStage(id, 1, { status: 'failure' })).toBeNull();
    expect(await s.store.updateStep(id, 1, 1, { status: 'running' }, { eventVersion: 4 })).toMatchObject({ status: 'running' });
    expect(await s.store.updateStep(id, 1, 1, { status: 'success' }, { eventVersion: 3 })).toBeNull();
  });

  it('reads a build with its stages and steps, and lists a repository\'s builds newest first', async () => {
    const s = make();
    const first = await oneStage(s);
    const second = await oneStage(s);
    const detail = await s.store.getBuildDetail(second);
    expect(detail).toMatchObject({ id: second, stages: [{ number: 1, name: 'test', steps: [{ number: 1, name: 'test' }] }] });
    expect(await s.store.getBuildDetail('acme/contract#99999')).toBeNull();
    const page = await s.store.listBuilds('acme/contract', { limit: 100 });
    const ids = page.items.map((b) => b.id);
    expect(ids.indexOf(second)).toBeLessThan(ids.indexOf(first));
    expect(ids.indexOf(first)).toBeGreaterThanOrEqual(0);
  });

  it('status updates of builds and steps never move backwards, unless fromStatuses says from where', async () => {
    const s = make();
    const id = await oneStage(s);
    expect(await s.store.updateBuild(id, { status: 'running', startedAt: 5 })).toMatchObject({ status: 'running' });
    expect(await s.store.updateBuild(id, { status: 'pending' })).toBeNull();
    expect(await s.store.updateBuild(id, { status: 'success' }, { fromStatuses: ['pending'] })).toBeNull();
    expect(await s.store.updateBuild(id, { status: 'success', finishedAt: 9 }, { fromStatuses: ['running'] })).toMatchObject({ status: 'success', finishedAt: 9 });
    expect(await s.store.updateBuild(id, { status: 'failure' })).toBeNull();
    expect(await s.store.updateStep(id, 1, 1, { status: 'success' })).toMatchObject({ status: 'success' });
    expect(await s.store.updateStep(id, 1, 1, { status: 'running' })).toBeNull();
  });

  it("a stopped task's usage is recorded once per task, even on a finished stage, and a build keeps its cost", async () => {
    const s = make();
    const id = await oneStage(s);
    const usage = (taskArn: string) => ({
      taskArn, cpu: 1024, memory: 2048, storageGiB: 20, architecture: 'ARM64' as const, capacity: 'FARGATE_SPOT', billedFrom: 1_000, billedTo: 61_000,
      publicIpv4: true, containers: 3, events: 5,
    });
    expect(await s.stages.recordTaskUsage(id, 1, usage(TASK))).toBe(true);
    expect(await s.stages.recordTaskUsage(id, 1, { ...usage(TASK), events: 9 })).toBe(false);
    await s.stages.finish(id, 1, { status: 'killed', message: 'cancelled', finishedAt: 70_000 });
    // The Spot retry's task, stopping after the stage was cancelled: still recorded.
    expect(await s.stages.recordTaskUsage(id, 1, usage(OTHER))).toBe(true);
    const stage = await s.store.getStage(id, 1);
    expect(Object.values(stage?.usage ?? {}).map((u) => [u.taskArn, u.events])).toEqual(expect.arrayContaining([[TASK, 5], [OTHER, 5]]));
    expect(Object.keys(stage?.usage ?? {})).toHaveLength(2);
    expect(await s.stages.recordTaskUsage('acme/contract#99999', 1, usage(TASK))).toBe(false);

    const cost = { currency: 'USD' as const, region: 'us-east-1', pricesAsOf: '2026-12-02', pricesSource: 'defaults', total: 0.01, fargate: 0.009, storage: 0, publicIpv4: 0.001, controlPlane: 0, logs: 0, lines: [{ item: 'Fargate vCPU (ARM64, Spot)', quantity: 0.02, unit: 'vCPU-hours', rate: 0.45, usd: 0.009 }], estimates: ['logs'] };
    await s.store.updateBuild(id, { status: 'killed', finishedAt: 70_000, cost });
    expect((await s.store.getBuild(id))?.cost).toEqual(cost);
  });
});
