// Drone's run-time semantics end to end on the local stand-ins (real handlers, DynamoDB
// Local, fauxqs, the ECS stand-in running the real agent and the real step wrappers):
// trigger status on a pipeline with depends_on, the failed stages its steps see, and
// exit code 78.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildDetail } from '../../core/builds/types.js';
import { startE2e, stepTable, type E2e } from '../support/control-plane-e2e.js';
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

let e2e: E2e;

beforeAll(async () => {
  e2e = await startE2e({ name: 'e2e-drone-runtime' });
});

afterAll(async () => {
  await e2e?.stop();
});

async function build(pipeline: string, delivery: string): Promise<BuildDetail> {
  const sha = e2e.commit(pipeline, delivery);
  const accepted = await e2e.deliver(e2e.pushPayload(sha, delivery), delivery);
  expect(accepted.statusCode).toBe(202);
  return e2e.finishedBuild(delivery);
}

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

  it('exit code 78 passes the step and skips the rest; the build passes', async () => {
    const detail = await build(EARLY_EXIT, 'e2e-early-exit-1');
    expect(detail.status).toBe('success');
    const steps = Object.fromEntries(detail.stages[0]!.steps.map((s) => [s.name, [s.status, s.exitCode]]));
    expect(steps['check']).toEqual(['success', 78]);
    expect(steps['after']?.[0]).toBe('skipped');
  });
});
