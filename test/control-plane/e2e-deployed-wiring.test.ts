// The deployed wiring of the planner and the task-events handler, built from the
// environment as in AWS, against loopback stand-ins of the two AWS services local mode does
// not use: Secrets Manager (SCM_CREDENTIALS_SECRET_ARN: the Git host token) and Lambda
// (AUTOSCALER_FUNCTION_NAME: the nudge is an async invoke). DynamoDB Local and fauxqs hold
// the state; the Git host is the fake one, which only serves the token from the secret.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { AGENT_CONTAINER, AGENT_ENV } from '../../core/pipeline/contract.js';
import { runTaskTokens } from '../../core/scaling/job.js';
import type { TaskStateChangeDetail } from '../../core/builds/task-event.js';
import { plannerDepsFromEnv } from '../../lambdas/planner/deps.js';
import { processEventBatch } from '../../lambdas/planner/process-batch.js';
import { executionDepsFromEnv } from '../../lambdas/shared/execution/wiring.js';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { autoscalerNudge } from '../../lambdas/shared/nudge.js';
import { applyTaskEvent } from '../../lambdas/shared/execution/apply-event.js';
import { startSqs, type LocalSqs } from '../../local/sqs.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoLocal, type LocalDynamo } from '../support/dynamodb-local.js';
import { startFakeGitHost, type FakeGitHost } from '../support/fake-git-host.js';
import { waitFor } from '../support/wait.js';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:slipway/scm-AbCdEf';
const FUNCTION = 'slipway-autoscaler';
const TOKEN = 'token-from-secrets-manager';

interface Recorded {
  secretReads: string[];
  invokes: { functionName: string; invocationType: string; payload: unknown }[];
}

/** Secrets Manager's GetSecretValue (JSON 1.1) and Lambda's Invoke (REST), nothing else. */
async function startFakeAws(secretValue: () => string): Promise<{ url: string; recorded: Recorded; server: Server }> {
  const recorded: Recorded = { secretReads: [], invokes: [] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(req.url ?? '');
      if (req.headers['x-amz-target'] === 'secretsmanager.GetSecretValue') {
        const { SecretId } = JSON.parse(body) as { SecretId: string };
        recorded.secretReads.push(SecretId);
        if (SecretId !== SECRET_ARN) {
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ResourceNotFoundException' });
          res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: 'Secrets Manager can’t find the specified secret.' }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ ARN: SECRET_ARN, Name: 'slipway/scm', SecretString: secretValue(), VersionId: 'v1' }));
      } else if (invoke && req.method === 'POST' && invoke[1] === 'missing-function') {
        res.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' });
        res.end(JSON.stringify({ Type: 'User', message: 'Function not found: missing-function' }));
      } else if (invoke && req.method === 'POST') {
        recorded.invokes.push({ functionName: decodeURIComponent(invoke[1]!), invocationType: String(req.headers['x-amz-invocation-type']), payload: JSON.parse(body) });
        res.writeHead(202);
        res.end();
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `fake aws: ${req.method} ${req.url} is not served` }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, recorded, server };
}

let db: LocalDynamo;
let sqsServer: LocalSqs;
let git: FakeGitHost;
let fake: Awaited<ReturnType<typeof startFakeAws>>;
let env: Record<string, string>;
let sqs: SQSClient;
let eventsUrl: string;

/** One planner invocation over what the events queue holds now; handled messages are deleted, as Lambda's event source does. */
async function plannerPass(): Promise<{ received: number; failed: number }> {
  const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: eventsUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }));
  const messages = res.Messages ?? [];
  if (messages.length === 0) return { received: 0, failed: 0 };
  const event = {
    Records: messages.map((m) => ({
      messageId: m.MessageId!, receiptHandle: m.ReceiptHandle!, body: m.Body ?? '', attributes: { ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1' },
      messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:wiring-events', awsRegion: LOCAL_REGION,
    })),
  } as unknown as SQSEvent;
  const response = await processEventBatch(event, plannerDepsFromEnv(env));
  const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
  for (const m of messages.filter((x) => !failed.has(x.MessageId!))) await sqs.send(new DeleteMessageCommand({ QueueUrl: eventsUrl, ReceiptHandle: m.ReceiptHandle! }));
  return { received: messages.length, failed: failed.size };
}

beforeAll(async () => {
  [db, sqsServer, git] = await Promise.all([startDynamoLocal('wiring-builds'), startSqs(), startFakeGitHost()]);
  fake = await startFakeAws(() => JSON.stringify({ github: { token: TOKEN, apiUrl: git.apiUrl } }));
  git.requireToken(TOKEN);
  sqs = new SQSClient({ endpoint: sqsServer.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, useQueueUrlAsEndpoint: false });
  const jobsUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'wiring-jobs' }))).QueueUrl!;
  eventsUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'wiring-events', Attributes: { VisibilityTimeout: '1' } }))).QueueUrl!;
  env = {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
    AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: fake.url,
    AWS_ENDPOINT_URL_LAMBDA: fake.url,
    TABLE_NAME: db.tableName,
    JOBS_QUEUE_URL: jobsUrl,
    EVENTS_QUEUE_URL: eventsUrl,
    SCM_CREDENTIALS_SECRET_ARN: SECRET_ARN,
    AUTOSCALER_FUNCTION_NAME: FUNCTION,
  };
  // The SDK clients read their endpoints from the process environment, as in a Lambda.
  for (const name of ['SCM_CREDENTIALS', 'WEBHOOK_SECRET', 'SLIPWAY_WEBHOOK_SECRET']) delete process.env[name];
  Object.assign(process.env, env);
});

afterAll(async () => {
  await new Promise<void>((resolve) => {
    fake?.server.closeAllConnections();
    fake?.server.close(() => resolve());
  });
  sqs?.destroy();
  await Promise.all([db?.stop(), sqsServer?.stop(), git?.stop()]);
});

/** Seeds records the execution ports do not write (repositories, new builds), on the same table. */
const seedStore = () => new DynamoBuildStore(db.doc, db.tableName);

describe('deployed wiring: Secrets Manager credentials and the Lambda nudge', () => {
  it('the planner reads the pipeline file with the token from SCM_CREDENTIALS_SECRET_ARN and nudges by async invoke', async () => {
    const deps = plannerDepsFromEnv(env);
    const sha = 'b'.repeat(40);
    git.setFile('acme/api', sha, '.drone.yml', 'kind: pipeline\nname: p\n');
    const text = await deps.scm.fetchConfig({ slug: 'acme/api', scm: 'github', link: 'https://github.com/acme/api', httpUrl: 'https://github.com/acme/api.git' }, '.drone.yml', sha);
    expect(text).toBe('kind: pipeline\nname: p\n');
    expect(fake.recorded.secretReads).toContain(SECRET_ARN);
    expect(git.requests.at(-1)?.token).toBe(TOKEN);

    await deps.nudge();
    expect(fake.recorded.invokes.at(-1)).toEqual({ functionName: FUNCTION, invocationType: 'Event', payload: { nudge: true, source: 'planner' } });
  });

  it('a stage that ends: the final status goes out with the secret token, and the autoscaler is nudged', async () => {
    const deps = executionDepsFromEnv('task-events', env, (log) => autoscalerNudge(env, 'task-events', log));
    const repo = 'acme/api';
    const id = `${repo}#1`;
    const now = Date.now();
    await seedStore().ensureRepository({ slug: repo, scm: 'github', httpUrl: 'https://github.com/acme/api.git', link: 'https://github.com/acme/api', defaultBranch: 'main', private: false });
    await seedStore().createBuild({
      build: { id, repo, number: 1, status: 'running', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: 'c'.repeat(40), message: '', author: '', link: '', deliveryId: 'wiring-1', fork: false, createdAt: now },
      stages: [{ buildId: id, repo, buildNumber: 1, number: 1, name: 'only', status: 'pending', dependsOn: [], attempts: 0, queuedAt: now }],
      steps: [{ buildId: id, stageNumber: 1, number: 1, name: 'clone', container: AGENT_CONTAINER, status: 'pending', detached: false, kind: 'clone' }],
    });
    const taskArn = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/0123456789abcdef';
    expect(await deps.stages.markRunning(id, 1, { attempt: 0, taskArn, capacity: 'FARGATE', startedAt: now, cpu: 256 })).not.toBeNull();
    const invokesBefore = fake.recorded.invokes.length;

    const stopped: TaskStateChangeDetail = {
      clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/slipway',
      taskArn,
      taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/x:1',
      startedBy: runTaskTokens(`${id}/1`, 0).startedBy,
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      version: 5,
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      containers: [{ name: AGENT_CONTAINER, lastStatus: 'STOPPED', exitCode: 0 }],
      overrides: { containerOverrides: [{ name: AGENT_CONTAINER, environment: [{ name: AGENT_ENV.stageId, value: `${id}/1` }] }] },
    };
    // The Git host is down for longer than a Lambda should wait: its status requests fail.
    git.failNext(3, 503, '/statuses/');
    const result = await applyTaskEvent(deps, stopped);
    expect(result).toMatchObject({ applied: true, status: 'success' });
    expect((await deps.store.getBuild(id))?.status).toBe('success');
    expect((await deps.store.getBuild(id))?.statusHandedOffAt).toBeGreaterThan(0);
    expect(fake.recorded.invokes.slice(invokesBefore)).toEqual([{ functionName: FUNCTION, invocationType: 'Event', payload: { nudge: true, source: 'task-events' } }]);

    // The status travels as a build-finished message: each failed post returns it to the
    // queue (a visibility timeout later), and the planner posts it once the host is back.
    // Passes until it is posted (each empty one is a second's long poll: how many a loaded
    // machine needs is not a count to fix in advance).
    const passes: { received: number; failed: number }[] = [];
    await waitFor('the final status posted', async () => {
      passes.push(await plannerPass());
      return git.statuses.some((s) => s.sha === 'c'.repeat(40));
    });
    expect(passes.filter((p) => p.received > 0)).toEqual([
      { received: 1, failed: 1 },
      { received: 1, failed: 1 },
      { received: 1, failed: 1 },
      { received: 1, failed: 0 },
    ]);
    expect(git.statuses.filter((s) => s.sha === 'c'.repeat(40)).map((s) => [s.state, s.token])).toEqual([['success', TOKEN]]);

    // A duplicate of the same event: nothing is handed off, posted or invoked again.
    expect((await applyTaskEvent(deps, stopped)).applied).toBe(false);
    expect(await plannerPass()).toEqual({ received: 0, failed: 0 });
    expect(git.statuses.filter((s) => s.sha === 'c'.repeat(40))).toHaveLength(1);
    expect(fake.recorded.invokes.length).toBe(invokesBefore + 1);
  });

  it('a hand-off the events queue refused is made by the retried event', async () => {
    const good = executionDepsFromEnv('task-events', env, () => async () => {});
    const refusing = executionDepsFromEnv('task-events', { ...env, EVENTS_QUEUE_URL: `${eventsUrl}-missing` }, () => async () => {});
    const repo = 'acme/retry';
    const id = `${repo}#1`;
    const now = Date.now();
    await seedStore().ensureRepository({ slug: repo, scm: 'github', httpUrl: 'https://github.com/acme/retry.git', link: 'https://github.com/acme/retry', defaultBranch: 'main', private: false });
    const taskArn = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/fedcba9876543210';
    await seedStore().createBuild({
      build: { id, repo, number: 1, status: 'running', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: 'd'.repeat(40), message: '', author: '', link: '', deliveryId: 'wiring-2', fork: false, createdAt: now },
      stages: [{ buildId: id, repo, buildNumber: 1, number: 1, name: 'only', status: 'running', taskArn, dependsOn: [], attempts: 1, queuedAt: now }],
      steps: [],
    });
    const stopped: TaskStateChangeDetail = {
      clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/slipway', taskArn, taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/x:1',
      lastStatus: 'STOPPED', desiredStatus: 'STOPPED', version: 5, stopCode: 'EssentialContainerExited',
      containers: [{ name: AGENT_CONTAINER, lastStatus: 'STOPPED', exitCode: 1 }],
      overrides: { containerOverrides: [{ name: AGENT_CONTAINER, environment: [{ name: AGENT_ENV.stageId, value: `${id}/1` }] }] },
    };
    // SQS refuses the message: the event fails (EventBridge retries it), the build stays finished.
    await expect(applyTaskEvent(refusing, stopped)).rejects.toThrow(/queue/i);
    const build = await good.store.getBuild(id);
    expect([build?.status, build?.statusHandedOffAt]).toEqual(['failure', undefined]);
    // A duplicate delivered meanwhile leaves it to the call that finished the build…
    expect((await applyTaskEvent(good, stopped)).applied).toBe(false);
    expect((await good.store.getBuild(id))?.statusHandedOffAt).toBeUndefined();
    // …and the retry, a minute later (Lambda's first retry of an async invoke), finds the
    // hand-off owed and makes it.
    expect((await applyTaskEvent({ ...good, now: () => Date.now() + 60_000 }, stopped)).applied).toBe(false);
    expect((await good.store.getBuild(id))?.statusHandedOffAt).toBeGreaterThan(0);
    await waitFor('the planner to receive the hand-off', async () => (await plannerPass()).received > 0);
    expect(git.statuses.filter((s) => s.sha === 'd'.repeat(40)).map((s) => [s.state, s.description])).toEqual([['failure', expect.stringContaining('a step failed')]]);
  });

  it('a nudge Lambda refuses is logged, not thrown (the schedule is the fallback); without the variable nothing is invoked', async () => {
    const lines: { message: string; fields?: Record<string, unknown> }[] = [];
    const refused = autoscalerNudge({ ...env, AUTOSCALER_FUNCTION_NAME: 'missing-function' }, 'task-events', (message, fields) => lines.push({ message, fields }));
    await expect(refused()).resolves.toBeUndefined();
    expect(lines).toHaveLength(1);
    expect(lines[0]!.message).toMatch(/nudge failed/);
    expect(String(lines[0]!.fields?.error)).toMatch(/Function not found/);

    const before = fake.recorded.invokes.length;
    await autoscalerNudge({ ...env, AUTOSCALER_FUNCTION_NAME: '' }, 'planner', () => {})();
    expect(fake.recorded.invokes.length).toBe(before);
  });
});
