import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { BuildStore } from '../../core/builds/store.js';
import { hmacSha256Hex } from '../../core/scm/verify-signature.js';
import type { EventMessage } from '../../core/scm/types.js';
import { handleWebhook, MAX_BODY_BYTES, type WebhookDeps } from '../../lambdas/webhook/handle-webhook.js';
import { sendEventMessage, decodeEventMessage } from '../../lambdas/shared/events-queue.js';
import { webhookSecret } from '../../lambdas/shared/secrets.js';
import { startSqs, type LocalSqs } from '../../local/sqs.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoLocal, type LocalDynamo } from '../support/dynamodb-local.js';

const SECRET = 'webhook-test-secret';
type Example = { name: string; examples: Record<string, unknown>[] };
const github = (name: string) => (examples as unknown as Example[]).find((e) => e.name === name)!.examples;
const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

let db: LocalDynamo;
let sqsServer: LocalSqs;
let sqs: SQSClient;
let queueUrl: string;
let store: BuildStore;
let deps: WebhookDeps;

beforeAll(async () => {
  [db, sqsServer] = await Promise.all([startDynamoLocal(), startSqs()]);
  sqs = new SQSClient({ endpoint: sqsServer.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'events' }))).QueueUrl!;
  store = new BuildStore(db.doc, db.tableName);
  deps = {
    secret: async () => SECRET,
    deliveries: store,
    enqueue: (m) => sendEventMessage(sqs, queueUrl, m),
  };
}, 60_000);

afterAll(async () => {
  sqs?.destroy();
  await Promise.all([db?.stop(), sqsServer?.stop()]);
});

async function drain(): Promise<Message[]> {
  const out: Message[] = [];
  for (;;) {
    const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'], VisibilityTimeout: 300 }));
    if (!res.Messages?.length) return out;
    out.push(...res.Messages);
  }
}

function githubRequest(event: string, payload: unknown, delivery: string, secret = SECRET) {
  const body = JSON.stringify(payload);
  return {
    headers: {
      'X-GitHub-Event': event,
      'X-GitHub-Delivery': delivery,
      'X-Hub-Signature-256': `sha256=${hmacSha256Hex(secret, body)}`,
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
    },
    body: Buffer.from(body),
  };
}

const branchPush = () => github('push').find((p) => p.ref === 'refs/heads/master')!;

describe('webhook', () => {
  it('accepts a signed GitHub push: 202, one delivery recorded, one message queued', async () => {
    await drain();
    const req = githubRequest('push', branchPush(), 'gh-push-1');
    const res = await handleWebhook('github', req.headers, req.body, deps);
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body)).toEqual({ ok: true, accepted: true, deliveryId: 'github:gh-push-1' });
    expect(await store.getDelivery('github:gh-push-1')).toMatchObject({ host: 'github', event: 'push', state: 'enqueued' });
    const messages = await drain();
    expect(messages).toHaveLength(1);
    expect(messages[0]!.MessageAttributes?.deliveryId?.StringValue).toBe('github:gh-push-1');
    const message = decodeEventMessage(messages[0]!.Body!);
    expect(message).toMatchObject({ version: 1, host: 'github', deliveryId: 'github:gh-push-1', hook: { event: 'push', repo: { slug: 'Codertocat/Hello-World' }, commit: { sha: '6113728f27ae82c7b1a177c8d03f9e96e0adf246' } } });
  });

  it('acknowledges a redelivery without queueing it again', async () => {
    await drain();
    const req = githubRequest('push', branchPush(), 'gh-push-2');
    expect((await handleWebhook('github', req.headers, req.body, deps)).statusCode).toBe(202);
    const again = await handleWebhook('github', req.headers, req.body, deps);
    expect(again.statusCode).toBe(200);
    expect(JSON.parse(again.body)).toMatchObject({ duplicate: true, deliveryId: 'github:gh-push-2' });
    expect(await drain()).toHaveLength(1);
  });

  it('lets exactly one of many concurrent copies of a delivery through', async () => {
    await drain();
    const req = githubRequest('push', branchPush(), 'gh-burst');
    const results = await Promise.all(Array.from({ length: 15 }, () => handleWebhook('github', req.headers, req.body, deps)));
    expect(results.filter((r) => r.statusCode === 202)).toHaveLength(1);
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(14);
    expect(await drain()).toHaveLength(1);
  });

  it('rejects a missing or wrong signature with 401 and records nothing', async () => {
    await drain();
    const wrong = githubRequest('push', branchPush(), 'gh-wrong', 'not-the-secret');
    expect((await handleWebhook('github', wrong.headers, wrong.body, deps)).statusCode).toBe(401);
    const { 'X-Hub-Signature-256': _sig, ...unsigned } = githubRequest('push', branchPush(), 'gh-unsigned').headers;
    expect((await handleWebhook('github', unsigned, Buffer.from(JSON.stringify(branchPush())), deps)).statusCode).toBe(401);
    // A body changed after signing.
    const tampered = githubRequest('push', branchPush(), 'gh-tampered');
    const body = Buffer.from(tampered.body.toString().replace('Initial commit', 'Evil commit'));
    expect((await handleWebhook('github', tampered.headers, body, deps)).statusCode).toBe(401);
    for (const id of ['gh-wrong', 'gh-unsigned', 'gh-tampered']) expect(await store.getDelivery(`github:${id}`)).toBeNull();
    expect(await drain()).toHaveLength(0);
  });

  it('answers 503 naming the variable to set when no secret is configured, and records nothing', async () => {
    await drain();
    const req = githubRequest('push', branchPush(), 'gh-nosecret');
    const res = await handleWebhook('github', req.headers, req.body, { ...deps, secret: () => webhookSecret({}, () => { throw new Error('no Secrets Manager without an ARN'); }) });
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body).error).toMatch(/set WEBHOOK_SECRET .*WEBHOOK_SECRET_ARN/);
    expect(await store.getDelivery('github:gh-nosecret')).toBeNull();
    expect(await drain()).toHaveLength(0);
  });

  it('rejects a signed but malformed body with 400 and records nothing', async () => {
    const notJson = '{"ref": "refs/heads/main", ';
    const headers = { 'x-github-event': 'push', 'x-github-delivery': 'gh-bad-1', 'x-hub-signature-256': `sha256=${hmacSha256Hex(SECRET, notJson)}` };
    const res = await handleWebhook('github', headers, notJson, deps);
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).error).toMatch(/^webhook: malformed github event: body is not JSON/);
    const { repository: _r, ...noRepo } = branchPush();
    const req = githubRequest('push', noRepo, 'gh-bad-2');
    const res2 = await handleWebhook('github', req.headers, req.body, deps);
    expect(res2.statusCode).toBe(400);
    expect(JSON.parse(res2.body).error).toBe('webhook: malformed github event: repository: expected an object');
    expect(await store.getDelivery('github:gh-bad-1')).toBeNull();
    expect(await store.getDelivery('github:gh-bad-2')).toBeNull();
  });

  it('refuses bodies over 1 MiB by Content-Length or by size, before checking anything else', async () => {
    const big = Buffer.alloc(MAX_BODY_BYTES + 1, 0x20);
    const signed = { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmacSha256Hex(SECRET, big)}` };
    expect((await handleWebhook('github', signed, big, deps)).statusCode).toBe(413);
    expect((await handleWebhook('github', { 'content-length': String(5 * MAX_BODY_BYTES) }, '{}', deps)).statusCode).toBe(413);
    const exact = Buffer.alloc(MAX_BODY_BYTES, 0x20);
    expect((await handleWebhook('github', { 'x-hub-signature-256': `sha256=${hmacSha256Hex(SECRET, exact)}`, 'x-github-event': 'push' }, exact, deps)).statusCode).toBe(400);
  });

  it('answers pings with 200, ignores deletions and unknown events, and records none of them', async () => {
    await drain();
    const ping = githubRequest('ping', github('ping')[0], 'gh-ping');
    expect(await handleWebhook('github', ping.headers, ping.body, deps)).toMatchObject({ statusCode: 200 });
    const deletion = githubRequest('push', github('push').find((p) => p.deleted === true), 'gh-del');
    const res = await handleWebhook('github', deletion.headers, deletion.body, deps);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).ignored).toMatch(/was deleted/);
    expect(await store.getDelivery('github:gh-ping')).toBeNull();
    expect(await store.getDelivery('github:gh-del')).toBeNull();
    expect(await drain()).toHaveLength(0);
  });

  it('accepts signed Gitea and GitLab events', async () => {
    await drain();
    const giteaBody = fixture('gitea-push.json');
    const gitea = await handleWebhook('gitea', { 'X-Gitea-Event': 'push', 'X-Gitea-Delivery': 'g-1', 'X-Gitea-Signature': hmacSha256Hex(SECRET, giteaBody) }, giteaBody, deps);
    expect(gitea.statusCode).toBe(202);
    const gitlabBody = fixture('gitlab-merge-request.json');
    const gitlab = await handleWebhook('gitlab', { 'X-Gitlab-Event': 'Merge Request Hook', 'X-Gitlab-Token': SECRET, 'X-Gitlab-Event-UUID': 'u-1' }, gitlabBody, deps);
    expect(gitlab.statusCode).toBe(202);
    const badToken = await handleWebhook('gitlab', { 'X-Gitlab-Event': 'Merge Request Hook', 'X-Gitlab-Token': 'nope' }, gitlabBody, deps);
    expect(badToken.statusCode).toBe(401);
    const hooks = (await drain()).map((m) => (JSON.parse(m.Body!) as EventMessage).hook);
    expect(hooks.map((h) => `${h.repo.scm}:${h.event}`).sort()).toEqual(['gitea:push', 'gitlab:pull_request']);
  });

  it('refuses repositories outside ALLOWED_REPOSITORIES', async () => {
    const req = githubRequest('push', branchPush(), 'gh-allowed');
    const res = await handleWebhook('github', req.headers, req.body, { ...deps, allowedRepositories: ['acme/only'] });
    expect(res.statusCode).toBe(403);
    expect(await store.getDelivery('github:gh-allowed')).toBeNull();
    expect((await handleWebhook('github', req.headers, req.body, { ...deps, allowedRepositories: ['codertocat/hello-world'] })).statusCode).toBe(202);
  });

  it('keeps a delivery retryable when it could not be queued', async () => {
    await drain();
    const req = githubRequest('push', branchPush(), 'gh-queue-down');
    const failing: WebhookDeps = { ...deps, enqueue: () => Promise.reject(new Error('queue unavailable')) };
    expect((await handleWebhook('github', req.headers, req.body, failing)).statusCode).toBe(500);
    expect((await store.getDelivery('github:gh-queue-down'))?.state).toBe('failed');
    expect((await handleWebhook('github', req.headers, req.body, deps)).statusCode).toBe(202);
    expect(await drain()).toHaveLength(1);
  });

  it('rejects an unknown host with 404', async () => {
    expect((await handleWebhook('bitbucket', {}, '{}', deps)).statusCode).toBe(404);
  });
});

describe('webhook Lambda handler (Function URL / API Gateway v2 events)', () => {
  it('verifies the bytes of a base64-encoded body and uses the SDK endpoint variables', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      TABLE_NAME: db.tableName,
      EVENTS_QUEUE_URL: queueUrl,
      WEBHOOK_SECRET: SECRET,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
      AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
    });
    try {
      await drain();
      const { handler } = await import('../../lambdas/webhook/handler.js');
      const req = githubRequest('push', branchPush(), 'gh-lambda');
      const event = {
        rawPath: '/hooks/github',
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v])),
        body: req.body.toString('base64'),
        isBase64Encoded: true,
        requestContext: { http: { method: 'POST' } },
      } as unknown as APIGatewayProxyEventV2;
      const res = await handler(event);
      expect(res.statusCode).toBe(202);
      expect(await drain()).toHaveLength(1);
      const get = await handler({ ...event, requestContext: { http: { method: 'GET' } } } as unknown as APIGatewayProxyEventV2);
      expect(get.statusCode).toBe(405);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});
