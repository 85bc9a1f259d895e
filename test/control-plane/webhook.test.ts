import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { hmacSha256Hex } from '../../core/scm/verify-signature.js';
import { deliveryId } from '../../core/scm/parse-event.js';
import { CLOCK_SKEW_MS, DELIVERY_TTL_SECONDS, MAX_EVENT_AGE_MS } from '../../core/scm/event-time.js';
import type { EventMessage } from '../../core/scm/types.js';
import { handleWebhook, MAX_BODY_BYTES, type WebhookDeps } from '../../lambdas/webhook/handle-webhook.js';
import { sendEventMessage, decodeEventMessage } from '../../lambdas/shared/events-queue.js';
import { cachedWebhookSecrets, GITHUB_APP_SECRET_SLUG, ssmWebhookSecrets, type WebhookSecrets } from '../../lambdas/shared/webhook-secrets.js';
import { SSMClient } from '@aws-sdk/client-ssm';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { MAX_AGE_SECONDS } from '../../lambdas/shared/parameters.js';
import { startSsmStandIn, type SsmStandIn } from '../support/ssm-stand-in.js';
import { startSqs, type LocalSqs } from '../../local/sqs.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoLocal, type LocalDynamo } from '../support/dynamodb-local.js';

const SECRET = 'webhook-test-secret';
const GITEA_SECRET = 'gitea-repository-secret';
const GITLAB_TOKEN = 'gitlab-repository-token';
const GITHUB_REPO = 'Codertocat/Hello-World';
type Example = { name: string; examples: Record<string, unknown>[] };
const github = (name: string) => (examples as unknown as Example[]).find((e) => e.name === name)!.examples;
const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

let db: LocalDynamo;
let ssm: SsmStandIn;
const ssmClientFor = (standIn: SsmStandIn) => new SSMClient({ endpoint: standIn.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
let sqsServer: LocalSqs;
let sqs: SQSClient;
let queueUrl: string;
let store: DynamoBuildStore;
let deps: WebhookDeps;
const secretValues = new Map<string, string>();
const memorySecrets: WebhookSecrets = {
  get: async (host, slug) => secretValues.get(`${host} ${slug}`),
  put: async (host, slug, value) => void secretValues.set(`${host} ${slug}`, value),
  remove: async (host, slug) => void secretValues.delete(`${host} ${slug}`),
};
const giteaRepo = (): string => JSON.parse(fixture('gitea-push.json')).repository.full_name;
const gitlabRepo = (): string => JSON.parse(fixture('gitlab-merge-request.json')).project.path_with_namespace;
const idOf = (res: { body: string }): string => JSON.parse(res.body).deliveryId;

beforeAll(async () => {
  [db, sqsServer, ssm] = await Promise.all([startDynamoLocal(), startSqs(), startSsmStandIn()]);
  sqs = new SQSClient({ endpoint: sqsServer.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'events' }))).QueueUrl!;
  store = new DynamoBuildStore(db.doc, db.tableName);
  deps = {
    repositories: store,
    secrets: memorySecrets,
    deliveries: store,
    enqueue: (m) => sendEventMessage(sqs, queueUrl, m),
  };
  const activatedAt = Date.now();
  await store.activateRepository({ slug: GITHUB_REPO, scm: 'github', visibility: 'public', activatedAt });
  await memorySecrets.put('github', GITHUB_REPO, SECRET);
  await store.activateRepository({ slug: giteaRepo(), scm: 'gitea', visibility: 'private', activatedAt });
  await memorySecrets.put('gitea', giteaRepo(), GITEA_SECRET);
  await store.activateRepository({ slug: gitlabRepo(), scm: 'gitlab', visibility: 'private', activatedAt });
  await memorySecrets.put('gitlab', gitlabRepo(), GITLAB_TOKEN);
});

afterAll(async () => {
  sqs?.destroy();
  await Promise.all([db?.stop(), sqsServer?.stop(), ssm?.stop()]);
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

const DAY = 86_400_000;
/** GitHub's branch push example, pushed `ageMs` ago by its signed repository.pushed_at (its commit stays from 2019). */
const branchPush = (ageMs = 0, now = Date.now()): Record<string, any> => {
  const example = github('push').find((p) => p.ref === 'refs/heads/master')! as Record<string, any>;
  return { ...example, repository: { ...example.repository, pushed_at: Math.floor((now - ageMs) / 1000) } };
};

describe('webhook', () => {
  it('accepts a signed GitHub push of an activated repository: 202, one delivery recorded, one message queued', async () => {
    await drain();
    const req = githubRequest('push', branchPush(), 'gh-push-1');
    const res = await handleWebhook('github', req.headers, req.body, deps);
    expect(res.statusCode).toBe(202);
    const id = idOf(res);
    expect(id).toMatch(/^github:sha256:[0-9a-f]{64}$/);
    expect(await store.getDelivery(id)).toMatchObject({ host: 'github', event: 'push', state: 'enqueued', hostDelivery: 'gh-push-1' });
    const messages = await drain();
    expect(messages).toHaveLength(1);
    expect(messages[0]!.MessageAttributes?.deliveryId?.StringValue).toBe(id);
    const message = decodeEventMessage(messages[0]!.Body!);
    expect(message).toMatchObject({ version: 1, host: 'github', deliveryId: id, hook: { event: 'push', repo: { slug: GITHUB_REPO }, commit: { sha: '6113728f27ae82c7b1a177c8d03f9e96e0adf246' } } });
  });

  it('acknowledges a redelivery without queueing it again', async () => {
    await drain();
    const payload = { ...branchPush(), after: 'a'.repeat(40) };
    const req = githubRequest('push', payload, 'gh-push-2');
    expect((await handleWebhook('github', req.headers, req.body, deps)).statusCode).toBe(202);
    const again = await handleWebhook('github', req.headers, req.body, deps);
    expect(again.statusCode).toBe(200);
    expect(JSON.parse(again.body)).toMatchObject({ duplicate: true });
    expect(await drain()).toHaveLength(1);
  });

  it('runs nothing for a replay: the same signed body under a new, unsigned delivery header is a duplicate', async () => {
    await drain();
    const payload = { ...branchPush(), after: 'b'.repeat(40) };
    const first = githubRequest('push', payload, 'gh-original');
    expect((await handleWebhook('github', first.headers, first.body, deps)).statusCode).toBe(202);
    const replay = githubRequest('push', payload, 'gh-replayed-with-a-fresh-guid');
    const res = await handleWebhook('github', replay.headers, replay.body, deps);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ duplicate: true });
    expect(await drain()).toHaveLength(1);
  });

  it('lets exactly one of many concurrent copies of a delivery through', async () => {
    await drain();
    const req = githubRequest('push', { ...branchPush(), after: 'c'.repeat(40) }, 'gh-burst');
    const results = await Promise.all(Array.from({ length: 15 }, () => handleWebhook('github', req.headers, req.body, deps)));
    expect(results.filter((r) => r.statusCode === 202)).toHaveLength(1);
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(14);
    expect(await drain()).toHaveLength(1);
  });

  it('rejects a missing or wrong signature with 401 and records nothing', async () => {
    await drain();
    const payload = { ...branchPush(), after: 'd'.repeat(40) };
    const wrong = githubRequest('push', payload, 'gh-wrong', 'not-the-secret');
    expect((await handleWebhook('github', wrong.headers, wrong.body, deps)).statusCode).toBe(401);
    const { 'X-Hub-Signature-256': _sig, ...unsigned } = githubRequest('push', payload, 'gh-unsigned').headers;
    expect((await handleWebhook('github', unsigned, Buffer.from(JSON.stringify(payload)), deps)).statusCode).toBe(401);
    // A body changed after signing.
    const tampered = githubRequest('push', payload, 'gh-tampered');
    const body = Buffer.from(tampered.body.toString().replace('Initial commit', 'Evil commit'));
    expect((await handleWebhook('github', tampered.headers, body, deps)).statusCode).toBe(401);
    for (const b of [wrong.body, body]) expect(await store.getDelivery(deliveryId('github', GITHUB_REPO, b))).toBeNull();
    expect(await drain()).toHaveLength(0);
  });

  it('checks each repository against its own secret: another repository’s secret does not sign for it', async () => {
    await drain();
    const req = githubRequest('push', { ...branchPush(), after: 'e'.repeat(40) }, 'gh-other-secret', GITEA_SECRET);
    const res = await handleWebhook('github', req.headers, req.body, deps);
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body).error).toBe(`webhook: missing or invalid github signature for ${GITHUB_REPO}`);
    expect(await drain()).toHaveLength(0);
  });

  it('runs nothing for a repository that is not activated: 200 with the reason, nothing recorded, no secret read', async () => {
    await drain();
    const payload = structuredClone(branchPush()) as Record<string, any>;
    payload.repository.full_name = 'stranger/repo';
    const reads: string[] = [];
    const req = githubRequest('push', payload, 'gh-stranger');
    const res = await handleWebhook('github', req.headers, req.body, { ...deps, secrets: { get: async (host, slug) => (reads.push(`${host} ${slug}`), SECRET) } });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ ok: true, ignored: 'repository stranger/repo is not activated on github; activate it with: slipway repo add stranger/repo --host github' });
    expect(reads).toEqual([]);
    expect(await store.getDelivery(deliveryId('github', 'stranger/repo', req.body))).toBeNull();
    expect(await drain()).toHaveLength(0);
  });

  it('runs nothing for a repository removed with `repo rm`', async () => {
    await drain();
    await store.activateRepository({ slug: 'acme/removed', scm: 'github', visibility: 'public', activatedAt: Date.now() });
    await memorySecrets.put('github', 'acme/removed', SECRET);
    await store.deactivateRepository('acme/removed');
    const payload = structuredClone(branchPush()) as Record<string, any>;
    payload.repository.full_name = 'acme/removed';
    const req = githubRequest('push', payload, 'gh-removed');
    const res = await handleWebhook('github', req.headers, req.body, deps);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).ignored).toMatch(/^repository acme\/removed is not activated on github/);
    expect(await drain()).toHaveLength(0);
  });

  it('refuses at the Gitea path a body signed for GitHub: the repository is activated on GitHub only', async () => {
    await drain();
    const body = JSON.stringify({ ...branchPush(), after: 'f'.repeat(40) });
    const headers = { 'X-Gitea-Event': 'push', 'X-Gitea-Delivery': 'cross-host', 'X-Gitea-Signature': hmacSha256Hex(SECRET, body) };
    const res = await handleWebhook('gitea', headers, body, deps);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).ignored).toBe(`repository ${GITHUB_REPO} is not activated on gitea; activate it with: slipway repo add ${GITHUB_REPO} --host gitea`);
    expect(await drain()).toHaveLength(0);
  });

  it("takes GitLab's token as a token, never as an HMAC key: a GitHub signature made with it signs nothing", async () => {
    await drain();
    const body = fixture('gitlab-merge-request.json');
    // At GitLab's path, the HMAC of the body under the token is not the token.
    const hmac = await handleWebhook('gitlab', { 'X-Gitlab-Event': 'Merge Request Hook', 'X-Gitlab-Token': hmacSha256Hex(GITLAB_TOKEN, body) }, body, deps);
    expect(hmac.statusCode).toBe(401);
    // At GitHub's path, a GitHub-shaped body naming the GitLab project, signed with its token.
    const payload = structuredClone(branchPush()) as Record<string, any>;
    payload.repository.full_name = gitlabRepo();
    const req = githubRequest('push', payload, 'gl-as-hmac', GITLAB_TOKEN);
    const res = await handleWebhook('github', req.headers, req.body, deps);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).ignored).toMatch(/is not activated on github/);
    expect(await drain()).toHaveLength(0);
  });

  it('answers 503 saying how to make a secret when an activated repository has none, and records nothing', async () => {
    await drain();
    await store.activateRepository({ slug: 'acme/no-secret', scm: 'github', visibility: 'public', activatedAt: Date.now() });
    const payload = structuredClone(branchPush()) as Record<string, any>;
    payload.repository.full_name = 'acme/no-secret';
    const req = githubRequest('push', payload, 'gh-nosecret');
    const res = await handleWebhook('github', req.headers, req.body, deps);
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body).error).toBe('webhook: github repository acme/no-secret is activated but has no webhook secret; make one with: slipway repo rotate-secret acme/no-secret, paste it into the hook, then redeliver');
    expect(await store.getDelivery(deliveryId('github', 'acme/no-secret', req.body))).toBeNull();
    expect(await drain()).toHaveLength(0);
  });

  it('keeps a secret 60 s (Powertools Parameters over the SSM stand-in), reads it again after, and at once after a mismatch: a rotated secret works from its first delivery', async () => {
    await drain();
    const prefix = '/slipway-webhooks';
    const slug = 'acme/rotated';
    await store.activateRepository({ slug, scm: 'github', visibility: 'public', activatedAt: Date.now() });
    const writer = ssmWebhookSecrets(() => ssmClientFor(ssm), prefix);
    await writer.put('github', slug, 'old-secret');
    const reads = () => ssm.calls.filter((c) => c.action === 'GetParameter' && c.input.Name === `${prefix}/github/${slug}`).length;
    const cached: WebhookDeps = { ...deps, secrets: cachedWebhookSecrets(new SSMProvider({ awsSdkV3Client: ssmClientFor(ssm) }), prefix) };
    const payload = structuredClone(branchPush()) as Record<string, any>;
    payload.repository.full_name = slug;
    const deliver = async (n: number, secret: string) => {
      const req = githubRequest('push', { ...payload, after: String(n).repeat(40) }, `rot-${n}`, secret);
      return (await handleWebhook('github', req.headers, req.body, cached)).statusCode;
    };
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const start = Date.now();
      expect([await deliver(1, 'old-secret'), reads()]).toEqual([202, 1]);
      vi.setSystemTime(start + (MAX_AGE_SECONDS.webhookSecret - 1) * 1000);
      expect([await deliver(2, 'old-secret'), reads()]).toEqual([202, 1]);
      vi.setSystemTime(start + (MAX_AGE_SECONDS.webhookSecret + 1) * 1000);
      expect([await deliver(3, 'old-secret'), reads()]).toEqual([202, 2]);
      // Rotated: the kept value does not match, so it is read again before answering.
      await writer.put('github', slug, 'new-secret');
      expect([await deliver(4, 'new-secret'), reads()]).toEqual([202, 3]);
      expect([await deliver(5, 'new-secret'), reads()]).toEqual([202, 3]);
      expect([await deliver(6, 'old-secret'), reads()]).toEqual([401, 4]);
    } finally {
      vi.useRealTimers();
    }
    expect(await drain()).toHaveLength(5);
  });

  it('reads a repository without a secret every time (a secret made meanwhile works at once)', async () => {
    const prefix = '/slipway-webhooks';
    const reader = cachedWebhookSecrets(new SSMProvider({ awsSdkV3Client: ssmClientFor(ssm) }), prefix);
    expect(await reader.get('gitea', 'acme/not-yet')).toBeUndefined();
    await ssmWebhookSecrets(() => ssmClientFor(ssm), prefix).put('gitea', 'acme/not-yet', 'made-now');
    expect(await reader.get('gitea', 'acme/not-yet')).toBe('made-now');
  });

  it("accepts a GitHub App's delivery signed with the App's secret, for activated repositories only", async () => {
    await drain();
    await memorySecrets.put('github', GITHUB_APP_SECRET_SLUG, 'the-app-secret');
    try {
      const req = githubRequest('push', { ...branchPush(), after: '6'.repeat(40), installation: { id: 4242 } }, 'app-1', 'the-app-secret');
      expect((await handleWebhook('github', req.headers, req.body, deps)).statusCode).toBe(202);
      const payload = structuredClone(branchPush()) as Record<string, any>;
      payload.repository.full_name = 'stranger/app-installed';
      const stranger = githubRequest('push', payload, 'app-2', 'the-app-secret');
      expect(JSON.parse((await handleWebhook('github', stranger.headers, stranger.body, deps)).body).ignored).toMatch(/is not activated on github/);
      // The App's secret is GitHub's: it signs nothing at Gitea's path.
      const body = fixture('gitea-push.json');
      expect((await handleWebhook('gitea', { 'X-Gitea-Event': 'push', 'X-Gitea-Signature': hmacSha256Hex('the-app-secret', body) }, body, deps)).statusCode).toBe(401);
      expect(await drain()).toHaveLength(1);
    } finally {
      await memorySecrets.remove('github', GITHUB_APP_SECRET_SLUG);
    }
  });

  it('rejects a malformed body with 400 and records nothing', async () => {
    const notJson = '{"ref": "refs/heads/main", ';
    const headers = { 'x-github-event': 'push', 'x-github-delivery': 'gh-bad-1', 'x-hub-signature-256': `sha256=${hmacSha256Hex(SECRET, notJson)}` };
    const res = await handleWebhook('github', headers, notJson, deps);
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).error).toMatch(/^webhook: malformed github event: body is not JSON/);
    const { after: _a, ...noAfter } = branchPush();
    const req = githubRequest('push', noAfter, 'gh-bad-2');
    const res2 = await handleWebhook('github', req.headers, req.body, deps);
    expect(res2.statusCode).toBe(400);
    expect(JSON.parse(res2.body).error).toBe('webhook: malformed github event: after: expected a non-empty string');
    expect(await store.getDelivery(deliveryId('github', GITHUB_REPO, req.body))).toBeNull();
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
    expect(await store.getDelivery(deliveryId('github', GITHUB_REPO, ping.body))).toBeNull();
    expect(await store.getDelivery(deliveryId('github', GITHUB_REPO, deletion.body))).toBeNull();
    expect(await drain()).toHaveLength(0);
  });

  it('accepts Gitea and GitLab events signed with their repositories’ own secrets', async () => {
    await drain();
    const giteaBody = fixture('gitea-push.json');
    const gitea = await handleWebhook('gitea', { 'X-Gitea-Event': 'push', 'X-Gitea-Delivery': 'g-1', 'X-Gitea-Signature': hmacSha256Hex(GITEA_SECRET, giteaBody) }, giteaBody, deps);
    expect(gitea.statusCode).toBe(202);
    const gitlabBody = fixture('gitlab-merge-request.json').replaceAll('2013-12-03T17:23:34Z', new Date().toISOString());
    const gitlab = await handleWebhook('gitlab', { 'X-Gitlab-Event': 'Merge Request Hook', 'X-Gitlab-Token': GITLAB_TOKEN, 'X-Gitlab-Event-UUID': 'u-1' }, gitlabBody, deps);
    expect(gitlab.statusCode).toBe(202);
    const badToken = await handleWebhook('gitlab', { 'X-Gitlab-Event': 'Merge Request Hook', 'X-Gitlab-Token': 'nope' }, gitlabBody, deps);
    expect(badToken.statusCode).toBe(401);
    const hooks = (await drain()).map((m) => (JSON.parse(m.Body!) as EventMessage).hook);
    expect(hooks.map((h) => `${h.repo.scm}:${h.event}`).sort()).toEqual(['gitea:push', 'gitlab:pull_request']);
  });

  it('refuses repositories outside ALLOWED_REPOSITORIES', async () => {
    const req = githubRequest('push', { ...branchPush(), after: '3'.repeat(40) }, 'gh-allowed');
    const res = await handleWebhook('github', req.headers, req.body, { ...deps, allowedRepositories: ['acme/only'] });
    expect(res.statusCode).toBe(403);
    expect(await store.getDelivery(deliveryId('github', GITHUB_REPO, req.body))).toBeNull();
    expect((await handleWebhook('github', req.headers, req.body, { ...deps, allowedRepositories: ['codertocat/hello-world'] })).statusCode).toBe(202);
  });

  it('keeps a delivery retryable when it could not be queued', async () => {
    await drain();
    const req = githubRequest('push', { ...branchPush(), after: '4'.repeat(40) }, 'gh-queue-down');
    const failing: WebhookDeps = { ...deps, enqueue: () => Promise.reject(new Error('queue unavailable')) };
    expect((await handleWebhook('github', req.headers, req.body, failing)).statusCode).toBe(500);
    expect((await store.getDelivery(deliveryId('github', GITHUB_REPO, req.body)))?.state).toBe('failed');
    expect((await handleWebhook('github', req.headers, req.body, deps)).statusCode).toBe(202);
    expect(await drain()).toHaveLength(1);
  });

  describe('replays older than the dedupe window run nothing, by the time the host signed', () => {
    const NOW = Date.parse('2026-06-01T12:00:00Z');
    const at = (now: number): WebhookDeps => ({ ...deps, now: () => now });
    const ignoredFor = async (res: { statusCode: number; body: string }) => {
      expect(res.statusCode).toBe(200);
      return JSON.parse(res.body).ignored as string;
    };

    it('keeps a delivery record longer than the oldest event it accepts, with a day for the host clock', () => {
      expect(MAX_EVENT_AGE_MS).toBe(7 * DAY);
      expect(MAX_EVENT_AGE_MS + CLOCK_SKEW_MS).toBeLessThanOrEqual(DELIVERY_TTL_SECONDS * 1000);
    });

    it('answers a GitHub push whose signed repository.pushed_at is 8 days old with 200 and the reason, and records and queues nothing', async () => {
      await drain();
      const req = githubRequest('push', { ...branchPush(8 * DAY, NOW), after: '7'.repeat(40) }, 'gh-old-replay');
      const reason = await ignoredFor(await handleWebhook('github', req.headers, req.body, at(NOW)));
      expect(reason).toBe(
        'the event is 8 days old by its signed repository.pushed_at (2026-05-24T12:00:00.000Z), older than the 7 days a delivery is remembered for; a replay runs nothing (push again to build)',
      );
      expect(await store.getDelivery(deliveryId('github', GITHUB_REPO, req.body))).toBeNull();
      expect(await drain()).toHaveLength(0);
    });

    it('builds a GitHub push signed 6 days ago (a redelivery inside the window) and one of a two-year-old commit pushed now', async () => {
      await drain();
      const redelivered = githubRequest('push', { ...branchPush(6 * DAY, NOW), after: '8'.repeat(40) }, 'gh-6-days');
      expect((await handleWebhook('github', redelivered.headers, redelivered.body, at(NOW))).statusCode).toBe(202);
      // head_commit.timestamp is the commit's (2019), not the push's: it decides nothing.
      const oldCommit = githubRequest('push', { ...branchPush(0, NOW), after: '9'.repeat(40) }, 'gh-old-commit');
      expect(JSON.parse(oldCommit.body.toString()).head_commit.timestamp).toBe('2019-05-15T15:19:25Z');
      expect((await handleWebhook('github', oldCommit.headers, oldCommit.body, at(NOW))).statusCode).toBe(202);
      expect(await drain()).toHaveLength(2);
    });

    it('refuses an event signed more than a day ahead of this clock (a replay would outlive the record)', async () => {
      const req = githubRequest('push', { ...branchPush(-2 * DAY, NOW), after: 'a1'.repeat(20) }, 'gh-future');
      expect(await ignoredFor(await handleWebhook('github', req.headers, req.body, at(NOW)))).toBe(
        "the event's signed repository.pushed_at (2026-06-03T12:00:00.000Z) is 2 days ahead of this server's clock; check the Git host's clock",
      );
      const skewed = githubRequest('push', { ...branchPush(-12 * 3600_000, NOW), after: 'a2'.repeat(20) }, 'gh-skewed');
      expect((await handleWebhook('github', skewed.headers, skewed.body, at(NOW))).statusCode).toBe(202);
      await drain();
    });

    it('refuses an old GitHub pull_request synchronize by pull_request.updated_at', async () => {
      const example = structuredClone(github('pull_request').find((p) => p.action === 'synchronize')!) as Record<string, any>;
      example.pull_request.updated_at = new Date(NOW - 10 * DAY).toISOString().replace('.000', '');
      const req = githubRequest('pull_request', example, 'gh-pr-old');
      expect(await ignoredFor(await handleWebhook('github', req.headers, req.body, at(NOW)))).toMatch(/^the event is 10 days old by its signed pull_request\.updated_at \(/);
      example.pull_request.updated_at = new Date(NOW - 3600_000).toISOString();
      const fresh = githubRequest('pull_request', example, 'gh-pr-fresh');
      expect((await handleWebhook('github', fresh.headers, fresh.body, at(NOW))).statusCode).toBe(202);
      await drain();
    });

    it("refuses an old GitLab merge request opening by object_attributes.updated_at, in GitLab's own time format too", async () => {
      const payload = JSON.parse(fixture('gitlab-merge-request.json'));
      const headers = { 'X-Gitlab-Event': 'Merge Request Hook', 'X-Gitlab-Token': GITLAB_TOKEN };
      payload.object_attributes.updated_at = '2026-05-20 08:00:00 UTC';
      expect(await ignoredFor(await handleWebhook('gitlab', headers, JSON.stringify(payload), at(NOW)))).toMatch(
        /^the event is 12\.2 days old by its signed object_attributes\.updated_at \(2026-05-20T08:00:00\.000Z\)/,
      );
      payload.object_attributes.updated_at = '2026-06-01 11:00:00 UTC';
      expect((await handleWebhook('gitlab', headers, JSON.stringify(payload), at(NOW))).statusCode).toBe(202);
      payload.object_attributes.updated_at = 'yesterday';
      const bad = await handleWebhook('gitlab', headers, JSON.stringify(payload), at(NOW));
      expect(bad.statusCode).toBe(400);
      expect(JSON.parse(bad.body).error).toBe('webhook: malformed gitlab event: object_attributes.updated_at: expected a time (epoch seconds or ISO 8601 with a zone)');
      await drain();
    });

    it('refuses an old Gitea pull request opening by pull_request.created_at; Gitea pushes carry no signed time and still build', async () => {
      const payload = JSON.parse(fixture('gitea-pull-request-fork.json'));
      payload.action = 'opened';
      payload.pull_request.created_at = '2026-05-01T10:00:00+02:00';
      const body = JSON.stringify(payload);
      const res = await handleWebhook('gitea', { 'X-Gitea-Event': 'pull_request', 'X-Gitea-Signature': hmacSha256Hex(GITEA_SECRET, body) }, body, at(NOW));
      expect(await ignoredFor(res)).toMatch(/^the event is 31\.2 days old by its signed pull_request\.created_at \(2026-05-01T08:00:00\.000Z\)/);
      // A push's repository.updated_at is written after Gitea builds the payload: no time to go by.
      const push = fixture('gitea-push.json').replace('"after": "bffeb74224043ba2feb48d137756c8a9331c449a"', `"after": "${'b1'.repeat(20)}"`);
      const pushed = await handleWebhook('gitea', { 'X-Gitea-Event': 'push', 'X-Gitea-Signature': hmacSha256Hex(GITEA_SECRET, push) }, push, at(NOW));
      expect(pushed.statusCode).toBe(202);
      await drain();
    });
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
      WEBHOOK_SECRETS_PREFIX: '/slipway-webhooks',
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
      AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
    });
    try {
      await drain();
      await ssmWebhookSecrets(() => ssmClientFor(ssm), '/slipway-webhooks').put('github', GITHUB_REPO, SECRET);
      const { handler } = await import('../../lambdas/webhook/handler.js');
      const req = githubRequest('push', { ...branchPush(), after: '5'.repeat(40) }, 'gh-lambda');
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
      expect(ssm.calls.filter((c) => c.action === 'GetParameter').map((c) => c.input)).toContainEqual({ Name: `/slipway-webhooks/github/${GITHUB_REPO}`, WithDecryption: true });
      const get = await handler({ ...event, requestContext: { http: { method: 'GET' } } } as unknown as APIGatewayProxyEventV2);
      expect(get.statusCode).toBe(405);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});

describe('webhook secrets in SSM Parameter Store (the real SDK client against the SSM stand-in)', () => {
  it('stores a SecureString under <prefix>/<host>/<owner>/<name>, reads it decrypted, overwrites on rotation, and forgets it', async () => {
    const secrets = ssmWebhookSecrets(() => ssmClientFor(ssm), '/slipway-webhooks/');
    expect(await secrets.get('gitea', 'team/missing')).toBeUndefined();
    await secrets.put('gitea', 'team/svc', 'first');
    await secrets.put('gitea', 'team/svc', 'second');
    expect(ssm.values.get('/slipway-webhooks/gitea/team/svc')).toEqual({ value: 'second', type: 'SecureString', version: 2 });
    expect(await secrets.get('gitea', 'team/svc')).toBe('second');
    await secrets.remove('gitea', 'team/svc');
    await secrets.remove('gitea', 'team/svc');
    expect(await secrets.get('gitea', 'team/svc')).toBeUndefined();
  });
});
