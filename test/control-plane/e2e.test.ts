// The whole control plane, end to end, on the local stand-ins: a signed GitHub push goes
// through the webhook Lambda's handler (Function URL event), the events queue, the planner,
// the jobs queue, the autoscaler (RunTask on the ECS stand-in, which runs the agent, the
// steps and a real postgres as processes in the task's network namespace), the ECS task
// events, the task-events handler and the table. The Git host is a fake on loopback that
// serves the pipeline file and records commit statuses; the agent clones a real local
// repository whose commit holds the same file.

import { stagePhases } from '../../core/builds/stage-timeline.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildDetail } from '../../core/builds/types.js';
import type { TaskStateChangeEvent } from '../../core/builds/task-event.js';
import { handler as taskEventsHandler } from '../../lambdas/task-events/handler.js';
import { E2E_REPO as REPO, startE2e, stepTable, type E2e } from '../support/control-plane-e2e.js';
import { droneYaml, step } from '../support/pipelines.js';

// Two pipelines, the second depending on the first; the first has a postgres service that
// its steps reach by name and at localhost.
const PG = { POSTGRES_USER: 'app', POSTGRES_PASSWORD: 'app', POSTGRES_DB: 'app' };
const GOOD = droneYaml(
  {
    name: 'test',
    services: [{ name: 'db', image: 'postgres:15', environment: PG }],
    steps: [
      step(
        'migrate',
        [
          'psql -h db -U app -d app -c "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)"',
          `psql -h localhost -U app -d app -tAc "INSERT INTO items (name) VALUES ('widget') RETURNING 'row:' || name"`,
        ],
        { image: 'postgres:15', environment: { PGPASSWORD: 'app' } },
      ),
      step('check', ['grep -q "hello from the repository" README.md', 'test "$DRONE_COMMIT_SHA" = "$(git rev-parse HEAD)"']),
    ],
  },
  { name: 'deploy', depends_on: ['test'], steps: [step('ship', ['echo "shipping build $DRONE_BUILD_NUMBER"'])] },
);

const FAILING = droneYaml(
  { name: 'test', steps: [step('unit', ['echo "running the unit tests"', 'exit 3'])] },
  { name: 'deploy', depends_on: ['test'], steps: [step('ship', ['echo "never"'])] },
);

// `steps` is a mapping here, where a list is expected.
const INVALID = `kind: pipeline
type: docker
name: test
steps:
  build:
    image: alpine:3
`;

let e2e: E2e;
// Task events are duplicated and reordered on purpose: the consumers must not care.
beforeAll(async () => {
  e2e = await startE2e({ name: 'e2e', eventDelivery: { duplicateProbability: 0.3, reorderProbability: 0.2, seed: 11 } });
});
afterAll(async () => {
  await e2e?.stop();
});

describe('control plane end to end on the local stand-ins', () => {
  let good: { sha: string; delivery: string; detail: BuildDetail };

  it('a push builds two dependent pipelines with a postgres service; statuses pending then success; a redelivery runs nothing', async () => {
    const sha = e2e.commit(GOOD, 'add the pipeline');
    const delivery = 'e2e-good-1';
    // GitHub redelivers the very same body (its signed pushed_at included) under the same id.
    const payload = e2e.pushPayload(sha, 'add the pipeline');
    const first = await e2e.deliver(payload, delivery);
    expect(first.statusCode).toBe(202);
    // Acknowledged, recorded once.
    const again = await e2e.deliver(payload, delivery);
    expect(again).toEqual({ statusCode: 200, body: { ok: true, duplicate: true, deliveryId: first.body.deliveryId } });

    const detail = await e2e.finishedBuild(delivery);
    expect({ status: detail.status, error: detail.error }).toEqual({ status: 'success', error: undefined });
    expect(stepTable(detail)).toEqual([
      { stage: 'test', status: 'success', steps: ['clone:clone=success', 'service:db=success', 'step:migrate=success', 'step:check=success'] },
      { stage: 'deploy', status: 'success', steps: ['clone:clone=success', 'step:ship=success'] },
    ]);
    expect(detail.stages.map((s) => [s.reason, s.attempts, s.exitCode])).toEqual([
      ['steps-passed', 1, 0],
      ['steps-passed', 1, 0],
    ]);
    // The dependent pipeline started only after the first one ended.
    expect(detail.stages[1]!.startedAt!).toBeGreaterThanOrEqual(detail.stages[0]!.finishedAt!);
    // Every second accounted for: ECS's task times and the agent's, in order (core/builds/stage-timeline.ts).
    const t = detail.stages[0]!.timeline!;
    for (const mark of ['taskCreatedAt', 'pullStartedAt', 'pullStoppedAt', 'agentStartedAt', 'clonedAt', 'readyAt', 'stoppedAt'] as const) expect(t[mark], mark).toBeTypeOf('number');
    expect(t.taskCreatedAt!).toBeLessThanOrEqual(t.pullStartedAt!);
    expect(t.agentStartedAt!).toBeLessThanOrEqual(t.clonedAt!);
    expect(t.clonedAt!).toBeLessThanOrEqual(t.readyAt!);
    expect(t.readyAt!).toBeLessThanOrEqual(t.stoppedAt!);
    expect(stagePhases(detail.stages[0]!, detail.stages[0]!.steps).map((p) => p.name)).toEqual(
      expect.arrayContaining(['queued', 'provisioning', 'pulls', 'clone', 'services ready', 'first step', 'steps', 'teardown']),
    );
    // From the push: the webhook's receipt (kept on the build) to the first stage's queueing is
    // the control plane (events queue, planner, config fetch); the dependent stage's time starts
    // when it was queued, after the first one ended.
    expect(detail.receivedAt).toBeTypeOf('number');
    expect(stagePhases(detail.stages[0]!, detail.stages[0]!.steps, detail)[0]).toEqual({ name: 'control plane', from: detail.receivedAt, to: detail.stages[0]!.queuedAt });
    expect(stagePhases(detail.stages[1]!, detail.stages[1]!.steps, detail).map((p) => p.name)).not.toContain('control plane');

    // Really ran: the step reached postgres, and each stage had exactly one task.
    const [test, deploy] = detail.stages;
    const migrate = test!.steps.find((s) => s.name === 'migrate')!;
    expect(e2e.aws.ecs.logs(test!.taskArn!, migrate.container).map((l) => l.message).join('\n')).toContain('row:widget');
    expect(e2e.aws.ecs.logs(deploy!.taskArn!, deploy!.steps.find((s) => s.name === 'ship')!.container).map((l) => l.message)).toContain(`shipping build ${detail.number}`);
    expect(e2e.aws.ecs.tasks().map((t) => t.taskArn).sort()).toEqual([test!.taskArn, deploy!.taskArn].sort());

    await e2e.waitForFinalStatus(sha);
    expect(e2e.statusesOf(sha).map((s) => s.state)).toEqual(['pending', 'success']);
    expect(e2e.statusesOf(sha).every((s) => s.token === 'gh-e2e-token' && s.repo === REPO)).toBe(true);
    // One build for the two deliveries of the same id.
    expect((await e2e.store.listBuilds(REPO)).items.filter((b) => b.commit === sha)).toHaveLength(1);
    good = { sha, delivery, detail };
  });

  it('a duplicate or stale task event changes nothing', async () => {
    const stage = good.detail.stages[0]!;
    const history = e2e.aws.ecs.events(stage.taskArn!);
    const stopped = history.filter((e) => e.detail.lastStatus === 'STOPPED').at(-1)!;
    const running = history.find((e) => e.detail.lastStatus === 'RUNNING')!;
    // The build at rest: the finishing call's last write (the status hand-off's mark) lands
    // after it queued the status the planner posted, so the posted status alone may precede it.
    await e2e.waitFor('the build-finished hand-off marked', async () => (await e2e.store.getBuild(good.detail.id))?.statusHandedOffAt !== undefined);
    const before = await e2e.store.getBuildDetail(good.detail.id);
    const posted = e2e.git.statuses.length;

    for (const event of [stopped, running, stopped] as TaskStateChangeEvent[]) {
      const result = await taskEventsHandler(event);
      expect(result.applied).toBe(false);
    }
    const after = await e2e.store.getBuildDetail(good.detail.id);
    expect(after).toEqual(before);
    expect(e2e.git.statuses.length).toBe(posted);
  });

  it('a failing step fails the build and skips the dependent pipeline; statuses pending then failure', async () => {
    const sha = e2e.commit(FAILING, 'break the tests');
    expect((await e2e.deliver(e2e.pushPayload(sha, 'break the tests'), 'e2e-failing-1')).statusCode).toBe(202);
    const detail = await e2e.finishedBuild('e2e-failing-1');
    expect(detail.status).toBe('failure');
    expect(stepTable(detail)).toEqual([
      { stage: 'test', status: 'failure', steps: ['clone:clone=success', 'step:unit=failure'] },
      { stage: 'deploy', status: 'skipped', steps: ['clone:clone=skipped', 'step:ship=skipped'] },
    ]);
    expect(detail.stages[0]!.reason).toBe('step-failed');
    expect(detail.stages[0]!.steps[1]!.exitCode).toBe(3);
    expect(detail.stages[1]!.reason).toBe('dependency-failed');
    expect(detail.stages[1]!.taskArn).toBeUndefined();
    await e2e.waitForFinalStatus(sha);
    expect(e2e.statusesOf(sha).map((s) => s.state)).toEqual(['pending', 'failure']);
  });

  it('an invalid .drone.yml makes an errored build with FILE:LINE:COLUMN, a failed status, and no task', async () => {
    const tasksBefore = e2e.aws.ecs.tasks().length;
    const sha = e2e.commit(INVALID, 'a broken pipeline file');
    expect((await e2e.deliver(e2e.pushPayload(sha, 'a broken pipeline file'), 'e2e-invalid-1')).statusCode).toBe(202);
    const detail = await e2e.finishedBuild('e2e-invalid-1');
    expect(detail.status).toBe('error');
    expect(detail.error).toMatch(/^\.drone\.yml:5:3: /m);
    // The pipeline's own error makes it a stage in error (issue 15), which never starts a task.
    expect(detail.stages.map((s) => [s.name, s.status, s.reason, s.taskArn])).toEqual([['test', 'error', 'invalid-config', undefined]]);
    expect(detail.stages[0]!.message).toMatch(/^\.drone\.yml:5:3: error: steps: expected a list, got a map/);
    await e2e.waitForFinalStatus(sha);
    const states = e2e.statusesOf(sha);
    expect(states.map((s) => s.state)).toEqual(['error']);
    expect(states[0]!.description).toContain('.drone.yml:5:3');
    await e2e.plane.idle();
    expect(e2e.aws.ecs.tasks().length).toBe(tasksBefore);
    expect(e2e.errors).toEqual([]);
    // One build per delivery of this file (the good, the failing and this one, whose pipeline
    // error is a stage in error); the redelivery of the first created none.
    expect(e2e.logLines.filter((l) => l.message === 'build created').length).toBe(3);
    expect(e2e.logLines.filter((l) => /not posted|failed/.test(String(l.message)))).toEqual([]);
  });
});
