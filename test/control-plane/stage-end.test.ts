// The stage end (lambdas/shared/execution/stage-end.ts) on the in-memory ports
// (test/support/memory-stores.ts): dependents queued or skipped by the one readiness rule,
// the build finished once, its status handed off once. The same code on DynamoDB Local is
// exercised by task-events.test.ts and build-finish.test.ts.

import { describe, expect, it } from 'vitest';
import { buildId as makeBuildId, type Build, type Stage, type StageStatus, type StepRecord } from '../../core/builds/types.js';
import type { StageJob } from '../../core/scaling/job.js';
import { afterStageEnd, type StageEndDeps } from '../../lambdas/shared/execution/stage-end.js';
import { MemoryBuildStore, MemoryJobQueue, MemoryStageStore } from '../support/memory-stores.js';

const REPO = 'org/app';
const ID = makeBuildId(REPO, 1);
const NOW = 1_700_000_000_000;

function build(status: Build['status'] = 'running'): Build {
  return {
    id: ID, repo: REPO, number: 1, status, event: 'push', action: '', ref: 'refs/heads/main', branch: 'main',
    commit: 'a'.repeat(40), message: 'change', author: 'octocat', link: 'https://git.example/commit', deliveryId: 'd-1', fork: false, createdAt: NOW - 60_000,
  };
}

function stage(number: number, name: string, status: StageStatus, dependsOn: string[] = [], extra: Partial<Stage> = {}): Stage {
  const finished = status !== 'pending' && status !== 'running';
  return {
    buildId: ID, repo: REPO, buildNumber: 1, number, name, status, dependsOn, attempts: finished ? 1 : 0,
    ...(dependsOn.length === 0 ? { queuedAt: NOW - 60_000 } : {}),
    ...(finished ? { finishedAt: NOW - 1_000 } : {}),
    ...extra,
  };
}

const step = (stageNumber: number): StepRecord => ({ buildId: ID, stageNumber, number: 1, name: 'test', container: 'step-test', status: 'pending', detached: false, kind: 'step' });

function job(stageNumber: number, pipeline: string): StageJob {
  return {
    stageKey: `${ID}/${stageNumber}`, buildId: ID, stageNumber, repo: REPO, pipeline, cpu: 256, memory: 512,
    taskDefinition: { family: 'f' }, runTask: {}, queuedAt: NOW - 60_000,
  };
}

/** The world of one build: in-memory stores, a jobs queue, the statuses handed off. */
function world(stages: Stage[], options: { status?: Build['status']; jobs?: StageJob[] } = {}) {
  const store = new MemoryBuildStore();
  store.add(build(options.status), stages, stages.map((s) => step(s.number)));
  const stageStore = new MemoryStageStore(store);
  void stageStore.putStageJobs(options.jobs ?? stages.map((s) => job(s.number, s.name)));
  const jobs = new MemoryJobQueue();
  const handedOff: Build[] = [];
  const deps: StageEndDeps = {
    store, stages: stageStore, jobs,
    postBuildStatus: async (b) => void handedOff.push(b),
    nudge: async () => {},
    now: () => NOW,
    log: () => {},
  };
  return { deps, store, queue: jobs.enqueued, handedOff };
}

describe('afterStageEnd on the in-memory ports', () => {
  it('queues a dependent whose dependency passed, once, and leaves the build running', async () => {
    const { deps, store, queue } = world([stage(1, 'build', 'success'), stage(2, 'test', 'pending', ['build']), stage(3, 'deploy', 'pending', ['test'])]);
    expect((await afterStageEnd(deps, ID))?.status).toBe('running');
    expect(queue.map((j) => [j.stageNumber, j.queuedAt])).toEqual([[2, NOW]]);
    expect((await store.getStage(ID, 2))?.queuedAt).toBe(NOW);
    await afterStageEnd(deps, ID);
    expect(queue).toHaveLength(1);
  });

  it('skips the dependents of a failure in cascade, finishes the build as failed and hands its status off once', async () => {
    const { deps, store, queue, handedOff } = world([
      stage(1, 'build', 'failure', [], { message: 'exit code 1' }),
      stage(2, 'test', 'pending', ['build']),
      stage(3, 'deploy', 'pending', ['test']),
    ]);
    const finished = await afterStageEnd(deps, ID);
    expect(queue).toEqual([]);
    const stages = await store.listStages(ID);
    expect(stages.map((s) => [s.name, s.status, s.reason])).toEqual([['build', 'failure', undefined], ['test', 'skipped', 'dependency-failed'], ['deploy', 'skipped', 'dependency-failed']]);
    expect((await store.listSteps(ID, 3)).map((s) => s.status)).toEqual(['skipped']);
    expect(finished?.status).toBe('failure');
    expect(finished?.statusHandedOffAt).toBe(NOW);
    expect(handedOff.map((b) => [b.status, b.error])).toEqual([['failure', 'build: exit code 1']]);
    await afterStageEnd(deps, ID);
    expect(handedOff).toHaveLength(1);
  });

  it('ignores a dependency no stage has (Drone), and ends a ready stage without a stored job as an error', async () => {
    const { deps, store, queue } = world([stage(1, 'build', 'success'), stage(2, 'test', 'pending', ['build', 'gone'])], { jobs: [job(1, 'build')] });
    const finished = await afterStageEnd(deps, ID);
    expect(queue).toEqual([]);
    expect((await store.getStage(ID, 2))?.status).toBe('error');
    expect((await store.getStage(ID, 2))?.message).toBe('no job was stored for stage test: it cannot start');
    expect(finished?.status).toBe('error');
  });
});
