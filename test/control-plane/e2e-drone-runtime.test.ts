// Drone's run-time semantics end to end on the local stand-ins (real handlers, DynamoDB
// Local, fauxqs, the ECS stand-in running the real agent and the real step wrappers):
// trigger status on a pipeline with depends_on, the failed stages its steps see, exit code
// 78, a failed clone and `failure: fast`.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildDetail } from '../../core/builds/types.js';
import { E2E_REPO, startE2e, stepTable, type E2e } from '../support/control-plane-e2e.js';
import { droneYaml, step } from '../support/pipelines.js';

// drone/drone operator/manager/teardown.go: a stage whose dependencies are done runs when
// its trigger status matches the build (any failed stage), else is skipped.
const NOTIFY_ON_FAILURE = droneYaml(
  { name: 'build', steps: [step('compile', ['exit 1'])] },
  {
    name: 'notify',
    depends_on: ['build'],
    trigger: { status: ['failure'] },
    steps: [step('tell', ['echo "seen build=$DRONE_BUILD_STATUS stages=$DRONE_FAILED_STAGES"'])],
  },
  { name: 'deploy', depends_on: ['build'], steps: [step('ship', ['echo shipped'])] },
);

// drone/runner-go pipeline/runtime/execer.go: exit 78 passes the step, the rest is skipped.
const EARLY_EXIT = droneYaml({ name: 'test', steps: [step('check', ['exit 78']), step('after', ['echo "must not run"'])] });

// The clone is a step of the stage in Drone (drone-runner-docker engine/compiler/compiler.go,
// createClone): its failure fails the stage, the steps that run on failure still run and
// see it among the failed steps, the others are skipped (runner-go pipeline/runtime/execer.go).
const CLONE_FAILS = droneYaml({
  name: 'test',
  steps: [step('build', ['echo built']), step('notify', ['echo "notified build=$DRONE_BUILD_STATUS steps=$DRONE_FAILED_STEPS"'], { when: { status: ['failure'] } })],
});

// runner-go pipeline/runtime/execer.go: a `failure: fast` step that fails cancels the pipeline:
// the sibling still running is stopped (killed), nothing else starts; a step still waiting for
// its dependencies — `report`, which runs on failure after `slow` — is pending in Drone, and
// pipeline/state.go Cancel (skipall before killall) records it skipped, not killed.
const FAIL_FAST = droneYaml({
  name: 'test',
  steps: [
    step('prepare', ['echo prepared']),
    step('slow', ['sleep 120'], { depends_on: ['prepare'] }),
    step('quick', ['sleep 1', 'exit 2'], { depends_on: ['prepare'], failure: 'fast' }),
    step('after', ['echo after'], { depends_on: ['slow'] }),
    step('report', ['echo reported'], { depends_on: ['slow'], when: { status: ['failure'] } }),
  ],
});

// runner-go pipeline/runtime/execer.go runs a detached step in a goroutine and never reads its
// exit; pipeline/state.go finishAll then finishes every step still running with code 0: a
// detached step stopped at the end of the pipeline is a success with exit code 0.
const DETACHED = droneYaml({ name: 'test', steps: [step('server', ['sleep 300'], { detach: true }), step('check', ['echo checked'])] });

// The early exit skips every step still pending (runner-go state.go SkipAll: pending → skipped),
// also one that ECS starts: `after` follows an ignored failure with COMPLETE, so it starts and
// its wrapper skips it (exit 0). Drone records it skipped, not passed.
const EARLY_EXIT_STARTED = droneYaml({
  name: 'test',
  steps: [step('check', ['exit 78'], { failure: 'ignore' }), step('after', ['echo "must not run"'])],
});

// A step that runs on failure, reached while the stage was passing, is skipped (runner-go
// execer.go: RunOnFailure && !state.Failed() → state.Skip) and stays skipped when another
// branch fails later. `late` fails only once `notify` has been skipped (its skip record is
// there), so the order does not depend on the machine's speed.
const FAILURE_STEP_SKIPPED_EARLY = droneYaml({
  name: 'test',
  steps: [
    step('quick', ['echo quick']),
    step('notify', ['echo "must not run"'], { depends_on: ['quick'], when: { status: ['failure'] } }),
    step('late', ['until [ -f "$slipway_state/steps/notify/notify.skipped" ]; do sleep 0.2; done', 'exit 1']),
  ],
});

// drone-runner-docker engine/compiler/compiler.go: the workspace volume is mounted at `base`
// and every step's working directory is base/path, the clone's destination. Steps start with
// the task, before the clone has made that directory: the container runtime creates it (runc
// prepareRootfs, os.MkdirAll(cwd)), and the clone then fills it.
const WORKSPACE_PATH = droneYaml({
  name: 'test',
  workspace: { base: '/go', path: 'src/example.com/app' },
  steps: [step('where', ['pwd', 'echo "base=$DRONE_WORKSPACE_BASE path=$DRONE_WORKSPACE_PATH"', 'test -f .drone.yml && echo cloned-here'])],
});

let e2e: E2e;

beforeAll(async () => {
  e2e = await startE2e({ name: 'e2e-drone-runtime' });
});

afterAll(async () => {
  await e2e?.stop();
});

const build = (pipeline: string, delivery: string): Promise<BuildDetail> => e2e.buildOf(pipeline, delivery);

const logOf = (detail: BuildDetail, stage: string, step: string): string[] => {
  const s = detail.stages.find((x) => x.name === stage)!;
  const container = s.steps.find((x) => x.name === step)!.container;
  return e2e.aws.ecs.logs(s.taskArn!, container).map((l) => l.message);
};

describe("Drone's run-time semantics, end to end", () => {
  it('a trigger status [failure] pipeline runs after its dependency failed and sees the failed stage; a default one is skipped', async () => {
    const detail = await build(NOTIFY_ON_FAILURE, 'e2e-notify-on-failure-1');
    expect(stepTable(detail).map(({ stage, status }) => [stage, status])).toEqual([
      ['build', 'failure'],
      ['notify', 'success'],
      ['deploy', 'skipped'],
    ]);
    expect(detail.status).toBe('failure');
    expect(logOf(detail, 'notify', 'tell')).toContain('seen build=failure stages=build');
  });

  it('a failed clone fails the stage, skips the plain steps and still runs the failure step, which sees the clone failed', async () => {
    // The pipeline file exists at a commit the repository does not have: the clone cannot check it out.
    e2e.commit(CLONE_FAILS, 'e2e-clone-fails-base');
    const sha = 'c'.repeat(40);
    e2e.git.setFile(E2E_REPO, sha, '.drone.yml', CLONE_FAILS);
    const delivery = 'e2e-clone-fails-1';
    await e2e.push(sha, delivery);
    const detail = await e2e.finishedBuild(delivery);
    expect(detail.status).toBe('failure');
    expect(stepTable(detail)).toEqual([{ stage: 'test', status: 'failure', steps: ['clone:clone=failure', 'step:build=skipped', 'step:notify=success'] }]);
    expect(logOf(detail, 'test', 'notify')).toContain('notified build=failure steps=clone');
    // The clone step's exit code is git's, as Drone's clone container records it, not the agent's own 5.
    const clone = detail.stages[0]!.steps.find((s) => s.kind === 'clone')!;
    expect(clone.exitCode).toBe(128);
    expect(clone.reason).toContain('not found');
    // notify's container started with the agent, but the step started when its commands did
    // (after the clone had failed), as the agent reports it.
    const notify = detail.stages[0]!.steps.find((s) => s.name === 'notify')!;
    expect(notify.startedAt).toBeGreaterThanOrEqual(detail.stages[0]!.startedAt!);
    expect(notify.finishedAt).toBeGreaterThanOrEqual(notify.startedAt!);
  });

  it('a failure: fast step that fails stops its running sibling (killed) and skips the rest', async () => {
    const detail = await build(FAIL_FAST, 'e2e-fail-fast-1');
    expect(detail.status).toBe('failure');
    expect(stepTable(detail)).toEqual([
      {
        stage: 'test',
        status: 'failure',
        steps: ['clone:clone=success', 'step:prepare=success', 'step:slow=killed', 'step:quick=failure', 'step:after=skipped', 'step:report=skipped'],
      },
    ]);
    expect(detail.stages[0]!.message).toContain('quick has failure: fast');
  });

  it('exit code 78 passes the step and skips the rest; the build passes', async () => {
    const detail = await build(EARLY_EXIT, 'e2e-early-exit-1');
    expect(detail.status).toBe('success');
    const steps = Object.fromEntries(detail.stages[0]!.steps.map((s) => [s.name, [s.status, s.exitCode]]));
    expect(steps['check']).toEqual(['success', 78]);
    expect(steps['after']?.[0]).toBe('skipped');
    // ECS never started it (its SUCCESS dependency exited 78): the agent's reason, as the README gives it.
    expect(detail.stages[0]!.steps.find((s) => s.name === 'after')?.reason).toBe('check exited 78: the rest of the pipeline is skipped');
  });

  it('workspace base and path: the step runs in base/path, where the clone put the commit', async () => {
    const detail = await build(WORKSPACE_PATH, 'e2e-workspace-path-1');
    expect(detail.status).toBe('success');
    expect(logOf(detail, 'test', 'where')).toEqual(expect.arrayContaining(['/go/src/example.com/app', 'base=/go path=src/example.com/app', 'cloned-here']));
  });

  it('a detached step stopped at the end of the pipeline passes with exit code 0, as Drone records it', async () => {
    const detail = await build(DETACHED, 'e2e-detached-end-1');
    expect(detail.status).toBe('success');
    const server = detail.stages[0]!.steps.find((s) => s.name === 'server')!;
    expect([server.status, server.exitCode]).toEqual(['success', 0]);
  });

  it('a step that ECS starts after an exit 78 is skipped with the reason, not passed', async () => {
    const detail = await build(EARLY_EXIT_STARTED, 'e2e-early-exit-started-1');
    expect(detail.status).toBe('success');
    const after = detail.stages[0]!.steps.find((s) => s.name === 'after')!;
    expect(after.status).toBe('skipped');
    expect(after.reason).toContain('check exited 78');
    expect(after.exitCode).toBeUndefined();
  });

  it('a failure step skipped while the stage was passing stays skipped when another branch fails later', async () => {
    const detail = await build(FAILURE_STEP_SKIPPED_EARLY, 'e2e-failure-step-early-1');
    expect(detail.status).toBe('failure');
    expect(stepTable(detail)).toEqual([{ stage: 'test', status: 'failure', steps: ['clone:clone=success', 'step:quick=success', 'step:notify=skipped', 'step:late=failure'] }]);
    const notify = detail.stages[0]!.steps.find((s) => s.name === 'notify')!;
    expect(notify.reason).toContain('no step failed');
    expect(logOf(detail, 'test', 'notify')).not.toContain('must not run');
  });
});
