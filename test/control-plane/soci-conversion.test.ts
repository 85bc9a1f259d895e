// An index-image job from start to record, on the stand-ins: the cache's event (as EventBridge
// puts it on the jobs queue) → the autoscaler's consumer (lambdas/autoscaler/index-image.ts:
// DynamoDB Local for the claim, the ECR stand-in for the size) → RunTask on the local ECS
// stand-in → the converter's report line in its log stream → the task-events Lambda's record
// (lambdas/task-events/soci-result.ts). The converter here is a shell that prints what
// task-runner/soci-converter/convert.sh prints (its own test runs the real script).

import { createHash } from 'node:crypto';
import { ECRClient } from '@aws-sdk/client-ecr';
import { RegisterTaskDefinitionCommand, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOCI_BUDGET_SK, sociBudgetPk } from '../../adapters/dynamodb/keys.js';
import { DynamoSociIndexStore } from '../../adapters/dynamodb/soci-store.js';
import { EcrImageSizes } from '../../adapters/ecr/image-sizes.js';
import { SOCI_CLAIM_STALE_MS, SOCI_CONVERSIONS_PER_REPOSITORY_PER_DAY, SOCI_CONVERTER_CONTAINER, SOCI_NAMED_LIFETIME_MS, SOCI_MAX_ATTEMPTS, SOCI_STARTED_BY_PREFIX, conversionDay, converterStartedBy, indexImageJobOf, type ConversionCharge, type IndexImageJob } from '../../core/images/soci.js';
import type { TaskStateChangeDetail } from '../../core/builds/task-event.js';
import { indexImage, type IndexImageDeps } from '../../lambdas/autoscaler/index-image.js';
import { recordSociResult } from '../../lambdas/task-events/soci-result.js';
import { sociImageNamer } from '../../lambdas/planner/soci-images.js';
import { localLogReader } from '../../local/log-reader.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoLocal, type LocalDynamo } from '../support/dynamodb-local.js';
import { startEcrStandIn, type EcrStandIn } from '../support/ecr-stand-in.js';
import { ecsForFile, family } from '../local/helpers.js';

const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const LOG_GROUP = '/slipway/builds';
const COPY = `sha256:${'c'.repeat(64)}`;
const digestOf = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

/** What convert.sh prints on success, from the environment RunTask gave it. */
const REPORTS = `t=\${SLIPWAY_SOCI_TARGET#*/}; echo "soci-converter: converting"; echo "SLIPWAY_SOCI {\\"source\\":\\"$SLIPWAY_SOCI_DIGEST\\",\\"converted\\":\\"${COPY}\\",\\"repository\\":\\"\${t%:*}\\",\\"tag\\":\\"\${t##*:}\\"}"`;

const local = ecsForFile();
let db: LocalDynamo;
let ecrStandIn: EcrStandIn;
let ecr: ECRClient;
let store: DynamoSociIndexStore;
const logs: string[] = [];

beforeAll(async () => {
  [db, ecrStandIn] = await Promise.all([startDynamoLocal('soci-conversion'), startEcrStandIn()]);
  ecr = new ECRClient({ endpoint: ecrStandIn.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  store = new DynamoSociIndexStore(db.doc, db.tableName);
});
afterAll(async () => {
  ecr?.destroy();
  await Promise.all([db?.stop(), ecrStandIn?.stop()]);
});

/** The converter's task definition as lib/soci-indexes.ts shapes it (1 vCPU, 2 GB, awslogs to the build group), with `script` as its program. */
async function converterDefinition(script: string): Promise<string> {
  const res = await local.client.send(
    new RegisterTaskDefinitionCommand({
      family: family('slipway-soci-converter'),
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '1024',
      memory: '2048',
      containerDefinitions: [
        {
          name: SOCI_CONVERTER_CONTAINER,
          image: 'alpine:3',
          essential: true,
          entryPoint: ['/bin/sh', '-c'],
          command: [script],
          logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': LOG_GROUP, 'awslogs-region': LOCAL_REGION, 'awslogs-stream-prefix': 'slipway' } },
        },
      ],
    }),
  );
  return res.taskDefinition!.taskDefinitionArn!;
}

function deps(taskDefinition: string): IndexImageDeps {
  const sizes = new EcrImageSizes(ecr, REGISTRY);
  return {
    ecs: local.client,
    store,
    describe: (images) => sizes.details(images),
    config: { cluster: 'default', subnets: ['subnet-local'], securityGroups: [], assignPublicIp: 'ENABLED', soci: { taskDefinition, registry: REGISTRY, prefixes: ['slipway-docker-hub'] } },
    now: Date.now,
    log: (message) => logs.push(message),
    // The whole default quota: no build runs or waits beside these conversions.
    room: { units: 6 * 1024 },
  };
}

/** The cache's event for `repository@digest`, as the jobs queue carries it, read as the autoscaler reads it. */
function eventJob(repository: string, digest: string, tag: string): IndexImageJob {
  const body = JSON.stringify({ source: 'aws.ecr', 'detail-type': 'ECR Pull Through Cache Action', time: new Date().toISOString(), detail: { 'sync-status': 'SUCCESS', 'repository-name': repository, 'image-tag': tag, 'image-digest': digest } });
  const reading = indexImageJobOf(body, ['slipway-docker-hub']);
  if (reading.kind !== 'job') throw new Error(`not a job: ${JSON.stringify(reading)}`);
  return reading.job;
}

/** That event's job, for an image a trusted build of its own repository (`test/<image>`, a budget each) named, as the planner records it. */
async function jobFromEvent(repository: string, digest: string, tag: string): Promise<IndexImageJob> {
  await sociImageNamer({ store, now: Date.now })([`${REGISTRY}/${repository}:${tag}`], `test/${repository.split('/').at(-1)}`);
  return eventJob(repository, digest, tag);
}

/** Today's conversion budget of `repo`, as indexImage charges it. */
function budgetOf(repo: string): ConversionCharge {
  return { repo, day: conversionDay(Date.now()), limit: SOCI_CONVERSIONS_PER_REPOSITORY_PER_DAY };
}

/** The units of `repo`'s budget of today spent, as the table holds them. */
async function spent(repo: string): Promise<number> {
  const res = await db.doc.send(new GetCommand({ TableName: db.tableName, Key: { PK: sociBudgetPk(repo, conversionDay(Date.now())), SK: SOCI_BUDGET_SK }, ConsistentRead: true }));
  return (res.Item?.conversions as number | undefined) ?? 0;
}

async function stoppedDetail(taskArn: string): Promise<TaskStateChangeDetail> {
  await local.ecs.waitForStopped(taskArn);
  await local.ecs.eventsDelivered();
  return local.ecs.events(taskArn).at(-1)!.detail;
}

describe('index-image jobs on the stand-ins', () => {
  it('starts one converter for duplicate events of a large image, and records the copy its task reports', async () => {
    const digest = digestOf('node:20');
    ecrStandIn.repositories.set('slipway-docker-hub/library/node', [{ digest, tags: ['20'], sizeInBytes: 390_000_000 }]);
    const d = deps(await converterDefinition(REPORTS));
    const job = await jobFromEvent('slipway-docker-hub/library/node', digest, '20');

    // One claim: a duplicate that comes while the claim has no task yet asks ECS with the claim's
    // token and gets the claim's task; one that comes after it is recorded knows it.
    const outcomes = await Promise.all([indexImage(job, d), indexImage(job, d), indexImage(job, d)]);
    const started = outcomes.filter((o) => o.kind === 'started');
    expect(started.length).toBeGreaterThanOrEqual(1);
    expect(outcomes.filter((o) => o.kind !== 'started' && o.kind !== 'known')).toEqual([]);
    const taskArn = (started[0] as { taskArn: string }).taskArn;
    expect(new Set(started.map((o) => (o as { taskArn: string }).taskArn))).toEqual(new Set([taskArn]));
    const converters = local.ecs.tasks().filter((t) => String(t.startedBy).startsWith(SOCI_STARTED_BY_PREFIX) && JSON.stringify(t.overrides).includes(digest));
    expect(converters.map((t) => t.taskArn)).toEqual([taskArn]);
    expect(await store.get(digest)).toMatchObject({ state: 'converting', taskArn, attempts: 1 });
    // One conversion, one unit of the day's budget, however many deliveries raced for the claim.
    expect(await spent('test/node')).toBe(1);

    const reader = localLogReader(local.ecs.logsDir, LOG_GROUP);
    const result = await recordSociResult(await stoppedDetail(taskArn), { store, logs: reader, now: Date.now, log: () => {} });
    expect(result).toEqual({ recorded: 'converted', source: digest, converted: COPY });
    expect(await store.get(digest)).toMatchObject({ state: 'converted', convertedDigest: COPY });
    // An event of the same image later (the cache's next sync of an unchanged tag) starts nothing.
    expect(await indexImage(job, d)).toEqual({ kind: 'known' });
  });

  it('records the copy of a converter whose report CloudWatch Logs shows only a moment after the task stopped', async () => {
    const digest = digestOf('openjdk:21');
    ecrStandIn.repositories.set('slipway-docker-hub/library/openjdk', [{ digest, tags: ['21'], sizeInBytes: 320_000_000 }]);
    const outcome = await indexImage(await jobFromEvent('slipway-docker-hub/library/openjdk', digest, '21'), deps(await converterDefinition(REPORTS)));
    const taskArn = (outcome as { taskArn: string }).taskArn;
    const detail = await stoppedDetail(taskArn);
    // The first read sees the stream as it was before its last lines were ingested.
    const reader = localLogReader(local.ecs.logsDir, LOG_GROUP);
    let reads = 0;
    const lagging = { tail: async (stream: string, limit: number) => (++reads === 1 ? [] : reader.tail(stream, limit)) };
    const result = await recordSociResult(detail, { store, logs: lagging, resultLine: { retryDelaysMs: [0, 0] }, now: Date.now, log: () => {} });
    expect(result).toEqual({ recorded: 'converted', source: digest, converted: COPY });
    expect(reads).toBe(2);
    expect(await store.get(digest)).toMatchObject({ state: 'converted', convertedDigest: COPY });
  });

  it('records the task of a claim whose record of it was lost (the write after RunTask failed) at the next delivery, so its report is taken', async () => {
    const digest = digestOf('rust:1.80');
    ecrStandIn.repositories.set('slipway-docker-hub/library/rust', [{ digest, tags: ['1.80'], sizeInBytes: 600_000_000 }]);
    const d = deps(await converterDefinition(REPORTS));
    const job = await jobFromEvent('slipway-docker-hub/library/rust', digest, '1.80');
    let refuse = true;
    const flaky = Object.assign(Object.create(store) as DynamoSociIndexStore, {
      started: async (source: string, arn: string) => {
        if (refuse) {
          refuse = false;
          throw new Error('ProvisionedThroughputExceededException: throttled');
        }
        return store.started(source, arn);
      },
    });
    await expect(indexImage(job, { ...d, store: flaky })).rejects.toThrow('throttled');
    expect(await store.get(digest)).toMatchObject({ state: 'converting', attempts: 1 });
    expect((await store.get(digest)) as { taskArn?: string }).not.toHaveProperty('taskArn');
    // The message's next delivery: the same attempt's token gives back the task it started.
    const again = await indexImage(job, { ...d, store: flaky });
    expect(again.kind).toBe('started');
    const taskArn = (again as { taskArn: string }).taskArn;
    expect(local.ecs.tasks().filter((t) => JSON.stringify(t.overrides).includes(digest)).map((t) => t.taskArn)).toEqual([taskArn]);
    const result = await recordSociResult(await stoppedDetail(taskArn), { store, logs: localLogReader(local.ecs.logsDir, LOG_GROUP), now: Date.now, log: () => {} });
    expect(result).toEqual({ recorded: 'converted', source: digest, converted: COPY });
  });

  // A converter can wait or run past the hour a claim is stale after (quota pressure, a slow pull);
  // a second one for the same digest would hold another vCPU for nothing.
  it('takes over a stale claim only once ECS says its converter is STOPPED; while it runs, the claim is kept and refreshed', async () => {
    const digest = digestOf('swift:5');
    ecrStandIn.repositories.set('slipway-docker-hub/library/swift', [{ digest, tags: ['5'], sizeInBytes: 700_000_000 }]);
    // A converter that ends at once when stopped (its shell waits on its sleep, and a trap ends the wait).
    const d = deps(await converterDefinition('trap "exit 0" TERM; echo "soci-converter: converting"; sleep 600 & wait'));
    const job = await jobFromEvent('slipway-docker-hub/library/swift', digest, '5');
    const first = await indexImage(job, d);
    expect(first.kind).toBe('started');
    const taskArn = (first as { taskArn: string }).taskArn;
    const convertersOfDigest = () => local.ecs.tasks().filter((t) => JSON.stringify(t.overrides).includes(digest)).map((t) => t.taskArn);

    const stale = Date.now() + SOCI_CLAIM_STALE_MS + 60_000;
    expect(await indexImage(job, { ...d, now: () => stale })).toEqual({ kind: 'known' });
    expect(convertersOfDigest()).toEqual([taskArn]);
    expect(await store.get(digest)).toEqual({ state: 'converting', repository: 'slipway-docker-hub/library/swift', claimedAt: stale, attempts: 1, taskArn, charged: { repo: 'test/swift', day: conversionDay(Date.now()) } });

    // Once ECS says STOPPED (its stop event lost: the claim still names it), the next stale look takes it over.
    await local.client.send(new StopTaskCommand({ cluster: 'default', task: taskArn, reason: 'test: the converter is gone' }));
    await local.ecs.waitForStopped(taskArn);
    const staleAgain = stale + SOCI_CLAIM_STALE_MS + 60_000;
    const second = await indexImage(job, { ...d, now: () => staleAgain });
    expect(second.kind).toBe('started');
    const secondArn = (second as { taskArn: string }).taskArn;
    expect(secondArn).not.toBe(taskArn);
    expect(await store.get(digest)).toMatchObject({ state: 'converting', claimedAt: staleAgain, attempts: 2, taskArn: secondArn });
    await local.client.send(new StopTaskCommand({ cluster: 'default', task: secondArn, reason: 'test over' }));
  });

  it('takes over a stale claim whose task ECS does not know (DescribeTasks: MISSING, as for a task stopped over an hour ago)', async () => {
    const digest = digestOf('haskell:9');
    ecrStandIn.repositories.set('slipway-docker-hub/library/haskell', [{ digest, tags: ['9'], sizeInBytes: 600_000_000 }]);
    const d = deps(await converterDefinition(REPORTS));
    const job = await jobFromEvent('slipway-docker-hub/library/haskell', digest, '9');
    const gone = 'arn:aws:ecs:us-east-1:000000000000:task/default/0123456789abcdef0123456789abcdef';
    expect(await store.claim(job, Date.now() - SOCI_CLAIM_STALE_MS - 60_000, budgetOf('test/haskell'))).toBe('claimed');
    await store.started(digest, gone);
    const outcome = await indexImage(job, d);
    expect(outcome).toMatchObject({ kind: 'started', digest });
    expect(await store.get(digest)).toMatchObject({ state: 'converting', attempts: 2, taskArn: (outcome as { taskArn: string }).taskArn });
  });

  it("keeps a stale claim without a recorded task while ECS lists a converter of its digest (ListTasks by startedBy), and records that task on it", async () => {
    const digest = digestOf('dart:3');
    ecrStandIn.repositories.set('slipway-docker-hub/library/dart', [{ digest, tags: ['3'], sizeInBytes: 500_000_000 }]);
    const definition = await converterDefinition('trap "exit 0" TERM; sleep 600 & wait');
    const d = deps(definition);
    const job = await jobFromEvent('slipway-docker-hub/library/dart', digest, '3');
    const claimedAt = Date.now() - SOCI_CLAIM_STALE_MS - 60_000;
    expect(await store.claim(job, claimedAt, budgetOf('test/dart'))).toBe('claimed');
    // The claim's RunTask started this task, and the write of it was lost.
    const run = await local.client.send(
      new RunTaskCommand({ cluster: 'default', taskDefinition: definition, launchType: 'FARGATE', startedBy: converterStartedBy(digest), networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-local'], assignPublicIp: 'ENABLED' } } }),
    );
    const taskArn = run.tasks![0]!.taskArn!;
    const now = Date.now();
    expect(await indexImage(job, { ...d, now: () => now })).toEqual({ kind: 'known' });
    expect(await store.get(digest)).toMatchObject({ state: 'converting', attempts: 1, claimedAt: now, taskArn });
    expect(local.ecs.tasks().filter((t) => t.startedBy === converterStartedBy(digest)).map((t) => t.taskArn)).toEqual([taskArn]);
    await local.client.send(new StopTaskCommand({ cluster: 'default', task: taskArn, reason: 'test over' }));
  });

  // No file may make the control plane slow for other repositories (core/images/soci.ts, "Who can
  // cause a conversion"): what a fork's pull request alone pulls through the cache is not converted.
  it("converts only an image a trusted build named lately: the event of one only a fork's pull request pulled starts and records nothing", async () => {
    const digest = digestOf('ghost:5');
    ecrStandIn.repositories.set('slipway-docker-hub/library/ghost', [{ digest, tags: ['5'], sizeInBytes: 800_000_000 }]);
    const d = deps(await converterDefinition(REPORTS));
    const before = local.ecs.tasks().length;
    const job = eventJob('slipway-docker-hub/library/ghost', digest, '5');
    expect(await indexImage(job, d)).toMatchObject({ kind: 'unnamed', reason: expect.stringContaining("other than a fork's named slipway-docker-hub/library/ghost:5") });
    expect(local.ecs.tasks()).toHaveLength(before);
    expect(await store.get(digest)).toBeUndefined();
    // Named by a trusted build over a week ago: still not.
    const namer = (now: number) => sociImageNamer({ store, now: () => now })([`${REGISTRY}/slipway-docker-hub/library/ghost:5`], 'acme/blog');
    await namer(Date.now() - SOCI_NAMED_LIFETIME_MS - 60_000);
    expect(await indexImage(job, d)).toMatchObject({ kind: 'unnamed' });
    // Named by one now (the planner, for a build that is not a fork's): the next event converts it.
    await namer(Date.now());
    expect(await indexImage(job, d)).toMatchObject({ kind: 'started', digest });
  });

  it('charges each conversion to the repository whose build named the image: past its day\'s budget, nothing starts, and another repository\'s image still converts', async () => {
    const d = deps(await converterDefinition(REPORTS));
    const namer = sociImageNamer({ store, now: Date.now });
    // The repository's builds have caused all but one of the day's conversions.
    for (let n = 1; n < SOCI_CONVERSIONS_PER_REPOSITORY_PER_DAY; n++) expect(await store.claim({ repository: 'slipway-docker-hub/flood/earlier', digest: digestOf(`earlier ${n}`) }, Date.now(), budgetOf('acme/flood'))).toBe('claimed');
    const image = (n: number) => ({ repository: `slipway-docker-hub/flood/image-${n}`, digest: digestOf(`flood ${n}`) });
    for (const n of [1, 2]) {
      ecrStandIn.repositories.set(image(n).repository, [{ digest: image(n).digest, tags: ['1'], sizeInBytes: 300_000_000 }]);
      await namer([`${REGISTRY}/${image(n).repository}:1`], 'acme/flood');
    }
    expect(await indexImage(eventJob(image(1).repository, image(1).digest, '1'), d)).toMatchObject({ kind: 'started' });
    expect(await indexImage(eventJob(image(2).repository, image(2).digest, '1'), d)).toMatchObject({ kind: 'over-budget', reason: expect.stringContaining(`acme/flood's builds have caused their ${SOCI_CONVERSIONS_PER_REPOSITORY_PER_DAY} conversions`) });
    expect(await store.get(image(2).digest)).toBeUndefined();
    expect(local.ecs.tasks().filter((t) => JSON.stringify(t.overrides).includes(image(2).digest))).toEqual([]);
    // Another repository is not held back by this one's flood.
    const other = digestOf('elasticsearch:8');
    ecrStandIn.repositories.set('slipway-docker-hub/library/elasticsearch', [{ digest: other, tags: ['8'], sizeInBytes: 700_000_000 }]);
    await namer([`${REGISTRY}/slipway-docker-hub/library/elasticsearch:8`], 'acme/search');
    expect(await indexImage(eventJob('slipway-docker-hub/library/elasticsearch', other, '8'), d)).toMatchObject({ kind: 'started', digest: other });
  });

  it("spends no attempt on ECS having no capacity or quota for the converter: an image refused so more times than attempts allow is still converted at its next event", async () => {
    const digest = digestOf('tensorflow:2');
    ecrStandIn.repositories.set('slipway-docker-hub/tensorflow/tensorflow', [{ digest, tags: ['2'], sizeInBytes: 900_000_000 }]);
    const d = deps(await converterDefinition(REPORTS));
    const job = await jobFromEvent('slipway-docker-hub/tensorflow/tensorflow', digest, '2');
    // What RunTask answers when the builds fill the account's Fargate vCPU quota (failures[], no exception).
    const quotaFull = { send: async () => ({ tasks: [], failures: [{ reason: "You've reached the limit on the number of vCPUs you can run concurrently" }] }) } as unknown as IndexImageDeps['ecs'];
    for (let i = 0; i <= SOCI_MAX_ATTEMPTS; i++) expect(await indexImage(job, { ...d, ecs: quotaFull })).toMatchObject({ kind: 'failed', reason: expect.stringContaining('limit on the number of vCPUs') });
    expect(await store.get(digest)).toMatchObject({ state: 'failed', attempts: 0 });
    // Nor a unit of the repository's day: each refused claim gave its unit back.
    expect(await spent('test/tensorflow')).toBe(0);
    expect(await indexImage(job, d)).toMatchObject({ kind: 'started', digest });
    expect(await store.get(digest)).toMatchObject({ state: 'converting', attempts: 1 });
    expect(await spent('test/tensorflow')).toBe(1);
  });

  it('claims and starts nothing while builds need the vCPU its converter would take (the room the pass leaves), and takes that room when it starts', async () => {
    const digest = digestOf('gradle:8');
    ecrStandIn.repositories.set('slipway-docker-hub/library/gradle', [{ digest, tags: ['8'], sizeInBytes: 450_000_000 }]);
    const d = deps(await converterDefinition(REPORTS));
    const job = await jobFromEvent('slipway-docker-hub/library/gradle', digest, '8');
    const before = local.ecs.tasks().length;
    const room = { units: 512 };
    expect(await indexImage(job, { ...d, room })).toMatchObject({ kind: 'deferred', reason: expect.stringContaining('needs 1 vCPU of the Fargate quota') });
    expect(await store.get(digest)).toBeUndefined();
    expect(local.ecs.tasks()).toHaveLength(before);
    room.units = 1024;
    expect(await indexImage(job, { ...d, room })).toMatchObject({ kind: 'started', digest });
    expect(room.units).toBe(0);
    // A second image in the same pass finds no room left.
    const other = digestOf('maven:3');
    ecrStandIn.repositories.set('slipway-docker-hub/library/maven', [{ digest: other, tags: ['3'], sizeInBytes: 450_000_000 }]);
    expect(await indexImage(await jobFromEvent('slipway-docker-hub/library/maven', other, '3'), { ...d, room })).toMatchObject({ kind: 'deferred' });
    expect(await store.get(other)).toBeUndefined();
  });

  it('skips an image under 250 MB without starting a task, for good', async () => {
    const digest = digestOf('postgres:15');
    ecrStandIn.repositories.set('slipway-docker-hub/library/postgres', [{ digest, tags: ['15'], sizeInBytes: 150_000_000 }]);
    const before = local.ecs.tasks().length;
    const d = deps(await converterDefinition(REPORTS));
    const outcome = await indexImage(await jobFromEvent('slipway-docker-hub/library/postgres', digest, '15'), d);
    expect(outcome).toMatchObject({ kind: 'skipped', reason: expect.stringContaining('under 250 MB') });
    expect(local.ecs.tasks()).toHaveLength(before);
    expect(await store.get(digest)).toMatchObject({ state: 'skipped' });
  });

  it('records nothing of an image ECR does not describe, so that a later event of it is converted', async () => {
    const digest = digestOf('elixir:1.17');
    const job = await jobFromEvent('slipway-docker-hub/library/elixir', digest, '1.17');
    const d = deps(await converterDefinition(REPORTS));
    expect(await indexImage(job, d)).toMatchObject({ kind: 'skipped', reason: expect.stringContaining('ECR does not describe') });
    expect(await store.get(digest)).toBeUndefined();
    ecrStandIn.repositories.set('slipway-docker-hub/library/elixir', [{ digest, tags: ['1.17'], sizeInBytes: 310_000_000 }]);
    expect(await indexImage(job, d)).toMatchObject({ kind: 'started', digest });
  });

  it('marks a converter that exits without its report failed, with its last line, so a later event tries again', async () => {
    const digest = digestOf('python:3.12');
    ecrStandIn.repositories.set('slipway-docker-hub/library/python', [{ digest, tags: ['3.12'], sizeInBytes: 400_000_000 }]);
    const d = deps(await converterDefinition('echo "soci-converter: soci convert failed" >&2; exit 1'));
    const job = await jobFromEvent('slipway-docker-hub/library/python', digest, '3.12');
    const outcome = await indexImage(job, d);
    expect(outcome.kind).toBe('started');
    const taskArn = (outcome as { taskArn: string }).taskArn;
    const result = await recordSociResult(await stoppedDetail(taskArn), { store, logs: localLogReader(local.ecs.logsDir, LOG_GROUP), now: Date.now, log: () => {} });
    expect(result).toMatchObject({ recorded: 'failed', source: digest, reason: expect.stringContaining('exited 1') });
    expect(await store.get(digest)).toMatchObject({ state: 'failed', attempts: 1 });
    // The next event claims it again: a second task, with the next attempt's token.
    const again = await indexImage(job, d);
    expect(again.kind).toBe('started');
    expect((again as { taskArn: string }).taskArn).not.toBe(taskArn);
  });

  it("indexes the digest the event's tag points at when ECR is asked (the one the planner finds), not an older one the event named", async () => {
    const current = digestOf('golang:1.22 now');
    ecrStandIn.repositories.set('slipway-docker-hub/library/golang', [{ digest: current, tags: ['1.22'], sizeInBytes: 300_000_000 }]);
    const d = deps(await converterDefinition(REPORTS));
    const body = JSON.stringify({ source: 'aws.ecr', 'detail-type': 'ECR Pull Through Cache Action', time: new Date().toISOString(), detail: { 'sync-status': 'SUCCESS', 'repository-name': 'slipway-docker-hub/library/golang', 'image-tag': '1.22', 'image-digest': digestOf('golang:1.22 before') } });
    const reading = indexImageJobOf(body, ['slipway-docker-hub']);
    if (reading.kind !== 'job') throw new Error('not a job');
    await sociImageNamer({ store, now: Date.now })([`${REGISTRY}/slipway-docker-hub/library/golang:1.22`], 'test/golang');
    const outcome = await indexImage(reading.job, d);
    expect(outcome).toMatchObject({ kind: 'started', digest: current });
    const taskArn = (outcome as { taskArn: string }).taskArn;
    expect(local.ecs.tasks().find((t) => t.taskArn === taskArn)?.overrides).toMatchObject({ containerOverrides: [{ environment: expect.arrayContaining([{ name: 'SLIPWAY_SOCI_DIGEST', value: current }]) }] });
    expect(await store.get(digestOf('golang:1.22 before'))).toBeUndefined();
    expect(await store.get(current)).toMatchObject({ state: 'converting', taskArn });
  });

  it('takes no report from a task the claim did not start', async () => {
    const digest = digestOf('ruby:3');
    ecrStandIn.repositories.set('slipway-docker-hub/library/ruby', [{ digest, tags: ['3'], sizeInBytes: 300_000_000 }]);
    const d = deps(await converterDefinition(REPORTS));
    const started = await indexImage(await jobFromEvent('slipway-docker-hub/library/ruby', digest, '3'), d);
    const taskArn = (started as { taskArn: string }).taskArn;
    const detail = await stoppedDetail(taskArn);
    const forged = { ...detail, taskArn: `${taskArn.slice(0, -4)}beef` };
    const result = await recordSociResult(forged, { store, logs: { tail: async (stream, limit) => localLogReader(local.ecs.logsDir, LOG_GROUP).tail(stream.replace(forged.taskArn.split('/').at(-1)!, taskArn.split('/').at(-1)!), limit) }, now: Date.now, log: () => {} });
    expect(result.recorded).toBe('nothing');
    expect(await store.get(digest)).toMatchObject({ state: 'converting', taskArn });
  });
});
