// The image command store on the build table (DynamoDB Local), and the planner's wiring of
// it: a cold planner (new deps, same table) answers with one HEAD; logins come from the SCM
// credentials' `registries` key.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoImageCommandStore } from '../../adapters/dynamodb/image-command-store.js';
import { IMAGE_COMMAND_TTL_SECONDS, imageCommandPk, imageCommandSk } from '../../adapters/dynamodb/keys.js';
import type { ImageCommandKey } from '../../core/images/command-store.js';
import { createImageCommandLookup } from '../../adapters/registry/registry-client.js';
import { plannerDepsFromEnv } from '../../lambdas/planner/deps.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoLocal, type LocalDynamo } from '../support/dynamodb-local.js';
import { startRegistryStandIn, type RegistryStandIn } from '../support/registry-stand-in.js';
import { HANG_GUARD_MS } from '../support/wait.js';

/** The table does not fail here: a store failure reported fails the lookup, and so the test. */
const FAST = {
  timeoutMs: HANG_GUARD_MS,
  deadlineMs: HANG_GUARD_MS,
  backoffMs: 10,
  log: (message: string, fields: Record<string, unknown> = {}): never => {
    throw new Error(`unexpected: ${message} ${JSON.stringify(fields)}`);
  },
};
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const key = (arch: 'amd64' | 'arm64' = 'amd64'): ImageCommandKey => ({ repository: 'docker.io/plugins/s3', digest: DIGEST, arch });

let db: LocalDynamo;
let registry: RegistryStandIn;
const savedEnv = { ...process.env };

beforeAll(async () => {
  [db, registry] = await Promise.all([startDynamoLocal('image-commands'), startRegistryStandIn({ auth: 'bearer', credentials: { username: 'ci-bot', password: 'pull-token' } })]);
});

afterAll(async () => {
  process.env = savedEnv;
  await Promise.all([db?.stop(), registry?.stop()]);
});

describe('DynamoImageCommandStore', () => {
  it('keeps an answer per digest and architecture, nulls included, with a 30-day TTL', async () => {
    const now = 1_700_000_000_000;
    const store = new DynamoImageCommandStore(db.doc, db.tableName, () => now);
    expect(await store.get(key())).toBeUndefined();
    await store.put(key(), { entrypoint: ['/bin/drone-s3'], cmd: null, digest: `sha256:${'cd'.repeat(32)}` });
    await store.put(key('arm64'), { entrypoint: null, cmd: [], digest: `sha256:${'ef'.repeat(32)}` });

    expect(await store.get(key())).toEqual({ entrypoint: ['/bin/drone-s3'], cmd: null, digest: `sha256:${'cd'.repeat(32)}` });
    expect(await store.get(key('arm64'))).toEqual({ entrypoint: null, cmd: [], digest: `sha256:${'ef'.repeat(32)}` });
    expect(await store.get({ ...key(), repository: 'docker.io/plugins/other' })).toBeUndefined();

    const item = (await db.doc.send(new GetCommand({ TableName: db.tableName, Key: { PK: imageCommandPk('docker.io/plugins/s3', DIGEST), SK: imageCommandSk('amd64') } }))).Item;
    expect(item).toMatchObject({ PK: `IMAGE#docker.io/plugins/s3@${DIGEST}`, SK: 'ARCH#amd64', type: 'imageCommand', expiresAt: now / 1000 + IMAGE_COMMAND_TTL_SECONDS });
  });

  it('treats an expired item as gone (TTL deletion lags) and a malformed one as an error', async () => {
    const written = 1_700_000_000_000;
    await new DynamoImageCommandStore(db.doc, db.tableName, () => written).put(key(), { entrypoint: ['/x'], cmd: null, digest: DIGEST });
    const later = new DynamoImageCommandStore(db.doc, db.tableName, () => written + IMAGE_COMMAND_TTL_SECONDS * 1000);
    expect(await later.get(key())).toBeUndefined();

    const bad: ImageCommandKey = { ...key(), repository: 'docker.io/plugins/bad' };
    await db.doc.send(new PutCommand({ TableName: db.tableName, Item: { PK: imageCommandPk(bad.repository, bad.digest), SK: imageCommandSk('amd64'), entrypoint: 'not a list', manifestDigest: DIGEST } }));
    await expect(new DynamoImageCommandStore(db.doc, db.tableName).get(bad)).rejects.toThrow(
      `image command store: item IMAGE#docker.io/plugins/bad@${DIGEST} / ARCH#amd64: \`entrypoint\` should be a list of strings or null`,
    );
  });

  it('serves a cold lookup with one HEAD: no manifest GET', async () => {
    const published = registry.publish({ name: 'acme/deploy', tag: '3', platforms: { amd64: { entrypoint: ['/deploy'], cmd: ['--dry-run'] } } });
    const image = `${registry.host}/acme/deploy:3`;
    const credentials = { [registry.host]: { username: 'ci-bot', password: 'pull-token' } };
    const store = () => new DynamoImageCommandStore(db.doc, db.tableName);
    const first = await createImageCommandLookup({ ...FAST, credentials, store: store() })(image, 'amd64');
    expect(first).toEqual({ ok: true, entrypoint: ['/deploy'], cmd: ['--dry-run'], digest: published.manifests.amd64 });

    const before = registry.requests.length;
    expect(await createImageCommandLookup({ ...FAST, credentials, store: store() })(image, 'amd64')).toEqual(first);
    const asked = registry.requests.slice(before).filter((q) => q.path.startsWith('/v2/'));
    expect(asked.map((q) => q.method)).toEqual(['HEAD', 'HEAD']); // challenged, then with the token
  });
});

describe('the planner wiring', () => {
  it('looks images up with the logins under `registries` and keeps answers in the table', async () => {
    const published = registry.publish({ name: 'acme/announce', tag: '1', platforms: { arm64: { entrypoint: ['/announce'] } } });
    // Local mode's form of the SCM credentials secret; Docker Hub's alias spelled as `docker login` does.
    const scmCredentials = JSON.stringify({
      github: { token: 'gh', apiUrl: 'https://api.github.com' },
      registries: { [registry.host]: { username: 'ci-bot', password: 'pull-token' }, 'https://index.docker.io/v1/': { username: 'hub', password: 'hub-token' } },
    });
    const env = {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
      TABLE_NAME: db.tableName,
      JOBS_QUEUE_URL: 'http://sqs.us-east-1.localhost/000000000000/unused',
      SCM_CREDENTIALS: scmCredentials,
    };
    // The SDK clients read their endpoints from the process environment, as in a Lambda.
    Object.assign(process.env, env);
    const lookup = plannerDepsFromEnv(env).imageLookup!;
    const before = registry.requests.length;

    expect(await lookup(`${registry.host}/acme/announce:1`, 'arm64')).toEqual({ ok: true, entrypoint: ['/announce'], cmd: null, digest: published.manifests.arm64 });
    const token = registry.requests.slice(before).find((q) => q.path.startsWith('/token'));
    expect(token?.authorization).toBe(`Basic ${Buffer.from('ci-bot:pull-token').toString('base64')}`);

    const stored = await new DynamoImageCommandStore(db.doc, db.tableName).get({ repository: `${registry.host}/acme/announce`, digest: published.tagDigest, arch: 'arm64' });
    expect(stored).toEqual({ entrypoint: ['/announce'], cmd: null, digest: published.manifests.arm64 });
  });

  it('fails a lookup with a clear message when `registries` is malformed', async () => {
    const image = `${registry.host}/acme/announce:1`;
    const env = {
      TABLE_NAME: db.tableName,
      JOBS_QUEUE_URL: 'http://sqs.us-east-1.localhost/000000000000/unused',
      SCM_CREDENTIALS: JSON.stringify({ registries: { 'ghcr.io': { username: 'x' } } }),
    };
    const result = await plannerDepsFromEnv(env).imageLookup!(image, 'arm64');
    expect(result).toEqual({
      ok: false,
      error: `image "${image}": could not read the registry credentials for ${registry.host} (Error: config: the SCM credentials secret: "registries"."ghcr.io" should be {"username":"…","password":"…"} with both non-empty); try again later`,
      transient: true,
    });
  });
});
