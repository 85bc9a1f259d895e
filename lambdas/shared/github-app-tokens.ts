// Installation tokens of the GitHub App, minted when a request needs one and kept until five
// minutes before they expire (GitHub: an hour). One per repository, scoped to it alone.
// `mint` buys a fresh one, never cached, for a build's clone (clone-tokens.ts).

import {
  accessTokenRequest,
  githubAppJwt,
  installationRequest,
  INSTALLATION_PERMISSIONS,
  type GithubAppCredentials,
  type InstallationPermissions,
} from '../../core/scm/github-app.js';
import { sendApiRequest } from '../../core/scm/api-request.js';
import { ScmApiError } from '../../core/scm/fetch-config.js';
import type { ApiRequest, Fetch } from '../../core/scm/types.js';

const MARGIN_MS = 5 * 60_000;

export class GithubAppTokens {
  private readonly cache = new Map<string, { token: string; expiresAt: number }>();

  constructor(
    private readonly fetchImpl: Fetch = globalThis.fetch,
    private readonly now: () => number = Date.now,
  ) {}

  /** A token for `slug` only, with contents:read and statuses:write. */
  async token(app: GithubAppCredentials, apiBase: string, slug: string): Promise<string> {
    const key = `${apiBase}\n${app.appId}\n${slug}`;
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt - MARGIN_MS > this.now()) return hit.token;
    const minted = await this.mint(app, apiBase, slug, INSTALLATION_PERMISSIONS);
    this.cache.set(key, minted);
    return minted.token;
  }

  /** A new token for `slug` only, with exactly `permissions`; not cached. */
  async mint(app: GithubAppCredentials, apiBase: string, slug: string, permissions: InstallationPermissions): Promise<{ token: string; expiresAt: number }> {
    const jwt = githubAppJwt(app, Math.floor(this.now() / 1000));
    const installation = (await this.send(installationRequest(apiBase, jwt, slug), slug, 'find the App installation of')) as { id?: unknown };
    if (typeof installation.id !== 'number') throw new ScmApiError(`scm: GitHub named no installation id for ${slug}`, 502);
    const minted = (await this.send(accessTokenRequest(apiBase, jwt, installation.id, slug, permissions), slug, 'mint an installation token for')) as { token?: unknown; expires_at?: unknown };
    if (typeof minted.token !== 'string' || typeof minted.expires_at !== 'string') throw new ScmApiError(`scm: GitHub answered no token for ${slug}`, 502);
    const expiresAt = Date.parse(minted.expires_at);
    if (!Number.isFinite(expiresAt)) throw new ScmApiError(`scm: GitHub answered an expiry for ${slug} that is not a time: ${JSON.stringify(minted.expires_at)}`, 502);
    return { token: minted.token, expiresAt };
  }

  private async send(req: ApiRequest, slug: string, what: string): Promise<unknown> {
    const res = await sendApiRequest(req, this.fetchImpl);
    const text = await res.text();
    if (!res.ok) {
      const hint = res.status === 404 ? ' (is the App installed on that repository?)' : res.status === 401 ? ' (check the App id and private key)' : '';
      throw new ScmApiError(`scm: could not ${what} ${slug}: GitHub answered ${res.status}${hint}: ${text.slice(0, 200)}`, res.status);
    }
    return JSON.parse(text) as unknown;
  }
}
