// Pieces every host's API request is built from.

import type { RepoRef, ScmCredentials } from './types.js';

/** A repository path in a URL: each segment encoded, the slashes kept. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** Hosts refuse a commit status whose description is over their limit: cut it to fit. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * A self-hosted API (Gitea's `/api/v1`, GitLab's `/api/v4`) lives on the same origin as
 * the web pages, unless the credentials name it; either way it ends in `apiPath` once.
 */
export function selfHostedApiBase(creds: ScmCredentials, repo: RepoRef, apiPath: `/api/${string}`): string {
  const origin = (creds.apiUrl ?? new URL(repo.link).origin).replace(/\/+$/, '');
  return `${origin.endsWith(apiPath) ? origin.slice(0, -apiPath.length) : origin}${apiPath}`;
}
