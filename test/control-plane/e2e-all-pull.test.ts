// Every step with commands waits in its wrapper for the steps it comes after
// (core/pipeline/script.ts, upstreamLines); a later step also has an ECS START on each of them,
// so that its image pulls once they have started, during their clone wait and run, not
// against the first wave's pulls. ECS pulls a container's image only once its dependsOn
// conditions hold (aws/amazon-ecs-agent agent/engine/dependencygraph/graph.go,
// containerOrderingDependenciesIsResolved; DependentContainersPullUpfront is false by default).
// End to end on the local stand-ins (real handlers, the ECS stand-in running the real agent),
// whose pulls take PULL_MS and follow the same rule.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../adapters/dynamodb/client.js';
import type { BuildDetailResponse } from '../../core/builds/api.js';
import type { BuildDetail } from '../../core/builds/types.js';
import { AGENT_CONTAINER } from '../../core/pipeline/contract.js';
import { handleApiRequest } from '../../lambdas/api/router.js';
import { localLogReader } from '../../local/log-reader.js';
import { seededApiDeps } from '../api/seed.js';
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

// The first step ends at once; the later step's image (its own, node:22) pulls for SLOW_PULL_MS,
// which the test sets from what it measures, so that the first step's commands end while it
// still pulls. The stand-in's START holds only while the first step's container runs (the ECS
// agent before aws/amazon-ecs-agent 51e94bfbe: test/local/ecs-start-condition.test.ts shows the
// later step then waits for ever), so the build passes only if that container stays up until the
// later step is up (core/pipeline/script.ts, lingerLines).
const SHORT_FIRST = `kind: pipeline
type: docker
name: test
steps:
- name: build
  image: alpine:3
  commands:
  - "true"
- name: test
  image: node:22
  commands:
  - echo tested
`;

// A later step that can never start (its user does not exist) after a short first step, and a
// step beside them that ends only once the first step's container has stopped, as the task
// metadata endpoint says: the agent's release (the later step's .unreachable) must end the first
// step's wait, or this build would run until its timeout.
const NEVER_UP = `kind: pipeline
type: docker
name: test
steps:
- name: build
  image: alpine:3
  commands:
  - "true"
- name: test
  image: node:22
  user: no-such-user-here
  depends_on: [build]
  commands:
  - echo must-not-run
- name: watch
  image: alpine:3
  depends_on: []
  commands:
  - |
    until node -e "fetch(process.env.ECS_CONTAINER_METADATA_URI_V4 + '/task').then((r) => r.json()).then((t) => process.exit(t.Containers.some((c) => c.Name === 'build' && c.KnownStatus === 'STOPPED') ? 0 : 1), () => process.exit(1))"; do sleep 0.2; done
  - echo build stopped
`;

let slowPullMs = 10 * PULL_MS;
let e2e: E2e;

beforeAll(async () => {
  e2e = await startE2e({ name: 'e2e-all-pull', pullMs: (image) => (image === 'node:22' ? slowPullMs : PULL_MS) });
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

  it("a first step that ends while the later step's image still pulls stays up until the later step is up (START holds only while it runs): the build passes, the first step's time is its commands'", async () => {
    const stoppedAt = (arn: string, container: string) =>
      e2e.aws.ecs.events(arn).map((e) => ({ at: Date.parse(e.detail.updatedAt!), c: e.detail.containers.find((x) => x.name === container) })).find((e) => e.c?.lastStatus === 'STOPPED')?.at;
    // Until the later step's pull outlasts the first step's commands: each try sets it from the last.
    let run: { detail: BuildDetail; pulls: Record<string, ReturnType<E2e['aws']['ecs']['pullsOf']>[number]> } | undefined;
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const detail = await e2e.buildOf(SHORT_FIRST, `e2e-all-pull-short-first-${attempt}`);
      expect(stepTable(detail), await e2e.describeBuild(detail.id)).toEqual([{ stage: 'test', status: 'success', steps: ['clone:clone=success', 'step:build=success', 'step:test=success'] }]);
      const pulls = Object.fromEntries(e2e.aws.ecs.pullsOf(detail.stages[0]!.taskArn!).map((p) => [p.container, p]));
      run = { detail, pulls };
      const build = stepOf(detail, 'build');
      if (pulls['test']!.stoppedAt! > build.finishedAt!) break;
      slowPullMs = 2 * (build.finishedAt! - pulls['test']!.startedAt!);
    }
    const { detail, pulls } = run!;
    const arn = detail.stages[0]!.taskArn!;
    const build = stepOf(detail, 'build');
    // The hazard was there: the first step's commands ended while the later image still pulled…
    expect(pulls['test']!.stoppedAt!, JSON.stringify({ pulls, build })).toBeGreaterThan(build.finishedAt!);
    // …and its container stayed up until the later step's had started, which then ran.
    expect(stoppedAt(arn, 'build')!).toBeGreaterThanOrEqual(pulls['test']!.containerStartedAt!);
    expect(messages(arn, 'test')).toContain('tested');
    // The step's time is its commands' (its exit record), not its container's stay.
    expect(build.finishedAt!).toBeLessThan(pulls['test']!.stoppedAt!);
    expect(build.finishedAt! - build.startedAt!).toBeLessThan(stoppedAt(arn, 'build')! - build.startedAt!);
  });

  it("while the later step's image still pulls, the API shows the first step ended at its commands' end (the agent's exit line), though its container stays up; the final record agrees", async () => {
    const ddb = new DynamoDBClient(e2e.aws.clientConfig('dynamodb'));
    // The build as the API's build route (and so `slipway build` and the dashboard) shows it.
    const deps = seededApiDeps(e2e.store, { doc: documentClient(ddb), tableName: 'e2e-all-pull-builds' }, localLogReader(e2e.aws.ecs.logsDir, '/slipway/builds'));
    const apiBuild = async (repo: string, number: number): Promise<BuildDetailResponse> => {
      const res = await handleApiRequest({ method: 'GET', path: `/api/repos/${repo}/builds/${number}`, query: new URLSearchParams(), headers: {} }, deps);
      expect(res.statusCode, String(res.body)).toBe(200);
      return JSON.parse(String(res.body)) as BuildDetailResponse;
    };
    try {
      // Until the later step's pull outlasts the first step's end and one read of the API: each try doubles it.
      for (let attempt = 1; attempt <= 3; attempt += 1) {
        const delivery = `e2e-all-pull-shown-ended-${attempt}`;
        const { body } = await e2e.push(e2e.commit(SHORT_FIRST, delivery), delivery);
        const id = await e2e.waitFor('the build', async () => e2e.store.buildForDelivery(String(body.deliveryId)));
        const arn = await e2e.waitFor('its task', async () => (await e2e.store.getBuildDetail(id))?.stages[0]?.taskArn);
        // The agent's line for build's exit record, read as it is written (the API is not read before: its first read is due at once).
        const exitLine = `slipway-agent: step build exited with code 0 at `;
        const line = await e2e.waitFor("build's exit line", async () => e2e.aws.ecs.logs(arn, AGENT_CONTAINER).find((l) => l.message.startsWith(exitLine)));
        const endedAt = Date.parse(line.message.slice(exitLine.length));
        const stored = (await e2e.store.getBuildDetail(id))!;
        const shown = await apiBuild(stored.repo, stored.number);
        const pull = e2e.aws.ecs.pullsOf(arn).find((p) => p.container === 'test')!;
        const containerStopped = e2e.aws.ecs.events(arn).some((e) => e.detail.containers.some((c) => c.name === 'build' && c.lastStatus === 'STOPPED'));
        const finished = await e2e.finishedBuild(delivery);
        expect(stepTable(finished), await e2e.describeBuild(id)).toEqual([{ stage: 'test', status: 'success', steps: ['clone:clone=success', 'step:build=success', 'step:test=success'] }]);
        if (pull.stoppedAt !== undefined) {
          // The pull ended before the API was read: the case was not there; try with a longer one.
          slowPullMs *= 2;
          continue;
        }
        // The later step's image still pulled, so build's container was still up (it waits for test's to be up)…
        expect(containerStopped).toBe(false);
        const buildShown = shown.stages[0]!.steps.find((s) => s.name === 'build')!;
        expect(buildShown, JSON.stringify(shown.stages[0]!.steps)).toMatchObject({ status: 'success', exitCode: 0, finishedAt: endedAt });
        expect(buildShown.startedAt!).toBeLessThanOrEqual(endedAt);
        expect(shown.stages[0]!.steps.find((s) => s.name === 'test')!.status).toBe('pending');
        // …and the record the stage's end left is the same end.
        expect(stepOf(finished, 'build')).toMatchObject({ status: 'success', exitCode: 0, startedAt: buildShown.startedAt, finishedAt: endedAt });
        return;
      }
      throw new Error(`the later step's pull never outlasted the first step's end (last pull ${slowPullMs / 2} ms)`);
    } finally {
      ddb.destroy();
    }
  });

  it("a later step that never starts does not hold the first step's container: the agent's .unreachable for it ends the wait, while the task still runs", async () => {
    const detail = await e2e.buildOf(NEVER_UP, 'e2e-all-pull-never-up');
    const explain = await e2e.describeBuild(detail.id);
    const arn = detail.stages[0]!.taskArn!;
    // `watch` ended only once the metadata endpoint showed build's container stopped.
    expect(messages(arn, 'watch'), explain).toContain('build stopped');
    expect(stepOf(detail, 'watch'), explain).toMatchObject({ status: 'success' });
    expect(stepOf(detail, 'build'), explain).toMatchObject({ status: 'success' });
    expect(stepOf(detail, 'test').status, explain).not.toBe('success');
    expect(messages(arn, 'test')).not.toContain('must-not-run');
  });
});
