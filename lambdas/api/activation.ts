// Activating repositories (`slipway repo add|rm|rotate-secret`, the dashboard's repository
// page): the repository record in the table, and its own webhook secret in the webhook
// secrets store (lambdas/shared/webhook-secrets.ts), which this API may write but never read.
// A new secret is shown once, in the answer that created it.

import { CAPACITY_PREFERENCES, type CapacityPreference } from '../../core/pipeline/capacity.js';
import { REPO_SETTING_DEFAULTS, REPO_SETTINGS, type AppSecretResponse, type RepoActivationResponse, type RepoResponse, type RepoUpdateResponse } from '../../core/builds/api.js';
import { RepositoryHostConflictError, type RepositorySettingsPatch, type RepositoryStore } from '../../core/builds/ports.js';
import { REPO_VISIBILITIES, repositoryUsesPullThroughCache, repositoryVisibility, type Repository, type RepoVisibility } from '../../core/builds/types.js';
import { RepositoryNameError, validateSlug } from '../../core/scm/locate.js';
import { HOOK_HOSTS, type HookHost } from '../../core/scm/types.js';
import { GITHUB_APP_SECRET_SLUG, generateWebhookSecret, type WebhookSecrets } from '../shared/webhook-secrets.js';
import { ApiFailure } from './http.js';

export interface ActivationDeps {
  store: Pick<RepositoryStore, 'getRepository' | 'activateRepository' | 'deactivateRepository' | 'changeRepositorySettings'>;
  /** Written, never read here: only the webhook reads a secret back. */
  secrets: Pick<WebhookSecrets, 'put' | 'remove'>;
  /** Where the Git hosts send webhooks (`…/github` etc. are appended); unknown: only the path is shown. */
  webhookUrl?: string;
  now(): number;
}

export function parseHost(value: string | null): HookHost {
  if (!value || !(HOOK_HOSTS as readonly string[]).includes(value)) {
    throw new ApiFailure(400, `host=${JSON.stringify(value ?? '')} must be one of ${HOOK_HOSTS.join(', ')}`);
  }
  return value as HookHost;
}

function parseVisibility(value: string | null): RepoVisibility {
  if (value === null || value === '') return REPO_SETTING_DEFAULTS.visibility;
  return visibilityOf(value);
}

function visibilityOf(value: string): RepoVisibility {
  if (!(REPO_VISIBILITIES as readonly string[]).includes(value)) throw new ApiFailure(400, `visibility=${JSON.stringify(value)} must be one of ${REPO_VISIBILITIES.join(', ')}`);
  return value as RepoVisibility;
}

function parseTrusted(value: string | null): boolean {
  if (value === null || value === '') return REPO_SETTING_DEFAULTS.trusted;
  return booleanOf('trusted', value);
}

/** On unless said otherwise (Repository.pullThroughCache). */
function parsePullThroughCache(value: string | null): boolean {
  if (value === null || value === '') return REPO_SETTING_DEFAULTS.pullThroughCache;
  return booleanOf('pullThroughCache', value);
}

function booleanOf(setting: string, value: string): boolean {
  if (value !== 'true' && value !== 'false') throw new ApiFailure(400, `${setting}=${JSON.stringify(value)} must be true or false`);
  return value === 'true';
}

function parseCapacity(value: string | null): CapacityPreference | undefined {
  if (value === null || value === '') return undefined;
  return capacityOf(value);
}

function capacityOf(value: string): CapacityPreference {
  if (!(CAPACITY_PREFERENCES as readonly string[]).includes(value)) throw new ApiFailure(400, `capacity=${JSON.stringify(value)} must be one of ${CAPACITY_PREFERENCES.join(', ')}`);
  return value as CapacityPreference;
}

function slugOf(host: HookHost, value: string | null): string {
  try {
    return validateSlug(host, value ?? '');
  } catch (err) {
    if (err instanceof RepositoryNameError) throw new ApiFailure(400, err.message);
    throw err;
  }
}

function webhookOf(deps: ActivationDeps, host: HookHost, secret: string): RepoActivationResponse['webhook'] {
  const path = `/${host}`;
  return { ...(deps.webhookUrl ? { url: `${deps.webhookUrl.replace(/\/+$/, '')}${path}` } : {}), host, secret };
}

async function activeRepository(deps: ActivationDeps, repo: string | null): Promise<Repository & { scm: HookHost }> {
  if (!repo) throw new ApiFailure(400, 'repo=OWNER/NAME is required');
  const record = await deps.store.getRepository(repo);
  if (!record || !record.active) throw new ApiFailure(404, `repository ${repo} is not activated; activate it with: slipway repo add ${repo} --host HOST`);
  if (record.scm === 'local') throw new ApiFailure(409, `repository ${repo} is a local directory (slipway run); it has no webhook`);
  return record as Repository & { scm: HookHost };
}

/** POST /api/repos/activate?repo=&host=&visibility=&trusted=&capacity=&pullThroughCache= */
export async function activate(deps: ActivationDeps, query: URLSearchParams): Promise<RepoActivationResponse> {
  const host = parseHost(query.get('host'));
  const slug = slugOf(host, query.get('repo'));
  const visibility = parseVisibility(query.get('visibility'));
  const trusted = parseTrusted(query.get('trusted'));
  const capacity = parseCapacity(query.get('capacity'));
  const pullThroughCache = parsePullThroughCache(query.get('pullThroughCache'));
  const existing = await deps.store.getRepository(slug);
  if (existing?.active && existing.scm === host && existing.activatedAt !== undefined) {
    throw new ApiFailure(409, `repository ${slug} is already activated on ${host}; for a new webhook secret: slipway repo rotate-secret ${slug}; to change its settings: slipway repo update ${slug}`);
  }
  let repo: Repository;
  try {
    repo = await deps.store.activateRepository({ slug, scm: host, visibility, activatedAt: deps.now(), trusted, ...(capacity ? { capacity } : {}), pullThroughCache });
  } catch (err) {
    if (err instanceof RepositoryHostConflictError) throw new ApiFailure(409, err.message);
    throw err;
  }
  // After the record: a failure here leaves an activated repository whose webhook answers
  // 503 with the fix (rotate-secret), never a secret for a repository that is not there.
  const secret = generateWebhookSecret();
  await deps.secrets.put(host, slug, secret);
  return { repo, webhook: webhookOf(deps, host, secret) };
}

/** POST /api/repos/rotate-secret?repo= — the old secret stops working at once. */
export async function rotateSecret(deps: ActivationDeps, query: URLSearchParams): Promise<RepoActivationResponse> {
  const repo = await activeRepository(deps, query.get('repo'));
  const secret = generateWebhookSecret();
  await deps.secrets.put(repo.scm, repo.slug, secret);
  return { repo, webhook: webhookOf(deps, repo.scm, secret) };
}

const UPDATE_PARAMETERS: ReadonlySet<string> = new Set(['repo', ...REPO_SETTINGS]);

/**
 * POST /api/repos/update?repo=&trusted=&capacity=&visibility=&pullThroughCache= — changes only the settings
 * named (Drone's `drone repo update`), in one conditional write (the store's
 * changeRepositorySettings); an unknown parameter is refused, not ignored, so a misspelt
 * setting never looks applied. The planner reads the settings per build: the change applies
 * to builds planned from now on (a restart is planned again), not to ones already planned.
 */
export async function updateSettings(deps: ActivationDeps, query: URLSearchParams): Promise<RepoUpdateResponse> {
  const unknown = [...query.keys()].find((k) => !UPDATE_PARAMETERS.has(k));
  if (unknown !== undefined) throw new ApiFailure(400, `unknown parameter ${JSON.stringify(unknown)}; a repository's settings are ${REPO_SETTINGS.join(', ')}`);
  const slug = query.get('repo');
  if (!slug) throw new ApiFailure(400, 'repo=OWNER/NAME is required');
  const patch: RepositorySettingsPatch = {};
  const trusted = query.get('trusted');
  if (trusted !== null) patch.trusted = booleanOf('trusted', trusted);
  const capacity = query.get('capacity');
  if (capacity !== null) patch.capacity = capacityOf(capacity);
  const visibility = query.get('visibility');
  if (visibility !== null) patch.visibility = visibilityOf(visibility);
  const pullThroughCache = query.get('pullThroughCache');
  if (pullThroughCache !== null) patch.pullThroughCache = booleanOf('pullThroughCache', pullThroughCache);
  if (Object.keys(patch).length === 0) throw new ApiFailure(400, `name a setting to change: ${REPO_SETTINGS.map((s) => `${s}=`).join(', ')}`);

  const record = await deps.store.getRepository(slug);
  if (!record || !record.active) throw new ApiFailure(404, `repository ${slug} is not activated; activate it with: slipway repo add ${slug} --host HOST`);
  // `slipway run` activates its directory again with each run (local/up.ts), trusted: a change would not last.
  if (record.scm === 'local') throw new ApiFailure(409, `repository ${slug} is a local directory (slipway run), activated again by each run; its settings cannot be changed`);
  const change = await deps.store.changeRepositorySettings(slug, patch, deps.now(), record.activatedAt);
  if (!change) throw new ApiFailure(409, `repository ${slug} was removed or activated again while this update ran; nothing changed: look at it (slipway repo list) and update it again`);
  const changes = REPO_SETTINGS.filter((s) => patch[s] !== undefined).map((setting) => {
    const from = setting === 'visibility'
      ? repositoryVisibility(change.before)
      : setting === 'pullThroughCache' ? repositoryUsesPullThroughCache(change.before) : change.before[setting];
    return { setting, ...(from !== undefined ? { from } : {}), to: change.after[setting]! };
  });
  return { repo: change.after, changes };
}

/** POST /api/repos/remove?repo= — its webhooks run nothing; its builds and numbers stay. */
export async function remove(deps: ActivationDeps, query: URLSearchParams): Promise<RepoResponse> {
  const repo = await activeRepository(deps, query.get('repo'));
  const removed = await deps.store.deactivateRepository(repo.slug);
  await deps.secrets.remove(repo.scm, repo.slug);
  return { repo: removed ?? { ...repo, active: false } };
}

/** A shorter secret could be guessed; SSM holds at most 4 KB in a standard parameter. */
export const APP_SECRET_MIN_LENGTH = 16;
export const APP_SECRET_MAX_LENGTH = 4096;

/**
 * POST /api/app/github/secret, body `{"secret":"…"}`: the GitHub App's webhook secret, which
 * GitHub alone knows besides us (typed into the App's settings, so taken, not generated).
 * Stored where repositories' secrets are (`<prefix>/github/_app`), written, never read here.
 */
export async function setGithubAppSecret(deps: ActivationDeps, body: string | undefined): Promise<AppSecretResponse> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body ?? '');
  } catch (err) {
    throw new ApiFailure(400, `the body must be JSON {"secret": "…"} (${(err as Error).message})`);
  }
  const secret = (parsed as { secret?: unknown } | null)?.secret;
  if (typeof secret !== 'string') throw new ApiFailure(400, 'the body must be JSON {"secret": "…"} with the secret as a string');
  if (secret.length < APP_SECRET_MIN_LENGTH || secret.length > APP_SECRET_MAX_LENGTH) {
    throw new ApiFailure(400, `the secret has ${secret.length} characters; use ${APP_SECRET_MIN_LENGTH} to ${APP_SECRET_MAX_LENGTH} (for example: openssl rand -hex 32), in the App's settings too`);
  }
  if (/[\s\p{Cc}]/u.test(secret)) throw new ApiFailure(400, 'the secret holds spaces or control characters; GitHub signs with the exact text of its settings, use one without (openssl rand -hex 32)');
  await deps.secrets.put('github', GITHUB_APP_SECRET_SLUG, secret);
  return { app: 'github', ...(deps.webhookUrl ? { webhookUrl: `${deps.webhookUrl.replace(/\/+$/, '')}/github` } : {}) };
}
