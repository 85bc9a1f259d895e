// Reads the pipeline file at the exact commit through the host's API.

import { configRequestOf, sendApiRequest } from './api-request.js';
import { SCM_HOSTS } from './hosts.js';
import type { ApiRequest, Fetch, HookHost, RepoRef, ScmCredentials } from './types.js';

export function configRequest(host: HookHost, creds: ScmCredentials, repo: RepoRef, path: string, sha: string): ApiRequest {
  return configRequestOf(SCM_HOSTS[host].api, creds, repo, path, sha);
}

/** A host error worth retrying later (rate limit, outage) or not (bad credentials). */
export class ScmApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ScmApiError';
  }
}

/** The file's text, or null when the commit has no such file. Other failures throw. */
export async function fetchConfig(
  host: HookHost,
  creds: ScmCredentials,
  repo: RepoRef,
  path: string,
  sha: string,
  fetchImpl: Fetch = globalThis.fetch,
): Promise<string | null> {
  const res = await sendApiRequest(configRequest(host, creds, repo, path, sha), fetchImpl);
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  const text = await res.text();
  if (!res.ok) {
    throw new ScmApiError(
      `scm: ${host} answered ${res.status} for ${path} at ${sha.slice(0, 12)} of ${repo.slug}: ${text.slice(0, 200)}`,
      res.status,
    );
  }
  // GitHub answers with the JSON envelope when the raw media type is ignored (some proxies).
  if ((res.headers.get('content-type') ?? '').includes('json') && host === 'github') {
    const maybe = tryJson(text);
    if (maybe && typeof maybe.content === 'string' && maybe.encoding === 'base64') {
      return Buffer.from(maybe.content, 'base64').toString('utf8');
    }
  }
  return text;
}

function tryJson(text: string): Record<string, unknown> | null {
  if (!text.trimStart().startsWith('{')) return null;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not the envelope: the file itself happens to start with `{` (YAML flow style).
    return null;
  }
}
