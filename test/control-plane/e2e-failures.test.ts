// The failures DESIGN.md promises end in a clear, correct status, end to end on the local
// stand-ins (real handlers, DynamoDB Local, fauxqs, the ECS stand-in running the real agent
// as host processes): a service that never opens its port, and a Fargate Spot interruption
// (requeued once on on-demand; a second interruption ends the stage).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stepChanges } from '../../core/builds/status.js';
import { stagePhases } from '../../core/builds/stage-timeline.js';
import { commandStartsFromAgentLog } from '../../core/builds/step-starts.js';
import type { BuildDetail, Stage, StepRecord } from '../../core/builds/types.js';
import { AGENT_CONTAINER, AGENT_EXIT } from '../../core/pipeline/contract.js';
import { SPOT_INTERRUPTION_REASON } from '../../local/ecs/index.js';
import { startE2e, stepTable, type E2e } from '../support/control-plane-e2e.js';
import { HANG_GUARD_MS } from '../support/wait.js';

// The service runs but never listens on its declared port: the agent gives up after 2 s.
// Containers here run their own entrypoint rather than `commands:`: the commands wrapper
// acts on SIGTERM only once the running command ends, so every stop would wait for the
// 30 s stopTimeout (as on ECS) — these processes end at the signal, as a server does.
const SERVICE_DOWN = `kind: pipeline
type: docker
name: test
services:
- name: cache
  image: alpine:3
  entrypoint: [sleep]
  command: ['60']
  ready:
    ports: [6391]
    timeout: 2
    interval: 1
steps:
- name: use-cache
  image: alpine:3
  commands:
  - echo "must not run"
`;

// One service healthy at its first check (5 s), another that opens its port only after 9 s:
// the agent reports healthy at about 10 s, when the first step may start. ECS times a
// dependency's startTimeout from that dependency's own start even once it is healthy
// (aws/amazon-ecs-agent agent/engine/dependencygraph/graph.go, hasDependencyTimedOut), so
// a startTimeout of 7 s on "quick" (its old value, from ready.timeout) would stop the step
// with exit 143 at 7 s. The ECS stand-in applies that rule.
const SLOW_READINESS = `kind: pipeline
type: docker
name: test
services:
- name: quick
  image: alpine:3
  entrypoint: [sleep]
  command: ['60']
  ready:
    command: 'true'
    timeout: 7
    interval: 1
- name: slow
  image: alpine:3
  entrypoint: [/bin/sh, -c]
  command:
  - sleep 9; exec node -e "require('net').createServer().listen(6397)"
  ready:
    ports: [6397]
    timeout: 30
steps:
- name: first
  image: alpine:3
  entrypoint: [/bin/sh, -c]
  command:
  - echo first ran
`;

// A step with commands behind a service that takes seconds to listen: its container starts with
// the task and its wrapper waits for the setup (the agent's setup record), then runs `sleep 1`.
// In Drone a step starts when the runner starts it, after its dependencies (runner-go
// pipeline/runtime/execer.go, state.Start before engine.Run): its time is its commands'.
const BEHIND_SLOW_SERVICE = `kind: pipeline
type: docker
name: test
services:
- name: db
  image: alpine:3
  entrypoint: [/bin/sh, -c]
  command:
  - sleep 5; exec node -e "require('net').createServer().listen(6398)"
  ready:
    ports: [6398]
    timeout: 60
steps:
- name: work
  image: alpine:3
  commands:
  - sleep 1
`;

/**
 * A step that holds until `gate` exists: it is running when the test interrupts its task. Its
 * shell is its container's PID 1, as on ECS, so it ends on SIGTERM only with a handler (else
 * it would run on until the SIGKILL at stopTimeout, 30 s).
 */
const gated = (gate: string) => `kind: pipeline
type: docker
name: test
steps:
- name: work
  image: alpine:3
  entrypoint: [/bin/sh, -c]
  command:
  - trap 'exit 143' TERM; echo working; while [ ! -f ${gate} ]; do sleep 0.2; done; echo work done
`;

let e2e: E2e;
let gateDir: string;

beforeAll(async () => {
  gateDir = mkdtempSync(join(tmpdir(), 'slipway-e2e-gate-'));
  // Spot first, as a deployment with USE_SPOT=true runs every stage.
  // The steps wait for gate files the test writes: the stand-in shows them this directory.
  e2e = await startE2e({ name: 'e2e-failures', env: { USE_SPOT: 'true' }, sharedPaths: [gateDir] });
});

afterAll(async () => {
  await e2e?.stop();
  if (gateDir) rmSync(gateDir, { recursive: true, force: true });
});

type TaskJson = { taskArn: string; lastStatus: string; desiredStatus: string; stopCode?: string; stoppedReason?: string; capacityProviderName?: string; containers: { name: string; exitCode?: number }[] };
const task = (arn: string | undefined): TaskJson => e2e.aws.ecs.tasks().find((t) => t.taskArn === arn) as unknown as TaskJson;
const agentLog = (arn: string): string => e2e.aws.ecs.logs(arn, AGENT_CONTAINER).map((l) => l.message).join('\n');

async function push(pipeline: string, delivery: string): Promise<{ sha: string; buildId: string }> {
  const sha = e2e.commit(pipeline, delivery);
  const accepted = await e2e.push(sha, delivery);
  const buildId = await e2e.waitFor(`a build for ${delivery}`, () => e2e.store.buildForDelivery(String(accepted.body.deliveryId)));
  return { sha, buildId };
}

/** The stage once its task's step container is running (the moment to interrupt it). */
async function stepRunning(buildId: string, previousTask?: string): Promise<Stage & { taskArn: string }> {
  return e2e.waitFor(
    `the step of build ${buildId} running${previousTask ? ' again' : ''}`,
    async () => {
      const stage = (await e2e.store.getBuildDetail(buildId))?.stages[0];
      if (!stage?.taskArn || stage.taskArn === previousTask || stage.status !== 'running') return undefined;
      const ecsTask = task(stage.taskArn);
      const work = ecsTask?.containers.find((c) => c.name === stage.steps.find((s) => s.name === 'work')?.container);
      return work && e2e.aws.ecs.logs(stage.taskArn, work.name).some((l) => l.message === 'working') ? (stage as Stage & { taskArn: string }) : undefined;
    },
    HANG_GUARD_MS,
    () => e2e.describeBuild(buildId),
  );
}

describe('failures end in a clear, correct status', () => {
  it("an image local mode cannot run fails its step in error with ECS's reason, on the step and in the stage's message, not 'did not run' (issue 17)", async () => {
    const pipeline = `kind: pipeline\ntype: docker\nname: test\nsteps:\n- name: tool\n  image: ghcr.io/acme/tool:1\n`;
    const detail = await e2e.buildOf(pipeline, 'e2e-image-cannot-run-1');
    expect(detail.status).toBe('failure');
    const stage = detail.stages[0]!;
    const step = stage.steps.find((s) => s.name === 'tool')!;
    expect(step.status).toBe('error');
    expect(step.reason).toMatch(/^CannotStartContainerError: image ghcr\.io\/acme\/tool:1 cannot run locally: it has no entryPoint or command/);
    expect(stage.message).toMatch(/^build failed: tool could not start: CannotStartContainerError: image ghcr\.io\/acme\/tool:1 cannot run locally/);
    expect(stage.message).not.toContain('did not run');
  });

  it('a service that never opens its port fails the stage (service-not-ready); the step never runs; the task is gone', async () => {
    const { sha } = await push(SERVICE_DOWN, 'e2e-service-down-1');
    const detail = await e2e.finishedBuild('e2e-service-down-1');
    expect(detail.status).toBe('failure');
    const [stage] = detail.stages;
    expect({ status: stage!.status, reason: stage!.reason, exitCode: stage!.exitCode, attempts: stage!.attempts }).toEqual({
      status: 'failure',
      reason: 'service-not-ready',
      exitCode: AGENT_EXIT.serviceNotReady,
      attempts: 1,
    });
    // What users see names the service, the port and the check that failed: the agent's
    // own message, read from its log stream by the task-events handler.
    const notReady = 'service "cache" (port 6391) not ready after 2 s: port 6391 not accepting connections on localhost';
    expect(stage!.message).toBe(notReady);
    const steps = Object.fromEntries(stage!.steps.map((s) => [`${s.kind}:${s.name}`, s.status]));
    expect(steps['clone:clone']).toBe('success');
    expect(steps['step:use-cache']).toBe('skipped');
    // The service that never became ready is itself failed, for that reason (its container
    // ended by the task's stop signal, which is otherwise a service's normal end).
    expect(stage!.steps.find((s) => s.kind === 'service' && s.name === 'cache')).toMatchObject({ status: 'failure', reason: notReady });
    // The agent's result line carries it as data too.
    expect(agentLog(stage!.taskArn!)).toContain(
      `"service":${JSON.stringify({ name: 'cache', container: stage!.steps.find((s) => s.name === 'cache')!.container, ports: [6391], check: 'port' })}`,
    );
    const useCache = stage!.steps.find((s) => s.name === 'use-cache')!;
    expect(e2e.aws.ecs.logs(stage!.taskArn!, useCache.container).map((l) => l.message)).not.toContain('must not run');
    // Its container ran (waiting for the setup, then skipping itself), its commands did not: no times, no duration.
    expect([useCache.startedAt, useCache.finishedAt]).toEqual([undefined, undefined]);
    // The clone ended when its agent checked the commit out, not when the task began to stop.
    const clone = stage!.steps.find((s) => s.kind === 'clone')!;
    expect(stage!.timeline?.clonedAt).toBeDefined();
    expect(clone.finishedAt).toBe(stage!.timeline!.clonedAt);

    // The task is gone: stopped by its essential agent, the service with it.
    const ecsTask = task(stage!.taskArn);
    expect({ lastStatus: ecsTask.lastStatus, stopCode: ecsTask.stopCode }).toEqual({ lastStatus: 'STOPPED', stopCode: 'EssentialContainerExited' });
    expect(ecsTask.containers.find((c) => c.name === AGENT_CONTAINER)!.exitCode).toBe(AGENT_EXIT.serviceNotReady);

    await e2e.waitForFinalStatus(sha);
    expect(e2e.statusesOf(sha).map((s) => s.state)).toEqual(['pending', 'failure']);
    // GitHub keeps 140 characters of a description: the service and its port fit.
    expect(e2e.statusesOf(sha)[1]!.description).toBe(`Build #${detail.number} failed: ${notReady}`);
    expect(e2e.statusesOf(sha)[1]!.description.length).toBeLessThanOrEqual(140);
  });

  it('a service healthy at once does not stop the first step while the readiness of another takes longer than its ready.timeout (no startTimeout)', async () => {
    const { buildId } = await push(SLOW_READINESS, 'e2e-slow-readiness-1');
    const detail = await e2e.finishedBuild('e2e-slow-readiness-1');
    const [stage] = detail.stages;
    const first = stage!.steps.find((s) => s.name === 'first')!;
    expect(
      stepTable(detail),
      `${await e2e.describeBuild(buildId)}\nstep container: ${JSON.stringify(task(stage!.taskArn).containers.find((c) => c.name === first.container))}`,
    ).toEqual([{ stage: 'test', status: 'success', steps: ['clone:clone=success', 'service:quick=success', 'service:slow=success', 'step:first=success'] }]);
    expect(e2e.aws.ecs.logs(stage!.taskArn!, first.container).map((l) => l.message)).toContain('first ran');
    // Ready after its 9 s sleep (counted from the gate's start): longer than quick's ready.timeout.
    // No upper bound: how much longer its node takes to listen is the machine's pace.
    const readyAfter = /gate: service "slow" ready after (\d+\.\d) s/.exec(agentLog(stage!.taskArn!))?.[1];
    expect(readyAfter, agentLog(stage!.taskArn!)).toMatch(/^\d+\.\d$/);
    expect(Number(readyAfter)).toBeGreaterThanOrEqual(6);
  });

  it("a step behind a slow service starts when its commands do, after the services are ready: its time is its commands', not its container's wait", async () => {
    const detail = await e2e.buildOf(BEHIND_SLOW_SERVICE, 'e2e-step-start-1');
    const [stage] = detail.stages;
    expect(stepTable(detail), await e2e.describeBuild(detail.id)).toEqual([{ stage: 'test', status: 'success', steps: ['clone:clone=success', 'service:db=success', 'step:work=success'] }]);
    const work = stage!.steps.find((s) => s.name === 'work')!;
    const t = stage!.timeline!;
    // The services took seconds (the gate says how many); the step's container started with the task.
    expect(t.readyAt, JSON.stringify(t)).toBeDefined();
    // db sleeps 5 s in its container before it listens, and no container starts before its task
    // is created: at least 5 s from then, however long the clone took (the gate counts from its own start).
    expect(agentLog(stage!.taskArn!)).toMatch(/gate: service "db" ready after \d+\.\d s/);
    expect(t.readyAt! - t.taskCreatedAt!, JSON.stringify(t)).toBeGreaterThanOrEqual(5000);
    // Its start is its commands' (its wrapper's `.started` marker, written after the setup record): after the setup.
    expect(work.startedAt!, JSON.stringify({ work, t })).toBeGreaterThanOrEqual(t.readyAt!);
    const stepLines = e2e.aws.ecs.logs(stage!.taskArn!, work.container);
    const firstCommand = stepLines.find((l) => l.message === '+ sleep 1');
    expect(firstCommand, stepLines.map((l) => l.message).join('\n')).toBeDefined();
    expect(work.startedAt!).toBeLessThanOrEqual(firstCommand!.timestamp);
    // Its span holds its commands (sleep 1); no upper bound: the rest is the machine's pace.
    expect(work.finishedAt! - work.startedAt!).toBeGreaterThanOrEqual(1000);
    // The agent's progress line names the same start, which the API reads while the stage runs.
    const lines = e2e.aws.ecs.logs(stage!.taskArn!, AGENT_CONTAINER).map((l) => ({ time: l.timestamp, text: l.message }));
    expect(commandStartsFromAgentLog(lines).get(work.container)).toBe(work.startedAt);
    // The stage's timeline follows: its first step starts once the services are ready.
    const phases = stagePhases(stage!, stage!.steps);
    expect(phases.find((p) => p.name === 'first step')?.to).toBe(work.startedAt);
  });

  it('a Spot interruption requeues the stage once on on-demand FARGATE; the retry passes', async () => {
    const tasksBefore = e2e.aws.ecs.tasks().length;
    const gate = join(gateDir, 'spot-once');
    const { sha, buildId } = await push(gated(gate), 'e2e-spot-once-1');

    const first = await stepRunning(buildId);
    expect(first.capacity).toBe('FARGATE_SPOT');
    expect(task(first.taskArn).capacityProviderName).toBe('FARGATE_SPOT');
    e2e.aws.ecs.interrupt(first.taskArn);

    // Requeued: a new task on on-demand capacity; the step runs again and now finds its gate.
    const second = await stepRunning(buildId, first.taskArn);
    expect(second.capacity).toBe('FARGATE');
    writeFileSync(gate, 'go\n');

    const detail = await e2e.finishedBuild('e2e-spot-once-1');
    expect(detail.status).toBe('success');
    expect(stepTable(detail)).toEqual([{ stage: 'test', status: 'success', steps: ['clone:clone=success', 'step:work=success'] }]);
    const [stage] = detail.stages;
    expect({ reason: stage!.reason, attempts: stage!.attempts, capacity: stage!.capacity, taskArn: stage!.taskArn }).toEqual({
      reason: 'steps-passed',
      attempts: 2,
      capacity: 'FARGATE',
      taskArn: second.taskArn,
    });

    // Exactly two tasks: the interrupted Spot one (its agent recorded the SIGTERM) and the on-demand retry.
    const started = e2e.aws.ecs.tasks().slice(tasksBefore) as unknown as TaskJson[];
    expect(started.map((t) => [t.taskArn, t.capacityProviderName, t.stopCode])).toEqual([
      [first.taskArn, 'FARGATE_SPOT', 'SpotInterruption'],
      [second.taskArn, 'FARGATE', 'EssentialContainerExited'],
    ]);
    expect(started[0]!.stoppedReason).toBe(SPOT_INTERRUPTION_REASON);
    expect(started[0]!.containers.find((c) => c.name === AGENT_CONTAINER)!.exitCode).toBe(AGENT_EXIT.interrupted);
    expect(agentLog(first.taskArn)).toMatch(/interrupted by SIGTERM while supervising steps/);
    expect(e2e.logLines.filter((l) => l.message === 'stage requeued on on-demand after a Spot interruption' && l.taskArn === first.taskArn)).toHaveLength(1);

    await e2e.waitForFinalStatus(sha);
    expect(e2e.statusesOf(sha).map((s) => s.state).filter((s) => s !== 'pending')).toEqual(['success']);
  });

  it('an interruption of the on-demand retry ends the stage (spot-interrupted) and the build in error', async () => {
    const { sha, buildId } = await push(gated(join(gateDir, 'never')), 'e2e-spot-twice-1');
    const first = await stepRunning(buildId);
    e2e.aws.ecs.interrupt(first.taskArn);
    const second = await stepRunning(buildId, first.taskArn);
    expect(second.capacity).toBe('FARGATE');
    // AWS never Spot-interrupts on-demand capacity; a termination notice can stop it.
    expect(() => e2e.aws.ecs.interrupt(second.taskArn, { stopCode: 'SpotInterruption' })).toThrow(/not FARGATE_SPOT/);
    e2e.aws.ecs.interrupt(second.taskArn);

    const detail: BuildDetail = await e2e.finishedBuild('e2e-spot-twice-1');
    expect(detail.status).toBe('error');
    const [stage] = detail.stages;
    expect({ status: stage!.status, reason: stage!.reason, attempts: stage!.attempts, taskArn: stage!.taskArn }).toEqual({
      status: 'error',
      reason: 'spot-interrupted',
      attempts: 2,
      taskArn: second.taskArn,
    });
    expect(stage!.message).toMatch(/interrupted by AWS \(TerminationNotice\) after 2 attempts/);
    expect(stepTable(detail)[0]!.steps).toEqual(['clone:clone=success', 'step:work=killed']);
    expect(task(second.taskArn)).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'TerminationNotice', capacityProviderName: 'FARGATE' });
    // Requeued once only, however many events the two stops produced.
    expect(e2e.logLines.filter((l) => l.message === 'stage requeued on on-demand after a Spot interruption' && l.taskArn === second.taskArn)).toEqual([]);

    await e2e.waitForFinalStatus(sha);
    expect(e2e.statusesOf(sha).map((s) => s.state).filter((s) => s !== 'pending')).toEqual(['error']);
    await e2e.plane.idle();
    expect(e2e.errors).toEqual([]);
    // Nothing still runs.
    expect(e2e.aws.ecs.tasks().filter((t) => t.lastStatus !== 'STOPPED')).toEqual([]);
  });
});

describe('a step container that ends while its task is being stopped', () => {
  // The event where the step's container is STOPPED but the task is still STOPPING: no
  // stage outcome yet, and the step's status written now is final.
  const step: StepRecord = { buildId: 'o/r#1', stageNumber: 1, number: 2, name: 'work', container: 'work', status: 'running', detached: false, kind: 'step' };
  const stopping = (stopCode: string, exitCode: number) => ({
    clusterArn: 'arn:aws:ecs:us-east-1:1:cluster/c',
    taskArn: 'arn:task/1',
    taskDefinitionArn: 'arn:td/f:1',
    lastStatus: 'STOPPING',
    desiredStatus: 'STOPPED',
    version: 7,
    stopCode,
    stoppedReason: stopCode === 'SpotInterruption' ? SPOT_INTERRUPTION_REASON : 'stopped',
    containers: [{ name: AGENT_CONTAINER, lastStatus: 'RUNNING' }, { name: 'work', lastStatus: 'STOPPED', exitCode }],
  });

  it('was killed by an interruption or a stop, not failed, when the signal ended it', () => {
    expect(stepChanges(stopping('SpotInterruption', 143), [step])).toEqual([
      { number: 2, status: 'killed', exitCode: 143, reason: 'the task was stopped (SpotInterruption: Your Spot Task was interrupted.)' },
    ]);
    expect(stepChanges(stopping('UserInitiated', 137), [step])[0]).toMatchObject({ status: 'killed', exitCode: 137 });
  });

  it('failed when it failed by itself, or when the agent (not AWS) ended the task', () => {
    expect(stepChanges(stopping('SpotInterruption', 2), [step])[0]).toMatchObject({ status: 'failure', exitCode: 2 });
    expect(stepChanges(stopping('EssentialContainerExited', 143), [step])[0]).toMatchObject({ status: 'failure', exitCode: 143 });
  });
});
