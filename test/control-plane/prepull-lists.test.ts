// The autoscaler keeps the lists of images EC2 instances pull ahead (lambdas/autoscaler/prepull.ts):
// when a pass scales a group out, the stages that ran on EC2 recently (DynamoDB Local, through
// the same recent-records index the metrics read) and those waiting give the images, and the
// list lands in the architecture's SSM parameter (the SSM stand-in), which the instance reads
// at boot. The fleet is a fake (no Auto Scaling here); everything else is the real code.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { ECRClient } from '@aws-sdk/client-ecr';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { documentClient } from '../../adapters/dynamodb/client.js';
import { DynamoStageStore } from '../../adapters/dynamodb/stage-store.js';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { recentRecordsReader } from '../../adapters/dynamodb/recent-records.js';
import { SqsJobQueue } from '../../adapters/sqs/job-queue.js';
import { SsmPrepullLists } from '../../adapters/ssm/prepull-lists.js';
import { EcrImageSizes } from '../../adapters/ecr/image-sizes.js';
import type { Build, Stage, StepRecord } from '../../core/builds/types.js';
import { AGENT_CONTAINER } from '../../core/pipeline/contract.js';
import { DEFAULT_LIMITS } from '../../core/scaling/decide-scale.js';
import type { Ec2Fleet, FleetDecision, FleetInstance } from '../../core/scaling/ec2-fleet.js';
import type { StageJob } from '../../core/scaling/job.js';
import { resetAutoscalerState, runPass, type AutoscalerDeps } from '../../lambdas/autoscaler/autoscaler.js';
import { PREPULL_REFRESH_MS, resetPrepullState } from '../../lambdas/autoscaler/prepull.js';
import { ensureTable } from '../../lambdas/shared/table.js';
import { ec2PrepullFromEnv } from '../../lambdas/autoscaler/config.js';
import { startLocalAws, type LocalAws } from '../../local/aws.js';
import { startSsmStandIn, type SsmStandIn } from '../support/ssm-stand-in.js';
import { startEcrStandIn } from '../support/ecr-stand-in.js';

const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const AGENT = `${REGISTRY}/cdk-hnb659fds-container-assets-123456789012-us-east-1:agent`;
const PARAMETER = '/slipway-prepull/Test/amd64';
const hub = (name: string) => `${REGISTRY}/slipway-docker-hub/library/${name}`;

let aws: LocalAws;
let ssmStandIn: SsmStandIn;
let ssm: SSMClient;
let deps: AutoscalerDeps;
let stages: DynamoStageStore;
let store: DynamoBuildStore;
const logged: { message: string; fields: Record<string, unknown> }[] = [];

beforeAll(async () => {
  [aws, ssmStandIn] = await Promise.all([startLocalAws({ ecs: { namespaces: false } }), startSsmStandIn()]);
  const ddb = new DynamoDBClient(aws.clientConfig('dynamodb'));
  await ensureTable(ddb, 'builds');
  const doc = documentClient(ddb);
  const sqs = new SQSClient(aws.clientConfig('sqs'));
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: 'prepull-jobs' }));
  ssm = new SSMClient({ endpoint: ssmStandIn.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  store = new DynamoBuildStore(doc, 'builds');
  stages = new DynamoStageStore(doc, 'builds');
  deps = {
    store,
    stages,
    ecs: new ECSClient(aws.clientConfig('ecs')),
    jobs: new SqsJobQueue(sqs, queue.QueueUrl!),
    postBuildStatus: async () => {},
    nudge: async () => {},
    now: Date.now,
    log: (message, fields = {}) => void logged.push({ message, fields }),
    config: {
      tableName: 'builds', jobsQueueUrl: queue.QueueUrl!, cluster: 'slipway', subnets: ['subnet-local'], securityGroups: [], serviceSecurityGroups: [],
      assignPublicIp: 'DISABLED', useSpot: false, defaultCpu: 256, limits: { ...DEFAULT_LIMITS },
    },
    prepull: {
      lists: new SsmPrepullLists(ssm, { amd64: PARAMETER }),
      recent: recentRecordsReader(doc, 'builds'),
      agentImages: { amd64: AGENT },
      pullable: { registry: REGISTRY, repositoryPrefixes: ['slipway-docker-hub'] },
    },
  };
});

afterAll(async () => {
  ssm?.destroy();
  await Promise.all([aws?.stop(), ssmStandIn?.stop()]);
});

beforeEach(() => {
  resetAutoscalerState();
  resetPrepullState();
});

let counter = 0;
/** A build of `repo` with one EC2 stage using `images`: ran (started, on EC2) or waiting for an instance. */
async function ec2Build(repo: string, images: string[], how: 'ran' | 'waits'): Promise<Build> {
  const number = ++counter;
  const id = `${repo}#${number}`;
  const now = Date.now();
  await store.ensureRepository({ slug: repo, scm: 'github', httpUrl: `http://x/${repo}.git`, link: `http://x/${repo}`, defaultBranch: 'main', private: false });
  const build: Build = { id, repo, number, status: 'pending', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: `c${number}`, message: 'm', author: 'a', link: 'l', deliveryId: `prepull-${number}-${now}`, fork: false, createdAt: now };
  // Queued long enough ago that a pass takes it without its job message (autoscaler.ts, wasSeen).
  const stage: Stage = { buildId: id, repo, buildNumber: number, number: 1, name: 'default', status: 'pending', dependsOn: [], attempts: 0, queuedAt: now - 120_000 };
  const step: StepRecord = { buildId: id, stageNumber: 1, number: 1, name: 'clone', container: AGENT_CONTAINER, status: 'pending', detached: false, kind: 'clone' };
  await store.createBuild({ build, stages: [stage], steps: [step] });
  const job: StageJob = {
    stageKey: `${id}/1`, buildId: id, stageNumber: 1, repo, pipeline: 'default', cpu: 1024, memory: 2048, queuedAt: now - 120_000, receivedAt: now - 120_000,
    taskDefinition: {
      family: `slipway-prepull-${number}`, requiresCompatibilities: ['EC2'], networkMode: 'host',
      containerDefinitions: [{ name: AGENT_CONTAINER, image: AGENT, essential: true }, ...images.map((image, i) => ({ name: `s${i}`, image, essential: false }))],
    },
    runTask: { capacityProviderStrategy: [{ capacityProvider: 'slipway-ec2-amd64', weight: 1 }], group: 'slipway-ec2' },
  };
  await stages.putStageJobs([job]);
  if (how === 'ran') await stages.markRunning(id, 1, { attempt: 0, taskArn: `arn:aws:ecs:us-east-1:123456789012:task/slipway/t${number}`, capacity: 'EC2', startedAt: now - 60_000, cpu: 1024 });
  return build;
}

/** A fleet the test sets; it records each decision and the list as it was when the group was resized. */
function fakeFleet(instances: FleetInstance[] = []): { fleet: Ec2Fleet; applied: FleetDecision[]; listAtApply: (string | undefined)[] } {
  const applied: FleetDecision[] = [];
  const listAtApply: (string | undefined)[] = [];
  const apply = async (d: FleetDecision) => {
    applied.push(d);
    listAtApply.push(ssmStandIn.values.get(PARAMETER)?.value);
  };
  return { fleet: { arches: ['amd64'], maxInstances: 4, spot: {}, describe: async () => instances, apply, markSpent: async () => {} }, applied, listAtApply };
}

describe('the autoscaler writes the prepull list when it scales EC2 capacity out', () => {
  it('from the recent EC2 builds and the waiting one: agent first, most used next, before the group grows', async () => {
    await ec2Build('acme/api', [hub('postgres:16'), hub('node:20')], 'ran');
    await ec2Build('acme/api', [hub('postgres:16')], 'ran');
    await ec2Build('acme/web', [hub('nginx:1.27'), 'ghcr.io/acme/private:1'], 'ran');
    const waiting = await ec2Build('acme/api', [hub('postgres:16'), hub('redis:7')], 'waits');
    const { fleet, applied, listAtApply } = fakeFleet();

    const report = await runPass({ ...deps, fleet }, { reconcile: false });

    expect(report.deferred).toContainEqual({ stageKey: `${waiting.id}/1`, reason: 'ec2-instance' });
    expect(applied.at(-1)?.desired.amd64).toBe(1);
    expect(report.prepull).toEqual([{ arch: 'amd64', images: 5, result: 'written' }]);
    const lines = ssmStandIn.values.get(PARAMETER)!.value.split('\n');
    expect(lines[0]).toBe(AGENT);
    expect(lines[1]).toBe(hub('postgres:16'));
    expect(lines.sort()).toEqual([AGENT, hub('nginx:1.27'), hub('node:20'), hub('postgres:16'), hub('redis:7')].sort());
    // Written before the group was resized: the instances it launches read this list.
    expect(listAtApply.at(-1)).toBe(ssmStandIn.values.get(PARAMETER)!.value);
    await stages.finish(waiting.id, 1, { status: 'killed', message: 'test done', finishedAt: Date.now() });
  });

  it("with ECR's sizes, leaves a huge image off every instance's list", async () => {
    const ecrStandIn = await startEcrStandIn();
    const ecr = new ECRClient({ endpoint: ecrStandIn.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    try {
      ecrStandIn.repositories.set('slipway-docker-hub/library/huge', [{ digest: `sha256:${'d'.repeat(64)}`, tags: ['1'], sizeInBytes: 40 * 1024 ** 3 }]);
      ecrStandIn.repositories.set('slipway-docker-hub/library/redis', [{ digest: `sha256:${'e'.repeat(64)}`, tags: ['7'], sizeInBytes: 45_000_000 }]);
      const waiting = await ec2Build('evil/huge', [hub('huge:1'), hub('redis:7')], 'waits');
      const { fleet } = fakeFleet();
      const sized = { ...deps.prepull!, sizes: new EcrImageSizes(ecr, REGISTRY) };
      const report = await runPass({ ...deps, fleet, prepull: sized }, { reconcile: false });
      expect(report.prepull?.[0]?.arch).toBe('amd64');
      const lines = ssmStandIn.values.get(PARAMETER)!.value.split('\n');
      expect(lines).toContain(hub('redis:7'));
      expect(lines).not.toContain(hub('huge:1'));
      // Images ECR has no size for (not cached yet) are left out as well.
      expect(lines).not.toContain(hub('nginx:1.27'));
      expect(lines[0]).toBe(AGENT);
      await stages.finish(waiting.id, 1, { status: 'killed', message: 'test done', finishedAt: Date.now() });
    } finally {
      ecr.destroy();
      await ecrStandIn.stop();
    }
  });

  it('leaves the list alone when no group grows, and refreshes at most once a minute', async () => {
    const waiting = await ec2Build('acme/api', [hub('golang:1.22')], 'waits');
    const puts = () => ssmStandIn.calls.filter((c) => c.action === 'PutParameter').length;
    // An instance is ready for it: nothing grows.
    const ready = fakeFleet([{ instanceId: 'i-1', arch: 'amd64', state: 'booting', tasks: 0, spent: false }]);
    const before = puts();
    const quiet = await runPass({ ...deps, fleet: ready.fleet }, { reconcile: false });
    expect(quiet.prepull).toBeUndefined();
    expect(puts()).toBe(before);

    let now = Date.now();
    const grows = fakeFleet();
    const first = await runPass({ ...deps, now: () => now, fleet: grows.fleet }, { reconcile: false });
    expect(first.prepull?.[0]?.result).toBe('written');
    expect(ssmStandIn.values.get(PARAMETER)!.value).toContain(hub('golang:1.22'));
    const again = await runPass({ ...deps, now: () => now, fleet: grows.fleet }, { reconcile: false });
    expect(again.prepull).toBeUndefined();
    now += PREPULL_REFRESH_MS;
    const later = await runPass({ ...deps, now: () => now, fleet: grows.fleet }, { reconcile: false });
    expect(later.prepull).toEqual([expect.objectContaining({ arch: 'amd64', result: 'unchanged' })]);
    await stages.finish(waiting.id, 1, { status: 'killed', message: 'test done', finishedAt: Date.now() });
  });

  it('scales out all the same when the list cannot be written, and says so', async () => {
    const waiting = await ec2Build('acme/api', [hub('postgres:16')], 'waits');
    const { fleet, applied } = fakeFleet();
    const broken = { ...deps.prepull!, lists: new SsmPrepullLists(ssm, { arm64: '/slipway-prepull/Test/arm64' }) };
    const report = await runPass({ ...deps, fleet, prepull: broken }, { reconcile: false });
    expect(applied.at(-1)?.desired.amd64).toBe(1);
    expect(report.prepull).toBeUndefined();
    expect(logged.find((l) => l.message.startsWith('prepull lists not refreshed'))?.fields.error).toMatch(/no parameter for amd64/);
    await stages.finish(waiting.id, 1, { status: 'killed', message: 'test done', finishedAt: Date.now() });
  });
});

describe('EC2_PREPULL, as the stack sets it for the autoscaler', () => {
  it('gives the lists, the registry, the cache prefixes and the agent images; refuses anything else, saying what it expects', () => {
    const value = { parameters: { amd64: '/p/amd64' }, registry: REGISTRY, repositoryPrefixes: ['slipway-docker-hub'], agentImages: { amd64: AGENT } };
    expect(ec2PrepullFromEnv({ EC2_PREPULL: JSON.stringify(value) })).toEqual(value);
    expect(ec2PrepullFromEnv({})).toBeUndefined();
    expect(() => ec2PrepullFromEnv({ EC2_PREPULL: '{' })).toThrow(/EC2_PREPULL is not JSON .*expected \{"parameters"/);
    expect(() => ec2PrepullFromEnv({ EC2_PREPULL: JSON.stringify({ ...value, parameters: { x86: '/p' } }) })).toThrow(/expected \{"parameters": \{"amd64"/);
  });
});
