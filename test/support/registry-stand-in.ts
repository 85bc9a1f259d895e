// A container registry on loopback that speaks the slice of the OCI Distribution API an
// image lookup uses, with real JSON documents and real sha256 digests:
//
//   GET /v2/                               ping (401 + challenge when auth is on)
//   GET /token?service=&scope=             Bearer tokens (anonymous, or Basic-authenticated)
//   GET /v2/<name>/manifests/<tag|digest>  index / manifest list, per-platform manifests
//   HEAD /v2/<name>/manifests/<tag|digest> the same headers (Docker-Content-Digest) and no body
//   GET /v2/<name>/blobs/<digest>          config blobs (optionally via a redirect)
//
// Images are declared by platform (`amd64`, `arm64/v8`, `arm/v7`) with their ENTRYPOINT and
// CMD; the stand-in builds the documents. Switches make it fail, stall, tamper or bloat,
// and every request is logged so tests can assert the auth dance and caching.

import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface StandInPlatform {
  /** Omitted: the config has no `Entrypoint` key; null: `"Entrypoint": null` as Docker writes it. */
  entrypoint?: string[] | null;
  cmd?: string[] | null;
  /** The config's `User` (a Dockerfile's USER); omitted: none, so the image runs as root. */
  user?: string;
}

export interface StandInImage {
  /** Repository path, e.g. `plugins/s3`. */
  name: string;
  tag: string;
  /** Keyed by `architecture` or `architecture/variant`: `amd64`, `arm64/v8`, `arm/v7`. */
  platforms: Record<string, StandInPlatform>;
  /** `oci` (default): OCI index; `docker`: manifest list + schema 2; `single`: the first platform's manifest, no index. */
  format?: 'oci' | 'docker' | 'single';
  /** Adds an `unknown/unknown` attestation manifest per platform, as buildx does. */
  attestations?: boolean;
}

export interface PublishedImage {
  /** Digest the tag points at (the index, or the manifest for `single`). */
  tagDigest: string;
  /** Per platform key: its image manifest digest and its config blob digest. */
  manifests: Record<string, string>;
  configs: Record<string, string>;
}

export interface RegistryStandInOptions {
  /** `anonymous` (default): no auth; `bearer`: Docker's token flow; `basic`: every request needs Basic credentials. */
  auth?: 'anonymous' | 'bearer' | 'basic';
  /** With `bearer`, the token endpoint requires them; with `basic`, every request does. */
  credentials?: { username: string; password: string };
  /** Blobs answer 307 to `/storage/<digest>`, as registries backed by object storage do. */
  redirectBlobs?: boolean;
  /** Manifests are served without `Docker-Content-Digest`, as some registries do (also settable later). */
  omitDigestHeader?: boolean;
  /** With `bearer`, the token realm the challenge names (default `<url>/token`), e.g. one on another host. */
  tokenRealm?: string;
  /** Another challenge offered after the registry's own in the same header, e.g. `Basic realm="Registry Realm"`. */
  extraChallenge?: string;
}

export interface RecordedRegistryRequest {
  method: string;
  /** Path and query. */
  path: string;
  authorization?: string;
}

export interface RegistryStandIn {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** `127.0.0.1:<port>`: image names are `${host}/name:tag`. */
  host: string;
  publish(image: StandInImage): PublishedImage;
  /**
   * The `User` of the config an image name leads to (`host/name:tag`: its amd64 config, or the
   * only one; `host/name@digest`: that manifest's), as a container runtime reads it when it pulls.
   */
  userOf(image: string): string | undefined;
  /** The next `count` requests (whose path includes `pathIncludes`, if given) answer `status`. */
  failNext(count: number, status?: number, pathIncludes?: string): void;
  /** Forgets every failure still pending from failNext: the registry answers again. */
  recover(): void;
  /** The next `count` requests get no answer until the stand-in stops. */
  stallNext(count: number): void;
  /** Serves `body` for this blob digest instead of its real content. */
  tamperBlob(digest: string, body: string): void;
  /** Requests whose path includes `pathIncludes` get this answer, streamed without Content-Length. */
  serveRaw(pathIncludes: string, answer: { status: number; contentType: string; body: string | Buffer }): void;
  /** Turns `Docker-Content-Digest` on manifest answers off (true) or back on. */
  omitDigestHeader(omit: boolean): void;
  requests: RecordedRegistryRequest[];
  stop(): Promise<void>;
}

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const SERVICE = 'registry.stand-in';

const digestOf = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export async function startRegistryStandIn(options: RegistryStandInOptions = {}): Promise<RegistryStandIn> {
  const auth = options.auth ?? 'anonymous';
  const manifests = new Map<string, { mediaType: string; body: Buffer }>(); // `${repo}@${digest}`
  const tags = new Map<string, string>(); // `${repo}:${tag}` → digest
  const blobs = new Map<string, Buffer>(); // `${repo}@${digest}`
  const users = new Map<string, string>(); // `${repo}@${manifest digest}` → the config's User
  const tampered = new Map<string, Buffer>();
  const tokens = new Map<string, string>(); // token → repository it may pull
  const raw: Array<{ pathIncludes: string; status: number; contentType: string; body: Buffer }> = [];
  const failures: Array<{ remaining: number; status: number; pathIncludes?: string }> = [];
  let stalls = 0;
  let omitDigest = options.omitDigestHeader ?? false;
  const requests: RecordedRegistryRequest[] = [];

  const basicOk = (req: IncomingMessage): boolean => {
    const c = options.credentials;
    if (!c) return false;
    return req.headers.authorization === `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
  };

  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push({ method: req.method ?? 'GET', path, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    if (stalls > 0) {
      stalls--;
      return; // Never answered; the socket is destroyed on stop().
    }
    const failure = failures.find((f) => f.remaining > 0 && (f.pathIncludes === undefined || path.includes(f.pathIncludes)));
    if (failure) {
      failure.remaining--;
      return sendErrors(res, failure.status, 'UNAVAILABLE', 'service unavailable');
    }
    const override = raw.find((r) => path.includes(r.pathIncludes));
    if (override) {
      res.writeHead(override.status, { 'content-type': override.contentType });
      // Streamed in chunks with no Content-Length: the reader must count what it receives.
      const chunk = 64 * 1024;
      for (let i = 0; i < override.body.length; i += chunk) res.write(override.body.subarray(i, i + chunk));
      return void res.end();
    }
    handle(req, res, new URL(path, 'http://stand-in'));
  });

  function handle(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (url.pathname === '/token') return token(req, res, url);
    if (url.pathname.startsWith('/storage/')) {
      const body = blobs.get(decodeURIComponent(url.pathname.slice('/storage/'.length)));
      return body ? send(res, 200, 'application/octet-stream', body) : sendErrors(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
    }
    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      if (!authorized(req, undefined)) return challenge(res, undefined);
      return send(res, 200, 'application/json', Buffer.from('{}'));
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    // Node's server sends a HEAD's headers (Content-Length included) and drops its body.
    if (!m || (req.method !== 'GET' && req.method !== 'HEAD')) return sendErrors(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
    const [, repo = '', kind, ref = ''] = m;
    if (!authorized(req, repo)) return challenge(res, repo);
    if (kind === 'manifests') {
      const digest = ref.startsWith('sha256:') ? ref : tags.get(`${repo}:${ref}`);
      const manifest = digest ? manifests.get(`${repo}@${digest}`) : undefined;
      if (!manifest || !digest) return sendErrors(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      return send(res, 200, manifest.mediaType, manifest.body, omitDigest ? {} : { 'docker-content-digest': digest });
    }
    const body = tampered.get(ref) ?? blobs.get(`${repo}@${ref}`);
    if (!body) return sendErrors(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
    if (options.redirectBlobs && !tampered.has(ref)) {
      res.writeHead(307, { location: `/storage/${encodeURIComponent(`${repo}@${ref}`)}` });
      return void res.end();
    }
    return send(res, 200, 'application/octet-stream', body, { 'docker-content-digest': ref });
  }

  function authorized(req: IncomingMessage, repo: string | undefined): boolean {
    if (auth === 'anonymous') return true;
    if (auth === 'basic') return basicOk(req);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!bearer) return false;
    const allowed = tokens.get(bearer[1]!);
    return allowed !== undefined && (repo === undefined || allowed === repo);
  }

  function challenge(res: ServerResponse, repo: string | undefined): void {
    const header =
      auth === 'basic'
        ? 'Basic realm="stand-in"'
        : `Bearer realm="${options.tokenRealm ?? `${base}/token`}",service="${SERVICE}"${repo ? `,scope="repository:${repo}:pull"` : ''}`;
    const offered = options.extraChallenge ? `${header}, ${options.extraChallenge}` : header;
    sendErrors(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': offered });
  }

  function token(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (auth !== 'bearer') return sendErrors(res, 404, 'NOT_FOUND', 'no token service');
    const scope = /^repository:(.+):pull$/.exec(url.searchParams.get('scope') ?? '');
    if (url.searchParams.get('service') !== SERVICE || !scope) {
      return send(res, 400, 'application/json', Buffer.from(JSON.stringify({ details: 'service or scope missing or wrong' })));
    }
    if (options.credentials && !basicOk(req)) return send(res, 401, 'application/json', Buffer.from(JSON.stringify({ details: 'incorrect username or password' })));
    const value = randomBytes(12).toString('hex');
    tokens.set(value, scope[1]!);
    send(res, 200, 'application/json', Buffer.from(JSON.stringify({ token: value, access_token: value, expires_in: 300 })));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('registry stand-in: no TCP address');
  const host = `127.0.0.1:${address.port}`;
  const base = `http://${host}`;

  function publish(image: StandInImage): PublishedImage {
    const format = image.format ?? 'oci';
    const docker = format === 'docker';
    const store = (mediaType: string, doc: unknown): { digest: string; size: number } => {
      const body = Buffer.from(JSON.stringify(doc, null, 2));
      const digest = digestOf(body);
      manifests.set(`${image.name}@${digest}`, { mediaType, body });
      return { digest, size: body.length };
    };
    const blob = (bytes: Buffer): { digest: string; size: number } => {
      const digest = digestOf(bytes);
      blobs.set(`${image.name}@${digest}`, bytes);
      return { digest, size: bytes.length };
    };
    const published: PublishedImage = { tagDigest: '', manifests: {}, configs: {} };
    const entries: unknown[] = [];
    for (const [key, platform] of Object.entries(image.platforms)) {
      const [architecture = '', variant] = key.split('/');
      const config: Record<string, unknown> = { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] };
      if (platform.entrypoint !== undefined) config.Entrypoint = platform.entrypoint;
      if (platform.cmd !== undefined) config.Cmd = platform.cmd;
      if (platform.user !== undefined) config.User = platform.user;
      const configBlob = blob(
        Buffer.from(JSON.stringify({ architecture, os: 'linux', ...(variant ? { variant } : {}), config, rootfs: { type: 'layers', diff_ids: [] } })),
      );
      const layer = blob(randomBytes(32));
      const manifest = store(docker ? DOCKER_MANIFEST : OCI_MANIFEST, {
        schemaVersion: 2,
        mediaType: docker ? DOCKER_MANIFEST : OCI_MANIFEST,
        config: { mediaType: docker ? DOCKER_CONFIG : OCI_CONFIG, ...configBlob },
        layers: [{ mediaType: docker ? DOCKER_LAYER : OCI_LAYER, ...layer }],
      });
      published.manifests[key] = manifest.digest;
      if (platform.user !== undefined) users.set(`${image.name}@${manifest.digest}`, platform.user);
      published.configs[key] = configBlob.digest;
      entries.push({
        mediaType: docker ? DOCKER_MANIFEST : OCI_MANIFEST,
        ...manifest,
        platform: { architecture, os: 'linux', ...(variant ? { variant } : {}) },
      });
      if (image.attestations) {
        const statement = blob(Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1' })));
        const attestation = store(OCI_MANIFEST, {
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: OCI_CONFIG, ...blob(Buffer.from('{}')) },
          layers: [{ mediaType: 'application/vnd.in-toto+json', ...statement }],
        });
        entries.push({
          mediaType: OCI_MANIFEST,
          ...attestation,
          platform: { architecture: 'unknown', os: 'unknown' },
          annotations: { 'vnd.docker.reference.digest': manifest.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
        });
      }
    }
    if (format === 'single') {
      const first = Object.values(published.manifests)[0];
      if (!first) throw new Error(`registry stand-in: image ${image.name} declares no platform`);
      published.tagDigest = first;
    } else {
      published.tagDigest = store(docker ? DOCKER_LIST : OCI_INDEX, { schemaVersion: 2, mediaType: docker ? DOCKER_LIST : OCI_INDEX, manifests: entries }).digest;
    }
    tags.set(`${image.name}:${image.tag}`, published.tagDigest);
    return published;
  }

  function userOf(image: string): string | undefined {
    if (!image.startsWith(`${host}/`)) return undefined;
    const rest = image.slice(host.length + 1);
    const at = rest.indexOf('@');
    if (at >= 0) return users.get(rest);
    const colon = rest.lastIndexOf(':');
    const name = colon >= 0 ? rest.slice(0, colon) : rest;
    const digest = tags.get(colon >= 0 ? rest : `${rest}:latest`);
    if (!digest) return undefined;
    const direct = users.get(`${name}@${digest}`);
    if (direct !== undefined) return direct;
    const index = manifests.get(`${name}@${digest}`);
    if (!index) return undefined;
    const platforms = (JSON.parse(index.body.toString()) as { manifests?: { digest: string; platform?: { architecture?: string } }[] }).manifests ?? [];
    const amd64 = platforms.find((m) => m.platform?.architecture === 'amd64') ?? platforms[0];
    return amd64 ? users.get(`${name}@${amd64.digest}`) : undefined;
  }

  return {
    url: base,
    host,
    publish,
    userOf,
    failNext(count, status = 503, pathIncludes) {
      failures.push({ remaining: count, status, ...(pathIncludes !== undefined ? { pathIncludes } : {}) });
    },
    recover() {
      failures.length = 0;
    },
    stallNext(count) {
      stalls += count;
    },
    tamperBlob(digest, body) {
      tampered.set(digest, Buffer.from(body));
    },
    serveRaw(pathIncludes, answer) {
      raw.push({ pathIncludes, status: answer.status, contentType: answer.contentType, body: Buffer.from(answer.body) });
    },
    omitDigestHeader(omit) {
      omitDigest = omit;
    },
    requests,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

function send(res: ServerResponse, status: number, contentType: string, body: Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': String(body.length), 'docker-distribution-api-version': 'registry/2.0', ...headers });
  res.end(body);
}

function sendErrors(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  send(res, status, 'application/json', Buffer.from(JSON.stringify({ errors: [{ code, message, detail: null }] })), headers);
}
