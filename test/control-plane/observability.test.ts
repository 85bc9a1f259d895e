// Logs, metrics and secrets of the deployed Lambdas, through Powertools for AWS Lambda:
// - the task-events handler, built from the environment as in AWS (DynamoDB Local, fauxqs),
//   invoked with a Lambda context: its JSON lines carry the build and stage ids, the request
//   id and the cold start, and a finished build is an EMF metric with its status;
// - the metrics port's EMF lines (names, units, dimensions), as CloudWatch reads them
//   (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html);
// - Powertools Parameters' max age for the Git host credentials and the API token secret:
//   a rotated secret is read again once its max age has passed, not before.

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { Context } from 'aws-lambda';
import { AGENT_CONTAINER, AGENT_ENV } from '../../core/pipeline/contract.js';
import { runTaskTokens } from '../../core/scaling/job.js';
import type { TaskStateChangeEvent } from '../../core/builds/task-event.js';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { DynamoStageStore } from '../../adapters/dynamodb/stage-store.js';
import { slipwayMetrics } from '../../lambdas/shared/observability/metrics.js';
import { lambdaLogger, logTo, setLogDestination, stageKeys, withKeys } from '../../lambdas/shared/observability/logger.js';
import { scmCredentials } from '../../lambdas/shared/secrets.js';
import { MAX_AGE_SECONDS, secretText } from '../../lambdas/shared/parameters.js';
import { tokenAuthorizer } from '../../lambdas/api/auth.js';
import { startSqs, type LocalSqs } from '../../local/sqs.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoLocal, type LocalDynamo } from '../support/dynamodb-local.js';

/** The JSON lines written to standard output while `run` runs (Powertools writes there, not through console.log). */
async function stdoutLines<T>(run: () => Promise<T>): Promise<{ result: T; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n')) if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
    return true;
  });
  try {
    return { result: await run(), lines };
  } finally {
    spy.mockRestore();
  }
}

const lambdaContext = (requestId: string): Context =>
  ({
    awsRequestId: requestId,
    functionName: 'Slipway-TaskEvents',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:Slipway-TaskEvents',
    memoryLimitInMB: '256',
    getRemainingTimeInMillis: () => 30_000,
  }) as unknown as Context;

describe('task-events handler logs and metrics (Powertools Logger and Metrics, built from the environment)', () => {
  let db: LocalDynamo;
  let sqsServer: LocalSqs;
  let sqs: SQSClient;
  const saved = { ...process.env };

  beforeAll(async () => {
    [db, sqsServer] = await Promise.all([startDynamoLocal('observability-builds'), startSqs()]);
    sqs = new SQSClient({ endpoint: sqsServer.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, useQueueUrlAsEndpoint: false });
    const jobsUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'observability-jobs' }))).QueueUrl!;
    const eventsUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'observability-events' }))).QueueUrl!;
    for (const name of ['AUTOSCALER_FUNCTION_NAME', 'BUILD_LOG_GROUP', 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_DISABLED', 'POWERTOOLS_DEV']) delete process.env[name];
    Object.assign(process.env, {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
      AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
      TABLE_NAME: db.tableName,
      JOBS_QUEUE_URL: jobsUrl,
      EVENTS_QUEUE_URL: eventsUrl,
      POWERTOOLS_METRICS_NAMESPACE: 'SlipwayTest',
      // Set by Lambda for an on-demand function (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html,
      // "Defined runtime environment variables"); Powertools reports a cold start only then.
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    });
  });

  afterAll(async () => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    sqs?.destroy();
    await Promise.all([db?.stop(), sqsServer?.stop()]);
  });

  it('every line names the build and the stage, the request and the cold start; the finished build is an EMF count by status', async () => {
    const store = new DynamoBuildStore(db.doc, db.tableName);
    const stages = new DynamoStageStore(db.doc, db.tableName);
    const repo = 'acme/observed';
    const id = `${repo}#1`;
    const now = Date.now();
    await store.ensureRepository({ slug: repo, scm: 'github', httpUrl: 'https://github.com/acme/observed.git', link: 'https://github.com/acme/observed', defaultBranch: 'main', private: false });
    await store.createBuild({
      build: { id, repo, number: 1, status: 'running', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: 'e'.repeat(40), message: '', author: '', link: '', deliveryId: 'observed-1', fork: false, createdAt: now },
      stages: [{ buildId: id, repo, buildNumber: 1, number: 1, name: 'only', status: 'pending', dependsOn: [], attempts: 0, queuedAt: now }],
      steps: [{ buildId: id, stageNumber: 1, number: 1, name: 'clone', container: AGENT_CONTAINER, status: 'pending', detached: false, kind: 'clone' }],
    });
    const taskArn = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/00000000000000000000000000000001';
    expect(await stages.markRunning(id, 1, { attempt: 0, taskArn, capacity: 'FARGATE', startedAt: now, cpu: 256 })).not.toBeNull();
    const event = (version: number, lastStatus: 'RUNNING' | 'STOPPED'): TaskStateChangeEvent =>
      ({
        version: '0',
        id: `event-${version}`,
        'detail-type': 'ECS Task State Change',
        source: 'aws.ecs',
        account: '000000000000',
        time: new Date(now).toISOString(),
        region: LOCAL_REGION,
        resources: [taskArn],
        detail: {
          clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/slipway',
          taskArn,
          taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/x:1',
          startedBy: runTaskTokens(`${id}/1`, 0).startedBy,
          lastStatus,
          desiredStatus: lastStatus === 'STOPPED' ? 'STOPPED' : 'RUNNING',
          version,
          ...(lastStatus === 'STOPPED' ? { stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited' } : {}),
          containers: [{ name: AGENT_CONTAINER, lastStatus, ...(lastStatus === 'STOPPED' ? { exitCode: 0 } : {}) }],
          overrides: { containerOverrides: [{ name: AGENT_CONTAINER, environment: [{ name: AGENT_ENV.stageId, value: `${id}/1` }] }] },
        },
      }) as unknown as TaskStateChangeEvent;

    const { handler } = await import('../../lambdas/task-events/handler.js');
    const first = await stdoutLines(() => handler(event(2, 'RUNNING'), lambdaContext('request-1')));
    const second = await stdoutLines(() => handler(event(3, 'STOPPED'), lambdaContext('request-2')));
    expect(first.result).toMatchObject({ applied: true, status: 'running' });
    expect(second.result).toMatchObject({ applied: true, status: 'success' });

    // Every line but the one-off note about this configuration (no BUILD_LOG_GROUP), which names no stage.
    const logLines = (lines: Record<string, unknown>[]) => lines.filter((l) => l.level !== undefined && !String(l.message).startsWith('BUILD_LOG_GROUP is not set'));
    expect(logLines(first.lines).length).toBeGreaterThan(0);
    for (const line of logLines(first.lines)) {
      expect(line).toMatchObject({ level: 'INFO', service: 'slipway', source: 'task-events', buildId: id, stageId: `${id}/1`, taskArn, function_request_id: 'request-1', cold_start: true });
    }
    for (const line of logLines(second.lines)) {
      expect(line).toMatchObject({ service: 'slipway', source: 'task-events', buildId: id, stageId: `${id}/1`, function_request_id: 'request-2', cold_start: false });
    }
    expect(logLines(second.lines).map((l) => l.message)).toEqual(expect.arrayContaining(['stage finished', 'build finished', 'event applied']));

    // No metric while the build runs; its end is one EMF line: BuildsFinished, by service and status.
    expect(first.lines.filter((l) => '_aws' in l)).toEqual([]);
    const emf = second.lines.filter((l) => '_aws' in l);
    expect(emf).toEqual([
      {
        _aws: { Timestamp: expect.any(Number), CloudWatchMetrics: [{ Namespace: 'SlipwayTest', Dimensions: [['service', 'status']], Metrics: [{ Name: 'BuildsFinished', Unit: 'Count' }] }] },
        service: 'slipway',
        status: 'success',
        BuildsFinished: 1,
      },
    ]);
  });
});

describe('the log destination of local commands', () => {
  it('sends the handlers\' JSON lines where the CLI says (its log file), and to standard output again after', async () => {
    const file: string[] = [];
    const log = withKeys(logTo(lambdaLogger('destination-test')), stageKeys('acme/app#7/2'));
    setLogDestination((line) => file.push(line));
    const redirected = await stdoutLines(async () => log('stage started', { queueWaitMs: 5 }));
    setLogDestination(undefined);
    const restored = await stdoutLines(async () => log('stage started', { queueWaitMs: 6 }));
    expect(redirected.lines).toEqual([]);
    expect(file.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ level: 'INFO', message: 'stage started', source: 'destination-test', buildId: 'acme/app#7', stageId: 'acme/app#7/2', queueWaitMs: 5 }),
    ]);
    expect(restored.lines).toEqual([expect.objectContaining({ message: 'stage started', stageId: 'acme/app#7/2', queueWaitMs: 6 })]);
  });
});

describe('the metrics port as EMF (Powertools Metrics)', () => {
  it('stores timings until the flush and sends dimensioned counts at once, each with its dimension set', async () => {
    const metrics = new Metrics({ namespace: 'Slipway', serviceName: 'slipway' });
    const port = slipwayMetrics(metrics);
    const { lines } = await stdoutLines(async () => {
      port.buildStarted();
      port.stageStarted({ queueWaitMs: 1200, webhookToRunTaskMs: 1500 });
      port.stageStarted({ queueWaitMs: 300 });
      port.runTaskFailure('RESOURCE:MEMORY');
      port.gitHostError('gitea', 'post-status');
      metrics.publishStoredMetrics();
    });
    const ns = (dimensions: string[][], names: [string, string][]) => ({
      Timestamp: expect.any(Number),
      CloudWatchMetrics: [{ Namespace: 'Slipway', Dimensions: dimensions, Metrics: names.map(([Name, Unit]) => ({ Name, Unit })) }],
    });
    expect(lines).toEqual([
      { _aws: ns([['service', 'reason']], [['RunTaskFailures', 'Count']]), service: 'slipway', reason: 'RESOURCE:MEMORY', RunTaskFailures: 1 },
      { _aws: ns([['service', 'host', 'operation']], [['GitHostErrors', 'Count']]), service: 'slipway', host: 'gitea', operation: 'post-status', GitHostErrors: 1 },
      {
        _aws: ns([['service']], [['BuildsStarted', 'Count'], ['QueueWait', 'Milliseconds'], ['WebhookToRunTask', 'Milliseconds']]),
        service: 'slipway',
        BuildsStarted: 1,
        QueueWait: [1200, 300],
        WebhookToRunTask: 1500,
      },
    ]);
  });
});

/**
 * Secrets Manager's GetSecretValue (JSON 1.1), answering with the shape AWS documents
 * (test/fixtures/aws/secretsmanager-GetSecretValue.json) and the value set now.
 */
async function startSecretsManager(): Promise<{ endpoint: string; reads: string[]; value: { text: string }; server: Server }> {
  const shape = JSON.parse(readFileSync(new URL('../fixtures/aws/secretsmanager-GetSecretValue.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const reads: string[] = [];
  const value = { text: '' };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ __type: 'InvalidRequestException', Message: `stand-in: ${String(req.headers['x-amz-target'])} is not served` }));
        return;
      }
      const { SecretId } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { SecretId: string };
      reads.push(SecretId);
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ ...shape, ARN: SecretId, SecretString: value.text }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, reads, value, server };
}

describe('secrets kept for their max age (Powertools Parameters over the real SDK client)', () => {
  let sm: Awaited<ReturnType<typeof startSecretsManager>>;
  let provider: SecretsProvider;
  const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:slipway-scm-AbCdEf';

  beforeAll(async () => {
    sm = await startSecretsManager();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  afterAll(async () => {
    sm.server.closeAllConnections();
    await new Promise<void>((resolve) => sm.server.close(() => resolve()));
  });

  const fresh = () => {
    provider = new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient({ endpoint: sm.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }) });
    return provider;
  };

  it('the Git host credentials: a rotated token is used once 300 s have passed, the old one until then', async () => {
    const secrets = fresh();
    const env = { SCM_CREDENTIALS_SECRET_ARN: ARN };
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    sm.value.text = JSON.stringify({ github: { token: 'old-token' } });
    const before = sm.reads.length;
    expect((await scmCredentials(env, () => secrets)).github?.token).toBe('old-token');
    sm.value.text = JSON.stringify({ github: { token: 'new-token' } });
    vi.setSystemTime(start + (MAX_AGE_SECONDS.scmCredentials - 1) * 1000);
    expect((await scmCredentials(env, () => secrets)).github?.token).toBe('old-token');
    expect(sm.reads.length - before).toBe(1);
    vi.setSystemTime(start + (MAX_AGE_SECONDS.scmCredentials + 1) * 1000);
    expect((await scmCredentials(env, () => secrets)).github?.token).toBe('new-token');
    expect(sm.reads.slice(before)).toEqual([ARN, ARN]);
  });

  it('the API tokens: a revoked token works until the 300 s max age, then is refused; a new one is accepted', async () => {
    const secrets = fresh();
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    sm.value.text = 'first-token\n';
    const authorize = tokenAuthorizer(() => secretText(secrets, ARN, MAX_AGE_SECONDS.apiTokens, 'the API token secret'));
    expect(await authorize('Bearer first-token')).toBe(true);
    sm.value.text = 'second-token\n';
    vi.setSystemTime(start + (MAX_AGE_SECONDS.apiTokens - 1) * 1000);
    expect([await authorize('Bearer first-token'), await authorize('Bearer second-token')]).toEqual([true, false]);
    vi.setSystemTime(start + (MAX_AGE_SECONDS.apiTokens + 1) * 1000);
    expect([await authorize('Bearer first-token'), await authorize('Bearer second-token')]).toEqual([false, true]);
  });

  it('a secret without a string value is an error that names it', async () => {
    const secrets = { get: async () => new Uint8Array([1, 2]) };
    await expect(secretText(secrets as unknown as SecretsProvider, ARN, 300, 'the API token secret')).rejects.toThrow(
      `secrets: the API token secret (${ARN}) has no string value; put its text in SecretString`,
    );
  });
});
