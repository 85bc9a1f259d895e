// Registry requests per plugin image lookup, by cache state, against the registry stand-in
// with Docker Hub's token flow (bearer): a manifest GET is what Docker Hub counts as a pull,
// a HEAD is not. States: cold (empty store), warm memory (same planner container), warm
// store (a new container sharing the store: a cold Lambda), pinned digest in the store, and
// a registry that omits Docker-Content-Digest (the GET fallback).

import { createImageCommandLookup } from '../adapters/registry/registry-client.js';
import { MemoryImageCommandStore } from '../core/images/command-store.js';
import { startRegistryStandIn, type RegistryStandIn } from '../test/support/registry-stand-in.js';

interface Row {
  state: string;
  requests: number;
  heads: number;
  manifestGets: number;
  blobGets: number;
  tokens: number;
  ms: number;
}

async function measure(reg: RegistryStandIn, state: string, run: () => Promise<unknown>): Promise<Row> {
  const from = reg.requests.length;
  const start = performance.now();
  const result = (await run()) as { ok: boolean; error?: string };
  const ms = performance.now() - start;
  if (!result.ok) throw new Error(`bench: ${state}: ${result.error}`);
  const asked = reg.requests.slice(from);
  const v2 = (method: string, kind: string) => asked.filter((q) => q.method === method && q.path.startsWith('/v2/') && q.path.includes(kind)).length;
  return {
    state,
    requests: asked.length,
    heads: v2('HEAD', '/manifests/'),
    manifestGets: v2('GET', '/manifests/'),
    blobGets: v2('GET', '/blobs/'),
    tokens: asked.filter((q) => q.path.startsWith('/token')).length,
    ms: Math.round(ms * 10) / 10,
  };
}

/** The in-memory store does not fail; a failure would skew the figures, so it stops the bench. */
const storeFailed = (message: string, fields: Record<string, unknown> = {}): never => {
  throw new Error(`bench: ${message} ${JSON.stringify(fields)}`);
};

async function scenario(omitDigestHeader: boolean): Promise<Row[]> {
  const reg = await startRegistryStandIn({ auth: 'bearer', omitDigestHeader });
  try {
    const published = reg.publish({ name: 'plugins/s3', tag: '1', attestations: true, platforms: { amd64: { entrypoint: ['/bin/drone-s3'] }, 'arm64/v8': { entrypoint: ['/bin/drone-s3'] } } });
    const image = `${reg.host}/plugins/s3:1`;
    const store = new MemoryImageCommandStore();
    const suffix = omitDigestHeader ? ' (no digest header)' : '';
    const warm = createImageCommandLookup({ store, log: storeFailed });
    const rows = [
      await measure(reg, `cold${suffix}`, () => warm(image, 'amd64')),
      await measure(reg, `warm memory${suffix}`, () => warm(image, 'amd64')),
      await measure(reg, `warm store, new container${suffix}`, () => createImageCommandLookup({ store, log: storeFailed })(image, 'amd64')),
    ];
    if (!omitDigestHeader) {
      rows.push(await measure(reg, 'pinned digest, warm store', () => createImageCommandLookup({ store, log: storeFailed })(`${reg.host}/plugins/s3@${published.tagDigest}`, 'amd64')));
    }
    return rows;
  } finally {
    await reg.stop();
  }
}

const rows = [...(await scenario(false)), ...(await scenario(true))];
console.log('image lookup: registry requests per lookup (bearer auth; manifest GETs count as Docker Hub pulls)');
console.table(rows);
