// Usage and cost as the control plane records them: a stopped task's usage goes on its stage
// once (duplicates and late events too), the build is priced when it finishes and again when a
// task of a cancelled build stops afterwards; the daily refresh stores what the Price List
// priced, on DynamoDB Local, and the next build is priced with it.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoPriceStore } from '../../adapters/dynamodb/price-store.js';
import type { TaskStateChangeDetail } from '../../core/builds/task-event.js';
import { buildId, type Build, type Stage, type StepRecord } from '../../core/builds/types.js';
import { effectivePrices } from '../../core/cost/ports.js';
import { DEFAULT_PRICES } from '../../core/cost/price-table.js';
import { AGENT_CONTAINER, AGENT_ENV } from '../../core/pipeline/contract.js';
import type { StageJob } from '../../core/scaling/job.js';
import { applyTaskEvent } from '../../lambdas/shared/execution/apply-event.js';
import type { ExecutionDeps } from '../../lambdas/shared/execution/deps.js';
import { costDepsFromEnv } from '../../lambdas/shared/execution/wiring.js';
import { refreshPrices } from '../../lambdas/prices/refresh.js';
import { detailFromTask } from '../../lambdas/autoscaler/reconcile.js';
import { taskUsage } from '../../core/cost/task-usage.js';
import { startDynamoLocal, type LocalDynamo } from '../support/dynamodb-local.js';
import { MemoryBuildStore, MemoryStageStore, refusingJobQueue } from '../support/memory-stores.js';

const REPO = 'acme/cost';
const TASK = 'arn:aws:ecs:us-east-1:111122223333:task/slipway/0aa11bb22cc33dd44ee55ff66aa77bb8';
const T0 = Date.parse('2026-12-01T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function seeded(number: number): { store: MemoryBuildStore; stages: MemoryStageStore; id: string } {
  const store = new MemoryBuildStore();
  const stages = new MemoryStageStore(store);
  const id = buildId(REPO, number);
  const build: Build = {
    id, repo: REPO, number, status: 'running', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: 'c'.repeat(40),
    message: '', author: '', link: '', deliveryId: `d-${number}`, fork: false, createdAt: T0, startedAt: T0,
  };
  const stage: Stage = {
    buildId: id, repo: REPO, buildNumber: number, number: 1, name: 'test', status: 'running', dependsOn: [], attempts: 1,
    taskArn: TASK, capacity: 'FARGATE_SPOT', queuedAt: T0, startedAt: T0, eventVersion: 3,
  };
  const step: StepRecord = { buildId: id, stageNumber: 1, number: 1, name: 'test', container: 'step-test', status: 'running', detached: false, kind: 'step' };
  store.add(build, [stage], [step]);
  const job: StageJob = {
    stageKey: `${id}/1`, buildId: id, stageNumber: 1, repo: REPO, pipeline: 'test', cpu: 1024, memory: 2048, queuedAt: T0,
    taskDefinition: { family: 'slipway-test', runtimePlatform: { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' }, ephemeralStorage: { sizeInGiB: 40 } },
    runTask: {},
  };
  void stages.putStageJobs([job]);
  return { store, stages, id };
}

function deps(s: { store: MemoryBuildStore; stages: MemoryStageStore }, publicIpv4 = true): ExecutionDeps {
  return {
    store: s.store,
    stages: s.stages,
    jobs: refusingJobQueue('no dependents'),
    postBuildStatus: async () => {},
    nudge: async () => {},
    now: () => T0 + 3_600_000,
    log: () => {},
    cost: { region: 'us-east-1', publicIpv4, prices: async () => DEFAULT_PRICES },
  };
}

/** The task stopped after running its step for ten minutes (pulls from T0 + 5 s). */
function stoppedEvent(id: string, version = 9): TaskStateChangeDetail {
  return {
    clusterArn: 'arn:aws:ecs:us-east-1:111122223333:cluster/slipway',
    taskArn: TASK,
    taskDefinitionArn: 'arn:aws:ecs:us-east-1:111122223333:task-definition/slipway-test:1',
    lastStatus: 'STOPPED',
    desiredStatus: 'STOPPED',
    version,
    stopCode: 'EssentialContainerExited',
    createdAt: iso(T0),
    pullStartedAt: iso(T0 + 5_000),
    startedAt: iso(T0 + 20_000),
    stoppedAt: iso(T0 + 605_000),
    capacityProviderName: 'FARGATE_SPOT',
    cpu: '1024',
    memory: '2048',
    containers: [
      { name: AGENT_CONTAINER, lastStatus: 'STOPPED', exitCode: 0 },
      { name: 'step-test', lastStatus: 'STOPPED', exitCode: 0 },
    ],
    overrides: { containerOverrides: [{ name: AGENT_CONTAINER, environment: [{ name: AGENT_ENV.stageId, value: `${id}/1` }] }] },
  };
}

describe('usage and cost recorded by the control plane', () => {
  it("a stopped task's usage goes on its stage once, and the finished build carries its cost", async () => {
    const s = seeded(1);
    await applyTaskEvent(deps(s), stoppedEvent(s.id));
    const stage = await s.store.getStage(s.id, 1);
    expect(Object.values(stage?.usage ?? {})).toEqual([
      {
        taskArn: TASK, cpu: 1024, memory: 2048, storageGiB: 40, architecture: 'ARM64', capacity: 'FARGATE_SPOT',
        billedFrom: T0 + 5_000, billedTo: T0 + 605_000, publicIpv4: true, containers: 2, events: 9,
      },
    ]);
    const build = await s.store.getBuild(s.id);
    expect(build?.status).toBe('success');
    const spot = DEFAULT_PRICES.regions['us-east-1']!.fargate.ARM64.spot;
    const hours = 600 / 3600;
    expect(build?.cost?.fargate).toBeCloseTo(hours * (spot.vcpuHour + 2 * spot.gbHour), 8);
    expect(build?.cost?.storage).toBeCloseTo(hours * 20 * 0.000111, 8);
    expect(build?.cost?.publicIpv4).toBeCloseTo(hours * 0.005, 8);
    expect(build?.cost).toMatchObject({ region: 'us-east-1', pricesAsOf: DEFAULT_PRICES.asOf });

    // A duplicate delivery of the stop records nothing more.
    await applyTaskEvent(deps(s), stoppedEvent(s.id));
    expect(Object.keys((await s.store.getStage(s.id, 1))?.usage ?? {})).toHaveLength(1);
  });

  it('without a public address (private subnets) there is no IPv4 line', async () => {
    const s = seeded(2);
    await applyTaskEvent(deps(s, false), stoppedEvent(s.id));
    expect((await s.store.getBuild(s.id))?.cost?.publicIpv4).toBe(0);
  });

  it('a build cancelled before its task stopped is priced again when the task stops', async () => {
    const s = seeded(3);
    await s.stages.finish(s.id, 1, { status: 'killed', message: 'cancelled', finishedAt: T0 + 60_000 });
    await s.store.updateBuild(s.id, { status: 'killed', finishedAt: T0 + 60_000 });
    expect((await s.store.getBuild(s.id))?.cost).toBeUndefined();
    const result = await applyTaskEvent(deps(s), stoppedEvent(s.id));
    expect(result.applied).toBe(false);
    const build = await s.store.getBuild(s.id);
    expect(build?.status).toBe('killed');
    expect(build?.cost?.fargate).toBeGreaterThan(0);
  });
});

describe('a stop the reconciler rebuilds from DescribeTasks (its event was lost)', () => {
  it('keeps the size, times, storage and architecture, so the task is priced as from its event', () => {
    const detail = detailFromTask({
      taskArn: TASK, clusterArn: 'c', taskDefinitionArn: 'd', lastStatus: 'STOPPED', desiredStatus: 'STOPPED', version: 6,
      capacityProviderName: 'FARGATE', cpu: '2048', memory: '4096', ephemeralStorage: { sizeInGiB: 25 },
      attributes: [{ name: 'ecs.cpu-architecture', value: 'arm64' }],
      createdAt: new Date(T0), pullStartedAt: new Date(T0 + 2_000), startedAt: new Date(T0 + 9_000), stoppedAt: new Date(T0 + 302_000),
      containers: [],
    });
    expect(taskUsage(detail, { shape: null, publicIpv4: false })).toMatchObject({
      cpu: 2048, memory: 4096, storageGiB: 25, architecture: 'ARM64', capacity: 'FARGATE', billedFrom: T0 + 2_000, billedTo: T0 + 302_000,
    });
  });
});

describe('the daily price refresh (lambdas/prices) on DynamoDB Local', () => {
  let db: LocalDynamo;
  beforeAll(async () => {
    db = await startDynamoLocal('prices');
  });
  afterAll(async () => {
    await db?.stop();
  });

  const recorded = JSON.parse(readFileSync(new URL('../fixtures/aws/pricing-GetProducts-AmazonECS.json', import.meta.url), 'utf8')) as { PriceList: string[] };

  it("stores what the Price List priced, pages followed, and the next build's prices use it over the defaults", async () => {
    const store = new DynamoPriceStore(db.doc, db.tableName);
    const calls: string[] = [];
    const results = await refreshPrices({
      regions: ['us-east-1'],
      now: () => Date.parse('2026-12-02T03:00:00Z'),
      log: () => {},
      store,
      // The recorded ECS answer in two pages, with one price changed as AWS might change it; other services answer nothing.
      getProducts: async ({ serviceCode, nextToken }) => {
        calls.push(`${serviceCode}${nextToken ? `+${nextToken}` : ''}`);
        if (serviceCode !== 'AmazonECS') return { priceList: [] };
        const list = recorded.PriceList.map((p) => p.replace('"0.0404800000"', '"0.0400000000"'));
        return nextToken ? { priceList: list.slice(5) } : { priceList: list.slice(0, 5), nextToken: 'page-2' };
      },
    });
    expect(calls.filter((c) => c.startsWith('AmazonECS'))).toEqual(['AmazonECS', 'AmazonECS+page-2']);
    expect(results[0]).toMatchObject({ region: 'us-east-1', stored: true });
    const stored = await store.getRefreshed('us-east-1');
    expect(stored?.publishedAt).toBe('2022-11-21T18:21:30Z');
    const table = effectivePrices(stored);
    expect(table.regions['us-east-1']!.fargate.X86_64.onDemand.vcpuHour).toBe(0.04);
    expect(table.regions['us-east-1']!.publicIpv4Hour).toBe(0.005);
    expect(table).toMatchObject({ asOf: '2026-12-02', source: 'defaults+price-list' });

    // The execution Lambdas read it (and the stack's override wins).
    const cost = costDepsFromEnv({ AWS_REGION: 'us-east-1', ASSIGN_PUBLIC_IP: 'ENABLED', PRICES_OVERRIDE: '{"regions":{"us-east-1":{"publicIpv4Hour":0.004}}}' }, store);
    const prices = await cost.prices();
    expect(prices.regions['us-east-1']!.fargate.X86_64.onDemand.vcpuHour).toBe(0.04);
    expect(prices.regions['us-east-1']!.publicIpv4Hour).toBe(0.004);
    expect(cost.publicIpv4).toBe(true);
  });

  it('a refresh that prices nothing keeps the last one, and a bad override is refused with its place', async () => {
    const store = new DynamoPriceStore(db.doc, db.tableName);
    const before = await store.getRefreshed('us-east-1');
    const results = await refreshPrices({ regions: ['us-east-1'], now: Date.now, log: () => {}, store, getProducts: async () => ({ priceList: [] }) });
    expect(results[0]).toMatchObject({ stored: false, found: [] });
    expect(await store.getRefreshed('us-east-1')).toEqual(before);
    expect(() => costDepsFromEnv({ PRICES_OVERRIDE: '{"regions":{"us-east-1":{"lambda":{"gbSecondArm":"x"}}}}' }, store)).toThrow(
      'PRICES_OVERRIDE.regions.us-east-1.lambda.gbSecondArm: expected a price in USD',
    );
  });
});
