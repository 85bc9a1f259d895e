// Step, stage and build records from the task state change events ECS really sends
// (test/fixtures/aws/ecs-TaskStateChange-event.json, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html):
// the task stays PENDING until its last container has started (aws/amazon-ecs-agent
// agent/api/task/task.go, updateTaskKnownStatus: the minimum of its containers), the
// containers carry no health, and the times are ECS's (updatedAt, stoppedAt).

import { beforeEach, describe, expect, it } from 'vitest';
import { buildId, type Build, type StepRecord } from '../../core/builds/types.js';
import type { TaskStateChangeContainer, TaskStateChangeDetail } from '../../core/builds/task-event.js';
import { AGENT_CONTAINER, AGENT_ENV, AGENT_EXIT, SETUP_SKIPPED_EXIT_CODE } from '../../core/pipeline/contract.js';
import type { StageJob } from '../../core/scaling/job.js';
import { applyTaskEvent } from '../../lambdas/shared/execution/apply-event.js';
import { segmentTimeoutSeconds } from '../../core/builds/segment-run.js';
import type { ExecutionDeps } from '../../lambdas/shared/execution/deps.js';
import { MemoryBuildStore, MemoryJobQueue, MemoryStageStore } from '../support/memory-stores.js';
import { stagePhases, type StagePhase } from '../../core/builds/stage-timeline.js';
import { computeMetrics } from '../../core/builds/metrics.js';

// On the in-memory stores (test/support/memory-stores.ts), held to the DynamoDB adapters'
// contract by test/adapters/store-contract.test.ts; what reads must be strongly consistent
// on DynamoDB is build-finish.test.ts's subject.
let store: MemoryBuildStore;
let jobs: MemoryJobQueue;
let deps: ExecutionDeps;
/** When the events are processed: far from any time ECS reports, so a stored processing time shows. */
const PROCESSED_AT = Date.parse('2031-01-01T00:00:00.000Z');

beforeEach(() => {
  store = new MemoryBuildStore();
  jobs = new MemoryJobQueue();
  deps = {
    store,
    stages: new MemoryStageStore(store),
    jobs,
    postBuildStatus: async () => {},
    nudge: async () => {},
    now: () => PROCESSED_AT,
    log: () => {},
  };
});

const TASK = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/truth';
const c = (name: string, lastStatus: string, extra: Partial<TaskStateChangeContainer> = {}): TaskStateChangeContainer => ({ name, lastStatus, ...extra });
const iso = (second: number) => `2030-06-01T10:00:${String(second).padStart(2, '0')}.000Z`;

function event(id: string, version: number, extra: Partial<TaskStateChangeDetail>): TaskStateChangeDetail {
  return {
    clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/slipway',
    taskArn: `${TASK}-${id.replace(/\W/g, '')}`,
    taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/slipway-x:1',
    lastStatus: 'PENDING',
    desiredStatus: 'RUNNING',
    version,
    createdAt: iso(0),
    containers: [],
    overrides: { containerOverrides: [{ name: AGENT_CONTAINER, environment: [{ name: AGENT_ENV.stageId, value: `${id}/1` }] }] },
    ...extra,
  };
}

/** A build whose one stage runs (RunTask answered) on `capacity`: clone, two steps, one step left out by `when:`. */
async function runningStage(repo: string, capacity: 'FARGATE' | 'FARGATE_SPOT' = 'FARGATE'): Promise<string> {
  const id = buildId(repo, 1);
  const createdAt = Date.parse(iso(0));
  const build: Build = {
    id, repo, number: 1, status: 'pending', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: 'e'.repeat(40),
    message: '', author: '', link: '', deliveryId: `d-${repo}`, fork: false, createdAt,
  };
  const step = (number: number, name: string, container: string, kind: StepRecord['kind'], status: StepRecord['status'] = 'pending'): StepRecord => ({
    buildId: id, stageNumber: 1, number, name, container, status, detached: false, kind, ...(status === 'skipped' ? { reason: 'when: branch' } : {}),
  });
  store.add(
    build,
    [{ buildId: id, repo, buildNumber: 1, number: 1, name: 'test', status: 'pending', dependsOn: [], attempts: 0, queuedAt: createdAt }],
    [step(1, 'clone', AGENT_CONTAINER, 'clone'), step(2, 'build', 'step-build', 'step'), step(3, 'test', 'step-test', 'step'), step(4, 'deploy', 'step-deploy', 'step', 'skipped')],
  );
  const job: StageJob = {
    stageKey: `${id}/1`, buildId: id, stageNumber: 1, repo, pipeline: 'test', cpu: 256, memory: 512, queuedAt: createdAt, runTask: {},
    taskDefinition: { family: 'slipway-x', containerDefinitions: [{ name: AGENT_CONTAINER }, { name: 'step-build' }, { name: 'step-test' }] },
  };
  await deps.stages.putStageJobs([job]);
  const taskArn = event(id, 0, {}).taskArn;
  expect(await deps.stages.markRunning(id, 1, { attempt: 0, taskArn, capacity, startedAt: createdAt + 500, cpu: 256 })).not.toBeNull();
  return id;
}

const stepsOf = async (id: string) => Object.fromEntries((await deps.store.listSteps(id, 1)).map((s) => [s.name, s]));

describe('records from the events ECS sends', () => {
  it('a task still PENDING whose agent and first step run: the build runs and the clone passed', async () => {
    const id = await runningStage('acme/pending-task');
    // What ECS sends while the agent clones: the task PENDING (its steps wait), no health.
    await applyTaskEvent(deps, event(id, 2, { updatedAt: iso(5), containers: [c(AGENT_CONTAINER, 'RUNNING'), c('step-build', 'PENDING'), c('step-test', 'PENDING')] }));
    expect((await deps.store.getBuild(id))?.status).toBe('running');
    expect((await stepsOf(id)).clone).toMatchObject({ status: 'running', startedAt: Date.parse(iso(5)) });
    // The agent turned HEALTHY (not in the event): the first step starts. The task is still
    // PENDING, as `test` waits for `build`.
    await applyTaskEvent(deps, event(id, 3, { updatedAt: iso(9), containers: [c(AGENT_CONTAINER, 'RUNNING'), c('step-build', 'RUNNING'), c('step-test', 'PENDING')] }));
    const steps = await stepsOf(id);
    expect(steps.clone).toMatchObject({ status: 'success', finishedAt: Date.parse(iso(9)) });
    expect(steps.build).toMatchObject({ status: 'running', startedAt: Date.parse(iso(9)) });
    expect(steps.test?.status).toBe('pending');
    const stage = await deps.store.getStage(id, 1);
    expect([stage?.status, stage?.firstStepAt]).toEqual(['running', Date.parse(iso(9))]);
    expect((await deps.store.getBuild(id))?.status).toBe('running');
  });

  it('stores ECS times: a step ends when ECS says, the stage and build when the task stopped', async () => {
    const id = await runningStage('acme/times');
    await applyTaskEvent(deps, event(id, 2, { updatedAt: iso(9), containers: [c(AGENT_CONTAINER, 'RUNNING'), c('step-build', 'RUNNING'), c('step-test', 'PENDING')] }));
    await applyTaskEvent(deps, event(id, 3, { updatedAt: iso(20), containers: [c(AGENT_CONTAINER, 'RUNNING'), c('step-build', 'STOPPED', { exitCode: 0 }), c('step-test', 'RUNNING')], lastStatus: 'RUNNING', startedAt: iso(20) }));
    await applyTaskEvent(
      deps,
      event(id, 6, {
        lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stopCode: 'EssentialContainerExited', updatedAt: iso(41), stoppingAt: iso(35), stoppedAt: iso(40),
        containers: [c(AGENT_CONTAINER, 'STOPPED', { exitCode: 0 }), c('step-build', 'STOPPED', { exitCode: 0 }), c('step-test', 'STOPPED', { exitCode: 0 })],
      }),
    );
    const steps = await stepsOf(id);
    expect([steps.build?.startedAt, steps.build?.finishedAt, steps.test?.startedAt, steps.test?.finishedAt]).toEqual([iso(9), iso(20), iso(20), iso(41)].map(Date.parse));
    const stage = await deps.store.getStage(id, 1);
    expect([stage?.status, stage?.finishedAt]).toEqual(['success', Date.parse(iso(40))]);
    const build = await deps.store.getBuild(id);
    expect([build?.status, build?.startedAt, build?.finishedAt]).toEqual(['success', Date.parse(iso(0)) + 500, Date.parse(iso(40))]);
  });

  it('a step that started with the task and skipped itself after a service never became ready keeps no times (Drone: runner-go pipeline/state.go skip)', async () => {
    const id = await runningStage('acme/skipped-times');
    // Steps with commands start with the task and wait in their wrapper for the setup record.
    for (const step of store.steps.values()) if (step.buildId === id && step.kind === 'step' && step.status === 'pending') step.afterSetup = true;
    await applyTaskEvent(deps, event(id, 2, { updatedAt: iso(5), containers: [c(AGENT_CONTAINER, 'RUNNING'), c('step-build', 'RUNNING'), c('step-test', 'PENDING')] }));
    // Its container runs; its commands wait for the setup: pending, with no start (its container's is not its own).
    expect((await stepsOf(id)).build).toMatchObject({ status: 'pending' });
    expect((await stepsOf(id)).build?.startedAt).toBeUndefined();
    await applyTaskEvent(
      deps,
      event(id, 4, {
        lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stopCode: 'EssentialContainerExited', updatedAt: iso(41), stoppingAt: iso(9), stoppedAt: iso(40),
        containers: [
          c(AGENT_CONTAINER, 'STOPPED', { exitCode: AGENT_EXIT.serviceNotReady }),
          c('step-build', 'STOPPED', { exitCode: SETUP_SKIPPED_EXIT_CODE }),
          c('step-test', 'STOPPED', { reason: 'CannotStartContainerError: dependency' }),
        ],
      }),
    );
    const steps = await stepsOf(id);
    for (const name of ['build', 'test']) {
      expect(steps[name], name).toMatchObject({ status: 'skipped' });
      expect([steps[name]?.startedAt, steps[name]?.finishedAt], name).toEqual([undefined, undefined]);
    }
    expect((await deps.store.getStage(id, 1))?.reason).toBe('service-not-ready');
  });

  it('a Spot requeue clears what the interrupted attempt recorded on its steps', async () => {
    const id = await runningStage('acme/spot', 'FARGATE_SPOT');
    await applyTaskEvent(deps, event(id, 2, { updatedAt: iso(9), capacityProviderName: 'FARGATE_SPOT', containers: [c(AGENT_CONTAINER, 'RUNNING'), c('step-build', 'RUNNING'), c('step-test', 'PENDING')] }));
    await applyTaskEvent(deps, event(id, 3, { updatedAt: iso(15), capacityProviderName: 'FARGATE_SPOT', containers: [c(AGENT_CONTAINER, 'RUNNING'), c('step-build', 'STOPPED', { exitCode: 2 }), c('step-test', 'PENDING')] }));
    expect((await stepsOf(id)).build).toMatchObject({ status: 'failure', exitCode: 2 });
    const result = await applyTaskEvent(
      deps,
      event(id, 5, {
        lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stopCode: 'SpotInterruption', stoppedReason: 'Your Spot Task was interrupted.', stoppedAt: iso(30), capacityProviderName: 'FARGATE_SPOT',
        containers: [c(AGENT_CONTAINER, 'STOPPED', { exitCode: 143 }), c('step-build', 'STOPPED', { exitCode: 2 }), c('step-test', 'STOPPED', { reason: 'CannotStartContainerError: dependency' })],
      }),
    );
    expect(result).toMatchObject({ applied: true, status: 'pending' });
    const steps = await stepsOf(id);
    for (const name of ['clone', 'build', 'test']) {
      expect(steps[name], name).toEqual(expect.objectContaining({ status: 'pending' }));
      expect(Object.keys(steps[name]!).filter((k) => ['exitCode', 'startedAt', 'finishedAt', 'reason'].includes(k)), name).toEqual([]);
    }
    // Left out by `when:` at planning: no container, so it stays as it was.
    expect(steps.deploy).toMatchObject({ status: 'skipped', reason: 'when: branch' });
    expect(jobs.enqueued.map((j) => [j.stageKey, j.onDemand, j.queuedAt])).toEqual([[`${id}/1`, true, PROCESSED_AT]]);
  });

  it("a Spot interruption of segment 2 requeues that segment on on-demand and keeps the stage's start, from which the pipeline timeout counts", async () => {
    const id = buildId('acme/split-spot', 1);
    const repo = 'acme/split-spot';
    const createdAt = Date.parse(iso(0));
    const firstStart = createdAt + 500;
    const step = (number: number, name: string, container: string, kind: StepRecord['kind'], status: StepRecord['status']): StepRecord => ({
      buildId: id, stageNumber: 1, number, name, container, status, detached: false, kind,
    });
    store.add(
      { id, repo, number: 1, status: 'running', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: 'f'.repeat(40), message: '', author: '', link: '', deliveryId: 'd-split', fork: false, createdAt },
      // Segment 1 ran (clone and build passed) from firstStart; segment 2 is queued.
      [{ buildId: id, repo, buildNumber: 1, number: 1, name: 'test', status: 'pending', dependsOn: [], attempts: 0, queuedAt: createdAt, segments: 2, segment: 2, startedAt: firstStart, firstStepAt: firstStart + 100 }],
      [step(1, 'clone', AGENT_CONTAINER, 'clone', 'success'), step(2, 'build', 'step-build', 'step', 'success'), step(3, 'test', 'step-test', 'step', 'pending')],
    );
    const segment = (number: number, container: string) => ({
      number, cpu: 256, memory: 512, containers: [AGENT_CONTAINER, container], later: { runOnFailure: false, runAlways: false }, runTask: {},
      taskDefinition: { family: `slipway-x-${number}`, containerDefinitions: [{ name: AGENT_CONTAINER }, { name: container }] },
    });
    await deps.stages.putStageJobs([{
      stageKey: `${id}/1`, buildId: id, stageNumber: 1, repo, pipeline: 'test', cpu: 256, memory: 512, queuedAt: createdAt, runTask: {},
      taskDefinition: segment(1, 'step-build').taskDefinition, segments: [segment(1, 'step-build'), segment(2, 'step-test')],
    }]);
    const taskArn = event(id, 0, {}).taskArn;
    // Segment 2's task: its own first attempt (attempts are the segment's), on Spot.
    expect(await deps.stages.markRunning(id, 1, { attempt: 0, taskArn, capacity: 'FARGATE_SPOT', startedAt: Date.parse(iso(40)), cpu: 256 })).toMatchObject({ startedAt: firstStart, attempts: 1 });
    await applyTaskEvent(deps, event(id, 2, { updatedAt: iso(45), capacityProviderName: 'FARGATE_SPOT', containers: [c(AGENT_CONTAINER, 'RUNNING'), c('step-test', 'RUNNING')] }));
    const result = await applyTaskEvent(
      deps,
      event(id, 3, {
        lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stopCode: 'SpotInterruption', stoppedAt: iso(50), capacityProviderName: 'FARGATE_SPOT',
        containers: [c(AGENT_CONTAINER, 'STOPPED', { exitCode: 143 }), c('step-test', 'STOPPED', { exitCode: 143 })],
      }),
    );
    expect(result).toMatchObject({ applied: true, status: 'pending' });
    const stage = await deps.store.getStage(id, 1);
    expect(stage).toMatchObject({ status: 'pending', segment: 2, reason: 'spot-interrupted', capacity: 'FARGATE', startedAt: firstStart, firstStepAt: firstStart + 100 });
    // What is left for the retry is counted from the first segment's start, not from the requeue.
    expect(segmentTimeoutSeconds(60, stage!.startedAt!, Date.parse(iso(55)))).toBe(Math.floor(60 * 60 - 54.5));
    // Segment 2's step runs again; segment 1's results stay.
    const steps = await stepsOf(id);
    expect([steps.clone?.status, steps.build?.status, steps.test?.status]).toEqual(['success', 'success', 'pending']);
    expect(jobs.enqueued.map((j) => [j.stageKey, j.segment, j.onDemand])).toEqual([[`${id}/1`, 2, true]]);
  });
});

// A split stage's service task (lambdas/autoscaler/service-task.ts): its events never write the
// stage (ECS sends them at least once and in any order,
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_cwet_handling.html); its stop
// asks the autoscaler for a pass, which reads DescribeTasks and stops the segment beside it.
describe("a split stage's service task's events", () => {
  it('a stop nudges the autoscaler, duplicated or before its RUNNING event, and changes no record; RUNNING asks for nothing', async () => {
    const id = await runningStage('acme/service-events');
    const before = { stage: await deps.store.getStage(id, 1), steps: await stepsOf(id) };
    let nudges = 0;
    deps.nudge = async () => {
      nudges += 1;
    };
    const svc = (version: number, lastStatus: string) =>
      event(id, version, { startedBy: 'slipway-svc-0123456789abcdef01234567', lastStatus, desiredStatus: lastStatus === 'STOPPED' ? 'STOPPED' : 'RUNNING', ...(lastStatus === 'STOPPED' ? { stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited' } : {}), containers: [c(AGENT_CONTAINER, lastStatus)] });
    // Out of order and twice: the stop first, then the older RUNNING, then the stop again.
    for (const e of [svc(4, 'STOPPED'), svc(2, 'RUNNING'), svc(4, 'STOPPED')]) {
      const result = await applyTaskEvent(deps, { ...e, taskArn: `${TASK}-svc` });
      expect(result).toMatchObject({ applied: false, reason: expect.stringContaining("event of the stage's service task") });
    }
    expect(nudges).toBe(2);
    expect(await deps.store.getStage(id, 1)).toEqual(before.stage);
    expect(await stepsOf(id)).toEqual(before.steps);
  });
});

// A split stage's segments are tasks of their own, each queued when the one before ended
// (lambdas/shared/execution/segment-advance.ts): each keeps its timeline.
describe("a split stage's time, segment by segment", () => {
  it('keeps each segment\'s timeline in order, with its own queue wait, reason and steps; only the first begins at the push', async () => {
    deps.now = () => Date.parse(iso(11));
    const repo = 'acme/split-times';
    const id = buildId(repo, 1);
    const createdAt = Date.parse(iso(0));
    const build: Build = {
      id, repo, number: 1, status: 'pending', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: 'a'.repeat(40),
      message: '', author: '', link: '', deliveryId: 'd-split-times', fork: false, createdAt, receivedAt: createdAt - 700,
    };
    const step = (number: number, name: string, container: string, kind: StepRecord['kind']): StepRecord => ({ buildId: id, stageNumber: 1, number, name, container, status: 'pending', detached: false, kind });
    store.add(
      build,
      [{ buildId: id, repo, buildNumber: 1, number: 1, name: 'test', status: 'pending', dependsOn: [], attempts: 0, queuedAt: createdAt, segments: 2 }],
      [step(1, 'clone', AGENT_CONTAINER, 'clone'), step(2, 'build', 'step-build', 'step'), step(3, 'test', 'step-test', 'step')],
    );
    const segment = (number: number, container: string) => ({
      number, cpu: 256, memory: 512, containers: [AGENT_CONTAINER, container], later: { runOnFailure: false, runAlways: false }, runTask: {},
      taskDefinition: { family: `slipway-t-${number}`, containerDefinitions: [{ name: AGENT_CONTAINER }, { name: container }] },
    });
    await deps.stages.putStageJobs([{
      stageKey: `${id}/1`, buildId: id, stageNumber: 1, repo, pipeline: 'test', cpu: 256, memory: 512, queuedAt: createdAt, runTask: {},
      taskDefinition: segment(1, 'step-build').taskDefinition, segments: [segment(1, 'step-build'), segment(2, 'step-test')],
    }]);
    const waited = 'waiting: no Fargate capacity or quota (RunTask on FARGATE: Capacity is unavailable at this time); retrying with back-off';
    await deps.stages.noteWaiting(id, 1, waited);
    /** What the autoscaler's start does (start-stage.ts recordStarted): its message read before RunTask goes with the mark. */
    const start = async (taskArn: string, at: number) => {
      const before = (await deps.stages.getStageConsistent(id, 1))!;
      return deps.stages.markRunning(id, 1, { attempt: 0, taskArn, capacity: 'FARGATE', startedAt: Date.parse(iso(at)), cpu: 256, ...(before.message !== undefined ? { queuedBecause: before.message } : {}) });
    };
    const stop = (taskArn: string, container: string, times: { created: number; pulled: [number, number]; ran: number; stopped: number }) => [
      event(id, 2, { taskArn, createdAt: iso(times.created), updatedAt: iso(times.ran), lastStatus: 'RUNNING', startedAt: iso(times.ran), containers: [c(AGENT_CONTAINER, 'RUNNING'), c(container, 'RUNNING')] }),
      event(id, 3, {
        taskArn, lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stopCode: 'EssentialContainerExited', createdAt: iso(times.created),
        pullStartedAt: iso(times.pulled[0]), pullStoppedAt: iso(times.pulled[1]), updatedAt: iso(times.stopped - 1), stoppingAt: iso(times.stopped - 1), stoppedAt: iso(times.stopped),
        containers: [c(AGENT_CONTAINER, 'STOPPED', { exitCode: 0 }), c(container, 'STOPPED', { exitCode: 0 })],
      }),
    ];

    // Segment 1: queued at 0 s (for capacity), its task created at 2 s, its step from 6 s; stopped at 10 s.
    expect(await start(`${TASK}-seg1`, 1)).not.toBeNull();
    for (const e of stop(`${TASK}-seg1`, 'step-build', { created: 2, pulled: [3, 5], ran: 6, stopped: 10 })) await applyTaskEvent(deps, e);
    const between = (await deps.store.getStage(id, 1))!;
    expect(between).toMatchObject({ status: 'pending', segment: 2, queuedAt: Date.parse(iso(11)) });
    expect(between.timeline).toBeUndefined();
    expect(between.segmentTimelines).toEqual([expect.objectContaining({ segment: 1, attempt: 0, queuedAt: createdAt, queuedBecause: waited, taskCreatedAt: Date.parse(iso(2)), stoppedAt: Date.parse(iso(10)) })]);

    // Segment 2: queued at 11 s when segment 1 ended, created at 12 s, its step from 15 s; stopped at 20 s.
    expect(await start(`${TASK}-seg2`, 12)).not.toBeNull();
    for (const e of stop(`${TASK}-seg2`, 'step-test', { created: 12, pulled: [13, 14], ran: 15, stopped: 20 })) await applyTaskEvent(deps, e);
    const ended = (await deps.store.getStage(id, 1))!;
    expect(ended.status).toBe('success');
    expect(ended.timeline).toMatchObject({ segment: 2, attempt: 0, queuedAt: Date.parse(iso(11)), queuedBecause: 'segment 1 of 2 ended (steps-passed); segment 2 is queued' });

    const phases = stagePhases(ended, await deps.store.listSteps(id, 1), build);
    const at = (p: StagePhase) => [p.segment, p.name, (p.from - createdAt) / 1000, (p.to - createdAt) / 1000];
    expect(phases.filter((p) => p.name === 'control plane' || p.name === 'queued' || p.name === 'provisioning').map(at)).toEqual([
      [1, 'control plane', -0.7, 0],
      [1, 'queued', 0, 2],
      [1, 'provisioning', 2, 3],
      [2, 'queued', 11, 12],
      [2, 'provisioning', 12, 13],
    ]);
    expect(phases.find((p) => p.segment === 1 && p.name === 'queued')?.note).toBe(waited);
    // Each segment's steps are its own: segment 1's step (6 s to its task's stop), then segment 2's (15–19 s).
    expect(phases.filter((p) => p.name === 'steps').map(at)).toEqual([[1, 'steps', 6, 10], [2, 'steps', 15, 19]]);
    expect(phases.map((p) => p.segment)).toEqual([...phases.map((p) => p.segment)].sort());
    // Push → first step is the first segment's.
    expect(computeMetrics([build], [ended], 1, Date.parse(iso(30))).repos[0]!.pushToFirstStep).toEqual({ p50: 6700, p95: 6700, count: 1 });
  });
});
