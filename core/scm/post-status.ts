// Posts a commit status (pending, success, failure, …) to the host.

import { sendApiRequest, statusRequestOf } from './api-request.js';
import { ScmApiError } from './fetch-config.js';
import { SCM_HOSTS } from './hosts.js';
import type { ApiRequest, CommitStatus, Fetch, HookHost, RepoRef, ScmCredentials } from './types.js';

export function statusRequest(host: HookHost, creds: ScmCredentials, repo: RepoRef, sha: string, status: CommitStatus): ApiRequest {
  return statusRequestOf(SCM_HOSTS[host].api, creds, repo, sha, status);
}

export async function postStatus(
  host: HookHost,
  creds: ScmCredentials,
  repo: RepoRef,
  sha: string,
  status: CommitStatus,
  fetchImpl: Fetch = globalThis.fetch,
): Promise<void> {
  const res = await sendApiRequest(statusRequest(host, creds, repo, sha, status), fetchImpl);
  const text = await res.text();
  if (!res.ok) {
    throw new ScmApiError(`scm: ${host} refused status ${status.context}=${status.state} for ${repo.slug}@${sha.slice(0, 12)}: ${res.status} ${text.slice(0, 200)}`, res.status);
  }
}
