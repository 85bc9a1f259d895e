// GitHub App authentication for the API calls (reading the pipeline file, posting commit
// statuses): a JWT signed with the App's private key (RS256) finds the installation on the
// repository, then buys an installation token scoped to that one repository and to the
// permissions of its use (API calls: contents read + statuses write; a build's clone:
// contents read only), valid an hour. GitHub's documentation:
// https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
// (iat 60 s in the past against clock drift, exp at most 10 minutes ahead, iss the App id)
// and .../generating-an-installation-access-token-for-a-github-app
// (GET /repos/{owner}/{repo}/installation, POST /app/installations/{id}/access_tokens with
// `repositories` and `permissions`).

import { createSign } from 'node:crypto';
import { githubHeaders } from './github.js';
import { encodePath } from './locate.js';
import type { ApiRequest } from './types.js';

export interface GithubAppCredentials {
  /** The App's id (or its client id: GitHub accepts either as `iss`). */
  appId: string;
  /** The App's private key, PEM (`-----BEGIN RSA PRIVATE KEY-----…`). */
  privateKey: string;
}

/** What a token is scoped to: read the pipeline file, post commit statuses. Nothing else. */
export const INSTALLATION_PERMISSIONS = { contents: 'read', statuses: 'write' } as const;

/**
 * A build agent's clone token: read the repository's contents, nothing else (not even
 * statuses: a step that somehow got it could not post a green check).
 */
export const CLONE_PERMISSIONS = { contents: 'read' } as const;

export type InstallationPermissions = Readonly<Record<string, 'read' | 'write'>>;

const base64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

/** The App's JWT, valid from a minute ago for nine minutes (GitHub refuses more than ten). */
export function githubAppJwt(app: GithubAppCredentials, nowSeconds: number): string {
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify({ iat: nowSeconds - 60, exp: nowSeconds + 540, iss: app.appId }));
  const signature = createSign('RSA-SHA256').update(`${header}.${payload}`).sign(app.privateKey);
  return `${header}.${payload}.${base64url(signature)}`;
}

/** GET /repos/{owner}/{repo}/installation: the App's installation that covers the repository. */
export function installationRequest(apiBase: string, jwt: string, slug: string): ApiRequest {
  return { method: 'GET', url: `${apiBase}/repos/${encodePath(slug)}/installation`, headers: githubHeaders(jwt) };
}

/**
 * POST /app/installations/{id}/access_tokens, scoped to the one repository (its name without
 * owner: the installation is the owner's) and to `permissions` (default: the API calls').
 */
export function accessTokenRequest(apiBase: string, jwt: string, installationId: number, slug: string, permissions: InstallationPermissions = INSTALLATION_PERMISSIONS): ApiRequest {
  return {
    method: 'POST',
    url: `${apiBase}/app/installations/${encodeURIComponent(String(installationId))}/access_tokens`,
    headers: { ...githubHeaders(jwt), 'content-type': 'application/json' },
    body: JSON.stringify({ repositories: [slug.slice(slug.indexOf('/') + 1)], permissions }),
  };
}
