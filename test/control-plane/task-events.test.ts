// The local Lambda runtime (local/control-plane.ts) with the real autoscaler and
// task-events handlers, configured only through the environment as in AWS. The planner
// is given as a small SQS batch handler here (the real one is exercised end to end):
// what is under test is the runtime's batch contract — batchItemFailures retried alone,
// then dead-lettered; the rest deleted — and the handler wiring.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor as waitUntil } from '../support/wait.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { documentClient } from '../../adapters/dynamodb/client.js';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { startLocalAws, type LocalAws } from '../../local/aws.js';
import { startControlPlane, type ControlPlane } from '../../local/control-plane.js';
import { ensureTable } from '../../lambdas/shared/table.js';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { DynamoStageStore } from '../../adapters/dynamodb/stage-store.js';
import { AGENT_CONTAINER } from '../../core/pipeline/contract.js';
import type { StageJob } from '../../core/scaling/job.js';
import { SqsJobQueue } from '../../adapters/sqs/job-queue.js';

let aws: LocalAws;
let plane: ControlPlane;
let store: DynamoBuildStore;
let stages: DynamoStageStore;
let sqs: SQSClient;
let eventsUrl: string;
let dlqUrl: string;
let jobsUrl: string;
const seen: { body: string; receiveCount: string }[] = [];
const errors: string[] = [];

beforeAll(async () => {
  aws = await startLocalAws({ ecs: { namespaces: false, eventDelivery: { duplicateProbability: 0.3, seed: 3 } } });
  const env = aws.env();
  Object.assign(process.env, env);
  const ddb = new DynamoDBClient(aws.clientConfig('dynamodb'));
  await ensureTable(ddb, 'cp-builds');
  const doc = documentClient(ddb);
  store = new DynamoBuildStore(doc, 'cp-builds');
  stages = new DynamoStageStore(doc, 'cp-builds');
  // fauxqs names queues `sqs.<region>.localhost`: send to the endpoint, not the URL's host.
  sqs = new SQSClient({ ...aws.clientConfig('sqs'), useQueueUrlAsEndpoint: false });
  const loopback = (url: string) => url;
  dlqUrl = loopback((await sqs.send(new CreateQueueCommand({ QueueName: 'cp-events-dlq' }))).QueueUrl!);
  eventsUrl = loopback((await sqs.send(new CreateQueueCommand({
    QueueName: 'cp-events',
    Attributes: { VisibilityTimeout: '1', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:cp-events-dlq', maxReceiveCount: 2 }) },
  }))).QueueUrl!);
  jobsUrl = loopback((await sqs.send(new CreateQueueCommand({ QueueName: 'cp-jobs' }))).QueueUrl!);
  // The stand-in planner: records, fails the poison message, and queues a stage for "run".
  const planner = async (event: SQSEvent) => {
    const failures: { itemIdentifier: string }[] = [];
    for (const record of event.Records) {
      seen.push({ body: record.body, receiveCount: record.attributes.ApproximateReceiveCount });
      if (record.body === 'poison') failures.push({ itemIdentifier: record.messageId });
      if (record.body === 'run') await seedAndQueue();
    }
    return { batchItemFailures: failures };
  };
  plane = await startControlPlane({
    env: { ...env, TABLE_NAME: 'cp-builds', EVENTS_QUEUE_URL: eventsUrl, JOBS_QUEUE_URL: jobsUrl, CLUSTER: 'slipway', SUBNET_IDS: 'subnet-local', VCPU_QUOTA: '6', MAX_CONCURRENT_BUILDS: '10' },
    ecs: aws.ecs,
    scheduleMs: 500,
    handlers: { planner },
    onError: (where, err) => errors.push(`${where}: ${(err as Error).message}`),
  });
});

afterAll(async () => {
  await plane?.stop();
  await aws?.stop();
});

async function seedAndQueue(): Promise<void> {
  const repo = 'acme/runtime';
  const id = `${repo}#1`;
  const now = Date.now();
  await store.ensureRepository({ slug: repo, scm: 'local', httpUrl: 'file:///nowhere', link: 'http://x', defaultBranch: 'main', private: false });
  await store.createBuild({
    build: { id, repo, number: 1, status: 'pending', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: 'abc', message: '', author: '', link: '', deliveryId: 'rt-1', fork: false, createdAt: now },
    stages: [{ buildId: id, repo, buildNumber: 1, number: 1, name: 'only', status: 'pending', dependsOn: [], attempts: 0, queuedAt: now }],
    steps: [{ buildId: id, stageNumber: 1, number: 1, name: 'clone', container: AGENT_CONTAINER, status: 'pending', detached: false, kind: 'clone' }],
  });
  const job: StageJob = {
    stageKey: `${id}/1`, buildId: id, stageNumber: 1, repo, pipeline: 'only', cpu: 256, memory: 512, queuedAt: now,
    taskDefinition: { family: 'runtime-ok', requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: '256', memory: '512', containerDefinitions: [{ name: AGENT_CONTAINER, image: 'alpine', essential: true, entryPoint: ['/bin/sh', '-c'], command: ['exit 0'] }] },
    runTask: {},
  };
  await stages.putStageJobs([job]);
  await new SqsJobQueue(sqs, jobsUrl).enqueue(job);
}

const waitFor = <T>(what: string, probe: () => Promise<T | undefined | null | false>): Promise<T> =>
  waitUntil(what, probe, { explain: () => `stats ${JSON.stringify(plane?.stats)}; errors ${errors.join(' | ')}; seen ${JSON.stringify(seen)}` });

describe('local control plane runtime', () => {
  it('deletes handled messages, retries a reported failure alone, then dead-letters it; runs the stage through the real handlers', async () => {
    for (const body of ['ok-1', 'poison', 'run']) await sqs.send(new SendMessageCommand({ QueueUrl: eventsUrl, MessageBody: body }));
    const build = await waitFor('the build to succeed', async () => {
      const b = await store.getBuild('acme/runtime#1');
      return b?.status === 'success' ? b : undefined;
    });
    expect(build.status).toBe('success');
    const dead = await waitFor('the poison message in the DLQ', async () => {
      const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10 }));
      return res.Messages?.length ? res.Messages : undefined;
    });
    expect(dead.map((m) => m.Body)).toEqual(['poison']);
    expect(seen.filter((s) => s.body === 'poison').map((s) => s.receiveCount)).toEqual(['1', '2']);
    expect(seen.filter((s) => s.body === 'ok-1')).toHaveLength(1);
    expect(seen.filter((s) => s.body === 'run')).toHaveLength(1);
    // The finished build hands its final commit status to the events queue (retried, then
    // dead-lettered): that message too is handled, once, and deleted; nothing is left.
    const finishedHandOff = () => seen.filter((s) => s.body.includes('"kind":"build-finished"') && s.body.includes('acme/runtime#1'));
    await waitFor('the build-finished hand-off handled and the events queue empty', async () => {
      if (finishedHandOff().length === 0) return false;
      const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: eventsUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      return Number(attrs.Attributes?.ApproximateNumberOfMessages) + Number(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible) === 0;
    });
    expect(finishedHandOff()).toHaveLength(1);
    const stage = (await store.getStage('acme/runtime#1', 1))!;
    expect([stage.status, stage.attempts, stage.reason]).toEqual(['success', 1, 'steps-passed']);
    expect(plane.stats.autoscalerPasses).toBeGreaterThan(0);
    expect(plane.stats.taskEvents).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  });
});
