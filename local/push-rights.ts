// Which repositories' builds may push to the local image registry, and to which of its
// repositories: local mode's `imagePushRepositories` (README, Configuration), read from
// SLIPWAY_IMAGE_PUSH_REPOSITORIES in the same shape, `{"owner/name": ["team/app", …]}`. As
// deployed, a listed repository builds under a role of its own (the planner's ENV.imageBuilds,
// lambdas/planner/compile-options.ts); here that role carries the registry's login and the
// names (push-grant.ts), which the ECS stand-in gives to the role's image build and manifest
// containers. An unlisted repository's builds get no login: their pushes are refused (401).
import { ENV } from '../core/config/lambda-env.js';
import type { RegistryPushGrant } from './push-grant.js';
import type { RegistryLogin } from './registry-login.js';

export const PUSH_REPOSITORIES_ENV = 'SLIPWAY_IMAGE_PUSH_REPOSITORIES';

const SLUG = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/;
// A repository name as the OCI distribution spec allows it (path components of lower-case letters and digits with separators).
const NAME = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const SHAPE = '{"owner/name": ["team/app", …]}';

/** The setting, checked: a mistake is an error that names it, never a repository silently left out. */
export function parsePushRepositories(raw: string | undefined): Record<string, string[]> {
  if (raw === undefined || raw.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new Error(`local: ${PUSH_REPOSITORIES_ENV} is not JSON (${(error as Error).message}); expected ${SHAPE}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`local: ${PUSH_REPOSITORIES_ENV}: ${raw}; expected ${SHAPE}`);
  const out: Record<string, string[]> = {};
  for (const [slug, names] of Object.entries(value as Record<string, unknown>)) {
    if (!SLUG.test(slug)) throw new Error(`local: ${PUSH_REPOSITORIES_ENV}: "${slug}" is not owner/name`);
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && NAME.test(n) && n.length <= 256)) {
      throw new Error(`local: ${PUSH_REPOSITORIES_ENV}["${slug}"]: ${JSON.stringify(names)}; expected a list of registry repository names (lower case, e.g. team/app)`);
    }
    out[slug] = [...(names as string[])];
  }
  return out;
}

/** The role a listed repository's tasks run under (an IAM role's path holds the owner). */
export function localPushRoleArn(accountId: string, slug: string): string {
  return `arn:aws:iam::${accountId}:role/slipway-image-push/${slug}`;
}

export interface LocalPushRights {
  /** ENV.imageBuilds for the planner: each listed repository's role and names (no cache repository: buildah's storage is the cache here). */
  plannerEnv: Record<string, string>;
  /** The ECS stand-in's question: what may a task of this role push (LocalEcsOptions.pushGrant)? */
  grant(taskRoleArn: string): RegistryPushGrant | undefined;
}

/**
 * The rights of the listed repositories to the registry, spelt each way tasks name it.
 * `registries`: the registry's addresses as image names write them.
 */
export function localPushRights(byRepository: Record<string, string[]>, registry: { registries: string[]; login: RegistryLogin }, accountId: string): LocalPushRights {
  const byRole = new Map(Object.entries(byRepository).map(([slug, names]) => [localPushRoleArn(accountId, slug), names]));
  const imageBuilds = Object.fromEntries(Object.entries(byRepository).map(([slug, names]) => [slug, { taskRoleArn: localPushRoleArn(accountId, slug), pushRepositories: names, cacheRepository: '' }]));
  return {
    plannerEnv: Object.keys(imageBuilds).length > 0 ? { [ENV.imageBuilds]: JSON.stringify(imageBuilds) } : {},
    grant: (taskRoleArn) => {
      const repositories = byRole.get(taskRoleArn);
      return repositories ? { registries: registry.registries, ...registry.login, repositories } : undefined;
    },
  };
}
