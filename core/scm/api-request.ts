// The requests Slipway makes of a Git host's API, built once for every host: each host
// module says only where its API differs (a HostApi), and these functions build the two
// requests from it.
//
//   pipeline file   GitHub  GET /repos/{owner}/{repo}/contents/{path}?ref=   (raw media type)
//                   Gitea   GET /repos/{owner}/{repo}/raw/{path}?ref=
//                   GitLab  GET /projects/{url-encoded path}/repository/files/{url-encoded file}/raw?ref=
//   commit status   GitHub, Gitea  POST /repos/{owner}/{repo}/statuses/{sha}  {state, context, description, target_url}
//                   GitLab         POST /projects/{url-encoded path}/statuses/{sha}  {state, name, description, target_url}
// GitHub: https://docs.github.com/en/rest/commits/statuses#create-a-commit-status (state error, failure,
// pending, success). Gitea: its swagger's CreateStatusOption (context, description, state pending, success,
// error, failure, warning, target_url). GitLab: https://docs.gitlab.com/ee/api/commits.html#set-the-pipeline-status-of-a-commit
// (state pending, running, success, failed, canceled; `name`, `context` its alias).

import { apiBaseOf } from './locate.js';
import type { ApiRequest, CommitState, CommitStatus, Fetch, HookHost, RepoRef, ScmCredentials } from './types.js';


/** Hosts refuse a commit status whose description is over their limit: cut it to fit. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Where one host's API differs from the others'. */
export interface HostApi {
  host: HookHost;
  /** Headers of every request, the token's included when there is one. */
  headers(token: string | undefined, purpose: 'config' | 'status'): Record<string, string>;
  /** The repository's path under the API base (`/repos/owner/name`, `/projects/group%2Fname`). */
  repoPath(slug: string): string;
  /** The raw file's path under the repository's, without the `?ref=`. */
  filePath(path: string): string;
  status: {
    /** Each of Slipway's commit states in the host's words. */
    states: Record<CommitState, string>;
    /** The body field that names the status: `context` (GitHub, Gitea) or `name` (GitLab). */
    nameField: 'context' | 'name';
    /** The longest description the host takes. */
    maxDescription: number;
  };
}

/** GET the pipeline file at the commit; the API base comes from configuration only, never from a webhook. */
export function configRequestOf(api: HostApi, creds: ScmCredentials, repo: RepoRef, path: string, sha: string): ApiRequest {
  return {
    method: 'GET',
    url: `${apiBaseOf(api.host, creds)}${api.repoPath(repo.slug)}${api.filePath(path)}?ref=${encodeURIComponent(sha)}`,
    headers: api.headers(creds.token, 'config'),
  };
}

/**
 * GET the repository itself (GitHub `/repos/{owner}/{repo}`, Gitea `/repos/{owner}/{repo}`,
 * GitLab `/projects/{url-encoded path}`): what `slipway doctor` asks the planner to try, to see
 * that its credentials reach and can read the repository without building anything.
 */
export function repositoryRequestOf(api: HostApi, creds: ScmCredentials, repo: RepoRef): ApiRequest {
  return { method: 'GET', url: `${apiBaseOf(api.host, creds)}${api.repoPath(repo.slug)}`, headers: api.headers(creds.token, 'status') };
}

/** POST a commit status, in the host's words and within its description limit. */
export function statusRequestOf(api: HostApi, creds: ScmCredentials, repo: RepoRef, sha: string, status: CommitStatus): ApiRequest {
  const { states, nameField, maxDescription } = api.status;
  return {
    method: 'POST',
    url: `${apiBaseOf(api.host, creds)}${api.repoPath(repo.slug)}/statuses/${encodeURIComponent(sha)}`,
    headers: { ...api.headers(creds.token, 'status'), 'content-type': 'application/json' },
    body: JSON.stringify({
      state: states[status.state],
      [nameField]: status.context,
      description: truncate(status.description, maxDescription),
      ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
    }),
  };
}

/** How long any one call to a host's API may take. */
export const API_TIMEOUT_MS = 10_000;

/**
 * A host's API gave no answer at all (refused, unknown name, time-out): worth another try,
 * and the message says which address did not answer, where fetch says only "fetch failed".
 */
export class ScmUnreachableError extends Error {
  constructor(
    readonly url: string,
    readonly code: string,
  ) {
    super(`scm: no answer from ${url} (${code})`);
    this.name = 'ScmUnreachableError';
  }
}

/** Node's fetch puts the socket's error code under `cause` ("fetch failed" alone says nothing). */
function networkCode(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${API_TIMEOUT_MS / 1000} s`;
  const code = e.cause?.code;
  const words: Record<string, string> = { ECONNREFUSED: 'connection refused', ENOTFOUND: 'host name not found', EAI_AGAIN: 'host name lookup failed', ECONNRESET: 'connection reset' };
  if (code) return words[code] ? `${words[code]}: ${code}` : code;
  return e.cause?.message ?? e.message ?? String(err);
}

/** Sends a request to a host's API, within API_TIMEOUT_MS; no answer is a ScmUnreachableError. */
export async function sendApiRequest(req: ApiRequest, fetchImpl: Fetch): Promise<Response> {
  try {
    return await fetchImpl(req.url, { method: req.method, headers: req.headers, ...(req.body ? { body: req.body } : {}), signal: AbortSignal.timeout(API_TIMEOUT_MS) });
  } catch (err) {
    // The query holds the commit (never a credential); the path names the file.
    throw new ScmUnreachableError(req.url, networkCode(err));
  }
}
