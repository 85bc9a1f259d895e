// A fake Git host on loopback that speaks the slices of the GitHub, Gitea and GitLab APIs
// Slipway uses: pipeline files at a commit, commit statuses (recorded for assertions), and
// the repository itself (`slipway doctor`; a repository exists once it has a file).
//
//   GitHub  GET  /repos/{o}/{r}     Gitea GET /api/v1/repos/{o}/{r}     GitLab GET /api/v4/projects/{id}
//   GitHub  GET  /repos/{o}/{r}/contents/{path}?ref=   POST /repos/{o}/{r}/statuses/{sha}
//   Gitea   GET  /api/v1/repos/{o}/{r}/raw/{path}?ref= POST /api/v1/repos/{o}/{r}/statuses/{sha}
//   GitLab  GET  /api/v4/projects/{id}/repository/files/{path}/raw?ref=
//                                                       POST /api/v4/projects/{id}/statuses/{sha}
//
// Use `apiUrl` as the `apiUrl` of every host's credentials.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { HookHost } from '../../core/scm/types.js';
import { HANG_GUARD_MS } from './wait.js';

export interface RecordedStatus {
  host: HookHost;
  repo: string;
  sha: string;
  /** The host's own word (GitLab says `failed`, the others `failure`). */
  state: string;
  context: string;
  description: string;
  targetUrl?: string;
  /** The credential the request carried, as the host would see it. */
  token?: string;
  at: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  host: HookHost | 'unknown';
  token?: string;
}

export interface FakeGitHost {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  apiUrl: string;
  /** Serves `content` as `path` of `repo` at commit `sha`. */
  setFile(repo: string, sha: string, path: string, content: string): void;
  statuses: RecordedStatus[];
  requests: RecordedRequest[];
  /** The next `count` requests (matching `pathIncludes` if given) fail with `status`. */
  failNext(count: number, status: number, pathIncludes?: string): void;
  /** Only requests carrying this token are served (others get 401). */
  requireToken(token: string | undefined): void;
  /** Resolves once `predicate` holds for the recorded statuses; rejects after `timeoutMs` (a hang guard). */
  waitForStatuses(predicate: (statuses: RecordedStatus[]) => boolean, timeoutMs?: number): Promise<RecordedStatus[]>;
  stop(): Promise<void>;
}

type Route =
  | { kind: 'repo'; host: HookHost; repo: string }
  | { kind: 'file'; host: HookHost; repo: string; path: string; ref: string }
  | { kind: 'status'; host: HookHost; repo: string; sha: string };

function route(method: string, url: URL): Route | null {
  const p = url.pathname;
  const ref = url.searchParams.get('ref') ?? '';
  const decodeAll = (s: string): string => s.split('/').map(decodeURIComponent).join('/');
  let m: RegExpMatchArray | null;
  if (method === 'GET') {
    if ((m = p.match(/^\/api\/v1\/repos\/([^/]+\/[^/]+)\/raw\/(.+)$/))) return { kind: 'file', host: 'gitea', repo: m[1]!, path: decodeAll(m[2]!), ref };
    if ((m = p.match(/^\/api\/v4\/projects\/([^/]+)\/repository\/files\/([^/]+)\/raw$/)))
      return { kind: 'file', host: 'gitlab', repo: decodeURIComponent(m[1]!), path: decodeURIComponent(m[2]!), ref };
    if ((m = p.match(/^\/repos\/([^/]+\/[^/]+)\/contents\/(.+)$/))) return { kind: 'file', host: 'github', repo: m[1]!, path: decodeAll(m[2]!), ref };
    // The repository itself (what `slipway doctor` asks for).
    if ((m = p.match(/^\/api\/v1\/repos\/([^/]+\/[^/]+)$/))) return { kind: 'repo', host: 'gitea', repo: m[1]! };
    if ((m = p.match(/^\/api\/v4\/projects\/([^/]+)$/))) return { kind: 'repo', host: 'gitlab', repo: decodeURIComponent(m[1]!) };
    if ((m = p.match(/^\/repos\/([^/]+\/[^/]+)$/))) return { kind: 'repo', host: 'github', repo: m[1]! };
  }
  if (method === 'POST') {
    if ((m = p.match(/^\/api\/v1\/repos\/([^/]+\/[^/]+)\/statuses\/([^/]+)$/))) return { kind: 'status', host: 'gitea', repo: m[1]!, sha: m[2]! };
    if ((m = p.match(/^\/api\/v4\/projects\/([^/]+)\/statuses\/([^/]+)$/))) return { kind: 'status', host: 'gitlab', repo: decodeURIComponent(m[1]!), sha: m[2]! };
    if ((m = p.match(/^\/repos\/([^/]+\/[^/]+)\/statuses\/([^/]+)$/))) return { kind: 'status', host: 'github', repo: m[1]!, sha: m[2]! };
  }
  return null;
}

function tokenOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth) return auth.replace(/^(Bearer|token)\s+/i, '');
  const gitlab = req.headers['private-token'];
  return typeof gitlab === 'string' ? gitlab : undefined;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeGitHost(): Promise<FakeGitHost> {
  const files = new Map<string, string>();
  const statuses: RecordedStatus[] = [];
  const requests: RecordedRequest[] = [];
  const failures: { count: number; status: number; pathIncludes?: string }[] = [];
  let requiredToken: string | undefined;
  const waiters = new Set<() => void>();
  const key = (repo: string, sha: string, path: string): string => `${repo}@${sha}:${path}`;

  const send = (res: ServerResponse, status: number, body: string, type = 'application/json'): void => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const r = route(req.method ?? 'GET', url);
    const token = tokenOf(req);
    requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, host: r?.host ?? 'unknown', token });
    const body = await readBody(req);
    const failure = failures.find((f) => f.count > 0 && (!f.pathIncludes || url.pathname.includes(f.pathIncludes)));
    if (failure) {
      failure.count--;
      return send(res, failure.status, JSON.stringify({ message: 'injected failure' }));
    }
    if (!r) return send(res, 404, JSON.stringify({ message: 'Not Found' }));
    if (requiredToken !== undefined && token !== requiredToken) return send(res, 401, JSON.stringify({ message: 'Bad credentials' }));
    if (r.kind === 'repo') {
      // A repository exists once it has a file.
      const known = [...files.keys()].some((k) => k.startsWith(`${r.repo}@`));
      return known ? send(res, 200, JSON.stringify({ full_name: r.repo, private: true })) : send(res, 404, JSON.stringify({ message: 'Not Found' }));
    }
    if (r.kind === 'file') {
      const content = files.get(key(r.repo, r.ref, r.path));
      if (content === undefined) return send(res, 404, JSON.stringify({ message: 'Not Found' }));
      // GitHub's raw media type gives the file itself; without it, the JSON envelope.
      if (r.host === 'github' && !(req.headers.accept ?? '').includes('raw')) {
        return send(res, 200, JSON.stringify({ type: 'file', encoding: 'base64', path: r.path, content: Buffer.from(content).toString('base64') }));
      }
      return send(res, 200, content, 'text/plain; charset=utf-8');
    }
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return send(res, 400, JSON.stringify({ message: 'Problems parsing JSON' }));
    }
    if (typeof parsed.state !== 'string') return send(res, 422, JSON.stringify({ message: 'state is required' }));
    statuses.push({
      host: r.host,
      repo: r.repo,
      sha: r.sha,
      state: parsed.state,
      context: String(parsed.context ?? parsed.name ?? 'default'),
      description: String(parsed.description ?? ''),
      targetUrl: typeof parsed.target_url === 'string' ? parsed.target_url : undefined,
      token,
      at: Date.now(),
    });
    for (const wake of waiters) wake();
    return send(res, 201, JSON.stringify({ id: statuses.length, state: parsed.state }));
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, JSON.stringify({ message: String(err) })));
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('fake-git-host: no address');

  return {
    apiUrl: `http://127.0.0.1:${address.port}`,
    setFile: (repo, sha, path, content) => void files.set(key(repo, sha, path), content),
    statuses,
    requests,
    failNext: (count, status, pathIncludes) => void failures.push({ count, status, pathIncludes }),
    requireToken: (token) => void (requiredToken = token),
    waitForStatuses(predicate, timeoutMs = HANG_GUARD_MS) {
      if (predicate(statuses)) return Promise.resolve(statuses);
      return new Promise((resolve, reject) => {
        const wake = (): void => {
          if (!predicate(statuses)) return;
          cleanup();
          resolve(statuses);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`fake-git-host: statuses not as expected after ${timeoutMs} ms: ${JSON.stringify(statuses.map((s) => `${s.context}=${s.state}`))}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(wake);
        };
        waiters.add(wake);
      });
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
