// The clone shows passed when it ended, with its real times, while the steps that started with
// the task still run (lambdas/shared/execution/agent-progress.ts, apply-event.ts): ECS's events
// carry no health (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html),
// so without the agent's lines the clone stayed `running` until a step passed, and kept that
// step's end as its own. A step that started with the task runs from its commands' start, which
// the agent's lines and its result say: its container's start held the wait for the setup.

import { beforeEach, describe, expect, it } from 'vitest';
import { buildId, type Build, type BuildDetail, type StepRecord } from '../../core/builds/types.js';
import type { TaskStateChangeContainer, TaskStateChangeDetail } from '../../core/builds/task-event.js';
import { AGENT_CONTAINER, AGENT_ENV, AGENT_EXIT, type AgentResult } from '../../core/pipeline/contract.js';
import { headPosition, type LogEventRecord, type LogReader } from '../../core/logs/log-reader.js';
import { logStreamName } from '../../core/pipeline/log-configuration.js';
import { applyTaskEvent } from '../../lambdas/shared/execution/apply-event.js';
import { AGENT_READ_INTERVAL_MS, withAgentProgress } from '../../lambdas/shared/execution/agent-progress.js';
import type { ExecutionDeps } from '../../lambdas/shared/execution/deps.js';
import { MemoryBuildStore, MemoryJobQueue, MemoryStageStore } from '../support/memory-stores.js';

const TASK = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/clone-end';
const SHA = 'e'.repeat(40);
const iso = (second: number) => `2030-06-01T10:00:${String(second).padStart(2, '0')}.000Z`;
const at = (second: number) => Date.parse(iso(second));
const c = (name: string, lastStatus: string, extra: Partial<TaskStateChangeContainer> = {}): TaskStateChangeContainer => ({ name, lastStatus, ...extra });

let store: MemoryBuildStore;
let deps: ExecutionDeps;
/** The agent's log stream of TASK, as the log reader serves it; other tasks' agents in `otherLogs`. */
let agentLog: LogEventRecord[];
let otherLogs: Map<string, LogEventRecord[]>;
let reads: number;
/** The tasks whose agent's log was read, in order. */
let readTasks: string[];
const logs: LogReader = {
  read: async (stream, from, limit) => {
    reads++;
    const task = [TASK, ...otherLogs.keys()].find((t) => stream === logStreamName(AGENT_CONTAINER, t));
    if (task) readTasks.push(task);
    const all = task === TASK ? agentLog : task ? otherLogs.get(task)! : [];
    const events = all.slice(from.offset, from.offset + limit);
    return { events, next: headPosition(from.offset + events.length), atEnd: true };
  },
};
const logged: string[] = [];
const view = { logs, log: (message: string) => void logged.push(message), now: () => deps.now(), get stages() { return deps.stages; } };

function event(id: string, version: number, extra: Partial<TaskStateChangeDetail>): TaskStateChangeDetail {
  return {
    clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/slipway', taskArn: TASK, taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/slipway-x:1',
    lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version, createdAt: iso(0), containers: [],
    overrides: { containerOverrides: [{ name: AGENT_CONTAINER, environment: [{ name: AGENT_ENV.stageId, value: `${id}/1` }] }] },
    ...extra,
  };
}

/** A running stage: its agent clones while its step, started with the task, waits in its wrapper for the setup. */
async function cloningStage(repo: string, stages = 1): Promise<string> {
  const id = buildId(repo, 1);
  const build: Build = { id, repo, number: 1, status: 'pending', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: SHA, message: '', author: '', link: '', deliveryId: `d-${repo}`, fork: false, createdAt: at(0) };
  const numbers = Array.from({ length: stages }, (_, i) => i + 1);
  const step = (stageNumber: number, number: number, name: string, container: string, kind: StepRecord['kind'], extra: Partial<StepRecord> = {}): StepRecord => ({
    buildId: id, stageNumber, number, name, container, status: 'pending', detached: false, kind, ...extra,
  });
  store.add(
    build,
    numbers.map((n) => ({ buildId: id, repo, buildNumber: 1, number: n, name: `test${n}`, status: 'pending', dependsOn: [], attempts: 0, queuedAt: at(0) })),
    numbers.flatMap((n) => [step(n, 1, 'clone', AGENT_CONTAINER, 'clone'), step(n, 2, 'test', 'step-test', 'step', { afterSetup: true })]),
  );
  for (const n of numbers) {
    const task = taskOf(n);
    await deps.stages.putStageJobs([{
      stageKey: `${id}/${n}`, buildId: id, stageNumber: n, repo, pipeline: `test${n}`, cpu: 256, memory: 512, queuedAt: at(0), runTask: {},
      taskDefinition: { family: 'slipway-x', containerDefinitions: [{ name: AGENT_CONTAINER }, { name: 'step-test' }] },
    }]);
    await deps.stages.markRunning(id, n, { attempt: 0, taskArn: task, capacity: 'FARGATE', startedAt: at(1), cpu: 256 });
    // Every container starts with the task: the agent clones, the step waits.
    await applyTaskEvent(deps, event(id, 2, { taskArn: task, updatedAt: iso(2), containers: [c(AGENT_CONTAINER, 'RUNNING'), c('step-test', 'RUNNING')], ...stageOverrides(id, n) }));
    if (n > 1) otherLogs.set(task, agentLog.slice(0, 2));
  }
  return id;
}

/** Stage 1 runs TASK; stage n another task. */
const taskOf = (stage: number): string => (stage === 1 ? TASK : `${TASK}-${stage}`);
const stageOverrides = (id: string, stage: number): Partial<TaskStateChangeDetail> => ({
  overrides: { containerOverrides: [{ name: AGENT_CONTAINER, environment: [{ name: AGENT_ENV.stageId, value: `${id}/${stage}` }] }] },
});

beforeEach(() => {
  store = new MemoryBuildStore();
  deps = { store, stages: new MemoryStageStore(store), jobs: new MemoryJobQueue(), postBuildStatus: async () => {}, nudge: async () => {}, now: () => at(59), log: () => {} };
  agentLog = [
    { timestamp: at(3), message: 'slipway-agent: pipeline "test" (stage x/1): 1 step containers, 0 services, timeout 60 minutes' },
    { timestamp: at(3), message: `slipway-agent: clone: file:///git/app refs/heads/main at ${SHA} into /drone/src` },
  ];
  otherLogs = new Map();
  reads = 0;
  readTasks = [];
  logged.length = 0;
});

const cloneOf = async (id: string) => (await store.listSteps(id, 1)).find((s) => s.kind === 'clone')!;

describe("the clone's end while the stage runs", () => {
  it('running while the agent clones; passed at the time its agent checked the commit out, with the step still running; recorded so, read once', async () => {
    const id = await cloningStage('acme/clone-live');
    // A read of the build each time a stage's agent log may be read again.
    let now = at(59);
    deps.now = () => (now += AGENT_READ_INTERVAL_MS);
    let shown = await withAgentProgress(view, (await store.getBuildDetail(id))!);
    // The step's container runs, its commands wait for the setup: pending, as a Drone step waiting for its dependencies.
    expect(shown.stages[0]!.steps.map((s) => s.status)).toEqual(['running', 'pending']);

    agentLog.push({ timestamp: at(5), message: `slipway-agent: clone: checked out ${SHA}` }, { timestamp: at(6), message: 'slipway-agent: ready: the first steps may start' });
    shown = await withAgentProgress(view, (await store.getBuildDetail(id))!);
    expect(shown.stages[0]!.steps.map((s) => [s.name, s.status])).toEqual([['clone', 'success'], ['test', 'pending']]);
    expect(shown.stages[0]!.steps[0]).toMatchObject({ startedAt: at(2), finishedAt: at(5) });
    expect(await cloneOf(id)).toMatchObject({ status: 'success', startedAt: at(2), finishedAt: at(5) });

    // Its commands start (the agent names the marker's time, a poll before its line): running from then, recorded.
    agentLog.push({ timestamp: at(8), message: `slipway-agent: step step-test started at ${new Date(at(7) + 250).toISOString()}` });
    shown = await withAgentProgress(view, (await store.getBuildDetail(id))!);
    expect(shown.stages[0]!.steps[1]).toMatchObject({ status: 'running', startedAt: at(7) + 250 });
    expect((await store.listSteps(id, 1))[1]).toMatchObject({ status: 'running', startedAt: at(7) + 250, taskArn: TASK });
  });

  it("a failed clone shows failed with the agent's words and is recorded so: later reads skip the log; the stage's end adds git's exit code", async () => {
    const id = await cloningStage('acme/clone-failed');
    const why = 'clone: fetch failed (git exit code 128): fatal: repository not found';
    agentLog.push({ timestamp: at(4), message: `slipway-agent: ${why}: the steps that run on failure still run, the others are skipped` });
    const shown = await withAgentProgress(view, (await store.getBuildDetail(id))!);
    expect(shown.stages[0]!.steps[0]).toMatchObject({ status: 'failure', finishedAt: at(4), reason: why });
    expect(await cloneOf(id)).toMatchObject({ status: 'failure', startedAt: at(2), finishedAt: at(4), reason: why, taskArn: TASK });
    // Nothing left to learn: its step runs on success and skips itself after a failed clone.
    const before = reads;
    await withAgentProgress(view, (await store.getBuildDetail(id))!);
    expect(reads).toBe(before);

    // git's exit code comes with the agent's result, at the stage's end, as for a clone that fails then.
    const result: AgentResult = { outcome: 'clone-failed', exitCode: AGENT_EXIT.cloneFailed, message: why, finishedAt: iso(6), cloneExitCode: 128 };
    deps.agentResults = async () => ({ result });
    await applyTaskEvent(deps, event(id, 5, {
      lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stopCode: 'EssentialContainerExited', updatedAt: iso(8), stoppingAt: iso(6), stoppedAt: iso(7),
      containers: [c(AGENT_CONTAINER, 'STOPPED', { exitCode: AGENT_EXIT.cloneFailed }), c('step-test', 'STOPPED', { exitCode: 0 })],
    }));
    expect(await cloneOf(id)).toMatchObject({ status: 'failure', exitCode: 128, finishedAt: at(4), reason: why });
  });

  it("reads the agent's log of at most 4 stages per read of a build (a shared GetLogEvents quota); those whose clone and step starts are known need none", async () => {
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

  it('no stage waits for ever: with more stages to read than one read reads, the least recently read go first', async () => {
    // Six stages still cloning: each read learns nothing new, and each stays worth reading.
    const id = await cloningStage('acme/clone-six', 6);
    let now = at(10);
    deps.now = () => now;
    const turns: string[][] = [];
    for (let read = 0; read < 3; read++) {
      readTasks = [];
      await withAgentProgress(view, (await store.getBuildDetail(id))!);
      turns.push([...readTasks].sort());
      now += AGENT_READ_INTERVAL_MS;
    }
    const task = (n: number) => taskOf(n);
    expect(turns[0]).toEqual([1, 2, 3, 4].map(task).sort());
    // The two not read yet, then two of those read longest ago; then the other two of those: every stage within two reads.
    expect(turns[1]).toEqual([5, 6, 1, 2].map(task).sort());
    expect(turns[2]).toEqual([3, 4, 1, 2].map(task).sort());
    expect(new Set([...turns[1]!, ...turns[2]!]).size).toBe(6);
  });

  it("writes only while the stage runs the task whose log was read: a requeue meanwhile (a new attempt) is left as it is", async () => {
    const id = await cloningStage('acme/clone-requeued');
    const read = (await store.getBuildDetail(id))!;
    agentLog.push({ timestamp: at(5), message: `slipway-agent: clone: checked out ${SHA}` }, { timestamp: at(8), message: `slipway-agent: step step-test started at ${iso(7)}` });
    // Spot interrupts the task after the build was read and before its agent's log is: the stage is requeued, its steps reset.
    await deps.stages.requeue(id, 1, { taskArn: TASK, version: 3, queuedAt: at(9), message: 'interrupted', attempt: 0 });
    for (const s of await store.listSteps(id, 1)) await store.resetStep(id, 1, s.number);
    await withAgentProgress(view, read);
    expect((await store.listSteps(id, 1)).map((s) => [s.status, s.startedAt, s.taskArn])).toEqual([['pending', undefined, undefined], ['pending', undefined, undefined]]);
    expect((await store.getStage(id, 1))?.firstStepAt).toBeUndefined();

    // The new attempt's task runs: a read of the old task's log still writes nothing onto it.
    const NEW = `${TASK}-new`;
    await deps.stages.markRunning(id, 1, { attempt: 1, taskArn: NEW, capacity: 'FARGATE', startedAt: at(10), cpu: 256 });
    await withAgentProgress(view, read);
    expect((await store.listSteps(id, 1)).map((s) => s.status)).toEqual(['pending', 'pending']);
    // The next read takes the stage's current task, whose agent has not cloned yet.
    otherLogs.set(NEW, agentLog.slice(0, 2));
    readTasks = [];
    await withAgentProgress(view, (await store.getBuildDetail(id))!);
    expect(readTasks).toEqual([NEW]);
    expect((await store.listSteps(id, 1)).map((s) => s.status)).toEqual(['pending', 'pending']);
  });

  it("the stage's first step start is the earliest known: a start read late from the agent's log replaces a later one", async () => {
    const id = await cloningStage('acme/first-step');
    // An event gave the stage a first step start at 12 s (as one of a step that does not wait in its container does).
    await deps.stages.applyEvent(id, 1, { taskArn: TASK, version: 3, attempt: 0, firstStepAt: at(12) });
    expect((await store.getStage(id, 1))?.firstStepAt).toBe(at(12));
    agentLog.push({ timestamp: at(5), message: `slipway-agent: clone: checked out ${SHA}` }, { timestamp: at(20), message: `slipway-agent: step step-test started at ${iso(7)}` });
    const shown = await withAgentProgress(view, (await store.getBuildDetail(id))!);
    expect(shown.stages[0]!.firstStepAt).toBe(at(7));
    expect((await store.getStage(id, 1))?.firstStepAt).toBe(at(7));
    // A later start never replaces it, from an event or another read.
    await deps.stages.applyEvent(id, 1, { taskArn: TASK, version: 4, attempt: 0, firstStepAt: at(15) });
    expect(await deps.stages.noteFirstStepAt(id, 1, TASK, at(9))).toBe(false);
    expect((await store.getStage(id, 1))?.firstStepAt).toBe(at(7));
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

  it("a step whose commands ended shows ended at their end while its container stays up; ECS's later stop and the stage's end agree", async () => {
    const id = await cloningStage('acme/step-ends');
    let now = at(59);
    deps.now = () => (now += AGENT_READ_INTERVAL_MS);
    agentLog.push(
      { timestamp: at(5), message: `slipway-agent: clone: checked out ${SHA}` },
      { timestamp: at(8), message: `slipway-agent: step step-test started at ${iso(7)}` },
    );
    let shown = await withAgentProgress(view, (await store.getBuildDetail(id))!);
    expect(shown.stages[0]!.steps[1]).toMatchObject({ status: 'running', startedAt: at(7) });
    // Running: its end may show, so the log is read again once due.
    const before = reads;
    await withAgentProgress(view, (await store.getBuildDetail(id))!);
    expect(reads).toBe(before + 1);

    // Its commands ended at 20 s (its exit record); its container stays up for a later step's START.
    agentLog.push({ timestamp: at(21), message: `slipway-agent: step step-test exited with code 1 at ${iso(20)}` });
    shown = await withAgentProgress(view, (await store.getBuildDetail(id))!);
    expect(shown.stages[0]!.steps[1]).toMatchObject({ status: 'failure', exitCode: 1, startedAt: at(7), finishedAt: at(20) });
    expect((await store.listSteps(id, 1))[1]).toMatchObject({ status: 'failure', exitCode: 1, startedAt: at(7), finishedAt: at(20), taskArn: TASK });
    // Nothing left to learn: no more reads.
    const after = reads;
    await withAgentProgress(view, (await store.getBuildDetail(id))!);
    expect(reads).toBe(after);

    // ECS's event of its container's stop, 30 s: the step stays as its commands ended.
    await applyTaskEvent(deps, event(id, 3, { updatedAt: iso(30), containers: [c(AGENT_CONTAINER, 'RUNNING'), c('step-test', 'STOPPED', { exitCode: 1 })] }));
    expect((await store.listSteps(id, 1))[1]).toMatchObject({ status: 'failure', exitCode: 1, startedAt: at(7), finishedAt: at(20) });
    // The stage's end, with the agent's result: the same record.
    const result: AgentResult = {
      outcome: 'failure', exitCode: AGENT_EXIT.stepFailed, message: 'step-test failed with exit code 1', finishedAt: iso(31),
      started: [{ container: 'step-test', at: iso(7) }], ended: [{ container: 'step-test', at: iso(20) }],
    };
    deps.agentResults = async () => ({ result });
    await applyTaskEvent(deps, event(id, 5, {
      lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stopCode: 'EssentialContainerExited', updatedAt: iso(33), stoppingAt: iso(31), stoppedAt: iso(32),
      containers: [c(AGENT_CONTAINER, 'STOPPED', { exitCode: AGENT_EXIT.stepFailed }), c('step-test', 'STOPPED', { exitCode: 1 })],
    }));
    expect((await store.listSteps(id, 1))[1]).toMatchObject({ status: 'failure', exitCode: 1, startedAt: at(7), finishedAt: at(20) });
    expect((await store.getStage(id, 1))?.status).toBe('failure');
  });

  it("a step's end read from the log of a task the stage no longer runs is not written (a Spot requeue)", async () => {
    const id = await cloningStage('acme/step-ends-requeued');
    agentLog.push(
      { timestamp: at(5), message: `slipway-agent: clone: checked out ${SHA}` },
      { timestamp: at(8), message: `slipway-agent: step step-test started at ${iso(7)}` },
      { timestamp: at(21), message: `slipway-agent: step step-test exited with code 0 at ${iso(20)}` },
    );
    const read = (await store.getBuildDetail(id))!;
    await deps.stages.requeue(id, 1, { taskArn: TASK, version: 3, queuedAt: at(22), message: 'interrupted', attempt: 0 });
    for (const s of await store.listSteps(id, 1)) await store.resetStep(id, 1, s.number);
    await withAgentProgress(view, read);
    expect((await store.listSteps(id, 1)).map((s) => [s.status, s.finishedAt, s.taskArn])).toEqual([['pending', undefined, undefined], ['pending', undefined, undefined]]);
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

describe("the agent's log is read only while it can still tell something, and never more often than every AGENT_READ_INTERVAL_MS", () => {
  /** The stage of `id` as read, its clone and its step passed (a running step's end may still show), with `extra` steps. */
  async function passingStage(id: string, extra: Partial<StepRecord>[], stage: Partial<BuildDetail['stages'][number]> = {}): Promise<BuildDetail> {
    const detail = (await store.getBuildDetail(id))!;
    const one = detail.stages[0]!;
    const known = one.steps.map((s) => ({ ...s, status: 'success' as const, startedAt: at(7), finishedAt: at(9) }));
    const more = extra.map((e, i) => ({ ...known[1]!, name: `extra${i}`, container: `step-extra${i}`, number: known.length + i + 1, status: 'pending' as const, startedAt: undefined, finishedAt: undefined, ...e }));
    return { ...detail, stages: [{ ...one, ...stage, steps: [...known, ...more] }] };
  }

  /** Reads of the build every second for an hour; the agent-log reads they made. */
  async function anHourOfReads(detail: () => Promise<BuildDetail>): Promise<number> {
    let now = at(59);
    deps.now = () => now;
    reads = 0;
    for (let second = 0; second < 3600; second++, now += 1000) await withAgentProgress(view, await detail());
    return reads;
  }

  it('a step that runs only on failure waits with its container on a passing build: its start comes only with the result, so the log is not read for it', async () => {
    const id = await cloningStage('acme/gated');
    const detail = await passingStage(id, [{ whenStatus: 'failure', waitsInContainer: true, afterSetup: undefined }]);
    expect(await anHourOfReads(async () => detail)).toBe(0);
    // Once a step failed it runs, and its start is in the log; a step that runs on success and failure starts either way.
    const failing = { ...detail, stages: detail.stages.map((st) => ({ ...st, steps: st.steps.map((s) => (s.name === 'test' ? { ...s, status: 'failure' as const, finishedAt: at(9) } : s)) })) };
    reads = 0;
    deps.now = () => at(59);
    await withAgentProgress(view, failing);
    expect(reads).toBe(1);
    deps.now = () => at(59) + AGENT_READ_INTERVAL_MS;
    const always = await passingStage(id, [{ whenStatus: 'always', waitsInContainer: true, afterSetup: undefined }]);
    await withAgentProgress(view, always);
    expect(reads).toBe(2);
  });

  it("a detached step of a split stage's service task, and a step an earlier segment's task ran, are not in the current task's log", async () => {
    const id = await cloningStage('acme/split');
    const detail = await passingStage(id, [{ detached: true }, { status: 'success', taskArn: `${TASK}-segment-1`, finishedAt: at(20) }], { segment: 2, segments: 2, serviceTaskArn: `${TASK}-services` });
    expect(await anHourOfReads(async () => detail)).toBe(0);
    // The same steps in the current task's log: read.
    const own = await passingStage(id, [{ detached: true }, { status: 'success', taskArn: TASK, finishedAt: at(20) }], { segment: 2, segments: 2 });
    await withAgentProgress(view, own);
    expect(reads).toBe(1);
  });

  it('a page open for an hour reads a stage whose log never tells (a later segment\'s step, a start beyond the head) once per interval, with the read time recorded', async () => {
    const id = await cloningStage('acme/never-told');
    agentLog.push({ timestamp: at(5), message: `slipway-agent: clone: checked out ${SHA}` });
    // The stage's step waits and its start never shows in the part of the log that is read.
    const count = await anHourOfReads(async () => (await store.getBuildDetail(id))!);
    expect(count).toBe(3600_000 / AGENT_READ_INTERVAL_MS);
    expect((await store.getStage(id, 1))?.agentReadAt).toBe(at(59) + 3600_000 - AGENT_READ_INTERVAL_MS);
    // The clone's end was read the first time all the same.
    expect((await store.listSteps(id, 1))[0]).toMatchObject({ status: 'success', finishedAt: at(5) });
  });

  it('reads the head of the agent log in one call', async () => {
    const id = await cloningStage('acme/one-call');
    const options: (number | undefined)[] = [];
    const counting: LogReader = { read: async (stream, from, limit, readOptions) => (options.push(readOptions?.maxCalls), logs.read(stream, from, limit)) };
    await withAgentProgress({ ...view, logs: counting }, (await store.getBuildDetail(id))!);
    expect(options).toEqual([1]);
  });
});
