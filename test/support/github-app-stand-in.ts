// GitHub's App endpoints in front of the fake Git host: GET /repos/{owner}/{repo}/installation
// and POST /app/installations/{id}/access_tokens, authenticated by the App's RS256 JWT (checked
// as GitHub documents it: signature by the App's key, `iss` the App id, `exp` after now and at
// most 10 minutes after `iat`), answering GitHub's shapes. Other requests are passed to the fake
// host only with a token minted here for the repository in their path (installation tokens are
// limited to the repositories they were minted for), before its `expires_at` ("Installation tokens
// expire one hour from the time you create them"; an expired one is answered 401 Bad credentials,
// https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app).

import { createPublicKey, createVerify, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AppStandInOptions {
  appId: string;
  /** The App's private key, PEM: its public half checks the JWTs. */
  privateKey: string;
  /** `owner/name` of the repositories the App is installed on. */
  installedOn: string[];
  /** Where other requests go (the fake Git host's API URL). */
  upstream: string;
  /** What the App was granted (default: contents read, statuses write, metadata read). */
  permissions?: Record<string, 'read' | 'write'>;
}

export interface AppStandIn {
  url: string;
  /** Each access-token request's body, in order. */
  mints: { installationId: number; body: { repositories?: string[]; permissions?: Record<string, string> } }[];
  tokens: Map<string, { repositories: string[]; permissions: Record<string, string> }>;
  /** Every App request in order: `installation acme/app` (the lookup) or `access_tokens 4242` (a mint). */
  appRequests: string[];
  /** The next `count` App requests (installation, access token) answer `status`, as GitHub does when it is down. */
  failNext(count: number, status: number): void;
  /** The App uninstalled and installed again: a new installation id, the old one unknown (404). Returns the new id. */
  reinstall(): number;
  /** The installation id it answers now. */
  installationId(): number;
  /** How long the tokens it mints from now on live (default an hour, as GitHub's). */
  setTokenLife(ms: number): void;
  stop(): Promise<void>;
}

const FIRST_INSTALLATION_ID = 4242;

function checkJwt(authorization: string | undefined, publicKey: KeyObject, appId: string): string | undefined {
  const m = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(authorization ?? '');
  if (!m) return 'A JSON web token could not be decoded';
  const [, h, p, sig] = m as unknown as [string, string, string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string };
  if (header.alg !== 'RS256') return "'alg' must be RS256";
  if (!createVerify('RSA-SHA256').update(`${h}.${p}`).verify(publicKey, Buffer.from(sig, 'base64url'))) return 'A JSON web token could not be decoded';
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as { iat?: number; exp?: number; iss?: string };
  const now = Math.floor(Date.now() / 1000);
  if (String(claims.iss) !== appId) return "'Issuer' claim ('iss') must be an Integer";
  if (typeof claims.iat !== 'number' || claims.iat > now + 60) return "'Issued at' claim ('iat') must be an Integer representing a time in the past";
  if (typeof claims.exp !== 'number' || claims.exp <= now || claims.exp - claims.iat > 600) return "'Expiration time' claim ('exp') is too far in the future";
  return undefined;
}

export async function startGithubAppStandIn(options: AppStandInOptions): Promise<AppStandIn> {
  const publicKey = createPublicKey(options.privateKey);
  const mints: AppStandIn['mints'] = [];
  const tokens: AppStandIn['tokens'] = new Map();
  /** When each token minted here stops working (epoch ms). */
  const expiries = new Map<string, number>();
  const installedNames = new Set(options.installedOn.map((r) => r.split('/')[1]!));
  const granted = options.permissions ?? { contents: 'read', statuses: 'write', metadata: 'read' };
  const level = { read: 1, write: 2 } as Record<string, number>;
  let failures: { count: number; status: number } = { count: 0, status: 500 };
  let installationId = FIRST_INSTALLATION_ID;
  let tokenLifeMs = 3_600_000;
  const appRequests: string[] = [];

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };
  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      const body = await readBody(req);
      const installation = /^\/repos\/([^/]+)\/([^/]+)\/installation$/.exec(url.pathname);
      const mint = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(url.pathname);
      if (installation) appRequests.push(`installation ${decodeURIComponent(installation[1]!)}/${decodeURIComponent(installation[2]!)}`);
      if (mint) appRequests.push(`access_tokens ${mint[1]}`);
      if ((installation || mint) && failures.count > 0) {
        failures = { ...failures, count: failures.count - 1 };
        return send(res, failures.status, { message: 'Service Unavailable', documentation_url: 'https://docs.github.com/rest' });
      }
      if (installation || mint) {
        const problem = checkJwt(req.headers.authorization, publicKey, options.appId);
        if (problem) return send(res, 401, { message: problem, documentation_url: 'https://docs.github.com/rest' });
      }
      if (installation && req.method === 'GET') {
        const slug = `${decodeURIComponent(installation[1]!)}/${decodeURIComponent(installation[2]!)}`;
        if (!options.installedOn.includes(slug)) return send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app' });
        return send(res, 200, { id: installationId, app_id: Number(options.appId), target_type: 'Organization', permissions: granted });
      }
      if (mint && req.method === 'POST') {
        const parsed = JSON.parse(body || '{}') as AppStandIn['mints'][number]['body'];
        mints.push({ installationId: Number(mint[1]), body: parsed });
        if (Number(mint[1]) !== installationId) return send(res, 404, { message: 'Not Found' });
        const names = parsed.repositories ?? [...installedNames];
        if (names.some((n) => !installedNames.has(n))) return send(res, 422, { message: 'There is at least one repository that does not exist or is not accessible to the parent installation.' });
        // A token may have at most what the installation was granted.
        const asked = parsed.permissions ?? granted;
        if (Object.entries(asked).some(([k, v]) => (level[granted[k] ?? ''] ?? 0) < (level[v] ?? 3))) {
          return send(res, 422, { message: 'The permissions requested are not granted to this installation.' });
        }
        const token = `ghs_${randomBytes(18).toString('hex')}`;
        tokens.set(token, { repositories: names, permissions: { ...asked, metadata: 'read' } });
        const expiresAt = Date.now() + tokenLifeMs;
        expiries.set(token, expiresAt);
        return send(res, 201, { token, expires_at: new Date(expiresAt).toISOString(), permissions: parsed.permissions ?? {}, repository_selection: 'selected', repositories: names.map((name) => ({ name })) });
      }
      // Anything else: only with an installation token minted for the repository in the path.
      const repo = /^\/repos\/[^/]+\/([^/]+)\//.exec(url.pathname)?.[1];
      const token = /^(?:Bearer|token) (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      const grant = token ? tokens.get(token) : undefined;
      if (!grant || (expiries.get(token!) ?? 0) <= Date.now()) return send(res, 401, { message: 'Bad credentials' });
      if (!repo || !grant.repositories.includes(decodeURIComponent(repo))) return send(res, 404, { message: 'Not Found' });
      const upstream = await fetch(`${options.upstream}${url.pathname}${url.search}`, {
        method: req.method ?? 'GET',
        headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length').map(([k, v]) => [k, String(v)])),
        ...(body ? { body } : {}),
      });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    })().catch((err: unknown) => send(res, 500, { message: (err as Error).message }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    mints,
    tokens,
    appRequests,
    failNext: (count, status) => {
      failures = { count, status };
    },
    reinstall: () => (installationId += 1),
    installationId: () => installationId,
    setTokenLife: (ms) => {
      tokenLifeMs = ms;
    },
    stop: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}
