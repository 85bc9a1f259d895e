// Installation tokens of the GitHub App, minted when a request needs one and kept until five
// minutes before they expire (GitHub: an hour). One per repository, scoped to it alone.
// `mint` buys a fresh one, never cached, for a build's clone (clone-tokens.ts).
//
// A mint is two calls to GitHub: the repository's installation (GET /repos/{owner}/{repo}/installation,
// https://docs.github.com/en/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app),
// then a token of that installation (POST /app/installations/{installation_id}/access_tokens,
// https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app:
// "Installation tokens expire one hour from the time you create them"). The installation of a
// repository changes only when the App is uninstalled and installed again, or the repository
// moves to another account: its id is kept for the life of this instance, and on the
// repository's record (Repository.githubInstallation), which the caller reads anyway and passes
// in (InstallationHint), so that a mint is one call from a new instance too. When GitHub
// refuses a token for a kept id (404: no such installation; 422: the repository is not in it;
// 401: GitHub's answer to a JWT for an installation it no longer has as well as to a bad one),
// the id is dropped and looked up once more, and the caller is handed the new one to keep
// (`found`). The only id ever handed on is one GitHub's API named.

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
import type { RepositoryStore } from '../../core/builds/ports.js';
import type { GithubInstallation } from '../../core/builds/types.js';
import { classifyAwsError, describeAwsError } from '../../core/util/aws-errors.js';
import type { Log } from './observability/logger.js';

const MARGIN_MS = 5 * 60_000;

/** GitHub's answers to a token request that a stale installation id explains. */
const STALE_INSTALLATION = new Set([401, 404, 422]);

/** What the caller knows of a repository's installation, and where it keeps one GitHub names. */
export interface InstallationHint {
  /** The id the repository's record holds for this App (Repository.githubInstallation). */
  known?: number;
  /**
   * Called with the id GitHub's API named when it had to be asked (none known, or the known one
   * refused), while the token is bought with it: the caller keeps it. It should not throw (a
   * failure to keep it is the caller's to report, and costs only a lookup later): a throw fails the mint.
   */
  found?: (id: number) => Promise<void>;
}

export class GithubAppTokens {
  private readonly cache = new Map<string, { token: string; expiresAt: number }>();
  /** Installation ids by API base, App and repository (installationKey). */
  private readonly installations = new Map<string, number>();
  /** Tokens being minted for `token`, so that requests of one repository at once share one mint. */
  private readonly minting = new Map<string, Promise<{ token: string; expiresAt: number }>>();

  constructor(
    private readonly fetchImpl: Fetch = globalThis.fetch,
    private readonly now: () => number = Date.now,
  ) {}

  /** The installation id this instance holds for `slug` (looked up, or given and taken by GitHub), without a call. */
  installationOf(app: Pick<GithubAppCredentials, 'appId'>, apiBase: string, slug: string): number | undefined {
    return this.installations.get(installationKey(app, apiBase, slug));
  }

  /** A token for `slug` only, with contents:read and statuses:write. */
  async token(app: GithubAppCredentials, apiBase: string, slug: string, hint: InstallationHint = {}): Promise<string> {
    const key = installationKey(app, apiBase, slug);
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt - MARGIN_MS > this.now()) return hit.token;
    let pending = this.minting.get(key);
    if (!pending) {
      pending = this.mint(app, apiBase, slug, INSTALLATION_PERMISSIONS, hint).finally(() => this.minting.delete(key));
      this.minting.set(key, pending);
    }
    const minted = await pending;
    this.cache.set(key, minted);
    return minted.token;
  }

  /** A new token for `slug` only, with exactly `permissions`; not cached. */
  async mint(app: GithubAppCredentials, apiBase: string, slug: string, permissions: InstallationPermissions, hint: InstallationHint = {}): Promise<{ token: string; expiresAt: number }> {
    const key = installationKey(app, apiBase, slug);
    const jwt = githubAppJwt(app, Math.floor(this.now() / 1000));
    // This instance's own first (it may have looked up a newer one than the record held), then the record's.
    const kept = this.installations.get(key) ?? hint.known;
    if (kept !== undefined) {
      try {
        const minted = await this.accessToken(apiBase, jwt, kept, slug, permissions);
        if (!this.installations.has(key)) this.installations.set(key, kept);
        return minted;
      } catch (err) {
        if (!(err instanceof ScmApiError) || !STALE_INSTALLATION.has(err.status)) throw err;
        // Only if nothing else replaced it meanwhile.
        if (this.installations.get(key) === kept) this.installations.delete(key);
      }
    }
    const installation = await this.installation(apiBase, jwt, slug);
    this.installations.set(key, installation);
    // Kept while the token is bought: the write adds no wait to the call's.
    const keeping = installation !== hint.known ? hint.found?.(installation) : undefined;
    const [minted] = await Promise.all([this.accessToken(apiBase, jwt, installation, slug, permissions), keeping]);
    return minted;
  }

  private async installation(apiBase: string, jwt: string, slug: string): Promise<number> {
    const installation = (await this.send(installationRequest(apiBase, jwt, slug), slug, 'find the App installation of')) as { id?: unknown };
    if (typeof installation.id !== 'number') throw new ScmApiError(`scm: GitHub named no installation id for ${slug}`, 502);
    return installation.id;
  }

  private async accessToken(apiBase: string, jwt: string, installation: number, slug: string, permissions: InstallationPermissions): Promise<{ token: string; expiresAt: number }> {
    const minted = (await this.send(accessTokenRequest(apiBase, jwt, installation, slug, permissions), slug, 'mint an installation token for')) as { token?: unknown; expires_at?: unknown };
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

/**
 * What a repository's record says of its installation of the App `appId` (an id kept for another
 * App is no hint), and where an id GitHub names instead is kept.
 */
export function installationHint(appId: string, slug: string, kept: GithubInstallation | undefined, keep?: (slug: string, installation: GithubInstallation) => Promise<void>): InstallationHint {
  return {
    ...(kept?.appId === appId ? { known: kept.id } : {}),
    ...(keep ? { found: (id: number) => keep(slug, { appId, id }) } : {}),
  };
}

/**
 * Keeps an installation GitHub named on the repository's record (RepositoryStore.setGithubInstallation).
 * A write that fails is logged, not thrown: the token is bought all the same, and the next new
 * instance looks the installation up again.
 */
export function installationKeeper(store: Pick<RepositoryStore, 'setGithubInstallation'>, log: Log): (slug: string, installation: GithubInstallation) => Promise<void> {
  return async (slug, installation) => {
    try {
      await store.setGithubInstallation(slug, installation);
    } catch (err) {
      const info = classifyAwsError(err);
      log('GitHub App installation not kept on the repository record: a new instance will look it up again', { repo: slug, installationId: installation.id, error: describeAwsError(info) });
    }
  };
}

/** What a token and an installation id are kept by: the API base, the App and the repository. */
function installationKey(app: Pick<GithubAppCredentials, 'appId'>, apiBase: string, slug: string): string {
  return `${apiBase}\n${app.appId}\n${slug}`;
}
