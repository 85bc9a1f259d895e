// The dashboard's view of the builds API (routes and shapes from core/builds/api.ts).
import type {
  BuildActionResponse,
  BuildDetailResponse,
  BuildListQuery,
  BuildListResponse,
  LogPageResponse,
  MetricsResponse,
  RepoActivationResponse,
  RepoListResponse,
  RepoResponse,
  RepoSettings,
  RepoUpdateResponse,
} from '../../core/builds/api.js';
import { API_ROUTES, buildApiPath, repoActivationQuery, repoUpdateQuery } from '../../core/builds/api.js';

export class ApiRequestError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Where the dashboard keeps the API token of a deployed Slipway (local mode needs none). */
export const TOKEN_KEY = 'slipway-token';

function authHeaders(): Record<string, string> {
  const token = globalThis.localStorage?.getItem(TOKEN_KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

// The open local API refuses changes without it: other web pages cannot send it (see local/request-guard.ts).
const REQUEST_HEADER = { 'x-slipway-request': '1' };

async function request<T>(path: string, init?: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers: { accept: 'application/json', ...REQUEST_HEADER, ...authHeaders() } });
  } catch (error) {
    // No answer at all (server stopped, network down): say which request and what to check.
    if (init?.signal?.aborted) throw error;
    throw new ApiRequestError(0, `The Slipway API did not answer ${init?.method ?? 'GET'} ${path.split('?')[0]} (${(error as Error).message}): is the server (slipway up, or the deployed API) running and reachable?`);
  }
  const body = (await response.json().catch(() => ({}))) as { error?: string };
  if (!response.ok) throw new ApiRequestError(response.status, body.error ?? `${response.status} ${response.statusText}`);
  return body as T;
}


export const api = {
  repos: () => request<RepoListResponse>('/api/repos'),
  activateRepo: (repo: string, host: string, settings: Partial<RepoSettings>) =>
    request<RepoActivationResponse>(`${API_ROUTES.repoActivate}?${repoActivationQuery(repo, host, settings)}`, { method: 'POST' }),
  /** Only the settings given change, in the API's one conditional write (its log records each change). */
  updateRepo: (repo: string, patch: Partial<RepoSettings>) =>
    request<RepoUpdateResponse>(`${API_ROUTES.repoUpdate}?${repoUpdateQuery(repo, patch)}`, { method: 'POST' }),
  rotateRepoSecret: (repo: string) => request<RepoActivationResponse>(`/api/repos/rotate-secret?${new URLSearchParams({ repo })}`, { method: 'POST' }),
  removeRepo: (repo: string) => request<RepoResponse>(`/api/repos/remove?${new URLSearchParams({ repo })}`, { method: 'POST' }),
  builds(query: BuildListQuery = {}) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
    const qs = params.toString();
    return request<BuildListResponse>(`/api/builds${qs ? `?${qs}` : ''}`);
  },
  build: (repo: string, number: number) => request<BuildDetailResponse>(buildApiPath(repo, number)),
  /** A page of a step's log from the cursor the previous page returned, or from the start. */
  logs: (repo: string, number: number, stage: number, step: number, cursor: string | undefined) =>
    request<LogPageResponse>(buildApiPath(repo, number, `/logs/${stage}/${step}`, cursor ? { cursor } : { offset: '0' })),
  cancel: (repo: string, number: number) => request<BuildActionResponse>(buildApiPath(repo, number, '/cancel'), { method: 'POST' }),
  restart: (repo: string, number: number) => request<BuildActionResponse>(buildApiPath(repo, number, '/restart'), { method: 'POST' }),
  metrics: (days: number) => request<MetricsResponse>(`/api/metrics?days=${days}`),
};
