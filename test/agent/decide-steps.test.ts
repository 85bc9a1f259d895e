import { describe, expect, it } from 'vitest';

import type { AgentStepPlan, ContainerDependencyCondition } from '../../core/pipeline/contract.js';
import type { ContainerView, ExitRecord } from '../../task-runner/container-view.js';
import {
  STATUS_GATE_SKIP,
  decideStepStates,
  failedFast,
  failedSteps,
  recordsToWrite,
  stepReports,
  stepsOfResult,
  supervisionDone,
} from '../../task-runner/decide-steps.js';

function step(container: string, dependsOn: string[] = [], extra: Partial<AgentStepPlan> = {}): AgentStepPlan {
  return { container, steps: [container], detach: false, failure: 'always', dependsOn, ...extra };
}
const running = (startedAt = '2024-01-01T00:00:01Z'): ContainerView => ({ phase: 'running', exitCode: null, startedAt });
const stopped = (exitCode: number): ContainerView => ({
  phase: 'stopped',
  exitCode,
  startedAt: '2024-01-01T00:00:01Z',
  finishedAt: '2024-01-01T00:00:09Z',
});
/** ECS stopped it before it started (a SUCCESS dependency failed): no StartedAt, no ExitCode. */
const neverStarted: ContainerView = { phase: 'stopped', exitCode: null };
const pending: ContainerView = { phase: 'pending', exitCode: null };

/** A step with the task definition's conditions on its dependencies (what the compiler writes). */
function after(container: string, conditions: Record<string, ContainerDependencyCondition>, extra: Partial<AgentStepPlan> = {}): AgentStepPlan {
  return step(container, Object.keys(conditions), { dependsOnConditions: conditions, ...extra });
}

// A chain build → test → deploy, each after the agent.
const chain = [
  after('build', { 'slipway-agent': 'HEALTHY' }),
  after('test', { build: 'SUCCESS' }),
  after('deploy', { test: 'SUCCESS' }),
];
// The same chain from a plan that does not give the conditions.
const legacyChain = [step('build', ['slipway-agent']), step('test', ['build']), step('deploy', ['test'])];
// build → notify (`when: status: [failure]`, COMPLETE), as the compiler orders it.
const notifyOnFailure = [after('build', { 'slipway-agent': 'HEALTHY' }), after('notify', { build: 'COMPLETE' })];

interface Row {
  name: string;
  steps: AgentStepPlan[];
  containers: Record<string, ContainerView>;
  exits?: Record<string, ExitRecord>;
  phases: Record<string, string>;
  done: boolean;
  failed: number;
}

const rows: Row[] = [
  {
    name: 'nothing started yet',
    steps: chain,
    containers: { build: pending, test: pending, deploy: pending },
    phases: { build: 'waiting', test: 'waiting', deploy: 'waiting' },
    done: false,
    failed: 0,
  },
  {
    name: 'first running, metadata has not listed the others',
    steps: chain,
    containers: { build: running() },
    phases: { build: 'running', test: 'waiting', deploy: 'waiting' },
    done: false,
    failed: 0,
  },
  {
    name: 'all passed',
    steps: chain,
    containers: { build: stopped(0), test: stopped(0), deploy: stopped(0) },
    phases: { build: 'exited', test: 'exited', deploy: 'exited' },
    done: true,
    failed: 0,
  },
  {
    name: 'a failure makes the rest of the chain unreachable before ECS says so',
    steps: chain,
    containers: { build: stopped(2), test: pending, deploy: pending },
    phases: { build: 'exited', test: 'unreachable', deploy: 'unreachable' },
    done: true,
    failed: 3,
  },
  {
    name: 'the exit record is ahead of the endpoint',
    steps: chain,
    containers: { build: running(), test: pending, deploy: pending },
    exits: { build: { exitCode: 1, at: '2024-01-01T00:00:05Z' } },
    phases: { build: 'exited', test: 'unreachable', deploy: 'unreachable' },
    done: true,
    failed: 3,
  },
  {
    name: 'without conditions in the plan, a failure is left to ECS: the dependents are waited for',
    steps: legacyChain,
    containers: { build: stopped(2), test: pending, deploy: pending },
    phases: { build: 'exited', test: 'waiting', deploy: 'waiting' },
    done: false,
    failed: 1,
  },
  {
    name: 'without conditions in the plan, a dependent ECS starts after a failure runs (a step that runs on failure)',
    steps: legacyChain,
    containers: { build: stopped(2), test: running(), deploy: pending },
    phases: { build: 'exited', test: 'running', deploy: 'waiting' },
    done: false,
    failed: 1,
  },
  {
    name: 'without conditions in the plan, ECS stopping the dependents settles them',
    steps: legacyChain,
    containers: { build: stopped(2), test: neverStarted, deploy: neverStarted },
    phases: { build: 'exited', test: 'unreachable', deploy: 'unreachable' },
    done: true,
    failed: 3,
  },
  {
    name: 'a step that runs on failure (COMPLETE) is waited for after its dependency failed',
    steps: notifyOnFailure,
    containers: { build: stopped(2), notify: pending },
    phases: { build: 'exited', notify: 'waiting' },
    done: false,
    failed: 1,
  },
  {
    name: 'a step that runs on failure, running',
    steps: notifyOnFailure,
    containers: { build: stopped(2), notify: running() },
    phases: { build: 'exited', notify: 'running' },
    done: false,
    failed: 1,
  },
  {
    name: 'a step that runs on failure, ended',
    steps: notifyOnFailure,
    containers: { build: stopped(2), notify: stopped(0) },
    phases: { build: 'exited', notify: 'exited' },
    done: true,
    failed: 1,
  },
  {
    name: 'a step that runs on success and failure is waited for too (COMPLETE)',
    steps: [after('build', {}), after('test', { build: 'SUCCESS' }), after('report', { build: 'COMPLETE' })],
    containers: { build: stopped(1), test: pending, report: pending },
    phases: { build: 'exited', test: 'unreachable', report: 'waiting' },
    done: false,
    failed: 2,
  },
  {
    name: 'a COMPLETE dependency that never starts blocks, as in ECS',
    steps: [after('build', {}), after('test', { build: 'SUCCESS' }), after('notify', { test: 'COMPLETE' })],
    containers: { build: stopped(1), test: pending, notify: pending },
    phases: { build: 'exited', test: 'unreachable', notify: 'unreachable' },
    done: true,
    failed: 3,
  },
  {
    name: 'a HEALTHY dependency that exited is left to ECS',
    steps: [after('server', {}, { detach: true }), after('e2e', { server: 'HEALTHY' })],
    containers: { server: stopped(1), e2e: pending },
    phases: { server: 'exited', e2e: 'waiting' },
    done: false,
    failed: 0,
  },
  {
    name: 'failure: ignore lets dependents run (COMPLETE)',
    steps: [step('lint', [], { failure: 'ignore' }), step('test', ['lint'])],
    containers: { lint: stopped(1), test: running() },
    phases: { lint: 'exited', test: 'running' },
    done: false,
    failed: 0,
  },
  {
    name: 'failure: ignore then success is a passing build',
    steps: [step('lint', [], { failure: 'ignore' }), step('test', ['lint'])],
    containers: { lint: stopped(1), test: stopped(0) },
    phases: { lint: 'exited', test: 'exited' },
    done: true,
    failed: 0,
  },
  {
    name: 'a detached step still running does not hold the end',
    steps: [step('server', [], { detach: true }), step('e2e', ['server'])],
    containers: { server: running(), e2e: stopped(0) },
    phases: { server: 'running', e2e: 'exited' },
    done: true,
    failed: 0,
  },
  {
    name: 'a detached step that fails does not fail the build nor block (START)',
    steps: [step('server', [], { detach: true }), step('e2e', ['server'])],
    containers: { server: stopped(1), e2e: running() },
    phases: { server: 'exited', e2e: 'running' },
    done: false,
    failed: 0,
  },
  {
    name: 'stopped by ECS without starting and no failed dependency',
    steps: [step('a'), step('b', ['a'])],
    containers: { a: neverStarted, b: neverStarted },
    phases: { a: 'unreachable', b: 'unreachable' },
    done: true,
    failed: 2,
  },
  {
    name: 'DAG listed out of order: the blocked reason reaches every descendant',
    steps: [step('d', ['c']), step('c', ['b']), step('b', ['a']), step('a')],
    containers: { a: stopped(3), b: neverStarted, c: neverStarted, d: pending },
    phases: { a: 'exited', b: 'unreachable', c: 'unreachable', d: 'unreachable' },
    done: true,
    failed: 4,
  },
  {
    name: 'a step skipped by its wrapper status gate does not fail and its dependents run',
    steps: [step('build'), step('notify', ['build'], { failure: 'ignore' }), step('after', ['notify'])],
    containers: { build: stopped(0), notify: stopped(0), after: running() },
    exits: { build: { exitCode: 0 }, notify: { exitCode: 0, skipped: true } },
    phases: { build: 'exited', notify: 'skipped', after: 'running' },
    done: false,
    failed: 0,
  },
  {
    name: 'a plugin step whose gate container said no is skipped, and so are its dependents',
    steps: [step('build'), step('slack', ['build', 'slack-gate'], { gate: 'slack-gate' }), step('after', ['slack'])],
    containers: { build: stopped(0), 'slack-gate': stopped(1), slack: neverStarted, after: pending },
    phases: { build: 'exited', slack: 'skipped', after: 'skipped' },
    done: true,
    failed: 0,
  },
];

describe('decideStepStates', () => {
  it.each(rows)('$name', (row) => {
    const states = decideStepStates(row.steps, row.containers, row.exits ?? {});
    const phases = Object.fromEntries(Object.entries(states).map(([name, state]) => [name, state.phase]));
    expect(phases).toEqual(row.phases);
    expect(supervisionDone(row.steps, states)).toBe(row.done);
    expect(failedSteps(row.steps, states)).toHaveLength(row.failed);
  });

  it('after a failed setup, steps that started with the task are skipped for its reason: waiting, or skipped by their wrapper (exit 79)', () => {
    const steps = [after('build', {}, { afterSetup: true }), after('test', { build: 'SUCCESS' }, { afterSetup: true }), after('publish', { 'slipway-agent': 'HEALTHY', test: 'SUCCESS' })];
    const reason = 'clone failed: repository not found';
    const states = decideStepStates(steps, { build: stopped(79), test: neverStarted, publish: pending }, { build: { exitCode: 79, skipped: true } }, new Set(), Date.now(), reason);
    // Its wrapper left without running its commands: as a step ECS held back, skipped for the setup's reason.
    expect(states['build']).toEqual({ phase: 'skipped', reason, started: false });
    expect(states['test']).toEqual({ phase: 'skipped', reason, started: false });
    expect(states['publish']).toEqual({ phase: 'skipped', reason, started: false });
    expect(supervisionDone(steps, states)).toBe(true);
    expect(failedSteps(steps, states)).toEqual([]);
    // Still in its wrapper's wait: pending, not final yet (it skips itself within a second, and the agent waits for that).
    expect(decideStepStates(steps, { build: running(), test: pending, publish: pending }, {}, new Set(), Date.now(), reason)['build']?.phase).toBe('waiting');
  });

  // Plain steps with commands start with the task and wait in their wrapper for the steps they
  // come after (core/pipeline/script.ts, upstreamLines). One whose upstream can no longer let it
  // run leaves its wait with exit 79 beside its `.skipped` marker: the agent decides it as it
  // decided the step ECS held back, with the same conditions (the plan's), reasons and failures.
  describe('a step that waited in its wrapper and skipped itself (exit 79 beside .skipped)', () => {
    const wrapped = [
      after('build', {}, { afterSetup: true }),
      after('test', { build: 'SUCCESS' }, { afterSetup: true }),
      after('deploy', { test: 'SUCCESS' }, { afterSetup: true }),
      after('notify', { 'slipway-agent': 'START' }, { whenStatus: 'failure' }),
    ];
    const skippedByWrapper: ExitRecord = { exitCode: 79, skipped: true };

    it('is decided as when ECS held it back: the same states, reasons and failures', () => {
      const before = decideStepStates(chain, { build: stopped(2), test: neverStarted, deploy: pending }, { build: { exitCode: 2 } });
      const now = decideStepStates(wrapped, { build: stopped(2), test: stopped(79), deploy: stopped(79), notify: running() }, { build: { exitCode: 2 }, test: skippedByWrapper, deploy: skippedByWrapper });
      expect(now['test']).toEqual({ phase: 'unreachable', reason: 'dependency build failed with exit code 2' });
      expect(now['deploy']).toEqual({ phase: 'unreachable', reason: 'dependency test did not run' });
      expect([now['test'], now['deploy']]).toEqual([before['test'], before['deploy']]);
      expect(failedSteps(wrapped.slice(0, 3), now)).toEqual(failedSteps(chain, before));
      expect(stepReports(wrapped[1]!, now['test'], 'complete')).toEqual([{ name: 'test', container: 'test', status: 'skipped', exitCode: null, reason: 'dependency build failed with exit code 2' }]);
      // Its wrapper wrote its records already: the agent owes none.
      expect(recordsToWrite(wrapped, now, new Set(['build', 'test', 'deploy']))).toEqual([]);
      // No start, so no time and nothing stopped at the end.
      expect(stepsOfResult({ steps: wrapped, services: [] }, now, 'complete').started).toEqual([]);
    });

    it('waiting in its wrapper (container running, no .started): pending, and skipped at a cancel, as before', () => {
      const states = decideStepStates(wrapped, { build: running(), test: running(), deploy: running(), notify: running() }, {}, new Set(), Date.now(), undefined, { started: { build: '2024-01-01T00:00:02.000Z' } });
      expect(states['test']).toEqual({ phase: 'waiting' });
      expect(stepReports(wrapped[1]!, states['test'], 'failed-fast')[0]).toMatchObject({ status: 'skipped', reason: 'not started: a step with failure: fast failed, which cancels the pipeline' });
      expect(stepsOfResult({ steps: wrapped, services: [] }, states, 'timed-out').stopped).toEqual(['build']);
    });

    it('after an early exit (78) upstream: skipped for it, as ECS blocked it', () => {
      const states = decideStepStates(wrapped, { build: stopped(78), test: stopped(79), deploy: stopped(79) }, { build: { exitCode: 78 }, test: skippedByWrapper, deploy: skippedByWrapper });
      expect(states['test']).toEqual({ phase: 'skipped', reason: 'build exited 78: the rest of the pipeline is skipped', started: false });
      expect(states['deploy']).toEqual({ phase: 'skipped', reason: 'dependency test was skipped', started: false });
      expect(failedSteps(wrapped.slice(0, 3), states)).toEqual([]);
    });

    it('a user exit 79 (no .skipped marker) is a failure like any other', () => {
      const states = decideStepStates(wrapped, { build: stopped(79) }, { build: { exitCode: 79 } }, new Set(), Date.now(), undefined, { started: { build: '2024-01-01T00:00:02.000Z' } });
      expect(states['build']).toMatchObject({ phase: 'exited', exitCode: 79 });
      expect(states['test']).toEqual({ phase: 'unreachable', reason: 'dependency build failed with exit code 79' });
    });
  });

  it('names the failed dependency and its exit code', () => {
    const states = decideStepStates(chain, { build: stopped(2) }, {});
    expect(states['test']).toEqual({ phase: 'unreachable', reason: 'dependency build failed with exit code 2' });
    expect(states['deploy']).toEqual({ phase: 'unreachable', reason: 'dependency test did not run' });
  });

  it('without conditions, still names the failed dependency once ECS stopped the step', () => {
    const states = decideStepStates(legacyChain, { build: stopped(2), test: neverStarted, deploy: pending }, {});
    expect(states['test']).toEqual({ phase: 'unreachable', reason: 'dependency build failed with exit code 2' });
    expect(states['deploy']).toEqual({ phase: 'unreachable', reason: 'dependency test did not run' });
  });

  it("a plugin step's gate marker settles it when the endpoint cannot (no metadata)", () => {
    const steps = [step('build'), step('slack', ['slack-gate'], { gate: 'slack-gate' }), step('after', ['slack'])];
    const states = decideStepStates(steps, {}, { build: { exitCode: 0 } }, new Set(['slack']));
    expect(states['slack']).toEqual({ phase: 'skipped', reason: STATUS_GATE_SKIP, started: false });
    expect(states['after']?.phase).toBe('skipped');
    expect(supervisionDone(steps, states)).toBe(true);
    // A marker of a step without a gate is its own wrapper's, whose exit record follows: wait for it.
    expect(decideStepStates([step('notify')], {}, {}, new Set(['notify']))['notify']).toEqual({ phase: 'waiting' });
  });

  // The compiler sets no startTimeout (ECS would time it from the detached step's start even
  // for a step that waits on others too: aws/amazon-ecs-agent dependencygraph/graph.go), and
  // ECS waits for ever on an UNHEALTHY dependency: the agent enforces ready.timeout.
  it('a step waiting for a detached step that is not healthy within its ready.timeout is unreachable, with the reason', () => {
    const server = step('server', ['slipway-agent'], { detach: true, readyTimeout: 10, dependsOnConditions: { 'slipway-agent': 'HEALTHY' } });
    const steps = [server, after('test', { server: 'HEALTHY' }), after('deploy', { test: 'SUCCESS' })];
    const start = Date.parse('2024-01-01T00:00:01Z');
    const starting: ContainerView = { ...running(), health: 'UNHEALTHY', healthOutput: 'curl: (7) connection refused\n' };
    expect(decideStepStates(steps, { server: starting, test: pending }, {}, new Set(), start + 10_000)['test']).toEqual({ phase: 'waiting' });
    const late = decideStepStates(steps, { server: starting, test: pending }, {}, new Set(), start + 10_001);
    expect(late['test']).toEqual({
      phase: 'unreachable',
      reason: 'detached step server was not healthy 10 s after it started (its ready.timeout): its health check is UNHEALTHY: curl: (7) connection refused',
    });
    expect(late['deploy']).toEqual({ phase: 'unreachable', reason: 'dependency test did not run' });
    expect(supervisionDone(steps, late)).toBe(true);
    // Healthy in time, or no health status from the endpoint: nothing to judge.
    expect(decideStepStates(steps, { server: { ...starting, health: 'HEALTHY' }, test: pending }, {}, new Set(), start + 60_000)['test']).toEqual({ phase: 'waiting' });
    expect(decideStepStates(steps, { server: running(), test: pending }, {}, new Set(), start + 60_000)['test']).toEqual({ phase: 'waiting' });
  });

  // drone/runner-go pipeline/state.go (finish: 0 and 78 pass) and pipeline/runtime/execer.go
  // (78 skips every pending step): ECS blocks the SUCCESS dependents; they are skipped, not failed.
  it('exit code 78 passes the step and its blocked dependents are skipped, not failed', () => {
    const states = decideStepStates(chain, { build: stopped(78), test: neverStarted, deploy: pending }, {});
    expect(states['test']).toEqual({ phase: 'skipped', reason: 'build exited 78: the rest of the pipeline is skipped', started: false });
    expect(states['deploy']).toEqual({ phase: 'skipped', reason: 'dependency test was skipped', started: false });
    expect(supervisionDone(chain, states)).toBe(true);
    expect(failedSteps(chain, states)).toEqual([]);
    expect(stepReports(chain[0]!, states['build'], 'complete')[0]).toMatchObject({ status: 'success', exitCode: 78 });
    // Before ECS says so, from the exit record alone.
    expect(decideStepStates(chain, { build: running(), test: pending }, { build: { exitCode: 78 } })['test']?.phase).toBe('skipped');
  });

  it('after a failed setup (the clone), the steps that wait for the agent to be healthy are skipped and the status steps still run', () => {
    // build → notify (on failure) → cleanup (always), as compiled: status steps start with the agent.
    const steps = [
      after('build', { 'slipway-agent': 'HEALTHY' }),
      after('test', { build: 'SUCCESS' }),
      after('notify', { 'slipway-agent': 'START' }, { whenStatus: 'failure' }),
      after('cleanup', { 'slipway-agent': 'START' }, { whenStatus: 'always' }),
    ];
    const containers = { build: pending, test: pending, notify: running(), cleanup: pending };
    // notify's wrapper has left its waits (its `.started` marker).
    const states = decideStepStates(steps, containers, {}, new Set(), Date.now(), 'clone: the commit is not in the repository', { started: { notify: '2024-01-01T00:00:05.000Z' } });
    expect(states['build']).toEqual({ phase: 'skipped', reason: 'clone: the commit is not in the repository', started: false });
    expect(states['test']).toEqual({ phase: 'skipped', reason: 'dependency build was skipped', started: false });
    expect(states['notify']).toEqual({ phase: 'running', startedAt: '2024-01-01T00:00:05.000Z' });
    expect(states['cleanup']?.phase).toBe('waiting');
    expect(supervisionDone(steps, states)).toBe(false);
    // The status steps wait for every record of the steps before them: the skipped ones are owed one.
    expect(recordsToWrite(steps, states, new Set()).map((r) => [r.container, r.kind])).toEqual([
      ['build', 'unreachable'],
      ['test', 'unreachable'],
    ]);
    // Without a failed setup nothing changes.
    expect(decideStepStates(steps, containers, {})['build']?.phase).toBe('waiting');
    // A plan without conditions waits on the agent with HEALTHY.
    expect(decideStepStates(legacyChain, {}, {}, new Set(), Date.now(), 'clone failed')['deploy']?.phase).toBe('skipped');
  });

  it('takes the exit code from the record and the times from the endpoint', () => {
    const states = decideStepStates([step('a')], { a: running('2024-01-01T00:00:02Z') }, { a: { exitCode: 0, at: '2024-01-01T00:00:07Z' } });
    expect(states['a']).toEqual({ phase: 'exited', exitCode: 0, startedAt: '2024-01-01T00:00:02Z', finishedAt: '2024-01-01T00:00:07Z' });
  });
});

// runner-go pipeline/runtime/execer.go: a step with ErrFailFast (`failure: fast`, `fast-fail`,
// `fail-fast`) whose exit code is > 0 cancels the pipeline; a detached step's exit is never read.
describe('failure: fast', () => {
  const fast = [
    after('prepare', { 'slipway-agent': 'HEALTHY' }),
    after('slow', { prepare: 'SUCCESS' }),
    after('quick', { prepare: 'SUCCESS' }, { failure: 'fail-fast' }),
    after('later', { slow: 'SUCCESS' }),
  ];
  it('a failed fail-fast step ends the supervision while its sibling still runs; the sibling is reported killed, the pending step skipped', () => {
    const states = decideStepStates(fast, { prepare: stopped(0), slow: running(), quick: stopped(2), later: pending }, {});
    expect(supervisionDone(fast, states)).toBe(false);
    expect(failedFast(fast, states)?.container).toBe('quick');
    expect(stepReports(fast[1]!, states['slow'], 'failed-fast')[0]).toMatchObject({ status: 'killed', reason: 'stopped: a step with failure: fast failed, which cancels the pipeline' });
    expect(stepReports(fast[3]!, states['later'], 'failed-fast')[0]).toMatchObject({ status: 'skipped' });
  });
  it('does not cancel on a pass, on 78, on an ignored or a detached step, nor on a plain failure', () => {
    expect(failedFast(fast, decideStepStates(fast, { prepare: stopped(0), slow: running(), quick: stopped(0) }, {}))).toBeUndefined();
    expect(failedFast(fast, decideStepStates(fast, { prepare: stopped(0), slow: running(), quick: stopped(78) }, {}))).toBeUndefined();
    const detached = fast.map((s) => (s.container === 'quick' ? { ...s, detach: true } : s));
    expect(failedFast(detached, decideStepStates(detached, { prepare: stopped(0), slow: running(), quick: stopped(2) }, {}))).toBeUndefined();
    const plain = fast.map((s) => (s.container === 'quick' ? { ...s, failure: 'always' as const } : s));
    expect(failedFast(plain, decideStepStates(plain, { prepare: stopped(0), slow: running(), quick: stopped(2) }, {}))).toBeUndefined();
  });
});

describe('stepReports', () => {
  it('reports a pass, a failure, an ignored failure and a skip', () => {
    expect(stepReports(step('a'), { phase: 'exited', exitCode: 0, startedAt: 's', finishedAt: 'f' }, 'complete')).toEqual([
      { name: 'a', container: 'a', status: 'success', exitCode: 0, startedAt: 's', finishedAt: 'f' },
    ]);
    expect(stepReports(step('a'), { phase: 'exited', exitCode: 3 }, 'complete')[0]).toMatchObject({ status: 'failure', exitCode: 3 });
    expect(stepReports(step('a', [], { failure: 'ignore' }), { phase: 'exited', exitCode: 3 }, 'complete')[0]).toMatchObject({
      status: 'failure',
      reason: 'failed; ignored (failure: ignore)',
    });
    expect(stepReports(step('a'), { phase: 'skipped', reason: STATUS_GATE_SKIP, started: true }, 'complete')[0]).toMatchObject({
      status: 'skipped',
      reason: STATUS_GATE_SKIP,
    });
  });

  it('tells a detached step stopped with the task (a pass, exit 0, as Drone records it) from a step killed by a timeout', () => {
    // runner-go pipeline/state.go finishAll: a step still running at the end is finished with code 0.
    expect(stepReports(step('srv', [], { detach: true }), { phase: 'running' }, 'complete')[0]).toMatchObject({
      status: 'success',
      exitCode: 0,
      reason: 'detached step stopped with the task at the end of the pipeline',
    });
    // runner-go pipeline/state.go Cancel → killall: a cancel kills it as any running step.
    expect(stepReports(step('srv', [], { detach: true }), { phase: 'running' }, 'failed-fast')[0]).toMatchObject({ status: 'killed' });
    expect(stepReports(step('a'), { phase: 'running', startedAt: 's' }, 'timed-out')[0]).toMatchObject({
      status: 'killed',
      startedAt: 's',
      reason: 'stopped: the pipeline timed out',
    });
    expect(stepReports(step('a'), { phase: 'waiting' }, 'interrupted')[0]).toMatchObject({
      status: 'skipped',
      reason: 'not started: the task was interrupted',
    });
  });

  it('gives each step of a packed container its own line', () => {
    const packed = { ...step('c1'), steps: ['fmt', 'vet'] };
    const lines = stepReports(packed, { phase: 'exited', exitCode: 1 }, 'complete');
    expect(lines.map((l) => l.name)).toEqual(['fmt', 'vet']);
    expect(lines[0]?.reason).toContain('packed with fmt, vet');
  });
});

describe('the final records the agent owes', () => {
  // build → test → notify (runs on failure: after the agent only, its wrapper waits), plus a plugin.
  const plan = [
    after('build', { 'slipway-agent': 'HEALTHY' }),
    after('test', { build: 'SUCCESS' }),
    after('publish', { build: 'SUCCESS' }),
    after('notify', { 'slipway-agent': 'HEALTHY' }),
  ];

  it('an unreachable step gets `.unreachable` with its reason; a plugin that ended gets `.exit`; nothing twice', () => {
    const states = decideStepStates(plan, { build: stopped(2), test: pending, publish: pending, notify: running() }, { build: { exitCode: 2 } });
    expect(recordsToWrite(plan, states, new Set(['build']))).toEqual([
      { container: 'test', kind: 'unreachable', text: 'dependency build failed with exit code 2' },
      { container: 'publish', kind: 'unreachable', text: 'dependency build failed with exit code 2' },
    ]);
    expect(recordsToWrite(plan, states, new Set(['build', 'test', 'publish']))).toEqual([]);
    // The waiting step itself is not over: it owes nothing.
    expect(states['notify']).toMatchObject({ phase: 'running' });
  });

  it('a container that ended without writing its record (a plugin) gets one from the exit code ECS reports', () => {
    const states = decideStepStates(plan, { build: stopped(0), publish: stopped(1), test: running(), notify: running() }, { build: { exitCode: 0 } });
    expect(recordsToWrite(plan, states, new Set(['build']))).toEqual([{ container: 'publish', kind: 'exit', text: '1' }]);
    const unknown = decideStepStates(plan, { build: stopped(0), publish: { phase: 'stopped', exitCode: null, startedAt: '2024-01-01T00:00:01Z' } }, { build: { exitCode: 0 } });
    expect(recordsToWrite(plan, unknown, new Set(['build']))).toEqual([{ container: 'publish', kind: 'exit', text: 'unknown' }]);
  });

  it('a step behind a skipped plugin never starts: it is owed `.unreachable` too', () => {
    const gated = [after('build', { 'slipway-agent': 'HEALTHY' }), after('slack', { 'slack-gate': 'SUCCESS' }, { gate: 'slack-gate' }), after('after', { slack: 'SUCCESS' })];
    const states = decideStepStates(gated, { build: stopped(0), 'slack-gate': stopped(1), slack: neverStarted, after: pending }, { build: { exitCode: 0 } }, new Set(['slack']));
    expect(recordsToWrite(gated, states, new Set(['build', 'slack']))).toEqual([{ container: 'after', kind: 'unreachable', text: 'dependency slack was skipped' }]);
  });
});

describe('steps that run on a status, waiting in their wrapper', () => {
  const steps = [
    after('slow', { 'slipway-agent': 'HEALTHY' }),
    after('quick', { 'slipway-agent': 'HEALTHY' }, { failure: 'fail-fast' }),
    after('report', { 'slipway-agent': 'START' }, { whenStatus: 'failure' }),
  ];

  it('are pending while their container runs without a `.started` marker, so a cancel reports them skipped, not killed', () => {
    // runner-go pipeline/state.go Cancel: skipall (pending → skipped) before killall (running → killed).
    const states = decideStepStates(steps, { slow: running(), quick: stopped(2), report: running() }, {});
    expect(states['report']).toEqual({ phase: 'waiting' });
    expect(failedFast(steps, states)?.container).toBe('quick');
    expect(stepReports(steps[2]!, states['report'], 'failed-fast')[0]).toMatchObject({ status: 'skipped', exitCode: null });
    expect(stepReports(steps[0]!, states['slow'], 'failed-fast')[0]).toMatchObject({ status: 'killed' });
  });

  it('run from their `.started` marker on, which is also their start time', () => {
    const states = decideStepStates(steps, { slow: stopped(1), quick: stopped(0), report: running() }, {}, new Set(), Date.now(), undefined, {
      started: { report: '2024-01-01T00:00:30.000Z' },
    });
    expect(states['report']).toEqual({ phase: 'running', startedAt: '2024-01-01T00:00:30.000Z' });
    const ended = decideStepStates(steps, { slow: stopped(1), quick: stopped(0), report: stopped(0) }, { report: { exitCode: 0 } }, new Set(), Date.now(), undefined, {
      started: { report: '2024-01-01T00:00:30.000Z' },
    });
    expect(ended['report']).toMatchObject({ phase: 'exited', exitCode: 0, startedAt: '2024-01-01T00:00:30.000Z' });
  });

  it("a plugin step's gate container waits instead: ECS running the plugin means it runs", () => {
    const plugin = after('notify', { 'notify-gate': 'SUCCESS' }, { whenStatus: 'failure', gate: 'notify-gate' });
    expect(decideStepStates([plugin], { notify: running() }, {})['notify']?.phase).toBe('running');
  });
});

describe('steps with commands that start with the task, waiting in their wrapper for the setup (afterSetup)', () => {
  // Their containers start with the agent; their commands once the clone and the services are
  // ready: Drone stamps a step's Started when the runner starts it, after its dependencies
  // (drone/runner-go pipeline/runtime/execer.go, state.Start before engine.Run).
  const steps = [after('lint', {}, { afterSetup: true, failure: 'fail-fast' }), after('build', {}, { afterSetup: true }), after('test', { build: 'SUCCESS' }, { afterSetup: true })];
  const marker = '2024-01-01T00:00:31.000Z';

  it("are pending while their container waits, then run from their `.started` marker, which is their start, not their container's", () => {
    const waiting = decideStepStates(steps, { lint: running(), build: running(), test: pending }, {});
    expect(waiting['build']).toEqual({ phase: 'waiting' });
    expect(supervisionDone(steps, waiting)).toBe(false);
    const started = decideStepStates(steps, { lint: running(), build: running(), test: pending }, {}, new Set(), Date.now(), undefined, { started: { build: marker } });
    expect(started['build']).toEqual({ phase: 'running', startedAt: marker });
    const ended = decideStepStates(steps, { lint: running(), build: stopped(0), test: running() }, { build: { exitCode: 0 } }, new Set(), Date.now(), undefined, { started: { build: marker } });
    expect(ended['build']).toEqual({ phase: 'exited', exitCode: 0, startedAt: marker, finishedAt: '2024-01-01T00:00:09Z' });
    expect(stepReports(steps[1]!, ended['build'], 'complete')[0]).toMatchObject({ status: 'success', startedAt: marker });
    // The result line carries the marker for the control plane (AgentResult.started).
    expect(stepsOfResult({ steps, services: [] }, ended, 'complete').started).toEqual([{ container: 'build', at: marker }]);
  });

  it("ends at its exit record, not at its container's stop, which a later step's START may hold back (script.ts, lingerLines); the result line says when", () => {
    const record = '2024-01-01T00:00:05.000Z';
    const lingered = decideStepStates(steps, { lint: running(), build: stopped(0), test: running() }, { build: { exitCode: 0, at: record } }, new Set(), Date.now(), undefined, { started: { build: marker } });
    expect(lingered['build']).toEqual({ phase: 'exited', exitCode: 0, startedAt: marker, finishedAt: record });
    expect(stepsOfResult({ steps, services: [] }, lingered, 'complete').ended).toEqual([{ container: 'build', at: record }]);
    // A plugin (no wrapper: the agent writes its record after the fact) still ends at its container's stop.
    const plugin = after('publish', { test: 'SUCCESS' });
    expect(decideStepStates([plugin], { publish: stopped(0) }, { publish: { exitCode: 0, at: record } })['publish']).toMatchObject({ finishedAt: '2024-01-01T00:00:09Z' });
  });

  it('its marker says it runs also without the endpoint; stopped without an exit record, it keeps the marker as its start, not its container\'s', () => {
    expect(decideStepStates(steps, {}, {}, new Set(), Date.now(), undefined, { started: { build: marker } })['build']).toEqual({ phase: 'running', startedAt: marker });
    expect(decideStepStates(steps, {}, {})['build']).toEqual({ phase: 'waiting' });
    const stoppedNoRecord = decideStepStates(steps, { lint: running(), build: stopped(137), test: pending }, {}, new Set(), Date.now(), undefined, { started: { build: marker } });
    expect(stoppedNoRecord['build']).toEqual({ phase: 'exited', exitCode: 137, startedAt: marker, finishedAt: '2024-01-01T00:00:09Z' });
    expect(decideStepStates(steps, { lint: running(), build: stopped(137), test: pending }, {})['build']).toEqual({ phase: 'exited', exitCode: 137, finishedAt: '2024-01-01T00:00:09Z' });
  });

  it('one that exited before its marker (its wrapper failed first) has no start; one a cancel finds still waiting is skipped, not killed', () => {
    const early = decideStepStates(steps, { lint: running(), build: stopped(1), test: pending }, { build: { exitCode: 1 } });
    expect(early['build']).toEqual({ phase: 'exited', exitCode: 1, finishedAt: '2024-01-01T00:00:09Z' });
    const cancelled = decideStepStates(steps, { lint: stopped(2), build: running(), test: pending }, { lint: { exitCode: 2 } }, new Set(), Date.now(), undefined, { started: { lint: marker } });
    expect(failedFast(steps, cancelled)?.container).toBe('lint');
    const result = stepsOfResult({ steps, services: [] }, cancelled, 'failed-fast');
    expect(result.stopped).toEqual([]);
    expect(result.skipped).toContainEqual({ container: 'build', reason: 'not started: a step with failure: fast failed, which cancels the pipeline' });
    expect(result.started).toEqual([{ container: 'lint', at: marker }]);
  });

  it('after a failed setup, one still in its wait is left to skip itself (the agent waits for it); one not started yet is skipped at once', () => {
    const reason = 'service "db" (port 5432) not ready after 30 s';
    const states = decideStepStates(steps, { lint: running(), build: pending, test: pending }, {}, new Set(), Date.now(), reason);
    expect(states['lint']).toEqual({ phase: 'waiting' });
    expect(states['build']).toEqual({ phase: 'skipped', reason, started: false });
    expect(supervisionDone(steps, states)).toBe(false);
  });
});

describe('skip reasons from the markers', () => {
  it("a step the early-exit check skipped says which step exited 78, from its marker", () => {
    const steps = [after('check', { 'slipway-agent': 'HEALTHY' }, { failure: 'ignore' }), after('after', { check: 'COMPLETE' })];
    const reason = 'check exited 78: the rest of the pipeline is skipped';
    const states = decideStepStates(steps, { check: stopped(78), after: stopped(0) }, { check: { exitCode: 78 }, after: { exitCode: 0, skipped: true } }, new Set(), Date.now(), undefined, {
      skipReasons: { after: reason },
    });
    expect(states['after']).toEqual({ phase: 'skipped', reason, started: true });
    expect(stepReports(steps[1]!, states['after'], 'complete')[0]).toMatchObject({ status: 'skipped', reason, exitCode: null });
  });
});

describe("the result line's steps", () => {
  const service = { name: 'db', container: 'db', ports: [5432], healthCommand: false, timeout: 60 };
  const steps = [
    after('server', { 'slipway-agent': 'HEALTHY' }, { detach: true }),
    after('slow', { 'slipway-agent': 'HEALTHY' }),
    after('quick', { 'slipway-agent': 'HEALTHY' }, { failure: 'fail-fast' }),
    after('later', { slow: 'SUCCESS' }),
    after('report', { 'slipway-agent': 'START' }, { whenStatus: 'failure' }),
  ];
  const states = decideStepStates(steps, { server: running(), slow: running(), quick: stopped(2), later: pending, report: running() }, {});

  it('after failure: fast, every container still running is stopped (killed), detached steps and services too; the pending ones are skipped', () => {
    expect(stepsOfResult({ steps, services: [service] }, states, 'failed-fast')).toEqual({
      stopped: ['server', 'slow', 'db'],
      skipped: [
        { container: 'later', reason: 'not started: a step with failure: fast failed, which cancels the pipeline' },
        { container: 'report', reason: 'not started: a step with failure: fast failed, which cancels the pipeline' },
      ],
      started: [],
      ended: [],
    });
  });

  it('at an ordinary end, detached steps and services end with the task: not stopped', () => {
    const ended = decideStepStates(steps, { server: running(), slow: stopped(0), quick: stopped(0), later: stopped(0), report: stopped(0) }, { report: { exitCode: 0, skipped: true } });
    expect(stepsOfResult({ steps, services: [service] }, ended, 'complete')).toEqual({ stopped: [], skipped: [{ container: 'report', reason: STATUS_GATE_SKIP }], started: [], ended: [] });
  });

  it('says when the commands of a step that waited in its wrapper started (its marker), never its container start', () => {
    const at = '2024-01-01T00:00:30.000Z';
    const ran = decideStepStates(steps, { server: running(), slow: stopped(1), quick: stopped(0), later: neverStarted, report: stopped(0) }, { report: { exitCode: 0 } }, new Set(), Date.now(), undefined, { started: { report: at } });
    expect(stepsOfResult({ steps, services: [] }, ran, 'complete').started).toEqual([{ container: 'report', at }]);
    const unmarked = decideStepStates(steps, { server: running(), slow: stopped(1), quick: stopped(0), later: neverStarted, report: stopped(0) }, { report: { exitCode: 0 } });
    expect(stepsOfResult({ steps, services: [] }, unmarked, 'complete').started).toEqual([]);
  });
});

