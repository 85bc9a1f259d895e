// The clone shows passed when it ended, with its real times, while the steps that started with
// the task still run (lambdas/shared/execution/agent-progress.ts, apply-event.ts): ECS's events
// carry no health (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html),
// so without the agent's lines the clone stayed `running` until a step passed, and kept that
// step's end as its own. A step that started with the task runs from its commands' start, which
// the agent's lines and its result say: its container's start held the wait for the setup.

import { beforeEach, describe, expect, it } from 'vitest';
import { buildId, type Build, type StepRecord } from '../../core/builds/types.js';
import type { TaskStateChangeContainer, TaskStateChangeDetail } from '../../core/builds/task-event.js';
import { AGENT_CONTAINER, AGENT_ENV, AGENT_EXIT, type AgentResult } from '../../core/pipeline/contract.js';
import { headPosition, type LogEventRecord, type LogReader } from '../../core/logs/log-reader.js';
import { logStreamName } from '../../core/pipeline/log-configuration.js';
import { applyTaskEvent } from '../../lambdas/shared/execution/apply-event.js';
import { withAgentProgress } from '../../lambdas/shared/execution/agent-progress.js';
import type { ExecutionDeps } from '../../lambdas/shared/execution/deps.js';
import { MemoryBuildStore, MemoryJobQueue, MemoryStageStore } from '../support/memory-stores.js';

const TASK = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/clone-end';
const SHA = 'e'.repeat(40);
const iso = (second: number) => `2030-06-01T10:00:${String(second).padStart(2, '0')}.000Z`;
const at = (second: number) => Date.parse(iso(second));
const c = (name: string, lastStatus: string, extra: Partial<TaskStateChangeContainer> = {}): TaskStateChangeContainer => ({ name, lastStatus, ...extra });

let store: MemoryBuildStore;
let deps: ExecutionDeps;
/** The agent's log stream, as the log reader serves it. */
let agentLog: LogEventRecord[];
let reads: number;
const logs: LogReader = {
  read: async (stream, from, limit) => {
    reads++;
    const events = stream === logStreamName(AGENT_CONTAINER, TASK) ? agentLog.slice(from.offset, from.offset + limit) : [];
    return { events, next: headPosition(from.offset + events.length), atEnd: true };
  },
};
const logged: string[] = [];
const view = { logs, log: (message: string) => void logged.push(message), get store() { return store; } };

function event(id: string, version: number, extra: Partial<TaskStateChangeDetail>): TaskStateChangeDetail {
  return {
    clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/slipway', taskArn: TASK, taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/slipway-x:1',
    lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version, createdAt: iso(0), containers: [],
    overrides: { containerOverrides: [{ name: AGENT_CONTAINER, environment: [{ name: AGENT_ENV.stageId, value: `${id}/1` }] }] },
    ...extra,
  };
}

/** A running stage: its agent clones while its step, started with the task, waits in its wrapper for the setup. */
async function cloningStage(repo: string): Promise<string> {
  const id = buildId(repo, 1);
  const build: Build = { id, repo, number: 1, status: 'pending', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: SHA, message: '', author: '', link: '', deliveryId: `d-${repo}`, fork: false, createdAt: at(0) };
  const step = (number: number, name: string, container: string, kind: StepRecord['kind'], extra: Partial<StepRecord> = {}): StepRecord => ({
    buildId: id, stageNumber: 1, number, name, container, status: 'pending', detached: false, kind, ...extra,
  });
  store.add(build, [{ buildId: id, repo, buildNumber: 1, number: 1, name: 'test', status: 'pending', dependsOn: [], attempts: 0, queuedAt: at(0) }], [
    step(1, 'clone', AGENT_CONTAINER, 'clone'),
    step(2, 'test', 'step-test', 'step', { afterSetup: true }),
  ]);
  await deps.stages.putStageJobs([{
    stageKey: `${id}/1`, buildId: id, stageNumber: 1, repo, pipeline: 'test', cpu: 256, memory: 512, queuedAt: at(0), runTask: {},
    taskDefinition: { family: 'slipway-x', containerDefinitions: [{ name: AGENT_CONTAINER }, { name: 'step-test' }] },
  }]);
  await deps.stages.markRunning(id, 1, { attempt: 0, taskArn: TASK, capacity: 'FARGATE', startedAt: at(1), cpu: 256 });
  // Every container starts with the task: the agent clones, the step waits.
  await applyTaskEvent(deps, event(id, 2, { updatedAt: iso(2), containers: [c(AGENT_CONTAINER, 'RUNNING'), c('step-test', 'RUNNING')] }));
  return id;
}

beforeEach(() => {
  store = new MemoryBuildStore();
  deps = { store, stages: new MemoryStageStore(store), jobs: new MemoryJobQueue(), postBuildStatus: async () => {}, nudge: async () => {}, now: () => at(59), log: () => {} };
  agentLog = [
    { timestamp: at(3), message: 'slipway-agent: pipeline "test" (stage x/1): 1 step containers, 0 services, timeout 60 minutes' },
    { timestamp: at(3), message: `slipway-agent: clone: file:///git/app refs/heads/main at ${SHA} into /drone/src` },
  ];
  reads = 0;
  logged.length = 0;
});

const cloneOf = async (id: string) => (await store.listSteps(id, 1)).find((s) => s.kind === 'clone')!;

describe("the clone's end while the stage runs", () => {
  it('running while the agent clones; passed at the time its agent checked the commit out, with the step still running; recorded so, read once', async () => {
    const id = await cloningStage('acme/clone-live');
    let shown = await withAgentProgress(view, (await store.getBuildDetail(id))!);
    // The step's container runs, its commands wait for the setup: pending, as a Drone step waiting for its dependencies.
    expect(shown.stages[0]!.steps.map((s) => s.status)).toEqual(['running', 'pending']);

    agentLog.push({ timestamp: at(5), message: `slipway-agent: clone: checked out ${SHA}` }, { timestamp: at(6), message: 'slipway-agent: ready: the first steps may start' });
    shown = await withAgentProgress(view, (await store.getBuildDetail(id))!);
    expect(shown.stages[0]!.steps.map((s) => [s.name, s.status])).toEqual([['clone', 'success'], ['test', 'pending']]);
    expect(shown.stages[0]!.steps[0]).toMatchObject({ startedAt: at(2), finishedAt: at(5) });
    expect(await cloneOf(id)).toMatchObject({ status: 'success', startedAt: at(2), finishedAt: at(5) });

    // Its commands start (the agent names the marker's time, a poll before its line): running from then, recorded; no more reads.
    agentLog.push({ timestamp: at(8), message: `slipway-agent: step step-test started at ${new Date(at(7) + 250).toISOString()}` });
    shown = await withAgentProgress(view, (await store.getBuildDetail(id))!);
    expect(shown.stages[0]!.steps[1]).toMatchObject({ status: 'running', startedAt: at(7) + 250 });
    expect((await store.listSteps(id, 1))[1]).toMatchObject({ status: 'running', startedAt: at(7) + 250, taskArn: TASK });
    const before = reads;
    await withAgentProgress(view, (await store.getBuildDetail(id))!);
    expect(reads).toBe(before);
  });

  it('a failed clone shows failed with the agent\'s words while the steps that run on failure go on; the stage\'s end records it', async () => {
    const id = await cloningStage('acme/clone-failed');
    const why = 'clone: fetch failed (git exit code 128): fatal: repository not found';
    agentLog.push({ timestamp: at(4), message: `slipway-agent: ${why}: the steps that run on failure still run, the others are skipped` });
    const shown = await withAgentProgress(view, (await store.getBuildDetail(id))!);
    expect(shown.stages[0]!.steps[0]).toMatchObject({ status: 'failure', finishedAt: at(4), reason: why });
    // git's exit code comes with the agent's result, at the stage's end.
    expect((await cloneOf(id)).status).toBe('running');
  });

  it('reads the agent\'s log of at most 4 stages per read of a build (a shared GetLogEvents quota); those whose clone and step starts are known need none', async () => {
    const id = await cloningStage('acme/clone-many');
    const detail = (await store.getBuildDetail(id))!;
    const one = detail.stages[0]!;
    const known = { ...one, steps: one.steps.map((s) => ({ ...s, status: 'success' as const, startedAt: at(7) })) };
    await withAgentProgress(view, { ...detail, stages: [known] });
    expect(reads).toBe(0);
    const stages = [1, 2, 3, 4, 5, 6].map((number) => ({ ...one, number, name: `s${number}` }));
    await withAgentProgress(view, { ...detail, stages: [{ ...known, number: 7 }, ...stages] });
    expect(reads).toBe(4);
  });

  it('a step that finished before its start was read takes it from the agent\'s lines', async () => {
    const id = await cloningStage('acme/step-done');
    await applyTaskEvent(deps, event(id, 3, { updatedAt: iso(30), containers: [c(AGENT_CONTAINER, 'RUNNING'), c('step-test', 'STOPPED', { exitCode: 0 })] }));
    // Nobody read the build while it ran: its container's end is known, its commands' start is not.
    const ended = (await store.listSteps(id, 1))[1]!;
    expect(ended).toMatchObject({ status: 'success', finishedAt: at(30) });
    expect(ended.startedAt).toBeUndefined();
    agentLog.push({ timestamp: at(9), message: `slipway-agent: step step-test started at ${iso(8)}` });
    const shown = await withAgentProgress(view, (await store.getBuildDetail(id))!);
    expect(shown.stages[0]!.steps[1]).toMatchObject({ status: 'success', startedAt: at(8), finishedAt: at(30) });
    expect((await store.listSteps(id, 1))[1]).toMatchObject({ status: 'success', startedAt: at(8), finishedAt: at(30) });
  });

  it("a step's commands start from the agent's result once the stage is over, for steps that finished while it ran and those that end with it", async () => {
    const id = await cloningStage('acme/step-result');
    await applyTaskEvent(deps, event(id, 3, { updatedAt: iso(30), containers: [c(AGENT_CONTAINER, 'RUNNING'), c('step-test', 'STOPPED', { exitCode: 0 })] }));
    const result: AgentResult = {
      outcome: 'success', exitCode: AGENT_EXIT.success, message: 'every step passed', finishedAt: iso(31),
      setup: { startedAt: iso(3), clonedAt: iso(5), readyAt: iso(6) },
      started: [{ container: 'step-test', at: iso(7) }],
    };
    deps.agentResults = async () => ({ result });
    await applyTaskEvent(deps, event(id, 5, {
      lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stopCode: 'EssentialContainerExited', updatedAt: iso(33), stoppingAt: iso(31), stoppedAt: iso(32),
      containers: [c(AGENT_CONTAINER, 'STOPPED', { exitCode: 0 }), c('step-test', 'STOPPED', { exitCode: 0 })],
    }));
    // 7 s → 30 s: its commands, not the 5 s its container waited for the clone and the services.
    expect((await store.listSteps(id, 1))[1]).toMatchObject({ status: 'success', startedAt: at(7), finishedAt: at(30) });
    expect((await store.getStage(id, 1))?.firstStepAt).toBe(at(7));
    // The stage's timeline keeps the step marks the metrics read: the first step after the setup's 6 s.
    expect((await store.getStage(id, 1))?.timeline).toMatchObject({ readyAt: at(6), firstStepAt: at(7), lastStepAt: at(30) });
  });

  it('a log that cannot be read leaves the records as they are, and says so', async () => {
    const id = await cloningStage('acme/clone-unread');
    const failing: LogReader = { read: async () => { throw new Error('ThrottlingException: Rate exceeded'); } };
    const shown = await withAgentProgress({ ...view, logs: failing }, (await store.getBuildDetail(id))!);
    expect(shown.stages[0]!.steps[0]!.status).toBe('running');
    expect(logged).toEqual(["agent log could not be read; the stage's steps are shown as stored"]);
  });

  it('a clone recorded passed when the step passed takes its agent\'s own end once the stage is over', async () => {
    const id = await cloningStage('acme/clone-final');
    // Nobody read the build meanwhile: the step's pass is what showed the clone over.
    await applyTaskEvent(deps, event(id, 3, { updatedAt: iso(30), containers: [c(AGENT_CONTAINER, 'RUNNING'), c('step-test', 'STOPPED', { exitCode: 0 })] }));
    expect(await cloneOf(id)).toMatchObject({ status: 'success', finishedAt: at(30) });
    const result: AgentResult = {
      outcome: 'success', exitCode: AGENT_EXIT.success, message: 'every step passed', finishedAt: iso(31),
      setup: { startedAt: iso(3), clonedAt: iso(5), readyAt: iso(6) },
    };
    deps.agentResults = async () => ({ result });
    await applyTaskEvent(deps, event(id, 5, {
      lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stopCode: 'EssentialContainerExited', updatedAt: iso(33), stoppingAt: iso(31), stoppedAt: iso(32),
      containers: [c(AGENT_CONTAINER, 'STOPPED', { exitCode: 0 }), c('step-test', 'STOPPED', { exitCode: 0 })],
    }));
    expect(await cloneOf(id)).toMatchObject({ status: 'success', startedAt: at(2), finishedAt: at(5) });
  });
});
