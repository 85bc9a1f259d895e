// Image lookups keyed by digest: a HEAD learns the tag's digest (Docker Hub does not count it
// as a pull), and a store that outlives the process answers for that digest. "A new lookup
// sharing the store" is what a cold planner Lambda is.

import { describe, expect, it } from 'vitest';
import { createImageCommandLookup, type ImageLookupOptions } from '../../adapters/registry/registry-client.js';
import { MemoryImageCommandStore, type ImageCommandKey, type ImageCommandStore, type StoredImageCommand } from '../../core/images/command-store.js';
import type { RegistryStandIn, StandInImage } from '../support/registry-stand-in.js';
import { registryStandIns } from './registry-pool.js';
import { HANG_GUARD_MS } from '../support/wait.js';

/** These stores do not fail: a store failure reported here fails the lookup, and so the test. */
const unexpectedStoreFailure = (message: string, fields: Record<string, unknown> = {}): never => {
  throw new Error(`unexpected: ${message} ${JSON.stringify(fields)}`);
};
const FAST = { timeoutMs: HANG_GUARD_MS, deadlineMs: HANG_GUARD_MS, backoffMs: 10, log: unexpectedStoreFailure } satisfies ImageLookupOptions;

const NOTIFY: StandInImage = {
  name: 'plugins/notify',
  tag: '2',
  attestations: true,
  platforms: { amd64: { entrypoint: ['/bin/notify'], cmd: ['--quiet'] }, 'arm64/v8': { entrypoint: ['/bin/notify-arm64'] } },
};

const registry = registryStandIns();

const calls = (r: RegistryStandIn, from = 0): string[] => r.requests.slice(from).map((q) => `${q.method} ${q.path}`);
const manifestGets = (r: RegistryStandIn, from = 0): string[] => calls(r, from).filter((c) => c.startsWith('GET /v2/') && c.includes('/manifests/'));

/** Records every log line, to assert what the lookup said. */
function logRecorder(): { lines: Array<{ message: string; fields: Record<string, unknown> }>; log: (message: string, fields?: Record<string, unknown>) => void } {
  const lines: Array<{ message: string; fields: Record<string, unknown> }> = [];
  return { lines, log: (message, fields = {}) => lines.push({ message, fields }) };
}

describe('a cold lookup with a warm store', () => {
  it('costs one HEAD (and its token), no manifest GET, and gives the same answer', async () => {
    const reg = await registry({ auth: 'bearer' });
    const published = reg.publish(NOTIFY);
    const image = `${reg.host}/plugins/notify:2`;
    const store = new MemoryImageCommandStore();

    const first = await createImageCommandLookup({ ...FAST, store })(image, 'amd64');
    expect(first).toEqual({ ok: true, entrypoint: ['/bin/notify'], cmd: ['--quiet'], digest: published.manifests.amd64 });
    expect(manifestGets(reg)).toEqual([`GET /v2/plugins/notify/manifests/${published.tagDigest}`, `GET /v2/plugins/notify/manifests/${published.manifests.amd64}`]);
    // Stored under the digest the tag pointed at, not the tag.
    expect([...store.entries.keys()]).toEqual([`${reg.host}/plugins/notify@${published.tagDigest}|amd64`]);

    const before = reg.requests.length;
    const cold = createImageCommandLookup({ ...FAST, store });
    expect(await cold(image, 'amd64')).toEqual(first);
    expect(calls(reg, before).map((c) => c.replace(/\?.*$/, ''))).toEqual([
      'HEAD /v2/plugins/notify/manifests/2',
      'GET /token',
      'HEAD /v2/plugins/notify/manifests/2',
    ]);
    expect(reg.requests.at(-1)!.authorization).toMatch(/^Bearer /);

    // Warm memory: nothing at all.
    const warm = reg.requests.length;
    expect(await cold(image, 'amd64')).toEqual(first);
    expect(reg.requests).toHaveLength(warm);
  });

  it('asks nothing for a digest-pinned reference already stored, and never HEADs one', async () => {
    const reg = await registry();
    const published = reg.publish(NOTIFY);
    const pinned = `${reg.host}/plugins/notify@${published.tagDigest}`;
    const store = new MemoryImageCommandStore();

    expect(await createImageCommandLookup({ ...FAST, store })(pinned, 'arm64')).toMatchObject({ ok: true, entrypoint: ['/bin/notify-arm64'], cmd: null });
    expect(reg.requests.some((q) => q.method === 'HEAD')).toBe(false);
    const before = reg.requests.length;
    expect(await createImageCommandLookup({ ...FAST, store })(pinned, 'arm64')).toMatchObject({ ok: true, entrypoint: ['/bin/notify-arm64'] });
    expect(reg.requests).toHaveLength(before);
  });

  it('shares one stored answer between the tag and its pinned digest', async () => {
    const reg = await registry();
    const published = reg.publish(NOTIFY);
    const store = new MemoryImageCommandStore();
    await createImageCommandLookup({ ...FAST, store })(`${reg.host}/plugins/notify:2`, 'amd64');
    const before = reg.requests.length;
    expect(await createImageCommandLookup({ ...FAST, store })(`${reg.host}/plugins/notify:2@${published.tagDigest}`, 'amd64')).toMatchObject({
      ok: true,
      entrypoint: ['/bin/notify'],
    });
    expect(reg.requests).toHaveLength(before);
  });

  it('sees a moved tag: a new digest is a new answer, the old digest keeps its own', async () => {
    const reg = await registry();
    const image = `${reg.host}/plugins/notify:2`;
    const store = new MemoryImageCommandStore();
    let now = 0;
    const warm = createImageCommandLookup({ ...FAST, store, cacheOptions: { ttlMs: 60_000, now: () => now } });
    const old = reg.publish(NOTIFY);
    expect(await warm(image, 'amd64')).toMatchObject({ ok: true, entrypoint: ['/bin/notify'] });

    const moved = reg.publish({ ...NOTIFY, platforms: { amd64: { entrypoint: ['/bin/notify-v2'], cmd: null } } });
    expect(moved.tagDigest).not.toBe(old.tagDigest);
    // A cold lookup HEADs, finds the new digest unknown to the store, and reads it.
    const before = reg.requests.length;
    expect(await createImageCommandLookup({ ...FAST, store })(image, 'amd64')).toEqual({ ok: true, entrypoint: ['/bin/notify-v2'], cmd: null, digest: moved.manifests.amd64 });
    expect(manifestGets(reg, before)).toEqual([`GET /v2/plugins/notify/manifests/${moved.tagDigest}`, `GET /v2/plugins/notify/manifests/${moved.manifests.amd64}`]);
    // The warm one keeps its answer for its memory's lifetime, then HEADs and follows.
    expect(await warm(image, 'amd64')).toMatchObject({ entrypoint: ['/bin/notify'] });
    now += 60_000;
    const beforeExpiry = reg.requests.length;
    expect(await warm(image, 'amd64')).toMatchObject({ entrypoint: ['/bin/notify-v2'] });
    expect(calls(reg, beforeExpiry)).toEqual(['HEAD /v2/plugins/notify/manifests/2']);
    expect(store.entries.size).toBe(2);
  });

  it('falls back to GET the tag when the registry omits Docker-Content-Digest, and keys by its content', async () => {
    const reg = await registry({ omitDigestHeader: true });
    const published = reg.publish(NOTIFY);
    const image = `${reg.host}/plugins/notify:2`;
    const store = new MemoryImageCommandStore();

    expect(await createImageCommandLookup({ ...FAST, store })(image, 'amd64')).toMatchObject({ ok: true, entrypoint: ['/bin/notify'], digest: published.manifests.amd64 });
    expect(calls(reg)).toEqual([
      'HEAD /v2/plugins/notify/manifests/2',
      'GET /v2/plugins/notify/manifests/2',
      `GET /v2/plugins/notify/manifests/${published.manifests.amd64}`,
      `GET /v2/plugins/notify/blobs/${published.configs.amd64}`,
    ]);
    expect([...store.entries.keys()]).toEqual([`${reg.host}/plugins/notify@${published.tagDigest}|amd64`]);

    // Cold again: the tag's GET is unavoidable, the rest comes from the store.
    const before = reg.requests.length;
    expect(await createImageCommandLookup({ ...FAST, store })(image, 'amd64')).toMatchObject({ ok: true, entrypoint: ['/bin/notify'] });
    expect(calls(reg, before)).toEqual(['HEAD /v2/plugins/notify/manifests/2', 'GET /v2/plugins/notify/manifests/2']);
  });

  it('never stores a failure', async () => {
    const reg = await registry();
    const store = new MemoryImageCommandStore();
    reg.publish({ name: 'plugins/x86only', tag: '1', platforms: { amd64: { entrypoint: ['/x'] } } });
    expect(await createImageCommandLookup({ ...FAST, store })(`${reg.host}/plugins/x86only:1`, 'arm64')).toMatchObject({ ok: false, transient: false });
    expect(await createImageCommandLookup({ ...FAST, store })(`${reg.host}/plugins/missing:1`, 'amd64')).toMatchObject({ ok: false });
    expect(store.entries.size).toBe(0);
  });
});

describe('a store that fails', () => {
  class FailingStore implements ImageCommandStore {
    puts = 0;
    constructor(private readonly failing: { get?: boolean; put?: boolean }) {}
    async get(_key: ImageCommandKey): Promise<StoredImageCommand | undefined> {
      if (this.failing.get) throw new Error('ProvisionedThroughputExceededException: rate of requests exceeds the allowed throughput');
      return undefined;
    }
    async put(_key: ImageCommandKey, _value: StoredImageCommand): Promise<void> {
      this.puts++;
      if (this.failing.put) throw new Error('AccessDeniedException: not authorized to perform dynamodb:PutItem');
    }
  }

  it('does not fail the lookup when it cannot read, and the log says why', async () => {
    const reg = await registry();
    const published = reg.publish(NOTIFY);
    const { lines, log } = logRecorder();
    const store = new FailingStore({ get: true });
    const result = await createImageCommandLookup({ ...FAST, store, log })(`${reg.host}/plugins/notify:2`, 'amd64');
    expect(result).toMatchObject({ ok: true, entrypoint: ['/bin/notify'] });
    expect(lines).toEqual([
      {
        message: 'image command store read failed; asking the registry',
        fields: {
          image: `${reg.host}/plugins/notify:2`,
          repository: `${reg.host}/plugins/notify`,
          digest: published.tagDigest,
          arch: 'amd64',
          error: 'Error: ProvisionedThroughputExceededException: rate of requests exceeds the allowed throughput',
        },
      },
    ]);
    // It still tries to keep the answer for the next cold lookup.
    expect(store.puts).toBe(1);
  });

  it('does not fail the lookup when it cannot write, and the log says so', async () => {
    const reg = await registry();
    reg.publish(NOTIFY);
    const { lines, log } = logRecorder();
    const result = await createImageCommandLookup({ ...FAST, store: new FailingStore({ put: true }), log })(`${reg.host}/plugins/notify:2`, 'arm64');
    expect(result).toMatchObject({ ok: true, entrypoint: ['/bin/notify-arm64'] });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.message).toContain('image command store write failed');
    expect(lines[0]!.fields.error).toBe('Error: AccessDeniedException: not authorized to perform dynamodb:PutItem');
  });
});

describe('registry credentials from a source', () => {
  const creds = { username: 'ci-bot', password: 'hub-token' };

  it('reads the source only when the registry asks, and sends its login to the token endpoint', async () => {
    const reg = await registry({ auth: 'bearer', credentials: creds });
    reg.publish(NOTIFY);
    let reads = 0;
    const lookup = createImageCommandLookup({
      ...FAST,
      credentials: async () => {
        reads++;
        return { [reg.host]: creds, 'ghcr.io': { username: 'other', password: 'other' } };
      },
    });
    expect(await lookup(`${reg.host}/plugins/notify:2`, 'amd64')).toMatchObject({ ok: true, entrypoint: ['/bin/notify'] });
    expect(reads).toBe(1);
    const tokenRequests = reg.requests.filter((q) => q.path.startsWith('/token'));
    expect(tokenRequests.map((q) => q.authorization)).toEqual([`Basic ${Buffer.from('ci-bot:hub-token').toString('base64')}`]);

    const open = await registry();
    const published = open.publish(NOTIFY);
    await lookup(`${open.host}/plugins/notify@${published.tagDigest}`, 'amd64');
    expect(reads).toBe(1);
  });

  it('fails as transient, saying why, when the source cannot be read', async () => {
    const reg = await registry({ auth: 'bearer', credentials: creds });
    reg.publish(NOTIFY);
    const lookup = createImageCommandLookup({
      ...FAST,
      credentials: async () => {
        throw new Error('config: the SCM credentials secret is not JSON: Unexpected token');
      },
    });
    expect(await lookup(`${reg.host}/plugins/notify:2`, 'amd64')).toEqual({
      ok: false,
      error: `image "${reg.host}/plugins/notify:2": could not read the registry credentials for ${reg.host} (Error: config: the SCM credentials secret is not JSON: Unexpected token); try again later`,
      transient: true,
    });
    expect(reg.requests.some((q) => q.path.startsWith('/token'))).toBe(false);
  });
});
