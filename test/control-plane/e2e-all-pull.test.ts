// Every step with commands waits in its wrapper for the steps it comes after
// (core/pipeline/script.ts, upstreamLines); a later step also has an ECS START on each of them,
// so that its image pulls once they have started, during their clone wait and run, not
// against the first wave's pulls. ECS pulls a container's image only once its dependsOn
// conditions hold (aws/amazon-ecs-agent agent/engine/dependencygraph/graph.go,
// containerOrderingDependenciesIsResolved; DependentContainersPullUpfront is false by default).
// End to end on the local stand-ins (real handlers, the ECS stand-in running the real agent),
// whose pulls take PULL_MS and follow the same rule.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildDetail } from '../../core/builds/types.js';
import { startE2e, stepTable, type E2e } from '../support/control-plane-e2e.js';

const PULL_MS = 400;

// Three images, one per step: the later ones differ so that nothing could be shared.
const FAILING = `kind: pipeline
type: docker
name: test
steps:
- name: build
  image: alpine:3
  commands:
  - echo building
  - exit 1
- name: test
  image: node:20
  commands:
  - echo must-not-run
- name: publish
  image: debian:12
  commands:
  - echo must-not-run-either
`;

// The first step sleeps for several pulls' time, so that the later step's pull, which begins
// as the first step's container starts, ends while the first step's commands still run.
const SLEEP_SECONDS = (5 * PULL_MS) / 1000;
const PASSING = `kind: pipeline
type: docker
name: test
steps:
- name: build
  image: alpine:3
  commands:
  - sleep ${SLEEP_SECONDS}
  - echo built > built
- name: test
  image: node:20
  commands:
  - cat built
`;

// The first step's container cannot start (its user does not exist): a START on it is never met.
const UNSTARTABLE = `kind: pipeline
type: docker
name: test
steps:
- name: build
  image: alpine:3
  user: no-such-user-here
  commands:
  - echo must-not-run
- name: test
  image: node:20
  commands:
  - echo must-not-run-either
`;

let e2e: E2e;

beforeAll(async () => {
  e2e = await startE2e({ name: 'e2e-all-pull', pullMs: () => PULL_MS });
});

afterAll(async () => {
  await e2e?.stop();
});

const stepOf = (detail: BuildDetail, name: string) => detail.stages[0]!.steps.find((s) => s.name === name)!;
const messages = (arn: string, container: string) => e2e.aws.ecs.logs(arn, container).map((l) => l.message);

describe('a later step pulls once the steps before it have started', () => {
  it('each later step pulls after the step before it started (ECS START); after the first fails they run no command and are skipped, with no duration', async () => {
    const detail = await e2e.buildOf(FAILING, 'e2e-all-pull-failing');
    const explain = await e2e.describeBuild(detail.id);
    expect(stepTable(detail), explain).toEqual([{ stage: 'test', status: 'failure', steps: ['clone:clone=success', 'step:build=failure', 'step:test=skipped', 'step:publish=skipped'] }]);
    const arn = detail.stages[0]!.taskArn!;
    const pulls = Object.fromEntries(e2e.aws.ecs.pullsOf(arn).map((p) => [p.container, p]));
    // START: a later step's pull begins at or after its upstream's container start, never before.
    expect(pulls['test']!.startedAt!, JSON.stringify(pulls)).toBeGreaterThanOrEqual(pulls['build']!.containerStartedAt!);
    expect(pulls['publish']!.startedAt!, JSON.stringify(pulls)).toBeGreaterThanOrEqual(pulls['test']!.containerStartedAt!);
    // A failed upstream does not hold START back: both later containers started (and skipped themselves).
    expect(pulls['test']!.containerStartedAt).toBeDefined();
    expect(pulls['publish']!.containerStartedAt).toBeDefined();
    // Skipped as ECS's held-back steps were, with the agent's reasons; no start, no end.
    const test = stepOf(detail, 'test');
    const publish = stepOf(detail, 'publish');
    expect(test, explain).toMatchObject({ status: 'skipped', reason: 'dependency build failed with exit code 1' });
    expect(publish).toMatchObject({ status: 'skipped', reason: 'dependency test did not run' });
    for (const s of [test, publish]) {
      expect(s.startedAt, s.name).toBeUndefined();
      expect(s.finishedAt, s.name).toBeUndefined();
    }
    expect(messages(arn, 'test')).not.toContain('must-not-run');
    expect(messages(arn, 'publish')).not.toContain('must-not-run-either');
    // The stage's message names them as before: a step that did not run is part of the failure.
    expect(detail.stages[0]!.message).toContain('test did not run (dependency build failed with exit code 1)');
  });

  it(`a later step pulls while the first runs (it sleeps ${SLEEP_SECONDS} s, ${PULL_MS} ms a pull) and runs after it, on what it left, its time its commands`, async () => {
    const detail = await e2e.buildOf(PASSING, 'e2e-all-pull-passing');
    expect(stepTable(detail), await e2e.describeBuild(detail.id)).toEqual([{ stage: 'test', status: 'success', steps: ['clone:clone=success', 'step:build=success', 'step:test=success'] }]);
    const arn = detail.stages[0]!.taskArn!;
    const pulls = Object.fromEntries(e2e.aws.ecs.pullsOf(arn).map((p) => [p.container, p]));
    const build = stepOf(detail, 'build');
    const test = stepOf(detail, 'test');
    // Not against build's pull: it begins once build's container has started (after build's pull ended)…
    expect(pulls['test']!.startedAt!).toBeGreaterThanOrEqual(pulls['build']!.containerStartedAt!);
    expect(pulls['test']!.startedAt!).toBeGreaterThanOrEqual(pulls['build']!.stoppedAt!);
    // …and ends while build's commands still run: build's commands began after its container
    // started and lasted at least SLEEP_SECONDS, five pulls' time.
    expect(build.finishedAt! - build.startedAt!).toBeGreaterThanOrEqual(SLEEP_SECONDS * 1000);
    expect(pulls['test']!.startedAt!).toBeLessThan(build.finishedAt!);
    expect(pulls['test']!.stoppedAt!).toBeLessThan(build.finishedAt!);
    // Its commands ran after build's (they read what build wrote); its start is its commands',
    // its wrapper's `.started` marker, not its container's.
    expect(messages(arn, 'test')).toContain('built');
    expect(test.startedAt!).toBeGreaterThanOrEqual(build.finishedAt!);
    expect(test.startedAt!).toBeGreaterThan(pulls['test']!.containerStartedAt!);
  });

  it('a START that can never be met (the first step\'s container could not start): the later step is stopped unstarted and recorded skipped, the build ends', async () => {
    const detail = await e2e.buildOf(UNSTARTABLE, 'e2e-all-pull-unstartable');
    const explain = await e2e.describeBuild(detail.id);
    expect(stepTable(detail), explain).toEqual([{ stage: 'test', status: 'failure', steps: ['clone:clone=success', 'step:build=error', 'step:test=skipped'] }]);
    const arn = detail.stages[0]!.taskArn!;
    const pulls = Object.fromEntries(e2e.aws.ecs.pullsOf(arn).map((p) => [p.container, p]));
    // ECS never pulled or started it: its START on build could not be met.
    expect(pulls['build']!.containerStartedAt, JSON.stringify(pulls)).toBeUndefined();
    expect(pulls['test']!.startedAt, JSON.stringify(pulls)).toBeUndefined();
    expect(stepOf(detail, 'test'), explain).toMatchObject({ status: 'skipped', reason: 'dependency build did not run' });
    expect(messages(arn, 'test')).not.toContain('must-not-run-either');
  });
});
