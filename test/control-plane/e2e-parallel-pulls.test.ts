// Issue 18's start, end to end on the local stand-ins with image pulls that take time: a push
// of a pipeline with a postgres service runs as one compiled task whose containers (the agent,
// the service, the first step) have no dependsOn, so ECS pulls their images side by side at
// task start (aws/amazon-ecs-agent agent/engine/dependencygraph/graph.go,
// containerOrderingDependenciesIsResolved; ECS_PULL_DEPENDENT_CONTAINERS_UPFRONT is off by
// default), and the stage's pulls phase (ECS's pullStartedAt → pullStoppedAt, the first pull's
// start to the last one's end) lasts about one pull, not the sum of three.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stagePhases } from '../../core/builds/stage-timeline.js';
import { AGENT_CONTAINER } from '../../core/pipeline/contract.js';
import { startE2e, stepTable, type E2e } from '../support/control-plane-e2e.js';
import { droneYaml, step } from '../support/pipelines.js';

/** Each image pull in the ECS stand-in takes this long. */
const PULL_MS = 1500;

const PG = { POSTGRES_USER: 'app', POSTGRES_PASSWORD: 'app', POSTGRES_DB: 'app' };
const PIPELINE = droneYaml({
  name: 'test',
  services: [{ name: 'db', image: 'postgres:15', environment: PG, ready: { ports: [5432], command: 'pg_isready -h 127.0.0.1 -U app' } }],
  steps: [step('query', ['psql -h db -U app -d app -tAc "SELECT \'reached:\' || current_database()"'], { image: 'postgres:15', environment: { PGPASSWORD: 'app' } })],
});

let e2e: E2e;
beforeAll(async () => {
  e2e = await startE2e({ name: 'e2e-pulls', pullMs: PULL_MS });
});
afterAll(async () => {
  await e2e?.stop();
});

describe('image pulls of a compiled task, end to end (each pull takes PULL_MS)', () => {
  it("the agent's, the service's and the first step's images pull side by side, and the stage's pulls phase is about one pull, not their sum", async () => {
    const detail = await e2e.buildOf(PIPELINE, 'e2e-pulls-1');
    expect({ status: detail.status, steps: stepTable(detail) }).toEqual({
      status: 'success',
      steps: [{ stage: 'test', status: 'success', steps: ['clone:clone=success', 'service:db=success', 'step:query=success'] }],
    });
    const stage = detail.stages[0]!;
    const containerOf = (name: string) => stage.steps.find((s) => s.name === name)!.container;
    expect(e2e.aws.ecs.logs(stage.taskArn!, containerOf('query')).map((l) => l.message)).toContain('reached:app');

    // The stand-in's record of each container's pull.
    const pulls = new Map(e2e.aws.ecs.pullsOf(stage.taskArn!).map((p) => [p.container, p]));
    const three = [AGENT_CONTAINER, containerOf('db'), containerOf('query')].map((name) => ({ name, ...pulls.get(name)! }));
    for (const p of three) {
      expect(p.startedAt, `${p.name} pulled`).toBeTypeOf('number');
      expect(p.stoppedAt! - p.startedAt!, `${p.name}'s pull took the configured time`).toBeGreaterThanOrEqual(PULL_MS);
    }
    // Overlapping: each began before any of the three had ended.
    const firstEnd = Math.min(...three.map((p) => p.stoppedAt!));
    for (const p of three) expect(p.startedAt!, `${p.name} began before the first pull ended`).toBeLessThan(firstEnd);

    // The stage's timeline (ECS's task pull times, from its events) spans exactly those pulls.
    const timeline = stage.timeline!;
    expect(timeline.pullStartedAt).toBe(Math.min(...three.map((p) => p.startedAt!)));
    expect(timeline.pullStoppedAt).toBe(Math.max(...three.map((p) => p.stoppedAt!)));
    const phase = stagePhases(stage, stage.steps).find((p) => p.name === 'pulls')!;
    const pullsMs = phase.to - phase.from;
    // At least one pull, and less than the three pulls' own times added up, which pulls in series
    // would take at the least (no wall-clock bound: a loaded machine stretches every pull alike).
    const inSeries = three.reduce((sum, p) => sum + (p.stoppedAt! - p.startedAt!), 0);
    expect(pullsMs).toBeGreaterThanOrEqual(PULL_MS);
    expect(pullsMs).toBeLessThan(inSeries);
  });
});
