// Asks an image's registry (OCI Distribution API) for the ENTRYPOINT and CMD the image runs
// on linux/<arch>: tag → index → platform manifest → config blob. HTTP goes through an
// injected `fetch` so tests drive it against a real local registry. The conversation's
// parts live beside it: session.ts (its state), auth.ts (earning the authorization),
// http.ts (requests with timeouts, retries and a size limit).
//
// Docker Hub counts every manifest GET as a pull (anonymous limits are low, and Lambda
// egress addresses are shared) but not a HEAD. So a tag is first resolved to its digest by a
// HEAD, and everything after is keyed by that digest: an answer already in the persistent
// store costs that one HEAD; a digest-pinned reference costs nothing once stored.

import { createHash } from 'node:crypto';
import { ImageCommandCache, type ImageCommandCacheOptions } from '../../core/images/command-cache.js';
import { MANIFEST_ACCEPT, parseImageConfig, parseManifest, platformName, selectPlatform } from '../../core/images/manifest.js';
import { isDigest, parseImageReference } from '../../core/images/reference.js';
import type { ImageCommandKey, ImageCommandStore } from '../../core/images/command-store.js';
import type { Arch, Fetch, ImageCommandLookup, ImageCommandResult, ImageRef, LookupLog } from '../../core/images/types.js';
import { get, refusal, request } from './auth.js';
import { LookupFailure, deadlineFailure, errorText, type CredentialSource, type Fetched, type Session } from './session.js';

type Success = Extract<ImageCommandResult, { ok: true }>;

export interface ImageLookupBaseOptions {
  fetch?: Fetch;
  /**
   * Keyed by registry as written in image names (`docker.io`, `ghcr.io`, `localhost:5000`).
   * A function is called only when a registry asks for authentication (a secret that may
   * rotate is read then, through its own cache), with the registry asking, so a source such
   * as ECR can mint credentials for it; if it throws, the lookup fails as transient.
   */
  credentials?: CredentialSource;
  /** Per request, default 5 s. */
  timeoutMs?: number;
  /**
   * For the whole lookup (every request, retry and back-off, credentials and store
   * included), default 15 s: a flaky registry must not hold the planner's batch past its
   * own timeout. Past it the lookup fails as transient.
   */
  deadlineMs?: number;
  /** Extra attempts after a transient failure (network, timeout, 429, 5xx); default 2. */
  retries?: number;
  /** First back-off, doubled on each retry; default 250 ms. */
  backoffMs?: number;
  /** Largest response body read, default 4 MiB: a hostile registry must not exhaust memory. */
  maxResponseBytes?: number;
  /** Successful lookups are kept here; none when absent. */
  cache?: ImageCommandCache;
}

/**
 * Answers by digest that outlive the process, with where a failing store is reported (the
 * caller's logger: core does no I/O of its own); a store that fails is logged and bypassed.
 */
export type ImageLookupStoreOptions = { store?: undefined; log?: LookupLog } | { store: ImageCommandStore; log: LookupLog };

export type ImageLookupOptions = ImageLookupBaseOptions & ImageLookupStoreOptions;

const DEFAULTS = { timeoutMs: 5_000, deadlineMs: 15_000, retries: 2, backoffMs: 250, maxResponseBytes: 4 * 1024 * 1024 };

/** An index may point at another index; deeper nesting is refused rather than followed. */
const MAX_MANIFEST_HOPS = 3;


/**
 * The planner's dependency: one function bound to a fetch, credentials and a cache.
 * Concurrent lookups of the same image and architecture share one registry conversation.
 */
export function createImageCommandLookup(options: ImageLookupOptions & { cacheOptions?: ImageCommandCacheOptions } = {}): ImageCommandLookup {
  const { cacheOptions, ...lookupOptions } = options;
  const cache = lookupOptions.cache ?? new ImageCommandCache(cacheOptions);
  const inFlight = new Map<string, Promise<ImageCommandResult>>();
  return (image, arch) => {
    const parsed = parseImageReference(image);
    if (!parsed.ok) return Promise.resolve({ ok: false, error: parsed.error, transient: false });
    const key = cacheKey(parsed.ref, arch);
    const pending = inFlight.get(key);
    if (pending) return pending;
    const promise = lookupImageCommand(image, arch, { ...lookupOptions, cache }).finally(() => inFlight.delete(key));
    inFlight.set(key, promise);
    return promise;
  };
}

export async function lookupImageCommand(image: string, arch: Arch, options: ImageLookupOptions = {}): Promise<ImageCommandResult> {
  const parsed = parseImageReference(image);
  if (!parsed.ok) return { ok: false, error: parsed.error, transient: false };
  const ref = parsed.ref;
  const key = cacheKey(ref, arch);
  const cached = options.cache?.get(key);
  if (cached) return cached;

  const deadlineMs = options.deadlineMs ?? DEFAULTS.deadlineMs;
  const controller = new AbortController();
  const session: Session = {
    ref,
    base: `${ref.scheme}://${ref.host}/v2/${ref.repository}`,
    ...(options.credentials ? { credentialSource: options.credentials } : {}),
    authenticated: false,
    deadline: controller.signal,
    opts: {
      fetch: options.fetch ?? globalThis.fetch,
      timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
      retries: options.retries ?? DEFAULTS.retries,
      backoffMs: options.backoffMs ?? DEFAULTS.backoffMs,
      maxResponseBytes: options.maxResponseBytes ?? DEFAULTS.maxResponseBytes,
    },
  };
  // The requests stop through the signal; the race also bounds what the signal cannot
  // reach (a credentials source or a store that hangs), which then finishes unobserved.
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const failure = deadlineFailure(ref, deadlineMs);
      controller.abort(failure);
      reject(failure);
    }, deadlineMs);
  });
  try {
    const result = await Promise.race([resolveByDigest(session, arch, options), expired]);
    options.cache?.set(key, result);
    return result;
  } catch (err) {
    if (err instanceof LookupFailure) return { ok: false, error: err.message, transient: err.transient };
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** A digest-pinned reference's key equals `digestKey` of its digest: one entry for both. */
function cacheKey(ref: ImageRef, arch: Arch): string {
  return `${ref.canonical}|${arch}`;
}

function digestKey(key: ImageCommandKey): string {
  return `${key.repository}@${key.digest}|${key.arch}`;
}

/**
 * Tag → digest (HEAD, or nothing when pinned), then the answer for that digest from memory,
 * from the store, or from the registry (then kept in both).
 */
async function resolveByDigest(session: Session, arch: Arch, options: ImageLookupOptions): Promise<Success> {
  const { ref } = session;
  let digest = ref.digest ?? (await headDigest(session));
  // The registry did not name the digest: GET the tag as before, and key by its content.
  let tagManifest: Fetched | undefined;
  if (digest === undefined) {
    tagManifest = await get(session, `${session.base}/manifests/${ref.reference}`, MANIFEST_ACCEPT, `manifest ${ref.reference}`);
    digest = sha256(tagManifest.body);
  }
  const key: ImageCommandKey = { repository: `${ref.domain}/${ref.repository}`, digest, arch };
  const remembered = options.cache?.get(digestKey(key)) ?? (await readStore(options, key, ref));
  if (remembered) {
    options.cache?.set(digestKey(key), remembered);
    return remembered;
  }
  const result = await resolveCommand(session, arch, digest, tagManifest);
  options.cache?.set(digestKey(key), result);
  await writeStore(options, key, result, ref);
  return result;
}

async function readStore(options: ImageLookupOptions, key: ImageCommandKey, ref: ImageRef): Promise<Success | undefined> {
  if (!options.store) return undefined;
  try {
    const stored = await options.store.get(key);
    return stored ? { ok: true, entrypoint: stored.entrypoint, cmd: stored.cmd, digest: stored.digest } : undefined;
  } catch (err) {
    options.log('image command store read failed; asking the registry', { image: ref.original, ...key, error: errorText(err) });
    return undefined;
  }
}

async function writeStore(options: ImageLookupOptions, key: ImageCommandKey, result: Success, ref: ImageRef): Promise<void> {
  if (!options.store) return;
  try {
    await options.store.put(key, { entrypoint: result.entrypoint, cmd: result.cmd, digest: result.digest });
  } catch (err) {
    options.log('image command store write failed; a cold lookup of this digest will ask the registry again', {
      image: ref.original,
      ...key,
      error: errorText(err),
    });
  }
}

/**
 * The tag's digest from `Docker-Content-Digest` of a HEAD. Undefined when the registry does
 * not say, or refuses the HEAD in a way its GET explains better (the GET's error body).
 */
async function headDigest(session: Session): Promise<string | undefined> {
  const { ref } = session;
  const what = `manifest ${ref.reference}`;
  const res = await request(session, 'HEAD', `${session.base}/manifests/${ref.reference}`, MANIFEST_ACCEPT);
  // An unknown tag is unknown to a GET too, and a GET may count as a pull.
  if (res.status === 404) throw refusal(session, res, what);
  if (res.status < 200 || res.status >= 300) return undefined;
  const digest = res.headers.get('docker-content-digest')?.trim();
  return digest !== undefined && isDigest(digest) ? digest : undefined;
}

/**
 * Digest → index → platform manifest → config. `tagManifest`: the document at `digest`
 * when it was already fetched (by tag) to learn the digest.
 */
async function resolveCommand(session: Session, arch: Arch, digest: string, tagManifest?: Fetched): Promise<Success> {
  const { ref } = session;
  const fail = (detail: string): LookupFailure => new LookupFailure(`image "${ref.original}": ${detail}`, false);

  let reference = digest;
  let expectedDigest = digest;
  let prefetched = tagManifest;
  let viaIndex = false;
  for (let hop = 0; hop < MAX_MANIFEST_HOPS; hop++) {
    const res = prefetched ?? (await get(session, `${session.base}/manifests/${reference}`, MANIFEST_ACCEPT, `manifest ${reference}`));
    prefetched = undefined;
    const digest = verifyDigest(res.body, expectedDigest, `manifest ${expectedDigest}`, fail);
    const manifest = parseManifest(res.headers.get('content-type'), res.body.toString('utf8'));
    if (!manifest.ok) throw fail(manifest.error);
    if (manifest.kind === 'index') {
      const entry = selectPlatform(manifest.entries, arch);
      if (!entry.ok) throw fail(entry.error);
      if (!isDigest(entry.value.digest)) throw fail(`the index lists ${platformName(entry.value)} with an unusable digest "${entry.value.digest.slice(0, 80)}"`);
      reference = expectedDigest = entry.value.digest;
      viaIndex = true;
      continue;
    }
    if (!isDigest(manifest.configDigest)) throw fail(`the manifest names an unusable config digest "${manifest.configDigest.slice(0, 80)}"`);
    const blob = await get(session, `${session.base}/blobs/${manifest.configDigest}`, '*/*', `config blob ${manifest.configDigest}`);
    verifyDigest(blob.body, manifest.configDigest, `config blob ${manifest.configDigest}`, fail);
    const config = parseImageConfig(blob.body.toString('utf8'));
    if (!config.ok) throw fail(config.error);
    // Without an index nothing said which platform this is; the config does.
    const built = config.value;
    if (!viaIndex && built.architecture !== undefined && (built.architecture !== arch || (built.os ?? 'linux') !== 'linux')) {
      const has = platformName({ os: built.os ?? 'unknown', architecture: built.architecture, ...(built.variant ? { variant: built.variant } : {}) });
      throw fail(`no manifest for linux/${arch} (the image has ${has} only)`);
    }
    return { ok: true, entrypoint: built.entrypoint, cmd: built.cmd, digest };
  }
  throw fail(`more than ${MAX_MANIFEST_HOPS - 1} nested image indexes; expected an index of image manifests`);
}

function verifyDigest(body: Buffer, digest: string, what: string, fail: (detail: string) => LookupFailure): string {
  const [algorithm = '', expected] = digest.split(':');
  const actual = createHash(algorithm).update(body).digest('hex');
  if (actual !== expected) throw fail(`${what} does not match its digest (content is ${algorithm}:${actual}); the registry or a proxy altered it`);
  return digest;
}

function sha256(body: Buffer): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}
