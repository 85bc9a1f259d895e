// The clone shows passed when it ended, with its real times, while the steps that started with
// the task still run (lambdas/shared/execution/clone-end.ts, apply-event.ts): ECS's events
// carry no health (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html),
// so without the agent's lines the clone stayed `running` until a step passed, and kept that
// step's end as its own.

import { beforeEach, describe, expect, it } from 'vitest';
import { buildId, type Build, type StepRecord } from '../../core/builds/types.js';
import type { TaskStateChangeContainer, TaskStateChangeDetail } from '../../core/builds/task-event.js';
import { AGENT_CONTAINER, AGENT_ENV, AGENT_EXIT, type AgentResult } from '../../core/pipeline/contract.js';
import { headPosition, type LogEventRecord, type LogReader } from '../../core/logs/log-reader.js';
import { logStreamName } from '../../core/pipeline/log-configuration.js';
import { applyTaskEvent } from '../../lambdas/shared/execution/apply-event.js';
import { withCloneEnds } from '../../lambdas/shared/execution/clone-end.js';
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
    let shown = await withCloneEnds(view, (await store.getBuildDetail(id))!);
    expect(shown.stages[0]!.steps.map((s) => s.status)).toEqual(['running', 'running']);

    agentLog.push({ timestamp: at(5), message: `slipway-agent: clone: checked out ${SHA}` }, { timestamp: at(6), message: 'slipway-agent: ready: the first steps may start' });
    shown = await withCloneEnds(view, (await store.getBuildDetail(id))!);
    expect(shown.stages[0]!.steps.map((s) => [s.name, s.status])).toEqual([['clone', 'success'], ['test', 'running']]);
    expect(shown.stages[0]!.steps[0]).toMatchObject({ startedAt: at(2), finishedAt: at(5) });
    expect(await cloneOf(id)).toMatchObject({ status: 'success', startedAt: at(2), finishedAt: at(5) });

    const before = reads;
    await withCloneEnds(view, (await store.getBuildDetail(id))!);
    expect(reads).toBe(before);
  });

  it('a failed clone shows failed with the agent\'s words while the steps that run on failure go on; the stage\'s end records it', async () => {
    const id = await cloningStage('acme/clone-failed');
    const why = 'clone: fetch failed (git exit code 128): fatal: repository not found';
    agentLog.push({ timestamp: at(4), message: `slipway-agent: ${why}: the steps that run on failure still run, the others are skipped` });
    const shown = await withCloneEnds(view, (await store.getBuildDetail(id))!);
    expect(shown.stages[0]!.steps[0]).toMatchObject({ status: 'failure', finishedAt: at(4), reason: why });
    // git's exit code comes with the agent's result, at the stage's end.
    expect((await cloneOf(id)).status).toBe('running');
  });

  it('reads the agent\'s log of at most 4 stages per read of a build (a shared GetLogEvents quota); those whose clone is known need none', async () => {
    const id = await cloningStage('acme/clone-many');
    const detail = (await store.getBuildDetail(id))!;
    const one = detail.stages[0]!;
    const stages = [1, 2, 3, 4, 5, 6].map((number) => ({ ...one, number, name: `s${number}` }));
    stages.push({ ...one, number: 7, name: 'cloned', steps: one.steps.map((s) => (s.kind === 'clone' ? { ...s, status: 'success' as const } : s)) });
    await withCloneEnds(view, { ...detail, stages });
    expect(reads).toBe(4);
  });

  it('a log that cannot be read leaves the records as they are, and says so', async () => {
    const id = await cloningStage('acme/clone-unread');
    const failing: LogReader = { read: async () => { throw new Error('ThrottlingException: Rate exceeded'); } };
    const shown = await withCloneEnds({ ...view, logs: failing }, (await store.getBuildDetail(id))!);
    expect(shown.stages[0]!.steps[0]!.status).toBe('running');
    expect(logged).toEqual(["clone: its agent's log could not be read; its record is shown as stored"]);
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
