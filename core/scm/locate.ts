// Where a repository lives, from configuration and its name alone: clone URL, web page and
// API base. A webhook's body names the repository, but never decides where Slipway sends
// a request or a credential (its `clone_url`, `html_url` and `private` are not read for it).

import type { HookHost, ScmCredentials } from './types.js';

export const GITHUB_WEB = 'https://github.com';
export const GITHUB_API = 'https://api.github.com';

/** A repository path in a URL: each segment encoded, the slashes kept. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

const API_PATHS: Record<Exclude<HookHost, 'github'>, `/api/${string}`> = { gitea: '/api/v1', gitlab: '/api/v4' };

/** A repository name that cannot be activated (what was wrong, what is expected). */
export class RepositoryNameError extends Error {
  constructor(host: string, slug: string, detail: string) {
    super(`repository: ${JSON.stringify(slug)} is not a ${host} repository name: ${detail}`);
    this.name = 'RepositoryNameError';
  }
}

/** The deployment's configuration of a host is missing or wrong (says which key to set). */
export class ScmConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScmConfigError';
  }
}

// GitHub, Gitea and GitLab all allow letters, digits, `-`, `_` and `.` in owner and
// repository names; `.` and `..` alone would walk out of the path.
const SEGMENT = /^[A-Za-z0-9_.-]{1,100}$/;

/**
 * `owner/name` (GitLab: `group/subgroup/…/name`); throws RepositoryNameError otherwise.
 * The name ends up in URL paths and SSM parameter names, so only safe characters pass.
 */
export function validateSlug(host: HookHost | 'local', slug: string): string {
  const segments = slug.split('/');
  const nested = host === 'gitlab' || host === 'local';
  if (segments.length < 2 || (!nested && segments.length !== 2)) {
    throw new RepositoryNameError(host, slug, nested ? 'expected GROUP/NAME or GROUP/SUBGROUP/NAME' : 'expected OWNER/NAME');
  }
  if (segments.length > 10) throw new RepositoryNameError(host, slug, 'more than 10 path segments');
  for (const segment of segments) {
    if (!SEGMENT.test(segment) || segment === '.' || segment === '..') {
      throw new RepositoryNameError(host, slug, `segment ${JSON.stringify(segment)} must be 1 to 100 letters, digits, "-", "_" or "." (not "." or "..")`);
    }
  }
  return slug;
}

export interface RepositoryLocation {
  /** What the agent clones (its host is the one the clone token may be sent to). */
  httpUrl: string;
  /** The repository's web page. */
  link: string;
  /** The API base requests and the API token go to. */
  apiUrl: string;
}

function origin(host: HookHost, key: 'apiUrl' | 'webUrl', value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch (err) {
    throw new ScmConfigError(`scm: "${host}".${key} ${JSON.stringify(value)} in the SCM credentials is not a URL (${(err as Error).message})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:' && !(key === 'webUrl' && url.protocol === 'file:')) {
    throw new ScmConfigError(`scm: "${host}".${key} ${JSON.stringify(value)} must be an https:// URL`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new ScmConfigError(`scm: "${host}".${key} ${JSON.stringify(value)} must have no query, fragment or credentials`);
  }
  return value.replace(/\/+$/, '');
}

/** The API base of a host, from configuration only (GitHub: api.github.com unless set). */
export function apiBaseOf(host: HookHost, creds: ScmCredentials): string {
  if (host === 'github') return creds.apiUrl ? origin(host, 'apiUrl', creds.apiUrl) : GITHUB_API;
  if (!creds.apiUrl) {
    throw new ScmConfigError(
      `scm: no API URL for ${host}: set "${host}": {"apiUrl": "https://git.example.com", "token": "…"} in the SCM credentials (SCM_CREDENTIALS locally, the ScmCredentials secret deployed)`,
    );
  }
  const configured = origin(host, 'apiUrl', creds.apiUrl);
  const apiPath = API_PATHS[host];
  return `${configured.endsWith(apiPath) ? configured.slice(0, -apiPath.length) : configured}${apiPath}`;
}

/** Clone URL, web page and API base of `slug` on `host`, from the host's configuration. */
export function locateRepository(host: HookHost, slug: string, creds: ScmCredentials): RepositoryLocation {
  validateSlug(host, slug);
  const apiUrl = apiBaseOf(host, creds);
  if (host === 'github' && apiUrl !== GITHUB_API && !creds.webUrl) {
    // GitHub Enterprise: its clone token must go to its own host, never to github.com.
    throw new ScmConfigError(`scm: "github".apiUrl is ${apiUrl}, so "github".webUrl must say where its repositories are cloned from (e.g. https://github.example.com)`);
  }
  const web = creds.webUrl
    ? origin(host, 'webUrl', creds.webUrl)
    : host === 'github'
      ? GITHUB_WEB
      : apiUrl.slice(0, -API_PATHS[host].length);
  const path = encodePath(slug);
  return { httpUrl: `${web}/${path}.git`, link: `${web}/${path}`, apiUrl };
}
