// The CLI's side of the builds API: SLIPWAY_SERVER (default: the server `slipway up` runs on
// this machine, else http://localhost:8080) and SLIPWAY_TOKEN (a bearer token; a deployed API
// requires one). Routes and shapes come from core/builds/api.ts, like the dashboard's.

import type {
  AppSecretResponse,
  BuildActionResponse,
  BuildDetailResponse,
  BuildListQuery,
  BuildListResponse,
  LogPageResponse,
  RepoActivationResponse,
  RepoUpdateResponse,
  RepoListResponse,
  RepoResponse,
} from '../core/builds/api.js';
import { API_ROUTES, buildApiPath } from '../core/builds/api.js';
import { LOCAL_RUNS_PATH, readServerFile, type LocalRunRequest, type LocalRunResponse } from '../local/local-runs.js';
import { slipwayHome } from '../local/secrets.js';

export const DEFAULT_SERVER = 'http://localhost:8080';

/**
 * The API the commands talk to: SLIPWAY_SERVER, else the server `slipway up` runs on this
 * machine (SLIPWAY_HOME/server.json, as `slipway run` finds it: a server started with PORT or
 * --port is found too), else DEFAULT_SERVER.
 */
export function serverUrl(env: NodeJS.ProcessEnv): string {
  if (env.SLIPWAY_SERVER) return env.SLIPWAY_SERVER.replace(/\/+$/, '');
  const local = readServerFile(slipwayHome(env));
  return 'server' in local ? local.server.url.replace(/\/+$/, '') : DEFAULT_SERVER;
}

/** The API answered with an error (`status` 0: it could not be reached). */
export class ApiClientError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Seconds the server asked to wait before trying again (Retry-After), when it did. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiClientError';
  }
}

/** Where a log read resumes: the API's cursor, or a line offset (read from the head). */
export type LogFrom = { cursor: string } | { offset: number };

export class ApiClient {
  readonly server: string;
  private readonly token?: string;

  constructor(env: NodeJS.ProcessEnv, private readonly fetchImpl: typeof fetch = fetch) {
    this.server = serverUrl(env);
    this.token = env.SLIPWAY_TOKEN || undefined;
  }

  private async request<T>(method: 'GET' | 'POST', path: string, json?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.server}${path}`, {
        method,
        // x-slipway-request: the open local API refuses changes without it (other web pages cannot send it).
        headers: {
          accept: 'application/json',
          'x-slipway-request': '1',
          ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new ApiClientError(0, `cannot reach the Slipway API at ${this.server} (${cause}); is \`slipway up\` running, or is SLIPWAY_SERVER right?`);
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : {};
    } catch (err) {
      throw new ApiClientError(response.status, `${method} ${path}: the server at ${this.server} did not answer JSON (${(err as Error).message}); is SLIPWAY_SERVER a Slipway server?`);
    }
    if (!response.ok) {
      const message = (body as { error?: string }).error ?? `${response.status} ${response.statusText}`;
      const hint = response.status === 401 ? (this.token ? ' (SLIPWAY_TOKEN was refused)' : ' (set SLIPWAY_TOKEN)') : '';
      const retryAfter = Number(response.headers.get('retry-after') ?? NaN);
      throw new ApiClientError(response.status, `${message}${hint}`, Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined);
    }
    return body as T;
  }

  repos(limit = 25) {
    return this.request<RepoListResponse>('GET', `/api/repos?limit=${limit}`);
  }
  activateRepo(repo: string, host: string, visibility?: string, settings: { trusted?: boolean; capacity?: string; pullThroughCache?: boolean } = {}) {
    const query = new URLSearchParams({
      repo,
      host,
      ...(visibility ? { visibility } : {}),
      ...(settings.trusted ? { trusted: 'true' } : {}),
      ...(settings.capacity ? { capacity: settings.capacity } : {}),
      ...(settings.pullThroughCache === false ? { pullThroughCache: 'false' } : {}),
    });
    return this.request<RepoActivationResponse>('POST', `/api/repos/activate?${query}`);
  }
  /** Only the settings given change (`repo update`). */
  updateRepo(repo: string, settings: { trusted?: boolean; capacity?: string; visibility?: string; pullThroughCache?: boolean }) {
    const query = new URLSearchParams({ repo });
    for (const [k, v] of Object.entries(settings)) if (v !== undefined) query.set(k, String(v));
    return this.request<RepoUpdateResponse>('POST', `${API_ROUTES.repoUpdate}?${query}`);
  }
  rotateRepoSecret(repo: string) {
    return this.request<RepoActivationResponse>('POST', `/api/repos/rotate-secret?${new URLSearchParams({ repo })}`);
  }
  removeRepo(repo: string) {
    return this.request<RepoResponse>('POST', `/api/repos/remove?${new URLSearchParams({ repo })}`);
  }
  /** The secret travels in the body, never in the URL (which proxies and logs keep). */
  setGithubAppSecret(secret: string) {
    return this.request<AppSecretResponse>('POST', API_ROUTES.appSecret, { secret });
  }
  builds(query: BuildListQuery) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return this.request<BuildListResponse>('GET', `/api/builds${qs ? `?${qs}` : ''}`);
  }
  build(repo: string, number: number) {
    return this.request<BuildDetailResponse>('GET', buildApiPath(repo, number));
  }
  logs(repo: string, number: number, stage: number, step: number, from: LogFrom) {
    return this.request<LogPageResponse>('GET', buildApiPath(repo, number, `/logs/${stage}/${step}`, 'cursor' in from ? { cursor: from.cursor } : { offset: String(from.offset) }));
  }
  cancel(repo: string, number: number) {
    return this.request<BuildActionResponse>('POST', buildApiPath(repo, number, '/cancel'));
  }
  /** Local mode only (`slipway up`): build a working copy of this machine (local/local-runs.ts). */
  localRun(request: LocalRunRequest) {
    return this.request<LocalRunResponse>('POST', LOCAL_RUNS_PATH, request);
  }
  restart(repo: string, number: number) {
    return this.request<BuildActionResponse>('POST', buildApiPath(repo, number, '/restart'));
  }

  /**
   * The repository a command is about: --repo, else SLIPWAY_REPO, else the only one the
   * server knows. Throws a usage-style message when that is ambiguous.
   */
  async resolveRepo(flag: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
    const given = flag ?? env.SLIPWAY_REPO;
    if (given) {
      if (!/^[^/\s]+\/[^\s]+$/.test(given)) throw new UsageError(`--repo ${JSON.stringify(given)} must be OWNER/NAME`);
      return given;
    }
    const { repos, next } = await this.repos();
    if (repos.length === 1 && !next) return repos[0]!.slug;
    if (repos.length === 0) throw new ApiClientError(404, `the server at ${this.server} has no repositories yet`);
    throw new UsageError(`several repositories: pass --repo OWNER/NAME (one of ${repos.map((r) => r.slug).join(', ')}${next ? ', …' : ''})`);
  }
}

export class UsageError extends Error {}

