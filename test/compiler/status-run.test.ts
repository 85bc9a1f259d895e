// The status rule, end to end: compile, then run the task as ECS and the agent would
// (simulate.ts: a container that never started satisfies no dependency), with the real
// generated scripts under every shell a step image may have.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliContext } from '../../cli/commands/compile.js';
import { compileManifest, type CompiledStage } from '../../core/pipeline/compile.js';
import { isValid, loadManifest } from '../../core/pipeline/load.js';
import { STATUS_GATE_SKIP } from '../../task-runner/decide-steps.js';
import { FIXTURE_OPTIONS } from './support.js';
import { simulate, type Outcome, type SimulateOptions } from './simulate.js';

const push = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40) });

function stage(yaml: string): CompiledStage {
  const manifest = loadManifest('.drone.yml', yaml);
  if (!isValid(manifest)) throw new Error(manifest.diagnostics.map((d) => d.message).join('\n'));
  return compileManifest(manifest, push, FIXTURE_OPTIONS).stages[0]!;
}

const pipeline = (steps: string) => `kind: pipeline\ntype: docker\nname: p\n\nsteps:\n${steps}`;
const step = (name: string, commands: string[], more = '') =>
  `  - name: ${name}\n    image: alpine:3.20\n    commands: [${commands.map((c) => JSON.stringify(c)).join(', ')}]\n${more}`;
const onFailure = '    when:\n      status: [failure]\n';
const always = '    when:\n      status: [success, failure]\n';
const needs = (...names: string[]) => `    depends_on: [${names.join(', ')}]\n`;
const plugin = (name: string, more = '') => `  - name: ${name}\n    image: plugins/slack\n    settings:\n      channel: ci\n${more}`;

// dash (Debian's /bin/sh), busybox sh (Alpine's) and bash in POSIX mode, where present.
const SHELLS: string[][] = [];
if (existsSync('/bin/dash')) SHELLS.push(['/bin/dash']);
for (const candidate of ['busybox', '/usr/bin/busybox', '/bin/busybox']) {
  if (spawnSync(candidate, ['sh', '-c', 'exit 0']).status === 0) {
    SHELLS.push([candidate, 'sh']);
    break;
  }
}
if (existsSync('/bin/bash')) SHELLS.push(['/bin/bash', '--posix', '--norc', '--noprofile']);
if (SHELLS.length === 0) SHELLS.push(['/bin/sh']);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-status-'));
  mkdirSync(join(dir, 'ws'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function run(yaml: string, extra: Partial<SimulateOptions> = {}): Promise<Outcome> {
  const env = {
    SLIPWAY_STATE_DIR: join(dir, 'state'),
    SLIPWAY_WORKSPACE: join(dir, 'ws'),
    SLIPWAY_HOSTS_FILE: join(dir, 'hosts'),
    SLIPWAY_WAIT_SECONDS: '0.05',
  };
  return simulate(stage(yaml), { env, ...extra });
}

const output = (out: Outcome) => out.ran.map((r) => r.stdout).join('');
const exitOf = (out: Outcome, name: string) => out.ran.find((r) => r.name === name)?.exit;
/**
 * A plain step that started with the task and never ran its commands: its wrapper skipped it
 * (exit 79), or the task ended first (143) once the agent had decided it (its verdict is final).
 */
const leftWithoutRunning = (out: Outcome, name: string) => {
  expect([79, 143], name).toContain(exitOf(out, name));
  expect(existsSync(join(dir, 'state', 'steps', name, `${name}.started`)), name).toBe(false);
};
const endOrder = (out: Outcome) => out.ran.map((r) => r.name);
/** Steps append their name to `order` in the workspace when their commands run: the order they really ran in. */
const mark = (name: string) => `echo ${name} >> order`;
const ranOrder = () => {
  const file = join(dir, 'ws', 'order');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
};

for (const shell of SHELLS) {
  describe(`status steps under ${shell.join(' ')}`, () => {
    const chain = (buildCommand: string) =>
      pipeline(
        step('build', [mark('build'), buildCommand]) +
          step('test', [mark('test'), 'echo TESTED']) +
          step('notify', [mark('notify'), 'echo NOTIFIED'], onFailure) +
          step('cleanup', [mark('cleanup'), 'echo CLEANED'], always) +
          step('publish', [mark('publish'), 'echo PUBLISHED']),
      );

    it('build fails → test never runs its commands → notify still runs, after everything before it ended', async () => {
      const out = await run(chain('exit 3'), { shell });
      expect(out.ran.find((r) => r.name === 'build')!.exit).toBe(3);
      // test and publish start with the task and skip themselves in their wrappers (exit 79).
      expect(out.blocked).toEqual([]);
      leftWithoutRunning(out, 'test');
      leftWithoutRunning(out, 'publish');
      expect(output(out)).toContain('NOTIFIED');
      expect(output(out)).toContain('CLEANED');
      expect(output(out)).not.toContain('TESTED');
      expect(output(out)).not.toContain('PUBLISHED');
      expect(ranOrder()).toEqual(['build', 'notify', 'cleanup']);
      // The agent decides as when ECS held it back: the same reasons, the same failures.
      expect(out.reports['test']).toMatchObject({ status: 'skipped', reason: 'dependency build failed with exit code 3' });
      expect(out.reports['notify']).toMatchObject({ status: 'success', exitCode: 0 });
      expect(out.reports['publish']).toMatchObject({ status: 'skipped', reason: 'dependency test did not run' });
      expect(out.failed).toEqual([
        'build failed with exit code 3',
        'test did not run (dependency build failed with exit code 3)',
        'publish did not run (dependency test did not run)',
      ]);
    });

    it('build passes → notify skips itself, the always step and later plain steps run', async () => {
      const out = await run(chain('echo BUILT'), { shell });
      expect(out.blocked).toEqual([]);
      expect(output(out)).not.toContain('NOTIFIED');
      expect(output(out)).toContain('skipping notify');
      expect(output(out)).toContain('CLEANED');
      expect(output(out)).toContain('PUBLISHED');
      // notify runs no command; cleanup waits for its record, publish for cleanup's exit.
      expect(ranOrder()).toEqual(['build', 'test', 'cleanup', 'publish']);
      expect(existsSync(join(dir, 'state', 'steps', 'notify', 'notify.skipped'))).toBe(true);
      expect(out.reports['notify']).toMatchObject({ status: 'skipped', reason: STATUS_GATE_SKIP });
      expect(out.failed).toEqual([]);
    });

    it('DAG: a failure far up reaches the failure step through a step that never starts', async () => {
      // 'lint' runs beside 'unit' and ends after it: it waits for unit's mark (a fixed 0.2 s was
      // shorter than a loaded machine may take to start unit's shell).
      const yaml = pipeline(
        step('unit', [mark('unit'), 'exit 1']) +
          step('lint', ['until grep -qx unit order 2>/dev/null; do sleep 0.05; done', mark('lint')]) +
          step('e2e', ['echo E2E'], needs('unit', 'lint')) +
          step('alert', [mark('alert'), 'echo ALERT'], needs('e2e') + onFailure),
      );
      const out = await run(yaml, { shell });
      expect(out.blocked).toEqual([]);
      leftWithoutRunning(out, 'e2e');
      expect(out.reports['e2e']).toMatchObject({ status: 'skipped', reason: 'dependency unit failed with exit code 1' });
      expect(output(out)).toContain('ALERT');
      expect(out.reports['alert']).toMatchObject({ status: 'success' });
      expect(ranOrder()).toEqual(['unit', 'lint', 'alert']);
    });
  });
}

// Drone recomputes the build's and stage's status before every step (drone/runner-go
// pipeline/runtime/execer.go: environ.Build, environ.Stage of the current state; environ.go:
// DRONE_FAILED_STEPS, DRONE_FAILED_STAGES when failing, FINISHED = now while running).
describe('the status a step sees as it starts (under /bin/sh)', () => {
  const show = (label: string) =>
    `echo "${label} build=$DRONE_BUILD_STATUS stage=$DRONE_STAGE_STATUS steps=\${DRONE_FAILED_STEPS-unset} stages=\${DRONE_FAILED_STAGES-unset} started=$DRONE_BUILD_STARTED/$DRONE_STAGE_STARTED ci=$CI_BUILD_STATUS"`;
  const now = () => Math.floor(Date.now() / 1000);

  it('a failure step sees the failure, the failed steps and real start times; an earlier step saw success', async () => {
    const yaml = pipeline(
      step('first', [show('FIRST')]) +
        step('build', ['exit 3']) +
        step('ignored', ['exit 1'], '    failure: ignore\n' + onFailure) +
        step('notify', [show('NOTIFY'), 'echo "finished=$DRONE_STAGE_FINISHED"'], onFailure),
    );
    const before = now();
    const out = await run(yaml, { status: { upstream: { failedStages: [], buildStarted: 1_700_000_000 }, stageStarted: 1_700_000_100 } });
    expect(output(out)).toContain('FIRST build=success stage=success steps=unset stages=unset started=1700000000/1700000100 ci=running');
    // build failed; `ignored` failed too, but its failure is ignored (runner-go environ.failedSteps).
    expect(output(out)).toContain('NOTIFY build=failure stage=failure steps=build stages= started=1700000000/1700000100 ci=failure');
    const finished = Number(/finished=(\d+)/.exec(output(out))![1]);
    expect(finished).toBeGreaterThanOrEqual(before);
  });

  it('failed stages of the build (known when the stage was released) make the build failing from the first step', async () => {
    const yaml = pipeline(step('first', [show('FIRST')]) + step('notify', [show('NOTIFY')], onFailure));
    const out = await run(yaml, { status: { upstream: { failedStages: ['lint', 'unit'] }, stageStarted: 1_700_000_100 } });
    // Without a build start from the control plane, the stage's start stands for it.
    expect(output(out)).toContain('FIRST build=failure stage=success steps=unset stages=lint,unit started=1700000100/1700000100 ci=failure');
  });
});

// Drone's early exit (drone/runner-go pipeline/runtime/execer.go: "if the exit code is 78 the
// system will skip all subsequent pending steps"; pipeline/state.go: 0 and 78 pass). A step
// with `status: [success, failure]` still runs (its run policy passes the skip check).
describe('exit code 78 (under /bin/sh)', () => {
  it('passes the step and skips the rest of the pipeline; an always step still runs', async () => {
    const yaml = pipeline(
      step('build', [mark('build'), 'exit 78']) +
        step('test', [mark('test')]) +
        step('notify', [mark('notify')], onFailure) +
        step('cleanup', [mark('cleanup')], always) +
        step('publish', [mark('publish')]),
    );
    const out = await run(yaml);
    expect(ranOrder()).toEqual(['build', 'cleanup']);
    expect(out.failed).toEqual([]);
    expect(out.reports['build']).toMatchObject({ status: 'success', exitCode: 78 });
    expect(out.reports['test']).toMatchObject({ status: 'skipped', reason: 'build exited 78: the rest of the pipeline is skipped' });
    expect(out.reports['notify']).toMatchObject({ status: 'skipped' });
    expect(out.reports['cleanup']).toMatchObject({ status: 'success', exitCode: 0 });
    expect(out.reports['publish']).toMatchObject({ status: 'skipped' });
  });

  it('DAG: a step already running goes on; one that starts after the early exit skips itself', async () => {
    // quit exits once slow has started; slow ends only after quit's record is there.
    const yaml = pipeline(
      step('quit', ['until [ -f slow-started ]; do sleep 0.05; done', mark('quit'), 'exit 78']) +
        step('slow', ['touch slow-started', 'until [ -s "$SLIPWAY_STATE_DIR/steps/quit/quit.exit" ]; do sleep 0.05; done', mark('slow')]) +
        step('later', [mark('later')], needs('slow')),
    );
    const out = await run(yaml);
    expect(ranOrder()).toEqual(['quit', 'slow']);
    expect(output(out)).toContain('skipping later: quit exited 78, so the rest of the pipeline is skipped');
    expect(out.reports['later']).toMatchObject({ status: 'skipped' });
    expect(out.failed).toEqual([]);
  });
});

describe('status steps: more shapes (under /bin/sh)', () => {
  it('DAG: the failure step waits for a sibling branch still running after its dependency was declared unreachable', async () => {
    // 'slow' is still running when 'join' has its final record: it ends only once join's wrapper
    // skipped it (its exit record) or the agent declared it unreachable, whichever comes first
    // (a fixed 0.4 s could end before a loaded machine got there).
    const joinEnded = '[ -s "$SLIPWAY_STATE_DIR/steps/join/join.unreachable" ] || [ -s "$SLIPWAY_STATE_DIR/steps/join/join.exit" ]';
    const yaml = pipeline(
      step('fast', [mark('fast'), 'exit 1']) +
        step('slow', [`until ${joinEnded}; do sleep 0.05; done`, mark('slow')]) +
        step('join', ['echo JOINED'], needs('fast', 'slow')) +
        step('alert', [mark('alert')], needs('join') + onFailure),
    );
    const out = await run(yaml);
    expect(out.blocked).toEqual([]);
    leftWithoutRunning(out, 'join');
    expect(out.reports['join']).toMatchObject({ status: 'skipped', reason: 'dependency fast failed with exit code 1' });
    expect(ranOrder()).toEqual(['fast', 'slow', 'alert']);
  });

  it('DAG with a detached step: it is not waited for, and the failure step still runs', async () => {
    const yaml = pipeline(
      step('api', ['sleep 30'], '    detach: true\n') +
        step('unit', ['exit 2']) +
        step('e2e', ['echo E2E'], needs('api', 'unit')) +
        step('alert', ['echo ALERT'], needs('e2e') + onFailure),
    );
    const out = await run(yaml);
    expect(out.blocked).toEqual([]);
    // Its wrapper skips it, or the task ends first once the agent has declared it unreachable.
    expect(output(out)).not.toContain('E2E');
    expect(out.reports['e2e']).toMatchObject({ status: 'skipped', reason: 'dependency unit failed with exit code 2' });
    expect(output(out)).toContain('ALERT');
    expect(out.reports['api']).toMatchObject({ status: 'success', exitCode: 0, reason: 'detached step stopped with the task at the end of the pipeline' });
  });

  it('[success, failure] runs whatever happened, and last', async () => {
    for (const first of ['true', 'exit 4']) {
      rmSync(join(dir, 'state'), { recursive: true, force: true });
      rmSync(join(dir, 'ws', 'order'), { force: true });
      const out = await run(pipeline(step('a', [mark('a'), first]) + step('b', [mark('b')]) + step('report', [mark('report'), 'echo REPORTED'], always)));
      expect(output(out)).toContain('REPORTED');
      expect(ranOrder()).toEqual(first === 'true' ? ['a', 'b', 'report'] : ['a', 'report']);
      expect(out.reports['report']).toMatchObject({ status: 'success' });
    }
  });

  it('failure-only steps in a row both run after a failure, in order', async () => {
    const out = await run(pipeline(step('build', [mark('build'), 'exit 1']) + step('first', ['sleep 0.1', mark('first')], onFailure) + step('second', [mark('second')], onFailure)));
    expect(ranOrder()).toEqual(['build', 'first', 'second']);
    expect(out.reports['second']).toMatchObject({ status: 'success' });
  });

  it('failure: ignore does not make the build failing, and later steps run', async () => {
    const out = await run(pipeline(step('flaky', ['exit 1'], '    failure: ignore\n') + step('next', ['echo NEXT']) + step('alert', ['echo ALERT'], onFailure)));
    expect(output(out)).toContain('NEXT');
    expect(output(out)).not.toContain('ALERT\n');
    expect(out.failed).toEqual([]);
  });

  it('a plugin step on failure waits behind its gate container; a plain step after it runs when the build passes', async () => {
    const yaml = (first: string) => pipeline(step('test', [first]) + plugin('slack', onFailure) + step('deploy', ['echo DEPLOYED']));
    const failing = await run(yaml('exit 1'));
    // The plugin starts only once its gate ended (SUCCESS), and the gate only once test had;
    // deploy waits in its wrapper for the plugin's record, then skips itself (test failed).
    expect([...endOrder(failing)].sort()).toEqual(['deploy', 'slack', 'slack-gate', 'test']);
    expect(endOrder(failing).indexOf('slack')).toBeGreaterThan(endOrder(failing).indexOf('slack-gate'));
    expect(failing.blocked).toEqual([]);
    leftWithoutRunning(failing, 'deploy');
    expect(failing.reports['deploy']).toMatchObject({ status: 'skipped', reason: 'dependency test failed with exit code 1' });
    rmSync(join(dir, 'state'), { recursive: true, force: true });
    const passing = await run(yaml('true'));
    expect(passing.ran.map((r) => [r.name, r.exit]).sort()).toEqual([['deploy', 0], ['slack-gate', 1], ['test', 0]]);
    expect(endOrder(passing).at(-1)).toBe('deploy');
    expect(passing.blocked).toEqual(['slack']);
    expect(passing.reports['slack']).toMatchObject({ status: 'skipped', reason: STATUS_GATE_SKIP });
    expect(passing.failed).toEqual([]);
  });

  it('a plugin step that fails (no wrapper, no record of its own) is seen as failing by the failure step', async () => {
    const out = await run(pipeline(step('build', ['true']) + plugin('publish') + step('notify', ['echo NOTIFIED'], onFailure)), { pluginExit: { publish: 1 } });
    expect(readFileSync(join(dir, 'state', 'steps', 'publish', 'publish.exit'), 'utf8')).toBe('1\n');
    expect(output(out)).toContain('NOTIFIED');
  });

  it('a plugin step that runs always waits for the steps before it, through its gate', async () => {
    const out = await run(pipeline(step('build', ['exit 1']) + step('test', ['true']) + plugin('slack', always)));
    expect(out.blocked).toEqual([]);
    leftWithoutRunning(out, 'test');
    // The gate ends once build and test have a final record (test's: its wrapper's, or the agent's
    // `.unreachable`, which may come first, so test's container may end after slack).
    expect(endOrder(out).indexOf('slack')).toBeGreaterThan(endOrder(out).indexOf('slack-gate'));
    expect(readFileSync(join(dir, 'state', 'steps', 'build', 'build.exit'), 'utf8')).toBe('1\n');
    expect(out.reports['slack']).toMatchObject({ status: 'success' });
    expect(out.reports['test']).toMatchObject({ status: 'skipped', reason: 'dependency build failed with exit code 1' });
  });
});

// A failed clone fails the stage, and the steps that run on failure still run: Drone's clone
// is a step of the stage (drone-runner-docker engine/compiler/compiler.go, createClone), and
// its failure makes state.Failed() true, so RunOnFailure steps run and RunOnSuccess steps are
// skipped (drone/runner-go pipeline/runtime/execer.go). Here the agent never turns healthy:
// status steps start with it (ECS START) and wait for its setup record (SETUP_RECORD); plain
// steps with commands start with the task, read the same record and skip themselves.
describe('a failed clone (under /bin/sh)', () => {
  it('runs the failure and always steps, with the clone among the failed steps; the plain steps are skipped', async () => {
    const yaml = pipeline(
      step('build', [mark('build')]) +
        step('notify', [mark('notify'), 'echo "NOTIFY build=$DRONE_BUILD_STATUS steps=$DRONE_FAILED_STEPS"'], onFailure) +
        step('cleanup', [mark('cleanup')], always) +
        step('publish', [mark('publish')]) +
        plugin('slack', onFailure),
    );
    const out = await run(yaml, { setup: 5, status: { upstream: { failedStages: [] }, stageStarted: 1_700_000_100 } });
    expect(ranOrder()).toEqual(['notify', 'cleanup']);
    expect(output(out)).toContain('NOTIFY build=failure steps=clone');
    // build and publish start with the task and skip themselves in their wrappers (exit 79).
    expect(out.ran.find((r) => r.name === 'build')?.exit).toBe(79);
    leftWithoutRunning(out, 'publish');
    expect(out.blocked).toEqual([]);
    expect(out.reports['build']).toMatchObject({ status: 'skipped', reason: 'the setup failed with exit code 5' });
    expect(out.reports['publish']).toMatchObject({ status: 'skipped' });
    expect(out.reports['notify']).toMatchObject({ status: 'success', exitCode: 0 });
    expect(out.reports['cleanup']).toMatchObject({ status: 'success', exitCode: 0 });
    // The plugin's gate sees the failed clone too, and lets the plugin run.
    expect(out.ran.find((r) => r.name === 'slack-gate')?.exit).toBe(0);
    expect(out.reports['slack']).toMatchObject({ status: 'success' });
  });

  it('status steps start with the agent, plain steps with commands with the task (both wait for the setup record)', () => {
    const compiled = stage(pipeline(step('build', ['true']) + step('notify', ['true'], onFailure) + plugin('slack', always)));
    const deps = Object.fromEntries(compiled.taskDefinition.containerDefinitions!.map((c) => [c.name, c.dependsOn]));
    expect(deps['build']).toBeUndefined();
    expect(deps['notify']).toEqual([{ containerName: 'slipway-agent', condition: 'START' }]);
    expect(deps['slack-gate']).toEqual([{ containerName: 'slipway-agent', condition: 'START' }]);
    expect(compiled.plan.steps.map((s) => [s.container, s.whenStatus])).toEqual([
      ['build', undefined],
      ['notify', 'failure'],
      ['slack', 'always'],
    ]);
  });
});

// A detached step's exit code is never read in Drone: runner-go pipeline/runtime/execer.go
// starts it in a goroutine and returns, so its 78 skips nothing (state.SkipAll is only called
// for a step it waited for).
describe('a detached step that exits 78 (under /bin/sh)', () => {
  it('skips nothing: the later steps run', async () => {
    const yaml = pipeline(
      step('server', [mark('server'), 'exit 78'], '    detach: true\n') +
        step('test', ['until [ -s "$SLIPWAY_STATE_DIR/steps/server/server.exit" ]; do sleep 0.05; done', mark('test')]) +
        step('after', [mark('after')]),
    );
    const out = await run(yaml);
    expect(ranOrder()).toEqual(['server', 'test', 'after']);
    expect(out.reports['after']).toMatchObject({ status: 'success' });
    expect(out.failed).toEqual([]);
  });
});
