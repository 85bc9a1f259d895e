// Every step with commands starts with the task, so that all their images pull at once, and
// waits in its wrapper for the steps it comes after (core/pipeline/script.ts, upstreamLines).
// ECS pulls a container's image only once its dependsOn conditions hold (aws/amazon-ecs-agent
// agent/engine/dependencygraph/graph.go, containerOrderingDependenciesIsResolved;
// DependentContainersPullUpfront is false by default): a later step that kept an ECS
// dependency on the one before it was pulled only after that one ended. End to end on the
// local stand-ins (real handlers, the ECS stand-in running the real agent), whose pulls take
// PULL_MS and follow the same rule.

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

const PASSING = `kind: pipeline
type: docker
name: test
steps:
- name: build
  image: alpine:3
  commands:
  - echo built > built
- name: test
  image: node:20
  commands:
  - cat built
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

describe('every step with commands pulls with the task', () => {
  it('the later steps pull beside the first (one wave); after the first fails they run no command and are skipped, with no duration', async () => {
    const detail = await e2e.buildOf(FAILING, 'e2e-all-pull-failing');
    const explain = await e2e.describeBuild(detail.id);
    expect(stepTable(detail), explain).toEqual([{ stage: 'test', status: 'failure', steps: ['clone:clone=success', 'step:build=failure', 'step:test=skipped', 'step:publish=skipped'] }]);
    const arn = detail.stages[0]!.taskArn!;
    const pulls = Object.fromEntries(e2e.aws.ecs.pullsOf(arn).map((p) => [p.container, p]));
    // One wave: every step's pull began before any step's pull had ended.
    const steps = [pulls['build']!, pulls['test']!, pulls['publish']!];
    for (const p of steps) expect(p.startedAt!, JSON.stringify(pulls)).toBeLessThan(Math.min(...steps.map((s) => s.stoppedAt!)));
    // So the later steps' pulls did not wait for build's commands (which begin only after its own pull).
    const build = stepOf(detail, 'build');
    expect(pulls['test']!.startedAt!).toBeLessThan(build.startedAt!);
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

  it('a later step runs after the first has ended, on what it left, its time its commands', async () => {
    const detail = await e2e.buildOf(PASSING, 'e2e-all-pull-passing');
    expect(stepTable(detail), await e2e.describeBuild(detail.id)).toEqual([{ stage: 'test', status: 'success', steps: ['clone:clone=success', 'step:build=success', 'step:test=success'] }]);
    const arn = detail.stages[0]!.taskArn!;
    const pulls = Object.fromEntries(e2e.aws.ecs.pullsOf(arn).map((p) => [p.container, p]));
    expect(pulls['test']!.startedAt!).toBeLessThan(pulls['build']!.stoppedAt!);
    const build = stepOf(detail, 'build');
    const test = stepOf(detail, 'test');
    // Its commands ran after build's (they read what build wrote); its start is its commands',
    // its wrapper's `.started` marker, not its container's, which started with the task.
    expect(messages(arn, 'test')).toContain('built');
    expect(test.startedAt!).toBeGreaterThan(build.startedAt!);
    expect(test.startedAt!).toBeGreaterThan(pulls['test']!.stoppedAt!);
  });
});
