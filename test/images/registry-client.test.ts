import { describe, expect, it } from 'vitest';
import { createImageCommandLookup, lookupImageCommand, type ImageLookupOptions } from '../../adapters/registry/registry-client.js';
import { startRegistryStandIn, type RegistryStandIn, type StandInImage } from '../support/registry-stand-in.js';
import { registryStandIns } from './registry-pool.js';
import { HANG_GUARD_MS } from '../support/wait.js';

// Short timings: nothing here waits longer than a few hundred milliseconds.
// A loopback stand-in answers at once; a loaded machine may take a while: only the tests that
// stall a request on purpose set a short timeout.
const FAST: ImageLookupOptions = { timeoutMs: HANG_GUARD_MS, deadlineMs: HANG_GUARD_MS, backoffMs: 10 };

const S3: StandInImage = {
  name: 'plugins/s3',
  tag: '1',
  attestations: true,
  platforms: {
    amd64: { entrypoint: ['/bin/drone-s3'], cmd: null },
    'arm64/v8': { entrypoint: ['/bin/drone-s3-arm64'], cmd: ['--verbose'] },
    'arm/v7': { entrypoint: ['/bin/drone-s3-arm'] },
  },
};

const registry = registryStandIns();

const paths = (r: RegistryStandIn): string[] => r.requests.map((q) => q.path);
const calls = (r: RegistryStandIn): string[] => r.requests.map((q) => `${q.method} ${q.path}`);

describe('lookupImageCommand against a registry', () => {
  it('HEADs the tag for its digest, then follows index → platform manifest → config by digest, skipping attestations', async () => {
    const reg = await registry();
    const published = reg.publish(S3);
    const image = `${reg.host}/plugins/s3:1`;

    expect(await lookupImageCommand(image, 'amd64', FAST)).toEqual({ ok: true, entrypoint: ['/bin/drone-s3'], cmd: null, digest: published.manifests.amd64 });
    expect(await lookupImageCommand(image, 'arm64', FAST)).toEqual({ ok: true, entrypoint: ['/bin/drone-s3-arm64'], cmd: ['--verbose'], digest: published.manifests['arm64/v8'] });
    expect(calls(reg).slice(0, 4)).toEqual([
      'HEAD /v2/plugins/s3/manifests/1',
      `GET /v2/plugins/s3/manifests/${published.tagDigest}`,
      `GET /v2/plugins/s3/manifests/${published.manifests.amd64}`,
      `GET /v2/plugins/s3/blobs/${published.configs.amd64}`,
    ]);
    expect(reg.requests[0]!.authorization).toBeUndefined();
  });

  it('reads a Docker manifest list and a single-platform manifest', async () => {
    const reg = await registry();
    reg.publish({ name: 'tools/list', tag: 'v2', format: 'docker', platforms: { amd64: { cmd: ['/bin/sh'] }, arm64: { entrypoint: ['/init'], cmd: ['run'] } } });
    const single = reg.publish({ name: 'tools/single', tag: 'latest', format: 'single', platforms: { amd64: { entrypoint: ['/entry.sh'] } } });

    expect(await lookupImageCommand(`${reg.host}/tools/list:v2`, 'arm64', FAST)).toMatchObject({ ok: true, entrypoint: ['/init'], cmd: ['run'] });
    expect(await lookupImageCommand(`${reg.host}/tools/list:v2`, 'amd64', FAST)).toMatchObject({ ok: true, entrypoint: null, cmd: ['/bin/sh'] });
    expect(await lookupImageCommand(`${reg.host}/tools/single`, 'amd64', FAST)).toEqual({ ok: true, entrypoint: ['/entry.sh'], cmd: null, digest: single.tagDigest });
    // A single manifest carries no platform list: the config blob says what it was built for.
    expect(await lookupImageCommand(`${reg.host}/tools/single`, 'arm64', FAST)).toEqual({
      ok: false,
      error: `image "${reg.host}/tools/single": no manifest for linux/arm64 (the image has linux/amd64 only)`,
      transient: false,
    });
  });

  it('names the platforms that exist when the architecture is missing', async () => {
    const reg = await registry();
    reg.publish({ name: 'old/tool', tag: '1', attestations: true, platforms: { amd64: { cmd: ['x'] }, 'arm/v7': { cmd: ['x'] } } });
    expect(await lookupImageCommand(`${reg.host}/old/tool:1`, 'arm64', FAST)).toEqual({
      ok: false,
      error: `image "${reg.host}/old/tool:1": no manifest for linux/arm64 (the image has linux/amd64, linux/arm/v7)`,
      transient: false,
    });
  });

  it('pulls by digest when the reference pins one', async () => {
    const reg = await registry();
    const published = reg.publish(S3);
    const result = await lookupImageCommand(`${reg.host}/plugins/s3:ignored@${published.tagDigest}`, 'amd64', FAST);
    expect(result).toMatchObject({ ok: true, entrypoint: ['/bin/drone-s3'] });
    // No HEAD: the reference already names the digest.
    expect(calls(reg)[0]).toBe(`GET /v2/plugins/s3/manifests/${published.tagDigest}`);
    expect(reg.requests.filter((q) => q.method === 'HEAD')).toEqual([]);
  });

  it('follows a blob redirect to storage', async () => {
    const reg = await registry({ redirectBlobs: true });
    reg.publish(S3);
    expect(await lookupImageCommand(`${reg.host}/plugins/s3:1`, 'amd64', FAST)).toMatchObject({ ok: true, entrypoint: ['/bin/drone-s3'] });
    expect(paths(reg).some((p) => p.startsWith('/storage/'))).toBe(true);
  });

  it('refuses a reference it cannot parse without asking anyone', async () => {
    const reg = await registry();
    expect(await lookupImageCommand(`${reg.host}/Plugins/S3`, 'amd64', FAST)).toEqual({
      ok: false,
      error: `image "${reg.host}/Plugins/S3": invalid reference: repository "Plugins/S3" must be lower case`,
      transient: false,
    });
    expect(reg.requests).toEqual([]);
  });
});

describe('authentication', () => {
  it('earns an anonymous bearer token once and reuses it', async () => {
    const reg = await registry({ auth: 'bearer' });
    reg.publish(S3);
    expect(await lookupImageCommand(`${reg.host}/plugins/s3:1`, 'arm64', FAST)).toMatchObject({ ok: true, entrypoint: ['/bin/drone-s3-arm64'] });
    const log = reg.requests;
    expect(log[0]).toEqual({ method: 'HEAD', path: '/v2/plugins/s3/manifests/1' });
    expect(log[1]!.path).toBe(`/token?service=registry.stand-in&scope=${encodeURIComponent('repository:plugins/s3:pull')}`);
    expect(log[1]!.authorization).toBeUndefined();
    // HEAD again, then index, platform manifest and config: all with the one token.
    expect(log.slice(2).map((q) => q.authorization?.startsWith('Bearer '))).toEqual([true, true, true, true]);
    expect(log[2]!.method).toBe('HEAD');
    expect(log.filter((q) => q.path.startsWith('/token'))).toHaveLength(1);
  });

  it('sends Basic credentials to the token service when the registry needs them', async () => {
    const creds = { username: 'ci', password: 's3cret' };
    const reg = await registry({ auth: 'bearer', credentials: creds });
    reg.publish(S3);
    const image = `${reg.host}/plugins/s3:1`;

    expect(await lookupImageCommand(image, 'amd64', FAST)).toEqual({
      ok: false,
      error: `image "${image}": registry ${reg.host} requires credentials to pull plugins/s3; add credentials for ${reg.host}`,
      transient: false,
    });
    expect(await lookupImageCommand(image, 'amd64', { ...FAST, credentials: { [reg.host]: { ...creds, password: 'wrong' } } })).toMatchObject({
      ok: false,
      error: expect.stringContaining('token service refused the credentials given'),
      transient: false,
    });
    reg.requests.length = 0;
    expect(await lookupImageCommand(image, 'amd64', { ...FAST, credentials: { [reg.host]: creds } })).toMatchObject({ ok: true, entrypoint: ['/bin/drone-s3'] });
    const tokenRequest = reg.requests.find((q) => q.path.startsWith('/token'));
    expect(tokenRequest?.authorization).toBe(`Basic ${Buffer.from('ci:s3cret').toString('base64')}`);
  });

  it('answers a Basic challenge with the registry credentials', async () => {
    const creds = { username: 'ci', password: 'pw' };
    const reg = await registry({ auth: 'basic', credentials: creds });
    reg.publish(S3);
    const image = `${reg.host}/plugins/s3:1`;
    expect(await lookupImageCommand(image, 'amd64', FAST)).toEqual({
      ok: false,
      error: `image "${image}": registry ${reg.host} requires credentials; add credentials for ${reg.host}`,
      transient: false,
    });
    expect(await lookupImageCommand(image, 'amd64', { ...FAST, credentials: { [reg.host]: { ...creds, password: 'no' } } })).toEqual({
      ok: false,
      error: `image "${image}": registry ${reg.host} refused the credentials given for it (401 UNAUTHORIZED: authentication required); check that they may pull plugins/s3`,
      transient: false,
    });
    expect(await lookupImageCommand(image, 'amd64', { ...FAST, credentials: { [reg.host]: creds } })).toMatchObject({ ok: true, entrypoint: ['/bin/drone-s3'] });
  });
});

describe('challenges and where credentials may go', () => {
  it('answers the Bearer challenge of a header that also offers Basic', async () => {
    const reg = await registry({ auth: 'bearer', extraChallenge: 'Basic realm="Registry Realm"' });
    reg.publish(S3);
    expect(await lookupImageCommand(`${reg.host}/plugins/s3:1`, 'amd64', FAST)).toMatchObject({ ok: true, entrypoint: ['/bin/drone-s3'] });
    expect(reg.requests.filter((q) => q.path.startsWith('/token?service=registry.stand-in&'))).toHaveLength(1);
  });

  /** A fetch that reaches `http://auth.registry.test` (a non-loopback token realm) on the stand-in, as if it were another host. */
  const viaOtherHost = (reg: RegistryStandIn): NonNullable<ImageLookupOptions['fetch']> => (input, init) =>
    globalThis.fetch(String(input).replace('http://auth.registry.test/', `${reg.url}/`), init);

  it('sends no credentials to a token realm on another host over plain http', async () => {
    const creds = { username: 'ci', password: 's3cret' };
    const locked = await registry({ auth: 'bearer', credentials: creds, tokenRealm: 'http://auth.registry.test/token' });
    locked.publish(S3);
    const image = `${locked.host}/plugins/s3:1`;
    expect(await lookupImageCommand(image, 'amd64', { ...FAST, fetch: viaOtherHost(locked), credentials: { [locked.host]: creds } })).toEqual({
      ok: false,
      error: `image "${image}": registry ${locked.host}: its token service http://auth.registry.test is plain http, so the credentials for ${locked.host} were not sent and it refused an anonymous token (401); the token service must use https`,
      transient: false,
    });
    const tokenRequests = locked.requests.filter((q) => q.path.startsWith('/token'));
    expect(tokenRequests).toHaveLength(1);
    expect(tokenRequests[0]!.authorization).toBeUndefined();

    // A token service that hands out anonymous tokens still works, without the credentials.
    const open = await registry({ auth: 'bearer', tokenRealm: 'http://auth.registry.test/token' });
    open.publish(S3);
    expect(await lookupImageCommand(`${open.host}/plugins/s3:1`, 'amd64', { ...FAST, fetch: viaOtherHost(open), credentials: { [open.host]: creds } })).toMatchObject({ ok: true });
    expect(open.requests.filter((q) => q.authorization?.startsWith('Basic '))).toEqual([]);
  });
});

describe('the deadline of one lookup', () => {
  const SLOW: ImageLookupOptions = { timeoutMs: 2_000, backoffMs: 10, deadlineMs: 200 };

  it('cuts a stalled request short, before its own timeout, and says it is transient', async () => {
    const reg = await registry();
    reg.publish(S3);
    reg.stallNext(10);
    expect(await lookupImageCommand(`${reg.host}/plugins/s3:1`, 'amd64', SLOW)).toEqual({
      ok: false,
      error: `image "${reg.host}/plugins/s3:1": the registry did not answer within 200 ms (${reg.host}, all requests and retries of one lookup); try again later`,
      transient: true,
    });
    // The per-request timeout (2 s) never fired: no retry was sent.
    expect(reg.requests).toHaveLength(1);
  });

  it('cuts a back-off short: retries never outlast it', async () => {
    const reg = await registry();
    reg.publish(S3);
    reg.failNext(100, 503);
    // Without the deadline the second attempt would wait 30 s (beyond this test's timeout).
    expect(await lookupImageCommand(`${reg.host}/plugins/s3:1`, 'amd64', { ...SLOW, backoffMs: 30_000 })).toMatchObject({
      ok: false,
      transient: true,
      error: expect.stringContaining('the registry did not answer within 200 ms'),
    });
    expect(reg.requests).toHaveLength(1);
  });

  it('bounds a credentials source that never answers', async () => {
    const reg = await registry({ auth: 'basic', credentials: { username: 'u', password: 'p' } });
    reg.publish(S3);
    const hanging = (): Promise<never> => new Promise(() => {});
    expect(await lookupImageCommand(`${reg.host}/plugins/s3:1`, 'amd64', { ...SLOW, credentials: hanging })).toMatchObject({
      ok: false,
      transient: true,
      error: expect.stringContaining('did not answer within 200 ms'),
    });
  });

  it('states whole seconds in seconds', async () => {
    const reg = await registry();
    reg.publish(S3);
    reg.stallNext(1);
    expect(await lookupImageCommand(`${reg.host}/plugins/s3:1`, 'amd64', { ...SLOW, deadlineMs: 1_000 })).toMatchObject({
      ok: false,
      error: expect.stringContaining('the registry did not answer within 1 s ('),
    });
  });
});

describe('failures', () => {
  it('retries 503 twice and then succeeds', async () => {
    const reg = await registry();
    reg.publish(S3);
    reg.failNext(2, 503);
    expect(await lookupImageCommand(`${reg.host}/plugins/s3:1`, 'amd64', FAST)).toMatchObject({ ok: true, entrypoint: ['/bin/drone-s3'] });
    expect(calls(reg).slice(0, 3)).toEqual(['HEAD /v2/plugins/s3/manifests/1', 'HEAD /v2/plugins/s3/manifests/1', 'HEAD /v2/plugins/s3/manifests/1']);
    expect(reg.requests).toHaveLength(6);
  });

  it('gives up after three attempts on 503 or 429 and says it is transient', async () => {
    const reg = await registry();
    reg.publish(S3);
    reg.failNext(100, 503);
    expect(await lookupImageCommand(`${reg.host}/plugins/s3:1`, 'amd64', FAST)).toEqual({
      ok: false,
      error: `image "${reg.host}/plugins/s3:1": registry ${reg.host} answered 503 (3 attempts); try again later`,
      transient: true,
    });
    expect(reg.requests).toHaveLength(3);

    const limited = await registry();
    limited.publish(S3);
    limited.failNext(100, 429, '/blobs/');
    expect(await lookupImageCommand(`${limited.host}/plugins/s3:1`, 'amd64', { ...FAST, retries: 1 })).toMatchObject({ ok: false, transient: true, error: expect.stringContaining('answered 429 (2 attempts)') });
  });

  it('retries a request that times out', async () => {
    const reg = await registry();
    reg.publish(S3);
    // Long enough for every request the stand-in answers (a loaded machine's loopback), short
    // enough to wait out for the ones it stalls.
    const timeoutMs = 1_000;
    reg.stallNext(1);
    expect(await lookupImageCommand(`${reg.host}/plugins/s3:1`, 'amd64', { ...FAST, timeoutMs })).toMatchObject({ ok: true });
    reg.stallNext(3);
    expect(await lookupImageCommand(`${reg.host}/plugins/s3:1`, 'amd64', { ...FAST, timeoutMs })).toEqual({
      ok: false,
      error: `image "${reg.host}/plugins/s3:1": registry ${reg.host} did not answer within 1000 ms (3 attempts); try again later`,
      transient: true,
    });
  });

  it('reports an unreachable registry as transient', async () => {
    // Not from the pool: stopped here, before the lookup.
    const reg = await startRegistryStandIn();
    const host = reg.host;
    await reg.stop();
    const result = await lookupImageCommand(`${host}/plugins/s3:1`, 'amd64', { ...FAST, retries: 1 });
    expect(result).toMatchObject({ ok: false, transient: true, error: expect.stringMatching(/could not be reached .*\(2 attempts\); try again later$/) });
  });

  it('reports an unknown tag as not found, not transient', async () => {
    const reg = await registry();
    reg.publish(S3);
    expect(await lookupImageCommand(`${reg.host}/plugins/s3:9`, 'amd64', FAST)).toEqual({
      ok: false,
      error: `image "${reg.host}/plugins/s3:9": not found in registry ${reg.host} (manifest 9 unknown); check the name and tag`,
      transient: false,
    });
    // The HEAD's 404 is the answer: no GET, which Docker Hub might count as a pull.
    expect(calls(reg)).toEqual(['HEAD /v2/plugins/s3/manifests/9']);
  });

  it('refuses a config blob whose content does not match its digest', async () => {
    const reg = await registry();
    const published = reg.publish(S3);
    const digest = published.configs.amd64!;
    reg.tamperBlob(digest, JSON.stringify({ config: { Entrypoint: ['/bin/evil'] } }));
    const result = await lookupImageCommand(`${reg.host}/plugins/s3:1`, 'amd64', FAST);
    expect(result).toMatchObject({ ok: false, transient: false });
    expect(!result.ok && result.error).toMatch(new RegExp(`^image "${reg.host}/plugins/s3:1": config blob ${digest} does not match its digest \\(content is sha256:[0-9a-f]{64}\\)`));
  });

  it('stops reading an oversized response, streamed or declared', async () => {
    const reg = await registry();
    reg.publish(S3);
    // 5 MiB with no Content-Length: the limit is enforced while streaming.
    reg.serveRaw('/manifests/huge', { status: 200, contentType: 'application/vnd.oci.image.index.v1+json', body: Buffer.alloc(5 * 1024 * 1024, 0x20) });
    expect(await lookupImageCommand(`${reg.host}/plugins/s3:huge`, 'amd64', FAST)).toEqual({
      ok: false,
      error: `image "${reg.host}/plugins/s3:huge": registry ${reg.host} sent more than ${4 * 1024 * 1024} bytes for /v2/plugins/s3/manifests/huge; refused`,
      transient: false,
    });
    // A normal response (with Content-Length) over a small limit is refused before reading.
    expect(await lookupImageCommand(`${reg.host}/plugins/s3:1`, 'amd64', { ...FAST, maxResponseBytes: 100 })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/sent more than 100 bytes for \/v2\/plugins\/s3\/manifests\/sha256:[0-9a-f]{64}; refused$/),
    });
  });

  it('explains a schema 1 manifest', async () => {
    const reg = await registry();
    reg.serveRaw('/manifests/ancient', {
      status: 200,
      contentType: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
      body: JSON.stringify({ schemaVersion: 1, name: 'plugins/s3', tag: 'ancient', fsLayers: [] }),
    });
    expect(await lookupImageCommand(`${reg.host}/plugins/s3:ancient`, 'amd64', FAST)).toMatchObject({ ok: false, transient: false, error: expect.stringContaining('schema 1 manifest, which is not supported') });
  });
});

describe('createImageCommandLookup', () => {
  it('answers again from its cache until the entry expires', async () => {
    const reg = await registry({ auth: 'bearer' });
    reg.publish(S3);
    let now = 1_000_000;
    const lookup = createImageCommandLookup({ ...FAST, cacheOptions: { ttlMs: 60_000, now: () => now } });

    const first = await lookup(`${reg.host}/plugins/s3:1`, 'amd64');
    expect(first).toMatchObject({ ok: true });
    const asked = reg.requests.length;
    now += 59_000;
    // Same image, same architecture: no request at all.
    expect(await lookup(`${reg.host}/plugins/s3:1`, 'amd64')).toEqual(first);
    expect(reg.requests).toHaveLength(asked);
    // Another architecture is another entry.
    expect(await lookup(`${reg.host}/plugins/s3:1`, 'arm64')).toMatchObject({ ok: true, entrypoint: ['/bin/drone-s3-arm64'] });
    expect(reg.requests.length).toBeGreaterThan(asked);

    const beforeExpiry = reg.requests.length;
    now += 2_000;
    expect(await lookup(`${reg.host}/plugins/s3:1`, 'amd64')).toEqual(first);
    expect(reg.requests.length).toBeGreaterThan(beforeExpiry);
  });

  it('does not cache failures', async () => {
    const reg = await registry();
    const lookup = createImageCommandLookup(FAST);
    expect(await lookup(`${reg.host}/plugins/s3:1`, 'amd64')).toMatchObject({ ok: false, transient: false });
    reg.publish(S3);
    expect(await lookup(`${reg.host}/plugins/s3:1`, 'amd64')).toMatchObject({ ok: true, entrypoint: ['/bin/drone-s3'] });
  });

  it('shares one registry conversation between concurrent lookups of the same image', async () => {
    const reg = await registry();
    reg.publish(S3);
    const lookup = createImageCommandLookup(FAST);
    const results = await Promise.all([lookup(`${reg.host}/plugins/s3:1`, 'amd64'), lookup(`${reg.host}/plugins/s3:1`, 'amd64')]);
    expect(results[0]).toEqual(results[1]);
    expect(reg.requests).toHaveLength(4);
  });
});
