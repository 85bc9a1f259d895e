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
// the sibling still running is stopped (killed), nothing else starts.
const FAIL_FAST = droneYaml({
  name: 'test',
  steps: [
    step('prepare', ['echo prepared']),
    step('slow', ['sleep 120'], { depends_on: ['prepare'] }),
    step('quick', ['sleep 1', 'exit 2'], { depends_on: ['prepare'], failure: 'fast' }),
    step('after', ['echo after'], { depends_on: ['slow'] }),
  ],
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
  });

  it('a failure: fast step that fails stops its running sibling (killed) and skips the rest', async () => {
    const detail = await build(FAIL_FAST, 'e2e-fail-fast-1');
    expect(detail.status).toBe('failure');
    expect(stepTable(detail)).toEqual([
      { stage: 'test', status: 'failure', steps: ['clone:clone=success', 'step:prepare=success', 'step:slow=killed', 'step:quick=failure', 'step:after=skipped'] },
    ]);
    expect(detail.stages[0]!.message).toContain('quick has failure: fast');
  });

  it('exit code 78 passes the step and skips the rest; the build passes', async () => {
    const detail = await build(EARLY_EXIT, 'e2e-early-exit-1');
    expect(detail.status).toBe('success');
    const steps = Object.fromEntries(detail.stages[0]!.steps.map((s) => [s.name, [s.status, s.exitCode]]));
    expect(steps['check']).toEqual(['success', 78]);
    expect(steps['after']?.[0]).toBe('skipped');
  });
});
