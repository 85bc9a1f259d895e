// Posts a commit status (pending, success, failure, …) to the host.

import { githubStatusRequest } from './github.js';
import { giteaStatusRequest } from './gitea.js';
import { gitlabStatusRequest } from './gitlab.js';
import { ScmApiError } from './fetch-config.js';
import type { ApiRequest, CommitStatus, Fetch, HookHost, RepoRef, ScmCredentials } from './types.js';

export function statusRequest(host: HookHost, creds: ScmCredentials, repo: RepoRef, sha: string, status: CommitStatus): ApiRequest {
  switch (host) {
    case 'github':
      return githubStatusRequest(creds, repo, sha, status);
    case 'gitea':
      return giteaStatusRequest(creds, repo, sha, status);
    case 'gitlab':
      return gitlabStatusRequest(creds, repo, sha, status);
  }
}

export async function postStatus(
  host: HookHost,
  creds: ScmCredentials,
  repo: RepoRef,
  sha: string,
  status: CommitStatus,
  fetchImpl: Fetch = globalThis.fetch,
): Promise<void> {
  const req = statusRequest(host, creds, repo, sha, status);
  const res = await fetchImpl(req.url, { method: req.method, headers: req.headers, body: req.body, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) {
    throw new ScmApiError(`scm: ${host} refused status ${status.context}=${status.state} for ${repo.slug}@${sha.slice(0, 12)}: ${res.status} ${text.slice(0, 200)}`, res.status);
  }
}
