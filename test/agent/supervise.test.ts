// The real agent process against a fake ECS task (metadata endpoint v4 + scheduler).

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { AGENT_CONTAINER, AGENT_EXIT, type AgentStepPlan } from '../../core/pipeline/contract.js';
import { STATUS_GATE_SKIP } from '../../task-runner/decide-steps.js';
import { FakeTask, type FakeContainer } from './fake-task.js';
import { byName, plan, startAgent, tempDirs } from './run-agent.js';
import { waitFor } from '../support/wait.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function step(container: string, dependsOn: string[], extra: Partial<AgentStepPlan> = {}): AgentStepPlan {
  return { container, steps: [container], detach: false, failure: 'always', dependsOn, ...extra };
}

async function fakeTask(containers: FakeContainer[], stateDir: string): Promise<{ task: FakeTask; uri: string }> {
  const task = new FakeTask(containers, stateDir);
  const uri = await task.start();
  cleanups.push(() => task.stop());
  return { task, uri };
}

function dirs(): ReturnType<typeof tempDirs> {
  const d = tempDirs();
  cleanups.push(() => rmSync(d.root, { recursive: true, force: true }));
  return d;
}

const afterAgent = { container: AGENT_CONTAINER, condition: 'HEALTHY' as const };

async function listen(): Promise<{ port: number; server: Server }> {
  const server = createServer((socket) => socket.on('error', () => undefined).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, server };
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('agent supervision', () => {
  it('all steps succeed: gate on a service, env file, ready file, one record per step, exit 0', async () => {
    const d = dirs();
    const { port } = await listen();
    const { task, uri } = await fakeTask(
      [
        { name: 'database', healthyAfterMs: 150 },
        { name: 'build', dependsOn: [afterAgent], runMs: 150, exitCode: 0 },
        { name: 'test', dependsOn: [{ container: 'build', condition: 'SUCCESS' }], runMs: 150, exitCode: 0 },
      ],
      d.stateDir,
    );
    const p = plan({
      services: [{ name: 'database', container: 'database', ports: [port], healthCommand: true, timeout: 10 }],
      steps: [step('build', [AGENT_CONTAINER]), step('test', ['build'])],
    });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri }).done;

    expect(run.code).toBe(AGENT_EXIT.success);
    expect(run.result).toMatchObject({ outcome: 'success', exitCode: 0, message: 'all steps passed' });
    const steps = byName(run.steps);
    expect(run.steps).toHaveLength(2);
    for (const name of ['build', 'test']) {
      expect(steps[name]).toMatchObject({ name, container: name, status: 'success', exitCode: 0 });
      expect(Date.parse(steps[name]!.startedAt!)).toBeLessThanOrEqual(Date.parse(steps[name]!.finishedAt!));
    }
    expect(Date.parse(steps['build']!.finishedAt!)).toBeLessThanOrEqual(Date.parse(steps['test']!.startedAt!));
    expect(run.stdout).toContain('service "database" ready');
    expect(existsSync(join(d.stateDir, 'agent', 'ready'))).toBe(true);
    const envFile = readFileSync(join(d.stateDir, 'agent', 'env'), 'utf8');
    expect(envFile).toContain("export DRONE_BUILD_NUMBER='7'\n");
    expect(envFile).toContain("export SLIPWAY_STAGE_ID='octo/app#7/1'\n");
    expect(task.requests.some((url) => url.endsWith('/task'))).toBe(true);
    // The result is the last line.
    expect(run.stdout.trimEnd().split('\n').at(-1)).toMatch(/^SLIPWAY_RESULT /);
  });

  // The agent writes the status file before the first step and again as steps end, with the
  // failed stages the control plane passed (SLIPWAY_UPSTREAM): runner-go environ.go.
  it('writes the status file: failed stages from SLIPWAY_UPSTREAM, then the failed step once it ended', async () => {
    const d = dirs();
    const { uri } = await fakeTask(
      [
        { name: 'build', dependsOn: [afterAgent], runMs: 100, exitCode: 2 },
        { name: 'test', dependsOn: [{ container: 'build', condition: 'SUCCESS' }], runMs: 50 },
      ],
      d.stateDir,
    );
    const p = plan({ steps: [step('build', [AGENT_CONTAINER]), step('test', ['build'], { dependsOnConditions: { build: 'SUCCESS' } })] });
    const upstream = JSON.stringify({ failedStages: ['lint'], buildStarted: 1_700_000_000 });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri, env: { SLIPWAY_UPSTREAM: upstream } }).done;
    expect(run.code, run.stdout).toBe(AGENT_EXIT.stepFailed);
    const status = readFileSync(join(d.stateDir, 'agent', 'status'), 'utf8');
    expect(status).toContain("export DRONE_BUILD_STATUS='failure'\n");
    expect(status).toContain("export DRONE_FAILED_STEPS='build'\n");
    expect(status).toContain("export DRONE_FAILED_STAGES='lint'\n");
    expect(status).toContain("export DRONE_BUILD_STARTED='1700000000'\n");
    expect(status).toContain("slipway_status_ended=' build test '\n");
  });

  it('rejects a malformed SLIPWAY_UPSTREAM naming the variable, exit 6', async () => {
    const d = dirs();
    const run = await startAgent({ plan: plan(), stateDir: d.stateDir, workspace: d.workspace, env: { SLIPWAY_UPSTREAM: '{"failedStages":"lint"}' } }).done;
    expect(run.code).toBe(AGENT_EXIT.internalError);
    expect(run.result?.message).toBe('agent: SLIPWAY_UPSTREAM: expected { failedStages: stage names[], buildStarted?: Unix seconds }');
  });

  it('a step fails: its dependents never start and are reported skipped, exit 1', async () => {
    const d = dirs();
    const { task, uri } = await fakeTask(
      [
        { name: 'build', dependsOn: [afterAgent], runMs: 100, exitCode: 2 },
        { name: 'test', dependsOn: [{ container: 'build', condition: 'SUCCESS' }], runMs: 100 },
        { name: 'deploy', dependsOn: [{ container: 'test', condition: 'SUCCESS' }], runMs: 100 },
      ],
      d.stateDir,
    );
    const p = plan({ steps: [step('build', [AGENT_CONTAINER]), step('test', ['build']), step('deploy', ['test'])] });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri }).done;

    expect(run.code).toBe(AGENT_EXIT.stepFailed);
    expect(run.result).toMatchObject({ outcome: 'failure', exitCode: 1 });
    expect(run.result?.message).toContain('build failed with exit code 2');
    const steps = byName(run.steps);
    expect(steps['build']).toMatchObject({ status: 'failure', exitCode: 2 });
    expect(steps['test']).toMatchObject({ status: 'skipped', exitCode: null, reason: 'dependency build failed with exit code 2' });
    expect(steps['deploy']).toMatchObject({ status: 'skipped', exitCode: null, reason: 'dependency test did not run' });
    expect(task.status('test')).toBe('STOPPED');
    expect(run.steps).toHaveLength(3);
  });

  it('failure: ignore — the failed step is recorded, its dependent runs, the build passes', async () => {
    const d = dirs();
    const { uri } = await fakeTask(
      [
        { name: 'lint', dependsOn: [afterAgent], runMs: 100, exitCode: 1 },
        { name: 'test', dependsOn: [{ container: 'lint', condition: 'COMPLETE' }], runMs: 100, exitCode: 0 },
      ],
      d.stateDir,
    );
    const p = plan({ steps: [step('lint', [AGENT_CONTAINER], { failure: 'ignore' }), step('test', ['lint'])] });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri }).done;

    expect(run.code).toBe(AGENT_EXIT.success);
    const steps = byName(run.steps);
    expect(steps['lint']).toMatchObject({ status: 'failure', exitCode: 1, reason: 'failed; ignored (failure: ignore)' });
    expect(steps['test']).toMatchObject({ status: 'success', exitCode: 0 });
  });

  it('a detached step still running when the last step ends: the agent does not wait for it', async () => {
    const d = dirs();
    const { task, uri } = await fakeTask(
      [
        { name: 'server', dependsOn: [afterAgent] },
        { name: 'e2e', dependsOn: [{ container: 'server', condition: 'START' }], runMs: 200, exitCode: 0 },
      ],
      d.stateDir,
    );
    const p = plan({ steps: [step('server', [AGENT_CONTAINER], { detach: true }), step('e2e', ['server'])] });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri }).done;

    expect(run.code).toBe(AGENT_EXIT.success);
    const steps = byName(run.steps);
    expect(steps['e2e']).toMatchObject({ status: 'success', exitCode: 0 });
    expect(steps['server']).toMatchObject({ status: 'success', exitCode: 0, reason: 'detached step stopped with the task at the end of the pipeline' });
    expect(task.status('server')).toBe('RUNNING');
  });

  it('a step that runs on failure (COMPLETE) runs after a failed step, is reported, and the agent waits for it', async () => {
    const d = dirs();
    const { task, uri } = await fakeTask(
      [
        { name: 'build', dependsOn: [afterAgent], runMs: 100, exitCode: 2 },
        { name: 'test', dependsOn: [{ container: 'build', condition: 'SUCCESS' }], runMs: 100 },
        {
          name: 'notify',
          dependsOn: [{ container: 'build', condition: 'COMPLETE' }],
          runMs: 300,
          exitCode: 0,
          statusGate: { watch: ['build'] },
          startDelayMs: 300, // ECS takes a moment: the agent sees build failed while notify is still pending
        },
      ],
      d.stateDir,
    );
    const p = plan({
      steps: [
        step('build', [AGENT_CONTAINER], { dependsOnConditions: { [AGENT_CONTAINER]: 'HEALTHY' } }),
        step('test', ['build'], { dependsOnConditions: { build: 'SUCCESS' } }),
        step('notify', ['build'], { dependsOnConditions: { build: 'COMPLETE' } }),
      ],
    });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri }).done;

    expect(run.code, run.stdout).toBe(AGENT_EXIT.stepFailed);
    expect(run.result?.message).toContain('build failed with exit code 2');
    const steps = byName(run.steps);
    expect(steps['build']).toMatchObject({ status: 'failure', exitCode: 2 });
    expect(steps['test']).toMatchObject({ status: 'skipped', reason: 'dependency build failed with exit code 2' });
    expect(steps['notify']).toMatchObject({ status: 'success', exitCode: 0 });
    // The agent ended (which stops the task) only after notify had ended.
    expect(task.finishedAt('notify')).toBeDefined();
    expect(task.finishedAt('notify')!).toBeLessThanOrEqual(Date.parse(run.result!.finishedAt));
    expect(Date.parse(steps['notify']!.finishedAt!)).toBeLessThanOrEqual(Date.parse(run.result!.finishedAt));
  });

  it('a COMPLETE dependency that never starts: the step is known blocked even while ECS leaves it pending', async () => {
    const d = dirs();
    const { task, uri } = await fakeTask(
      [
        { name: 'build', dependsOn: [afterAgent], runMs: 100, exitCode: 2 },
        { name: 'test', dependsOn: [{ container: 'build', condition: 'SUCCESS' }], runMs: 100 },
        { name: 'notify', dependsOn: [{ container: 'test', condition: 'COMPLETE' }], runMs: 100, statusGate: { watch: ['build', 'test'] } },
      ],
      d.stateDir,
    );
    task.blockedDependents = 'pending';
    const p = plan({
      steps: [
        step('build', [AGENT_CONTAINER], { dependsOnConditions: { [AGENT_CONTAINER]: 'HEALTHY' } }),
        step('test', ['build'], { dependsOnConditions: { build: 'SUCCESS' } }),
        step('notify', ['test'], { dependsOnConditions: { test: 'COMPLETE' } }),
      ],
    });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri, env: { SLIPWAY_TIMEOUT_SECONDS: '15' } }).done;

    expect(run.code, run.stdout).toBe(AGENT_EXIT.stepFailed);
    expect(byName(run.steps)['notify']).toMatchObject({ status: 'skipped', reason: 'dependency test did not run' });
    expect(task.status('notify')).toBe('PULLED');
  });

  it('a step that runs on failure, when nothing failed: its wrapper skips it and it is reported skipped', async () => {
    const d = dirs();
    const { task, uri } = await fakeTask(
      [
        { name: 'build', dependsOn: [afterAgent], runMs: 100, exitCode: 0 },
        { name: 'notify', dependsOn: [{ container: 'build', condition: 'COMPLETE' }], runMs: 100, statusGate: { watch: ['build'] } },
      ],
      d.stateDir,
    );
    const p = plan({
      steps: [
        step('build', [AGENT_CONTAINER], { dependsOnConditions: { [AGENT_CONTAINER]: 'HEALTHY' } }),
        step('notify', ['build'], { dependsOnConditions: { build: 'COMPLETE' } }),
      ],
    });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri }).done;

    expect(run.code, run.stdout).toBe(AGENT_EXIT.success);
    expect(existsSync(join(d.stateDir, 'steps', 'notify', 'notify.skipped'))).toBe(true);
    const steps = byName(run.steps);
    expect(steps['build']).toMatchObject({ status: 'success', exitCode: 0 });
    expect(steps['notify']).toMatchObject({ status: 'skipped', exitCode: null, reason: STATUS_GATE_SKIP });
    expect(task.finishedAt('notify')!).toBeLessThanOrEqual(Date.parse(run.result!.finishedAt));
  });

  it('a plan without conditions: a step ECS starts after a failure is waited for, not declared unreachable', async () => {
    const d = dirs();
    const { task, uri } = await fakeTask(
      [
        { name: 'build', dependsOn: [afterAgent], runMs: 100, exitCode: 2 },
        {
          name: 'notify',
          dependsOn: [{ container: 'build', condition: 'COMPLETE' }],
          runMs: 300,
          exitCode: 0,
          statusGate: { watch: ['build'] },
          startDelayMs: 300, // ECS takes a moment: the agent sees build failed while notify is still pending
        },
      ],
      d.stateDir,
    );
    const p = plan({ steps: [step('build', [AGENT_CONTAINER]), step('notify', ['build'])] });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri }).done;

    expect(run.code, run.stdout).toBe(AGENT_EXIT.stepFailed);
    expect(byName(run.steps)['notify']).toMatchObject({ status: 'success', exitCode: 0 });
    expect(task.finishedAt('notify')!).toBeLessThanOrEqual(Date.parse(run.result!.finishedAt));
  });

  it("a plugin step's gate container says no: skipped, also when only the state files tell", async () => {
    const d = dirs();
    await fakeTask(
      [
        { name: 'build', dependsOn: [afterAgent], runMs: 50, exitCode: 0 },
        {
          name: 'slack-gate',
          dependsOn: [{ container: 'build', condition: 'COMPLETE' }],
          runMs: 50,
          writesExitRecord: false,
          statusGate: { watch: ['build'], gateOf: 'slack' },
        },
        { name: 'slack', dependsOn: [{ container: 'slack-gate', condition: 'SUCCESS' }], runMs: 50 },
      ],
      d.stateDir,
    );
    const p = plan({
      steps: [step('build', [AGENT_CONTAINER]), step('slack', ['slack-gate'], { gate: 'slack-gate', dependsOnConditions: { 'slack-gate': 'SUCCESS' } })],
    });
    // No metadata endpoint: the gate's `slack.skipped` marker is the only sign of its verdict.
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, env: { SLIPWAY_TIMEOUT_SECONDS: '15' } }).done;

    expect(run.code, run.stdout).toBe(AGENT_EXIT.success);
    expect(byName(run.steps)['slack']).toMatchObject({ status: 'skipped', reason: STATUS_GATE_SKIP });
  });

  it('a pipeline timeout beyond setTimeout\'s limit (> 35791 minutes) neither warns nor fires at once', async () => {
    const d = dirs();
    const { uri } = await fakeTask([{ name: 'build', dependsOn: [afterAgent], runMs: 300, exitCode: 0 }], d.stateDir);
    const p = plan({ timeoutMinutes: 40_000, steps: [step('build', [AGENT_CONTAINER])] });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri }).done;

    expect(run.code, run.stdout).toBe(AGENT_EXIT.success);
    expect(run.stdout).toContain('timeout 40000 minutes');
    expect(run.stderr).not.toContain('TimeoutOverflowWarning');
  });

  it('a service that never opens its port fails the build naming service and port, exit 2', async () => {
    const d = dirs();
    const port = await closedPort();
    const { task, uri } = await fakeTask(
      [{ name: 'cache' }, { name: 'build', dependsOn: [afterAgent], runMs: 50 }],
      d.stateDir,
    );
    const p = plan({
      services: [{ name: 'cache', container: 'cache', ports: [port], healthCommand: false, timeout: 1 }],
      steps: [step('build', [AGENT_CONTAINER])],
    });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri }).done;

    expect(run.code).toBe(AGENT_EXIT.serviceNotReady);
    expect(run.result).toMatchObject({ outcome: 'service-not-ready', exitCode: 2 });
    expect(run.result?.message).toBe(
      `service "cache" (port ${port}) not ready after 1 s: port ${port} not accepting connections on localhost`,
    );
    // The same, as data for the control plane (it fails that service's record).
    expect(run.result?.service).toEqual({ name: 'cache', container: 'cache', ports: [port], check: 'port' });
    expect(byName(run.steps)['build']).toMatchObject({ status: 'skipped', reason: 'not started: a service was not ready' });
    expect(existsSync(join(d.stateDir, 'agent', 'ready'))).toBe(false);
    expect(task.status('build')).toBe('PULLED');
  });

  it('the pipeline timeout stops a step that runs too long, exit 3', async () => {
    const d = dirs();
    const { uri } = await fakeTask(
      [
        { name: 'slow', dependsOn: [afterAgent] },
        { name: 'after', dependsOn: [{ container: 'slow', condition: 'SUCCESS' }], runMs: 10 },
      ],
      d.stateDir,
    );
    const p = plan({ steps: [step('slow', [AGENT_CONTAINER]), step('after', ['slow'])] });
    const run = await startAgent({
      plan: p,
      stateDir: d.stateDir,
      workspace: d.workspace,
      metadataUri: uri,
      env: { SLIPWAY_TIMEOUT_SECONDS: '1' },
    }).done;

    expect(run.code).toBe(AGENT_EXIT.timedOut);
    expect(run.result).toMatchObject({ outcome: 'timed-out', exitCode: 3 });
    expect(run.result?.message).toBe('timed out after 1 second while supervising steps');
    const steps = byName(run.steps);
    expect(steps['slow']).toMatchObject({ status: 'killed', reason: 'stopped: the pipeline timed out' });
    expect(steps['slow']?.startedAt).toBeDefined();
    expect(steps['after']).toMatchObject({ status: 'skipped', reason: 'not started: the pipeline timed out' });
  });

  it('SIGTERM in the middle: recorded as interrupted, not as a failed step, and the agent exits promptly', async () => {
    const d = dirs();
    const { task, uri } = await fakeTask(
      [
        { name: 'quick', dependsOn: [afterAgent], runMs: 50, exitCode: 0 },
        { name: 'long', dependsOn: [{ container: 'quick', condition: 'SUCCESS' }] },
      ],
      d.stateDir,
    );
    const p = plan({ steps: [step('quick', [AGENT_CONTAINER]), step('long', ['quick'])] });
    const agent = startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri });
    // Signalled once the agent has seen the long step running (its progress line says so).
    await waitFor('the agent to see the long step running', async () => agent.output().includes('slipway-agent: step long started'));
    expect(task.status('long')).toBe('RUNNING');
    const signalled = Date.now();
    agent.child.kill('SIGTERM');
    const run = await agent.done;

    expect(run.code).toBe(AGENT_EXIT.interrupted);
    expect(run.result).toMatchObject({ outcome: 'interrupted', exitCode: 4 });
    expect(run.result?.message).toContain('interrupted by SIGTERM while supervising steps');
    const steps = byName(run.steps);
    expect(steps['quick']).toMatchObject({ status: 'success', exitCode: 0 });
    expect(steps['long']).toMatchObject({ status: 'killed', exitCode: null, reason: 'stopped: the task was interrupted' });
    // Inside ECS's stop timeout (30 s by default, then SIGKILL: shared/reference/ecs-fargate.md),
    // the bound the agent must meet; a hang would be the agent's kill timer.
    expect(Date.now() - signalled).toBeLessThan(30_000);
  });

  // runner-go pipeline/state.go Cancel: pending steps are skipped, running ones killed. A step
  // that runs on a status is up with the agent but pending until its wrapper's `.started` marker.
  it('SIGTERM while a status step still waits for its turn: it is reported skipped, in the result line too; the running step killed', async () => {
    const d = dirs();
    const { task, uri } = await fakeTask(
      [
        { name: 'long', dependsOn: [afterAgent] },
        { name: 'report', dependsOn: [{ container: AGENT_CONTAINER, condition: 'START' }] },
      ],
      d.stateDir,
    );
    const p = plan({ steps: [step('long', [AGENT_CONTAINER]), step('report', [AGENT_CONTAINER], { whenStatus: 'failure', dependsOnConditions: { [AGENT_CONTAINER]: 'START' } })] });
    const agent = startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri });
    // Signalled once the agent has seen the long step running; the status step started with it
    // (START on the agent) but waits for its turn, so it never reports a start of its own.
    await waitFor('the agent to see the long step running', async () => agent.output().includes('slipway-agent: step long started'));
    expect([task.status('long'), task.status('report')]).toEqual(['RUNNING', 'RUNNING']);
    agent.child.kill('SIGTERM');
    const run = await agent.done;

    expect(run.code).toBe(AGENT_EXIT.interrupted);
    const steps = byName(run.steps);
    expect(steps['long']).toMatchObject({ status: 'killed', reason: 'stopped: the task was interrupted' });
    expect(steps['report']).toMatchObject({ status: 'skipped', exitCode: null, reason: 'not started: the task was interrupted' });
    expect(run.result?.stopped).toEqual(['long']);
    expect(run.result?.skipped).toEqual([{ container: 'report', reason: 'not started: the task was interrupted' }]);
  });

  it('tolerates a metadata endpoint that fails for a while', async () => {
    const d = dirs();
    const { task, uri } = await fakeTask(
      // Runs until the test ends it: during the outage, whatever the machine's pace.
      [{ name: 'build', dependsOn: [afterAgent], exitCode: 0, writesExitRecord: false }],
      d.stateDir,
    );
    const p = plan({ steps: [step('build', [AGENT_CONTAINER])] });
    const agent = startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri });
    await waitFor('the agent to see the build step running', async () => agent.output().includes('slipway-agent: step build started'));
    // Failing until the agent has met the failure (it says it retries), not for a time; the
    // step ends while the endpoint still fails, and the agent learns it once it answers again.
    task.failing = true;
    await waitFor('the agent to retry a failed poll', async () => agent.output().includes('answered 500 (retrying)'));
    task.finish('build');
    task.failing = false;
    const run = await agent.done;

    expect(run.code).toBe(AGENT_EXIT.success);
    expect(byName(run.steps)['build']).toMatchObject({ status: 'success', exitCode: 0 });
    expect(run.stdout).toContain('answered 500 (retrying)');
    expect(run.stdout).toMatch(/metadata endpoint answers again after \d+ failed polls/);
  });

  it('without a metadata endpoint, follows the steps by their exit records', async () => {
    const d = dirs();
    // The fake still plays ECS (starts containers, writes exit records) but the agent is not told its URI.
    await fakeTask([{ name: 'build', dependsOn: [afterAgent], runMs: 100, exitCode: 5 }], d.stateDir);
    const p = plan({ steps: [step('build', [AGENT_CONTAINER])] });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace }).done;

    expect(run.code).toBe(AGENT_EXIT.stepFailed);
    expect(byName(run.steps)['build']).toMatchObject({ status: 'failure', exitCode: 5 });
  });

  it('rejects an invalid plan with a message naming the variable, exit 6', async () => {
    const d = dirs();
    const run = await startAgent({
      plan: { ...plan(), version: 2 } as unknown as ReturnType<typeof plan>,
      stateDir: d.stateDir,
      workspace: d.workspace,
    }).done;
    expect(run.code).toBe(AGENT_EXIT.internalError);
    expect(run.result).toMatchObject({ outcome: 'error', message: 'agent: SLIPWAY_PLAN.version: expected 1, got 2' });
  });
});

// As the compiler orders them: a step that runs on a status depends on the agent only, and
// its wrapper waits for a final record of every step before it (`waitFor` plays that wait).
// The fake ECS leaves a dependent of a never-started container pending, as ECS does.
describe('steps that run on a status, end to end', () => {
  const agentOnly = { dependsOnConditions: { [AGENT_CONTAINER]: 'HEALTHY' as const } };
  const afterSteps = (conditions: Record<string, 'SUCCESS' | 'COMPLETE'>) => ({ dependsOnConditions: conditions });

  async function notifyAfterChain(buildExit: number, blockedDependents: 'pending' | 'stopped' = 'pending') {
    const d = dirs();
    const { task, uri } = await fakeTask(
      [
        { name: 'build', dependsOn: [afterAgent], runMs: 100, exitCode: buildExit },
        { name: 'test', dependsOn: [{ container: 'build', condition: 'SUCCESS' }], runMs: 100 },
        { name: 'notify', dependsOn: [afterAgent], runMs: 150, waitFor: ['build', 'test'], statusGate: { watch: ['build', 'test', 'publish'] } },
        {
          name: 'publish',
          dependsOn: [
            { container: 'notify', condition: 'COMPLETE' },
            { container: 'test', condition: 'SUCCESS' },
          ],
          runMs: 50,
        },
      ],
      d.stateDir,
    );
    task.blockedDependents = blockedDependents;
    const p = plan({
      steps: [
        step('build', [AGENT_CONTAINER], agentOnly),
        step('test', ['build'], afterSteps({ build: 'SUCCESS' })),
        step('notify', [AGENT_CONTAINER], agentOnly),
        step('publish', ['notify', 'test'], afterSteps({ notify: 'COMPLETE', test: 'SUCCESS' })),
      ],
    });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri, env: { SLIPWAY_TIMEOUT_SECONDS: '15' } }).done;
    return { d, task, run };
  }

  for (const mode of ['pending', 'stopped'] as const) {
    it(`build fails → test never starts (ECS leaves its dependents ${mode}) → notify runs, sees the failure, and is waited for`, async () => {
      const { d, task, run } = await notifyAfterChain(2, mode);

      expect(run.code, run.stdout).toBe(AGENT_EXIT.stepFailed);
      const steps = byName(run.steps);
      expect(steps['build']).toMatchObject({ status: 'failure', exitCode: 2 });
      expect(steps['test']).toMatchObject({ status: 'skipped', reason: 'dependency build failed with exit code 2' });
      expect(steps['notify']).toMatchObject({ status: 'success', exitCode: 0 });
      expect(existsSync(join(d.stateDir, 'steps', 'notify', 'notify.skipped'))).toBe(false);
      expect(readFileSync(join(d.stateDir, 'steps', 'test', 'test.unreachable'), 'utf8')).toBe('dependency build failed with exit code 2\n');
      expect(steps['publish']).toMatchObject({ status: 'skipped', reason: 'dependency test did not run' });
      expect(task.status('test')).toBe('STOPPED');
      expect(task.status('publish')).toBe(mode === 'pending' ? 'PULLED' : 'STOPPED');
      // notify's commands began only after build had ended, and the agent ended after notify.
      expect(task.beganAt('notify')!).toBeGreaterThanOrEqual(task.finishedAt('build')!);
      expect(task.finishedAt('notify')!).toBeLessThanOrEqual(Date.parse(run.result!.finishedAt));
    });
  }

  it('build passes → notify waits for test, then skips itself; the build passes', async () => {
    const { d, task, run } = await notifyAfterChain(0);

    expect(run.code, run.stdout).toBe(AGENT_EXIT.success);
    const steps = byName(run.steps);
    expect(steps['test']).toMatchObject({ status: 'success', exitCode: 0 });
    expect(steps['notify']).toMatchObject({ status: 'skipped', reason: STATUS_GATE_SKIP });
    expect(steps['publish']).toMatchObject({ status: 'success', exitCode: 0 });
    expect(existsSync(join(d.stateDir, 'steps', 'notify', 'notify.skipped'))).toBe(true);
    expect(task.beganAt('notify')!).toBeGreaterThanOrEqual(task.finishedAt('test')!);
  });

  it('DAG: the failure step waits for a sibling branch still running when its dependency became unreachable', async () => {
    const d = dirs();
    const { task, uri } = await fakeTask(
      [
        { name: 'fast', dependsOn: [afterAgent], runMs: 50, exitCode: 1 },
        { name: 'slow', dependsOn: [afterAgent], runMs: 600, exitCode: 0 },
        { name: 'join', dependsOn: [{ container: 'fast', condition: 'SUCCESS' }, { container: 'slow', condition: 'SUCCESS' }], runMs: 50 },
        { name: 'alert', dependsOn: [afterAgent], runMs: 50, waitFor: ['fast', 'slow', 'join'], statusGate: { watch: ['fast', 'slow', 'join'] } },
      ],
      d.stateDir,
    );
    const p = plan({
      steps: [
        step('fast', [AGENT_CONTAINER], agentOnly),
        step('slow', [AGENT_CONTAINER], agentOnly),
        step('join', ['fast', 'slow'], afterSteps({ fast: 'SUCCESS', slow: 'SUCCESS' })),
        step('alert', [AGENT_CONTAINER], agentOnly),
      ],
    });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri, env: { SLIPWAY_TIMEOUT_SECONDS: '15' } }).done;

    expect(run.code, run.stdout).toBe(AGENT_EXIT.stepFailed);
    const steps = byName(run.steps);
    expect(steps['join']).toMatchObject({ status: 'skipped', reason: 'dependency fast failed with exit code 1' });
    expect(steps['alert']).toMatchObject({ status: 'success' });
    expect(task.beganAt('alert')!).toBeGreaterThanOrEqual(task.finishedAt('slow')!);
  });

  it('[success, failure]: runs after a failure and a step that never started, with no gate', async () => {
    const d = dirs();
    const { uri } = await fakeTask(
      [
        { name: 'build', dependsOn: [afterAgent], runMs: 50, exitCode: 3 },
        { name: 'test', dependsOn: [{ container: 'build', condition: 'SUCCESS' }], runMs: 50 },
        { name: 'report', dependsOn: [afterAgent], runMs: 50, exitCode: 0, waitFor: ['build', 'test'] },
      ],
      d.stateDir,
    );
    const p = plan({
      steps: [step('build', [AGENT_CONTAINER], agentOnly), step('test', ['build'], afterSteps({ build: 'SUCCESS' })), step('report', [AGENT_CONTAINER], agentOnly)],
    });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri, env: { SLIPWAY_TIMEOUT_SECONDS: '15' } }).done;

    expect(run.code, run.stdout).toBe(AGENT_EXIT.stepFailed);
    expect(byName(run.steps)['report']).toMatchObject({ status: 'success', exitCode: 0 });
  });

  it('a plugin step that fails writes no record: the agent writes it, and the failure step sees the failure', async () => {
    const d = dirs();
    const { uri } = await fakeTask(
      [
        { name: 'publish', dependsOn: [afterAgent], runMs: 50, exitCode: 1, writesExitRecord: false },
        { name: 'notify', dependsOn: [afterAgent], runMs: 50, waitFor: ['publish'], statusGate: { watch: ['publish'] } },
      ],
      d.stateDir,
    );
    const p = plan({ steps: [step('publish', [AGENT_CONTAINER], agentOnly), step('notify', [AGENT_CONTAINER], agentOnly)] });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri, env: { SLIPWAY_TIMEOUT_SECONDS: '15' } }).done;

    expect(run.code, run.stdout).toBe(AGENT_EXIT.stepFailed);
    expect(readFileSync(join(d.stateDir, 'steps', 'publish', 'publish.exit'), 'utf8')).toBe('1\n');
    expect(byName(run.steps)['notify']).toMatchObject({ status: 'success', exitCode: 0 });
  });

  it('an exit record left empty by a stopped step is replaced with the exit code ECS reports, with the reason; the failure step runs', async () => {
    const d = dirs();
    const { uri } = await fakeTask(
      [
        { name: 'build', dependsOn: [afterAgent], runMs: 50, exitCode: 137, emptyExitRecord: true },
        { name: 'notify', dependsOn: [afterAgent], runMs: 50, waitFor: ['build'], statusGate: { watch: ['build'] } },
      ],
      d.stateDir,
    );
    const p = plan({ steps: [step('build', [AGENT_CONTAINER], agentOnly), step('notify', [AGENT_CONTAINER], agentOnly)] });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri, env: { SLIPWAY_TIMEOUT_SECONDS: '10' } }).done;

    expect(run.code, run.stdout).toBe(AGENT_EXIT.stepFailed);
    expect(readFileSync(join(d.stateDir, 'steps', 'build', 'build.exit'), 'utf8')).toBe('137\n');
    expect(run.stdout).toContain('step build: its exit record was empty (the step was stopped while writing it): recorded the exit code ECS reports, 137');
    expect(byName(run.steps)['build']).toMatchObject({ status: 'failure', exitCode: 137 });
    expect(byName(run.steps)['notify']).toMatchObject({ status: 'success', exitCode: 0 });
  });

  it('a plugin step on failure behind its gate container: runs after a failure whose dependent never started', async () => {
    const d = dirs();
    const { task, uri } = await fakeTask(
      [
        { name: 'build', dependsOn: [afterAgent], runMs: 50, exitCode: 1 },
        { name: 'test', dependsOn: [{ container: 'build', condition: 'SUCCESS' }], runMs: 50 },
        { name: 'slack-gate', dependsOn: [afterAgent], runMs: 20, writesExitRecord: false, waitFor: ['build', 'test'], statusGate: { watch: ['build', 'test'], gateOf: 'slack' } },
        { name: 'slack', dependsOn: [{ container: 'slack-gate', condition: 'SUCCESS' }], runMs: 50, writesExitRecord: false },
      ],
      d.stateDir,
    );
    const p = plan({
      steps: [
        step('build', [AGENT_CONTAINER], agentOnly),
        step('test', ['build'], afterSteps({ build: 'SUCCESS' })),
        step('slack', ['slack-gate'], { gate: 'slack-gate', dependsOnConditions: { 'slack-gate': 'SUCCESS' } }),
      ],
    });
    const run = await startAgent({ plan: p, stateDir: d.stateDir, workspace: d.workspace, metadataUri: uri, env: { SLIPWAY_TIMEOUT_SECONDS: '15' } }).done;

    expect(run.code, run.stdout).toBe(AGENT_EXIT.stepFailed);
    expect(byName(run.steps)['slack']).toMatchObject({ status: 'success', exitCode: 0 });
    expect(task.finishedAt('slack')!).toBeLessThanOrEqual(Date.parse(run.result!.finishedAt));
  });
});

