// The stage message in the agent's own words: applyTaskEvent (the task-events handler's
// work) on the in-memory stores (test/support/memory-stores.ts; the same contract as the
// DynamoDB adapters: test/adapters/store-contract.test.ts) and the agent's log in the local log store,
// read through the same reader as the API's. Missing, unreadable or mismatched lines
// leave the generic text; duplicate and older events change nothing.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskStateChangeContainer, TaskStateChangeDetail } from '../../core/builds/task-event.js';
import type { Build } from '../../core/builds/types.js';
import { AGENT_CONTAINER, AGENT_ENV, AGENT_EXIT, type AgentResult } from '../../core/pipeline/contract.js';
import { logStreamName } from '../../core/pipeline/log-configuration.js';
import { localLogReader } from '../../local/log-reader.js';
import { agentResultSource } from '../../lambdas/task-events/agent-result.js';
import { applyTaskEvent } from '../../lambdas/shared/execution/apply-event.js';
import type { ExecutionDeps } from '../../lambdas/shared/execution/deps.js';
import { LogStore } from '../../local/ecs/logs.js';
import { resultLine } from '../../task-runner/report.js';
import { MemoryBuildStore, MemoryStageStore, refusingJobQueue } from '../support/memory-stores.js';

const GROUP = '/slipway/builds';
const REPO = 'acme/messages';

let logsDir: string;
let logStore: LogStore;
let deps: ExecutionDeps;
let store: MemoryBuildStore;
const posted: Build[] = [];
const logged: { message: string; fields?: Record<string, unknown> }[] = [];
let buildCount = 0;

beforeAll(async () => {
  logsDir = mkdtempSync(join(tmpdir(), 'slipway-agent-message-'));
  logStore = new LogStore(logsDir);
  store = new MemoryBuildStore();
  deps = {
    store,
    stages: new MemoryStageStore(store),
    jobs: refusingJobQueue('no stage here has dependents'),
    postBuildStatus: async (build) => void posted.push(build),
    nudge: async () => {},
    now: Date.now,
    log: (message, fields) => void logged.push({ message, ...(fields ? { fields } : {}) }),
    agentResults: agentResultSource(localLogReader(logsDir, GROUP), { retryDelaysMs: [0] }),
  };
});

afterAll(async () => {
  if (logsDir) rmSync(logsDir, { recursive: true, force: true });
});

/** A running one-stage build: clone, service `cache`, step `use-cache`, on task `arn`. */
async function seed(): Promise<{ buildId: string; taskArn: string }> {
  const number = ++buildCount;
  const id = `${REPO}#${number}`;
  const taskArn = `arn:aws:ecs:us-east-1:000000000000:task/slipway/task${number}`;
  const now = Date.now();
  store.add(
    { id, repo: REPO, number, status: 'running', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: 'abc', message: '', author: '', link: '', deliveryId: `am-${number}`, fork: false, createdAt: now },
    [{ buildId: id, repo: REPO, buildNumber: number, number: 1, name: 'test', status: 'running', dependsOn: [], attempts: 1, taskArn, eventVersion: 2, queuedAt: now }],
    [
      { buildId: id, stageNumber: 1, number: 1, name: 'clone', container: AGENT_CONTAINER, status: 'success', detached: false, kind: 'clone' },
      { buildId: id, stageNumber: 1, number: 2, name: 'cache', container: 'cache', status: 'running', detached: false, kind: 'service' },
      { buildId: id, stageNumber: 1, number: 3, name: 'use-cache', container: 'use-cache', status: 'pending', detached: false, kind: 'step' },
    ],
  );
  return { buildId: id, taskArn };
}

function agentSays(taskArn: string, ...lines: string[]): void {
  const writer = logStore.writer({ group: GROUP, stream: logStreamName(AGENT_CONTAINER, taskArn), taskArn, container: AGENT_CONTAINER });
  writer.line('stdout', 'slipway-agent: pipeline "test": 1 step containers, 1 services, timeout 60 minutes');
  for (const line of lines) writer.line('stdout', line);
}

const NOT_READY = 'service "cache" (port 6391) not ready after 2 s: port 6391 not accepting connections on localhost';
const notReady = (extra: Partial<AgentResult> = {}): AgentResult => ({
  outcome: 'service-not-ready',
  exitCode: AGENT_EXIT.serviceNotReady,
  message: NOT_READY,
  finishedAt: new Date().toISOString(),
  service: { name: 'cache', container: 'cache', ports: [6391], check: 'port' },
  ...extra,
});

function event(taskArn: string, buildId: string, version: number, lastStatus: string, containers: TaskStateChangeContainer[]): TaskStateChangeDetail {
  return {
    clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/slipway',
    taskArn,
    taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/slipway-x:1',
    lastStatus,
    desiredStatus: 'STOPPED',
    version,
    ...(lastStatus === 'STOPPED' ? { stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited' } : {}),
    containers,
    overrides: { containerOverrides: [{ name: AGENT_CONTAINER, environment: [{ name: AGENT_ENV.stageId, value: `${buildId}/1` }] }] },
  };
}
const stopped = (name: string, exitCode?: number): TaskStateChangeContainer => ({ name, lastStatus: 'STOPPED', ...(exitCode === undefined ? {} : { exitCode }) });

describe('the stage says what the agent said', () => {
  it('service not ready: the stage, the service record and the commit status name the service and the port', async () => {
    const { buildId, taskArn } = await seed();
    agentSays(taskArn, 'slipway-agent: gate: waiting for service "cache": port 6391 not accepting connections on localhost', resultLine(notReady()));

    // The task is stopping: the agent has exited, the stop signal ended the service. Which
    // service failed is known only with the outcome: its record waits for STOPPED.
    const stopping = event(taskArn, buildId, 3, 'STOPPING', [stopped(AGENT_CONTAINER, AGENT_EXIT.serviceNotReady), stopped('cache', 143), stopped('use-cache')]);
    expect(await applyTaskEvent(deps, stopping)).toMatchObject({ applied: true, status: 'running' });
    expect((await store.listSteps(buildId, 1)).find((s) => s.name === 'cache')!.status).toBe('running');

    const final = event(taskArn, buildId, 4, 'STOPPED', [stopped(AGENT_CONTAINER, AGENT_EXIT.serviceNotReady), stopped('cache', 143), stopped('use-cache')]);
    expect(await applyTaskEvent(deps, final)).toMatchObject({ applied: true, status: 'failure' });
    const stage = (await store.getStage(buildId, 1))!;
    expect({ status: stage.status, reason: stage.reason, message: stage.message }).toEqual({ status: 'failure', reason: 'service-not-ready', message: NOT_READY });
    const steps = await store.listSteps(buildId, 1);
    expect(steps.find((s) => s.name === 'cache')).toMatchObject({ status: 'failure', exitCode: 143, reason: NOT_READY });
    expect(steps.find((s) => s.name === 'use-cache')!.status).toBe('skipped');
    expect(posted.filter((b) => b.id === buildId).map((b) => [b.status, b.error])).toEqual([['failure', NOT_READY]]);
    // Not stored on the build: `error` is for builds that could not run at all.
    expect((await store.getBuild(buildId))!.error).toBeUndefined();

    // A duplicate and an older event change nothing, and post nothing again.
    expect(await applyTaskEvent(deps, final)).toMatchObject({ applied: false });
    expect(await applyTaskEvent(deps, stopping)).toMatchObject({ applied: false });
    expect((await store.getStage(buildId, 1))!.message).toBe(NOT_READY);
    expect(posted.filter((b) => b.id === buildId)).toHaveLength(1);
  });

  it('clone failed: the stage and the clone record carry git\'s reason', async () => {
    const { buildId, taskArn } = await seed();
    const message = 'clone: fetch failed (git exit code 128): fatal: repository \'http://git.example/acme/messages\' not found';
    agentSays(taskArn, resultLine({ outcome: 'clone-failed', exitCode: AGENT_EXIT.cloneFailed, message, finishedAt: new Date().toISOString() }));
    await applyTaskEvent(deps, event(taskArn, buildId, 3, 'STOPPED', [stopped(AGENT_CONTAINER, AGENT_EXIT.cloneFailed), stopped('cache', 143), stopped('use-cache')]));
    expect((await store.getStage(buildId, 1))).toMatchObject({ status: 'failure', reason: 'clone-failed', message });
    // The clone step was seeded `success` here (final): the stage holds the message.
    expect((await store.listSteps(buildId, 1)).find((s) => s.name === 'cache')!.status).toBe('success');
  });

  it('agent error: only the first line of a stack trace, cut to size', async () => {
    const { buildId, taskArn } = await seed();
    const message = `agent: unexpected error: TypeError: x is undefined${'!'.repeat(600)}\n    at runAgent (agent.ts:10:5)`;
    agentSays(taskArn, resultLine({ outcome: 'error', exitCode: AGENT_EXIT.internalError, message, finishedAt: new Date().toISOString() }));
    await applyTaskEvent(deps, event(taskArn, buildId, 3, 'STOPPED', [stopped(AGENT_CONTAINER, AGENT_EXIT.internalError)]));
    const stage = (await store.getStage(buildId, 1))!;
    expect(stage).toMatchObject({ status: 'error', reason: 'agent-error' });
    expect(stage.message).toMatch(/^agent: unexpected error: TypeError: x is undefined!+…$/);
    expect(stage.message!.length).toBe(400);
  });

  it('falls back to the generic text, and logs why, when the line is missing', async () => {
    const { buildId, taskArn } = await seed();
    agentSays(taskArn, 'slipway-agent: gate: waiting for service "cache"'); // killed before its result line
    const applied = await applyTaskEvent(deps, event(taskArn, buildId, 3, 'STOPPED', [stopped(AGENT_CONTAINER, AGENT_EXIT.serviceNotReady), stopped('cache', 143)]));
    expect(applied).toMatchObject({ applied: true, status: 'failure' });
    expect((await store.getStage(buildId, 1))).toMatchObject({ reason: 'service-not-ready', message: 'a service did not become ready in time' });
    // Without the agent's word, which service failed is unknown: the service keeps its normal end.
    expect((await store.listSteps(buildId, 1)).find((s) => s.name === 'cache')!.status).toBe('success');
    const why = logged.find((l) => l.message.startsWith('agent result not read') && l.fields?.taskArn === taskArn);
    expect(why?.fields?.why).toMatch(/no SLIPWAY_RESULT line in the last 2 lines/);
    expect(posted.filter((b) => b.id === buildId).map((b) => b.error)).toEqual(['a service did not become ready in time']);
  });

  it('ignores a result whose exit code is not the one ECS reports', async () => {
    const { buildId, taskArn } = await seed();
    agentSays(taskArn, resultLine(notReady({ exitCode: AGENT_EXIT.stepFailed, outcome: 'failure' })));
    await applyTaskEvent(deps, event(taskArn, buildId, 3, 'STOPPED', [stopped(AGENT_CONTAINER, AGENT_EXIT.serviceNotReady), stopped('cache', 143)]));
    expect((await store.getStage(buildId, 1))!.message).toBe('a service did not become ready in time');
  });

  it('a reader that fails or hangs never fails the event', async () => {
    const failing = {
      ...deps,
      agentResults: agentResultSource({ tail: () => Promise.reject(new Error('AccessDeniedException: not allowed')) }, { retryDelaysMs: [] }),
    };
    const a = await seed();
    expect(await applyTaskEvent(failing, event(a.taskArn, a.buildId, 3, 'STOPPED', [stopped(AGENT_CONTAINER, AGENT_EXIT.cloneFailed)]))).toMatchObject({ applied: true, status: 'failure' });
    expect((await store.getStage(a.buildId, 1))!.message).toBe('the clone failed');
    expect(logged.find((l) => l.fields?.taskArn === a.taskArn)?.fields?.why).toMatch(/failed: AccessDeniedException/);

    const hanging = { ...deps, agentResults: agentResultSource({ tail: () => new Promise(() => {}) }, { retryDelaysMs: [], readTimeoutMs: 50 }) };
    const b = await seed();
    expect(await applyTaskEvent(hanging, event(b.taskArn, b.buildId, 3, 'STOPPED', [stopped(AGENT_CONTAINER, AGENT_EXIT.timedOut)]))).toMatchObject({ applied: true });
    expect((await store.getStage(b.buildId, 1))!.message).toBe('the pipeline ran past its timeout');
    expect(logged.find((l) => l.fields?.taskArn === b.taskArn)?.fields?.why).toMatch(/took over 50 ms/);
  });

  it('reads the result of a stage that passed for its timeline only (the agent setup times), not for a message', async () => {
    let reads = 0;
    const setup = { startedAt: '2024-01-01T00:00:10.000Z', clonedAt: '2024-01-01T00:00:12.000Z', readyAt: '2024-01-01T00:00:15.000Z' };
    const result = { outcome: 'success' as const, exitCode: AGENT_EXIT.success, message: 'all steps passed', finishedAt: '2024-01-01T00:01:00.000Z', setup };
    const counting = { ...deps, agentResults: async () => (reads++, { result }) };
    const { buildId, taskArn } = await seed();
    await applyTaskEvent(counting, event(taskArn, buildId, 3, 'STOPPED', [stopped(AGENT_CONTAINER, AGENT_EXIT.success), stopped('cache', 143), stopped('use-cache', 0)]));
    const stage = (await store.getStage(buildId, 1))!;
    expect(stage.status).toBe('success');
    expect(reads).toBe(1);
    expect(stage.timeline).toMatchObject({ agentStartedAt: Date.parse(setup.startedAt), clonedAt: Date.parse(setup.clonedAt), readyAt: Date.parse(setup.readyAt) });
  });

  it('does not read the log of a task whose agent never ran', async () => {
    let reads = 0;
    const counting = { ...deps, agentResults: async () => (reads++, { missing: 'not expected' }) };
    const { buildId, taskArn } = await seed();
    await applyTaskEvent(counting, event(taskArn, buildId, 3, 'STOPPED', [{ name: AGENT_CONTAINER, lastStatus: 'STOPPED' }]));
    expect(reads).toBe(0);
  });
});
