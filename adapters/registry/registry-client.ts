// Asks an image's registry (OCI Distribution API) for the ENTRYPOINT and CMD the image runs
// on linux/<arch>: tag → index → platform manifest → config blob. HTTP goes through an
// injected `fetch` so tests drive it against a real local registry.
//
// Docker Hub counts every manifest GET as a pull (anonymous limits are low, and Lambda
// egress addresses are shared) but not a HEAD. So a tag is first resolved to its digest by a
// HEAD, and everything after is keyed by that digest: an answer already in the persistent
// store costs that one HEAD; a digest-pinned reference costs nothing once stored.

import { createHash } from 'node:crypto';
import { parseChallenge } from '../../core/images/challenge.js';
import { ImageCommandCache, type ImageCommandCacheOptions } from '../../core/images/command-cache.js';
import { MANIFEST_ACCEPT, parseImageConfig, parseManifest, platformName, selectPlatform } from '../../core/images/manifest.js';
import { isDigest, parseImageReference } from '../../core/images/reference.js';
import type { ImageCommandKey, ImageCommandStore } from '../../core/images/command-store.js';
import type {
  Fetch,
  Arch,
  ImageCommandLookup,
  ImageCommandResult,
  ImageRef,
  LookupLog,
  RegistryCredentials,
  RegistryCredentialsByRegistry,
} from '../../core/images/types.js';

type Success = Extract<ImageCommandResult, { ok: true }>;

export interface ImageLookupBaseOptions {
  fetch?: Fetch;
  /**
   * Keyed by registry as written in image names (`docker.io`, `ghcr.io`, `localhost:5000`).
   * A function is called only when a registry asks for authentication (a secret that may
   * rotate is read then, through its own cache), with the registry asking, so a source such
   * as ECR can mint credentials for it; if it throws, the lookup fails as transient.
   */
  credentials?: RegistryCredentialsByRegistry | ((registry: string) => Promise<RegistryCredentialsByRegistry>);
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

/** A lookup that cannot finish; becomes the `{ ok: false }` result. */
class LookupFailure extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'LookupFailure';
  }
}

interface Fetched {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** One lookup's connection state: the Authorization earned once is reused for every later request. */
interface Session {
  ref: ImageRef;
  base: string;
  credentialSource?: ImageLookupOptions['credentials'];
  /** Set by `authenticate` from `credentialSource`, for this image's registry. */
  credentials?: RegistryCredentials;
  authorization?: string;
  authenticated: boolean;
  /** Aborts when the lookup's deadline passes: every request and back-off of it stops. */
  deadline: AbortSignal;
  opts: Required<Omit<ImageLookupBaseOptions, 'credentials' | 'cache' | 'deadlineMs'>>;
}

type Method = 'GET' | 'HEAD';

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

function deadlineFailure(ref: ImageRef, deadlineMs: number): LookupFailure {
  const within = deadlineMs % 1000 === 0 ? `${deadlineMs / 1000} s` : `${deadlineMs} ms`;
  return new LookupFailure(`image "${ref.original}": the registry did not answer within ${within} (${ref.host}, all requests and retries of one lookup); try again later`, true);
}

/** The deadline's failure once it has passed: whatever a request was doing, this is the answer. */
function checkDeadline(session: Session): void {
  if (session.deadline.aborted) throw session.deadline.reason as LookupFailure;
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

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
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

/** A GET that earns its authorization on the first 401 and turns every non-2xx into a LookupFailure. */
async function get(session: Session, url: string, accept: string, what: string): Promise<Fetched> {
  const res = await request(session, 'GET', url, accept);
  if (res.status >= 200 && res.status < 300) return res;
  throw refusal(session, res, what);
}

/** A request that earns its authorization on the session's first 401; the answer as it came. */
async function request(session: Session, method: Method, url: string, accept: string): Promise<Fetched> {
  let res = await send(session, url, accept, { method });
  if (res.status === 401 && !session.authenticated) {
    await authenticate(session, res.headers.get('www-authenticate'));
    res = await send(session, url, accept, { method });
  }
  return res;
}

function refusal(session: Session, res: Fetched, what: string): LookupFailure {
  const { ref } = session;
  const prefix = `image "${ref.original}": `;
  const host = ref.host;
  const codes = registryErrors(res.body);
  if (res.status === 404) return new LookupFailure(`${prefix}not found in registry ${host} (${codes || `${what} unknown`}); check the name and tag`, false);
  if (res.status === 401 && !session.credentials) {
    return new LookupFailure(`${prefix}registry ${host} requires credentials (or the repository does not exist); add credentials for ${ref.domain}`, false);
  }
  if (res.status === 401 || res.status === 403) {
    const given = session.credentials ? 'the credentials given for it' : 'anonymous access';
    return new LookupFailure(`${prefix}registry ${host} refused ${given} (${res.status}${codes ? ` ${codes}` : ''}); check that they may pull ${ref.repository}`, false);
  }
  return new LookupFailure(`${prefix}registry ${host} answered ${res.status} for ${what}${codes ? ` (${codes})` : ''}`, false);
}

/** `CODE: message` of the registry's `{"errors":[…]}` body, or '' when it has none. */
function registryErrors(body: Buffer): string {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    if (!Array.isArray(doc.errors)) return '';
    return doc.errors
      .map((e) => [e.code, e.message].filter((x) => typeof x === 'string').join(': '))
      .filter(Boolean)
      .join('; ')
      .slice(0, 300);
  } catch (err) {
    if (err instanceof SyntaxError) return ''; // Not the registry's JSON error shape (an HTML page from a proxy).
    throw err;
  }
}

/** The credentials for this image's registry, read from the source only now that they are needed. */
async function loadCredentials(session: Session): Promise<RegistryCredentials | undefined> {
  const { ref, credentialSource: source } = session;
  if (source === undefined) return undefined;
  let all: RegistryCredentialsByRegistry;
  try {
    all = typeof source === 'function' ? await source(ref.domain) : source;
  } catch (err) {
    throw new LookupFailure(`image "${ref.original}": could not read the registry credentials for ${ref.domain} (${errorText(err)}); try again later`, true);
  }
  return all[ref.domain] ?? all[ref.host];
}

async function authenticate(session: Session, header: string | null): Promise<void> {
  session.authenticated = true;
  const loaded = await loadCredentials(session);
  if (loaded) session.credentials = loaded;
  const { ref, credentials } = session;
  const prefix = `image "${ref.original}": registry ${ref.host}`;
  const challenge = parseChallenge(header);
  const basic = credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` : undefined;

  if (challenge?.scheme === 'basic') {
    if (!basic) throw new LookupFailure(`${prefix} requires credentials; add credentials for ${ref.domain}`, false);
    if (!mayCarryCredentials(new URL(session.base))) {
      throw new LookupFailure(`${prefix} asks for Basic credentials over plain http; they are sent only over https (or http to this machine)`, false);
    }
    session.authorization = basic;
    return;
  }
  if (challenge?.scheme !== 'bearer') {
    throw new LookupFailure(`${prefix} answered 401 with ${challenge ? `an unsupported "${challenge.name}"` : 'no usable'} challenge; expected Bearer or Basic`, false);
  }
  let tokenUrl: URL;
  try {
    tokenUrl = new URL(challenge.realm);
  } catch (err) {
    throw new LookupFailure(`${prefix} named an invalid token realm "${challenge.realm.slice(0, 200)}" (${(err as Error).message})`, false);
  }
  if (tokenUrl.protocol !== 'https:' && tokenUrl.protocol !== 'http:') {
    throw new LookupFailure(`${prefix} named a token realm that is not http(s): ${tokenUrl.protocol}`, false);
  }
  if (challenge.service !== undefined) tokenUrl.searchParams.set('service', challenge.service);
  tokenUrl.searchParams.set('scope', challenge.scope ?? `repository:${ref.repository}:pull`);

  // A realm is whatever the registry names: credentials must not cross the network in clear.
  const withheld = basic !== undefined && !mayCarryCredentials(tokenUrl);
  const res = await send(session, tokenUrl.toString(), 'application/json', { authorization: withheld ? null : (basic ?? null) });
  if (res.status === 401 || res.status === 403) {
    throw new LookupFailure(
      withheld
        ? `${prefix}: its token service ${tokenUrl.origin} is plain http, so the credentials for ${ref.domain} were not sent and it refused an anonymous token (${res.status}); the token service must use https`
        : basic
          ? `${prefix}: its token service refused the credentials given for ${ref.domain} (${res.status})`
          : `${prefix} requires credentials to pull ${ref.repository}; add credentials for ${ref.domain}`,
      false,
    );
  }
  if (res.status < 200 || res.status >= 300) throw new LookupFailure(`${prefix}: its token service answered ${res.status}`, false);
  let token: unknown;
  try {
    const doc = JSON.parse(res.body.toString('utf8')) as { token?: unknown; access_token?: unknown };
    token = doc.token ?? doc.access_token;
  } catch (err) {
    throw new LookupFailure(`${prefix}: its token service answered with malformed JSON (${(err as Error).message})`, false);
  }
  if (typeof token !== 'string' || token.length === 0) throw new LookupFailure(`${prefix}: its token service answered without a token`, false);
  session.authorization = `Bearer ${token}`;
}

/**
 * One request with the transient failures retried: network errors, timeouts, 429 and 5xx.
 * `authorization` overrides the session's (the token request carries Basic, or null: nothing).
 * A HEAD's answer has an empty body.
 */
async function send(
  session: Session,
  url: string,
  accept: string,
  { method = 'GET', authorization }: { method?: Method; authorization?: string | null } = {},
): Promise<Fetched> {
  const { opts, ref } = session;
  const headers: Record<string, string> = { accept };
  const sent = authorization === undefined ? session.authorization : authorization;
  if (sent) headers.authorization = sent;
  let problem = '';
  for (let attempt = 0; attempt <= opts.retries; attempt++) {
    if (attempt > 0) await sleep(opts.backoffMs * 2 ** (attempt - 1), session.deadline);
    checkDeadline(session);
    const signal = AbortSignal.any([AbortSignal.timeout(opts.timeoutMs), session.deadline]);
    let res: Response;
    try {
      res = await opts.fetch(url, { method, headers, redirect: 'follow', signal });
    } catch (err) {
      checkDeadline(session);
      problem = describeNetworkError(err, opts.timeoutMs);
      continue;
    }
    if (res.status === 429 || res.status >= 500) {
      problem = `answered ${res.status}`;
      await res.body?.cancel();
      continue;
    }
    if (method === 'HEAD') {
      await res.body?.cancel();
      return { status: res.status, headers: res.headers, body: Buffer.alloc(0) };
    }
    try {
      return { status: res.status, headers: res.headers, body: await readLimited(res, opts.maxResponseBytes, ref, url) };
    } catch (err) {
      if (err instanceof LookupFailure) throw err;
      checkDeadline(session);
      problem = describeNetworkError(err, opts.timeoutMs);
    }
  }
  const attempts = opts.retries + 1;
  throw new LookupFailure(`image "${ref.original}": registry ${new URL(url).host} ${problem} (${attempts} attempt${attempts > 1 ? 's' : ''}); try again later`, true);
}

/** The body, refused as soon as it passes `max` bytes, whatever Content-Length claims. */
async function readLimited(res: Response, max: number, ref: ImageRef, url: string): Promise<Buffer> {
  const tooLarge = (): LookupFailure =>
    new LookupFailure(`image "${ref.original}": registry ${ref.host} sent more than ${max} bytes for ${new URL(url).pathname}; refused`, false);
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel();
    throw tooLarge();
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `did not answer within ${timeoutMs} ms`;
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : '';
  return `could not be reached (${err instanceof Error ? err.message : String(err)}${cause ? `: ${cause}` : ''})`;
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

/** Resolves after `ms`, or as soon as `signal` aborts (the caller then checks why). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Credentials go only over https, or over http to this machine (a loopback registry, as
 * Docker allows): a token realm on another host over plain http would expose them.
 */
function mayCarryCredentials(url: URL): boolean {
  if (url.protocol === 'https:') return true;
  if (url.protocol !== 'http:') return false;
  const host = url.hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
