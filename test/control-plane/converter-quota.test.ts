// SOCI converter tasks and the Fargate vCPU quota in the autoscaler's pass (lambdas/autoscaler/
// converters.ts, autoscaler.ts, index-image.ts), on the ECS stand-in with an account quota of
// 2 vCPU, which refuses RunTask past it as Fargate does: a running converter counts as vCPU in
// use, so a build is never sent into the quota's refusal (and the capacity back-off that follows);
// a converter starts only in what waiting builds leave; its job waits on the queue meanwhile.

import { ListTasksCommand, DescribeTasksCommand, RegisterTaskDefinitionCommand, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Build, Stage } from '../../core/builds/types.js';
import { AGENT_CONTAINER } from '../../core/pipeline/contract.js';
import { DEFAULT_LIMITS } from '../../core/scaling/decide-scale.js';
import type { StageJob } from '../../core/scaling/job.js';
import type { QueuedJob } from '../../core/scaling/job-queue.js';
import { INDEX_JOB_MAX_AGE_MS, SOCI_CONVERTER_CONTAINER, SOCI_STARTED_BY_PREFIX } from '../../core/images/soci.js';
import { INDEX_JOB_POSTPONE_SECONDS, resetAutoscalerState, runPass } from '../../lambdas/autoscaler/autoscaler.js';
import type { AutoscalerDeps } from '../../lambdas/autoscaler/deps.js';
import { passLogFields } from '../../lambdas/autoscaler/handler.js';
import type { ExecutionConfig } from '../../lambdas/autoscaler/config.js';
import { DynamoSociIndexStore } from '../../adapters/dynamodb/soci-store.js';
import { sociImageNamer } from '../../lambdas/planner/soci-images.js';
import { startDynamoLocal, type LocalDynamo } from '../support/dynamodb-local.js';
import { describe1, ecsForFile, family, sh, waitFor } from '../local/helpers.js';
import { MemoryBuildStore, MemoryJobQueue, MemoryStageStore } from '../support/memory-stores.js';

const QUOTA_VCPU = 2;
const standIn = ecsForFile({ namespaces: false, vcpuQuota: QUOTA_VCPU });
const cluster = 'converters';
const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';

let db: LocalDynamo;
beforeAll(async () => {
  db = await startDynamoLocal('converter-quota');
});
afterAll(async () => {
  await db?.stop();
});

/** Queued long enough ago that a pass takes it without its job message (autoscaler.ts wasSeen). */
const queuedAt = () => Date.now() - 120_000;

function build(id: string): Build {
  return { id, repo: 'octo/app', number: Number(id.split('#')[1]), status: 'pending', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: 'c0ffee', message: 'm', author: 'a', link: 'l', deliveryId: id, fork: false, createdAt: Date.now() };
}

const stageOf = (buildId: string, extra: Partial<Stage>): Stage => ({ buildId, repo: 'octo/app', buildNumber: Number(buildId.split('#')[1]), number: 1, name: 'test', status: 'pending', dependsOn: [], attempts: 0, ...extra });

function job(stageKey: string, cpu: number): StageJob {
  const buildId = stageKey.slice(0, stageKey.lastIndexOf('/'));
  return {
    stageKey, buildId, stageNumber: 1, repo: 'octo/app', pipeline: 'test', cpu, memory: 2048, queuedAt: queuedAt(), runTask: {},
    taskDefinition: { family: family('stage'), requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: String(cpu), memory: '2048', containerDefinitions: [sh(AGENT_CONTAINER, 'sleep 3600', { essential: true })] },
  };
}

/** The converter's task definition as lib/soci-indexes.ts shapes it (1 vCPU, awsvpc); its container ignores SIGTERM for `stopTimeout` s. */
async function converterFamily(script = 'sleep 3600', stopTimeout?: number): Promise<string> {
  const name = family('slipway-soci-converter');
  await standIn.client.send(
    new RegisterTaskDefinitionCommand({
      family: name, networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'], cpu: '1024', memory: '2048',
      containerDefinitions: [sh(SOCI_CONVERTER_CONTAINER, script, { essential: true, ...(stopTimeout !== undefined ? { stopTimeout } : {}) })],
    }),
  );
  return name;
}

/** A converter task as index-image.ts starts it (startedBy SOCI_STARTED_BY_PREFIX…). */
async function runConverter(taskDefinition: string, id: string): Promise<string> {
  const res = await standIn.client.send(
    new RunTaskCommand({ cluster, taskDefinition, launchType: 'FARGATE', startedBy: `${SOCI_STARTED_BY_PREFIX}${id}`, networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-local'], assignPublicIp: 'DISABLED' } } }),
  );
  return res.tasks![0]!.taskArn!;
}

async function clusterTasks() {
  const arns = (await standIn.client.send(new ListTasksCommand({ cluster }))).taskArns ?? [];
  return arns.length === 0 ? [] : ((await standIn.client.send(new DescribeTasksCommand({ cluster, tasks: arns }))).tasks ?? []);
}

async function stopAll(): Promise<void> {
  for (const t of await clusterTasks()) await standIn.client.send(new StopTaskCommand({ cluster, task: t.taskArn!, reason: 'test over' }));
}

interface Harness {
  deps: AutoscalerDeps;
  store: MemoryBuildStore;
  stages: MemoryStageStore;
  /** What the jobs queue postponed: body and delay. */
  postponed: { body: string; delaySeconds: number }[];
  /** Messages the next sample returns (each once). */
  incoming: QueuedJob[];
  /** Messages the pass removed. */
  removed: QueuedJob[];
  logged: { message: string; fields: Record<string, unknown> }[];
  /** SociJobsExpired counted. */
  expired: number[];
}

function harness(soci?: { taskDefinition: string; describe?: AutoscalerDeps['soci'] }): Harness {
  const store = new MemoryBuildStore();
  const stages = new MemoryStageStore(store);
  const postponed: Harness['postponed'] = [];
  const incoming: QueuedJob[] = [];
  const removed: QueuedJob[] = [];
  const logged: Harness['logged'] = [];
  const expired: number[] = [];
  const config: ExecutionConfig = {
    tableName: 'builds', jobsQueueUrl: 'jobs', cluster, subnets: ['subnet-local'], securityGroups: [], serviceSecurityGroups: [],
    assignPublicIp: 'DISABLED', useSpot: false, defaultCpu: 256, limits: { ...DEFAULT_LIMITS, vcpuQuota: QUOTA_VCPU },
    ...(soci ? { soci: { taskDefinition: soci.taskDefinition, registry: REGISTRY, prefixes: ['slipway-docker-hub'] } } : {}),
  };
  const jobs = Object.assign(new MemoryJobQueue(), {
    sample: async () => incoming.splice(0),
    remove: async (messages: QueuedJob[]) => (removed.push(...messages), []),
    postpone: async (message: QueuedJob, delaySeconds: number) => (postponed.push({ body: message.body, delaySeconds }), []),
    deadLetter: async () => ({}),
  });
  const deps: AutoscalerDeps = {
    store, stages, jobs, ecs: standIn.client, config,
    postBuildStatus: async () => {}, nudge: async () => {}, now: Date.now, log: (message, fields = {}) => void logged.push({ message, fields }),
    metrics: { buildStarted: () => {}, buildFinished: () => {}, stageStarted: () => {}, runTaskFailure: () => {}, gitHostError: () => {}, sociJobExpired: () => void expired.push(1) },
    ...(soci?.describe ? { soci: soci.describe } : {}),
  };
  return { deps, store, stages, postponed, incoming, removed, logged, expired };
}

describe('SOCI converters and the Fargate vCPU quota (ECS ListTasks/DescribeTasks)', () => {
  it('a running converter holds its vCPU: of two 1-vCPU stages one starts, the other waits naming the converters, and no RunTask meets the quota', async () => {
    resetAutoscalerState();
    const converter = await runConverter(await converterFamily(), 'aaaa');
    const { deps, store, stages } = harness();
    for (const id of ['octo/app#1', 'octo/app#2']) {
      store.add(build(id), [stageOf(id, { queuedAt: queuedAt() })], []);
      await stages.putStageJobs([job(`${id}/1`, 1024)]);
    }
    const report = await runPass(deps, { reconcile: false });
    // Without the converter counted, both would be sent to RunTask and the second refused for the
    // vCPU limit, which backs off every waiting stage.
    expect(report.runTaskFailures).toEqual([]);
    expect(report.started).toHaveLength(1);
    expect(report.deferred).toEqual([{ stageKey: 'octo/app#2/1', reason: 'vcpu-quota' }]);
    expect(report.vcpu).toEqual({ usedUnits: 2048, serviceTaskUnits: 0, converterUnits: 1024, quotaUnits: 2048 });
    expect((await store.getStage('octo/app#2', 1))?.message).toBe('waiting: needs 1 vCPU; 0 vCPU of the 2 vCPU quota free (SOCI image converters hold 1 vCPU)');
    // The pass's log line names the converters' share of the vCPU in use.
    expect(passLogFields(report, false, 12)).toMatchObject({ started: 1, deferred: 1, vcpu: report.vcpu, vcpuInUse: '2 of 2 vCPU (service tasks of split stages 0, SOCI image converters 1)' });
    expect((await clusterTasks()).map((t) => t.taskArn)).toContain(converter);
    await stopAll();
  });

  it('a converter starts only in what waiting builds leave: its job is postponed on the queue, unclaimed, and started once no build needs the vCPU', async () => {
    resetAutoscalerState();
    await stopAll();
    const converterDefinition = await converterFamily();
    const digest = `sha256:${'d'.repeat(64)}`;
    const sociStore = new DynamoSociIndexStore(db.doc, db.tableName);
    const { deps, store, stages, postponed, incoming } = harness({
      taskDefinition: converterDefinition,
      describe: { store: sociStore, describe: async (images) => new Map(images.map((i) => [i, { sizeBytes: 400_000_000, digest }])) },
    });
    const event = JSON.stringify({ source: 'aws.ecr', 'detail-type': 'ECR Pull Through Cache Action', time: new Date().toISOString(), detail: { 'sync-status': 'SUCCESS', 'repository-name': 'slipway-docker-hub/library/node', 'image-tag': '20', 'image-digest': digest } });
    // A build of octo/app (not a fork's) named the image: its events may be converted.
    await sociImageNamer({ store: sociStore, now: Date.now })([`${REGISTRY}/slipway-docker-hub/library/node:20`], 'octo/app');
    // A 1-vCPU stage runs (its record: the quota's count comes from the table) and a 2-vCPU one waits for the vCPU.
    store.add(build('octo/app#4'), [stageOf('octo/app#4', { status: 'running', taskArn: 'arn:aws:ecs:us-east-1:000000000000:task/converters/busy', cpu: 1024 })], []);
    store.add(build('octo/app#5'), [stageOf('octo/app#5', { queuedAt: queuedAt() })], []);
    await stages.putStageJobs([job('octo/app#5/1', 2048)]);
    incoming.push({ id: 'm1', body: event, receipt: 'r1' });
    const waiting = await runPass(deps, { reconcile: false });
    expect(waiting.deferred).toEqual([{ stageKey: 'octo/app#5/1', reason: 'vcpu-quota' }]);
    // 1 vCPU is free, but the waiting stage needs it (and more): the converter does not take it.
    expect(waiting.indexImages).toEqual([{ digest, outcome: 'deferred' }]);
    expect(postponed).toEqual([{ body: event, delaySeconds: INDEX_JOB_POSTPONE_SECONDS }]);
    expect(await sociStore.get(digest)).toBeUndefined();
    expect((await clusterTasks()).filter((t) => t.startedBy?.startsWith(SOCI_STARTED_BY_PREFIX))).toEqual([]);

    // The waiting stage is gone (cancelled): the postponed job comes back and its converter starts in the free vCPU.
    await store.updateStage('octo/app#5', 1, { status: 'killed', finishedAt: Date.now() });
    incoming.push({ id: 'm2', body: event, receipt: 'r2' });
    const free = await runPass(deps, { reconcile: false });
    expect(free.indexImages).toEqual([{ digest, outcome: 'started' }]);
    const converters = (await clusterTasks()).filter((t) => t.startedBy?.startsWith(SOCI_STARTED_BY_PREFIX));
    expect(converters).toHaveLength(1);
    expect(await sociStore.get(digest)).toMatchObject({ state: 'converting', taskArn: converters[0]!.taskArn });
    // From the next pass on it counts as in use.
    const next = await runPass(deps, { reconcile: false });
    expect(next.vcpu).toEqual({ usedUnits: 2048, serviceTaskUnits: 0, converterUnits: 1024, quotaUnits: 2048 });
    await stopAll();
  });
  it("an index-image job past its age limit (a day from the event's time, which its postponements carry) is dropped with a log line and a metric, not postponed", async () => {
    resetAutoscalerState();
    await stopAll();
    const converterDefinition = await converterFamily();
    const sociStore = new DynamoSociIndexStore(db.doc, db.tableName);
    const digest = `sha256:${'e'.repeat(64)}`;
    const { deps, store, stages, postponed, incoming, removed, logged, expired } = harness({
      taskDefinition: converterDefinition,
      describe: { store: sociStore, describe: async (images) => new Map(images.map((i) => [i, { sizeBytes: 400_000_000, digest }])) },
    });
    const eventAt = (time: number) => JSON.stringify({ source: 'aws.ecr', 'detail-type': 'ECR Pull Through Cache Action', time: new Date(time).toISOString(), detail: { 'sync-status': 'SUCCESS', 'repository-name': 'slipway-docker-hub/library/python', 'image-tag': '3', 'image-digest': digest } });
    await sociImageNamer({ store: sociStore, now: Date.now })([`${REGISTRY}/slipway-docker-hub/library/python:3`], 'octo/app');
    // A 1-vCPU stage runs and a 2-vCPU one waits for the vCPU (as above): no converter may start.
    store.add(build('octo/app#6'), [stageOf('octo/app#6', { status: 'running', taskArn: 'arn:aws:ecs:us-east-1:000000000000:task/converters/busy-6', cpu: 1024 })], []);
    store.add(build('octo/app#7'), [stageOf('octo/app#7', { queuedAt: queuedAt() })], []);
    await stages.putStageJobs([job('octo/app#7/1', 2048)]);
    const young = eventAt(Date.now() - (INDEX_JOB_MAX_AGE_MS - 3600_000));
    const old = eventAt(Date.now() - (INDEX_JOB_MAX_AGE_MS + 60_000));
    incoming.push({ id: 'young', body: young, receipt: 'r-young' }, { id: 'old', body: old, receipt: 'r-old' });
    const report = await runPass(deps, { reconcile: false });
    expect(report.deferred).toEqual([{ stageKey: 'octo/app#7/1', reason: 'vcpu-quota' }]);
    expect(report.indexImages).toEqual([{ digest, outcome: 'deferred' }, { digest, outcome: 'expired' }]);
    // The young one goes back as it was (its event's time with it: the age survives the postponement);
    // the old one is removed, said and counted, and nothing is claimed for it.
    expect(postponed).toEqual([{ body: young, delaySeconds: INDEX_JOB_POSTPONE_SECONDS }]);
    expect(removed.map((m) => m.id)).toContain('old');
    expect(removed.map((m) => m.id)).not.toContain('young');
    expect(expired).toEqual([1]);
    expect(logged.find((l) => l.message.startsWith('SOCI conversion dropped'))?.fields).toMatchObject({ repository: 'slipway-docker-hub/library/python', digest, maxAgeHours: 24 });
    expect(await sociStore.get(digest)).toBeUndefined();

    // The postponed copy, read again past the limit (its event's time unchanged), is dropped in turn.
    incoming.push({ id: 'young-again', body: postponed[0]!.body, receipt: 'r-young-again' });
    deps.now = () => Date.now() + 2 * 3600_000;
    const later = await runPass(deps, { reconcile: false });
    expect(later.deferred).toEqual([{ stageKey: 'octo/app#7/1', reason: 'vcpu-quota' }]);
    expect(later.indexImages).toEqual([{ digest, outcome: 'expired' }]);
    expect(postponed).toHaveLength(1);
    expect(expired).toEqual([1, 1]);
    await stopAll();
  });

  it('a converter that is stopping still holds its vCPU until ECS says STOPPED (desired STOPPED, found by its family)', async () => {
    resetAutoscalerState();
    // Its container ignores SIGTERM: it stays stopping for its stopTimeout (120 s, the longest), longer
    // than this test (the last of the file: the stand-in ends it when the file is done).
    // RUNNING comes when the process is spawned, before its shell has read the trap: a SIGTERM sent
    // then ends it at once, so the test stops it only once the script says the trap is set.
    const trapped = join(mkdtempSync(join(tmpdir(), 'slipway-converter-')), 'trapped');
    const converterDefinition = await converterFamily(`trap '' TERM; touch ${trapped}; while :; do sleep 1; done`, 120);
    const converter = await runConverter(converterDefinition, 'bbbb');
    await waitFor('the converter RUNNING', async () => (await describe1(standIn.client, converter)).lastStatus === 'RUNNING');
    await waitFor('the converter ignoring SIGTERM', async () => existsSync(trapped));
    await standIn.client.send(new StopTaskCommand({ cluster, task: converter, reason: 'test: stopping' }));
    const { deps, store, stages } = harness({ taskDefinition: converterDefinition });
    store.add(build('octo/app#3'), [stageOf('octo/app#3', { queuedAt: queuedAt() })], []);
    await stages.putStageJobs([job('octo/app#3/1', 2048)]);
    const report = await runPass(deps, { reconcile: false });
    expect(report.runTaskFailures).toEqual([]);
    expect(report.started).toEqual([]);
    expect(report.vcpu).toMatchObject({ converterUnits: 1024 });
    expect(await describe1(standIn.client, converter)).toMatchObject({ desiredStatus: 'STOPPED', lastStatus: expect.not.stringMatching(/^STOPPED$/) });
    expect((await store.getStage('octo/app#3', 1))?.message).toBe('waiting: needs 2 vCPU; 1 vCPU of the 2 vCPU quota free (SOCI image converters hold 1 vCPU)');
  });
});
