// Image references rewritten to the deployment's ECR pull-through cache: `node:20` becomes
// `<account>.dkr.ecr.<region>.amazonaws.com/docker-hub/library/node:20`, pulled in the Region
// and counted against no Docker Hub limit. Pure.
//
// The cached path is `<prefix>/<upstream repository>`; Docker Hub's official images keep
// their `library/` ("For Docker Hub official images, the /library prefix must be included",
// https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-working.html).
// That path must be an ECR repository name, which is stricter than Docker's
// (core/images/ecr-repository-name.ts): an image whose cached name ECR would refuse keeps its
// reference, since pulled as written it still runs.

import { isEcrRepositoryName } from '../images/ecr-repository-name.js';
import { SOCI_REPOSITORY_PREFIX, type ConvertedImages } from '../images/soci.js';
import { ecrRegistryOf } from '../images/ecr-image.js';
import { parseImageReference } from '../images/reference.js';
import type { ContainerDefinition } from './ecs-task.js';

export interface PullThroughCacheRule {
  /** The registry as image references name it (core/images/reference.ts: Docker Hub is `docker.io`). */
  domain: string;
  /** ECR's upstreamRegistryUrl for it. */
  upstream: string;
  /** The deployment's repository prefix (2–30 characters, CreatePullThroughCacheRule). */
  prefix: string;
  /** The construct id of its rule (lib/pull-through-cache.ts). */
  id: string;
  /** The setting naming its `ecr-pullthroughcache/` secret, when ECR needs credentials for it. */
  credentials?: 'dockerHubCredentialsSecretArn' | 'ghcrCredentialsSecretArn' | 'gitlabRegistryCredentialsSecretArn';
}

/**
 * The upstream registries the stack caches (lib/pull-through-cache.ts creates the rules), in the
 * order ECR's user guide lists them (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache.html):
 * those pipelines name by a fixed host.
 */
export const PULL_THROUGH_CACHE_RULES: readonly PullThroughCacheRule[] = [
  { domain: 'public.ecr.aws', upstream: 'public.ecr.aws', prefix: 'slipway-ecr-public', id: 'EcrPublic' },
  { domain: 'registry.k8s.io', upstream: 'registry.k8s.io', prefix: 'slipway-k8s', id: 'Kubernetes' },
  { domain: 'quay.io', upstream: 'quay.io', prefix: 'slipway-quay', id: 'Quay' },
  { domain: 'docker.io', upstream: 'registry-1.docker.io', prefix: 'slipway-docker-hub', id: 'DockerHub', credentials: 'dockerHubCredentialsSecretArn' },
  { domain: 'ghcr.io', upstream: 'ghcr.io', prefix: 'slipway-ghcr', id: 'GitHub', credentials: 'ghcrCredentialsSecretArn' },
  { domain: 'registry.gitlab.com', upstream: 'registry.gitlab.com', prefix: 'slipway-gitlab', id: 'GitLab', credentials: 'gitlabRegistryCredentialsSecretArn' },
];

/** The prefixes of the rules that fetch with the deployment's stored credentials. */
export const CREDENTIALED_RULE_PREFIXES: readonly string[] = PULL_THROUGH_CACHE_RULES.filter((r) => r.credentials !== undefined).map((r) => r.prefix);

export interface PullThroughCache {
  /** The account's private registry: `<account>.dkr.ecr.<region>.amazonaws.com`. */
  registry: string;
  /** Upstream registry domain as Docker names it (`docker.io`, `public.ecr.aws`, `registry.k8s.io`, `quay.io`, `ghcr.io`, `registry.gitlab.com`) → the rule's repository prefix. */
  prefixes: Readonly<Record<string, string>>;
  /**
   * Cached references whose image has a SOCI-enabled copy (core/images/soci.ts): the task
   * definition names that copy, by digest, so that Fargate lazy-loads it. Absent: the cached tags.
   */
  converted?: ConvertedImages;
  /**
   * Upstream registry domain → repository prefix of the rules this build may not use, named
   * directly or through the cache (withoutCredentialedRules): an image under one of them is the
   * pipeline's error (refusedCacheImage).
   */
  refused?: Readonly<Record<string, string>>;
}

/**
 * The cache without the rules that pull with the deployment's stored credentials (Docker Hub,
 * ghcr.io, registry.gitlab.com: "For upstream registries that require authentication with
 * secrets, you must store the credentials in a Secrets Manager secret",
 * https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-creating-rule.html).
 * Through such a rule, ECR fetches whatever the named image is with that token, private
 * packages of its account included, and keeps it in the account for every later build: a
 * file the build's author may write (a fork's pull request) must not choose what it fetches.
 * Its images are pulled as written, anonymously; the rules without credentials still apply.
 */
export function withoutCredentialedRules(cache: PullThroughCache): PullThroughCache {
  const credentialed = new Map(PULL_THROUGH_CACHE_RULES.filter((r) => r.credentials !== undefined).map((r) => [r.domain, r.prefix]));
  const kept = Object.entries(cache.prefixes).filter(([domain]) => !credentialed.has(domain.toLowerCase()));
  // Every credentialed rule's prefix is refused, whether or not this deployment has the rule
  // today (a rule added later must not open a hole), and whatever prefix the deployment names.
  const refused: Record<string, string> = { ...cache.refused, ...Object.fromEntries(credentialed) };
  for (const [domain, prefix] of Object.entries(cache.prefixes)) if (credentialed.has(domain.toLowerCase())) refused[domain.toLowerCase()] = prefix;
  return { ...cache, prefixes: Object.fromEntries(kept), refused };
}

/** Whether `domain` is a host of the account's private ECR registry (ecrRegistryOf), in any Region: the account's cache rules are the same names. */
function isAccountRegistry(domain: string, accountId: string): boolean {
  return ecrRegistryOf(domain)?.accountId === accountId;
}

/** What a build wrote that names a refused rule's repository, and the upstream reference to write instead. */
export interface RefusedCacheImage {
  /** The upstream registry domain of the rule (`ghcr.io`). */
  domain: string;
  /** The image as its upstream names it (`ghcr.io/acme/tool:1`; Docker Hub's in Docker's short form). */
  upstream: string;
}

/**
 * Whether `image` names this deployment's registry under a refused rule's prefix
 * (PullThroughCache.refused), or the SOCI-enabled copy of such an image (`slipway-soci/<prefix>/…`,
 * core/images/soci.ts): a fork's file naming the cache directly would have ECR fetch, with the
 * deployment's token, what it chose. Undefined when it does not (or does not parse: the pull
 * then fails on its own).
 */
export function refusedCacheImage(image: string, cache: PullThroughCache): RefusedCacheImage | undefined {
  const refused = Object.entries(cache.refused ?? {});
  if (refused.length === 0) return undefined;
  const accountId = cache.registry.split('.')[0] ?? '';
  const parsed = parseImageReference(image);
  if (!parsed.ok || !isAccountRegistry(parsed.ref.domain, accountId)) return undefined;
  const { ref } = parsed;
  const repository = ref.repository.startsWith(`${SOCI_REPOSITORY_PREFIX}/`) ? ref.repository.slice(SOCI_REPOSITORY_PREFIX.length + 1) : ref.repository;
  for (const [domain, prefix] of refused) {
    if (!repository.startsWith(`${prefix}/`)) continue;
    const upstreamRepository = repository.slice(prefix.length + 1);
    const name = domain === 'docker.io' ? upstreamRepository.replace(/^library\//, '') : `${domain}/${upstreamRepository}`;
    const tag = ref.tag !== undefined ? `:${ref.tag}` : '';
    const digest = ref.digest !== undefined ? `@${ref.digest}` : '';
    return { domain, upstream: `${name}${tag}${digest}` };
  }
  return undefined;
}

/** The reference through the cache, or the reference as it is when no rule covers its registry (or it does not parse). */
export function cachedImage(image: string, cache: PullThroughCache): string {
  const parsed = parseImageReference(image);
  if (!parsed.ok) return image;
  const { ref } = parsed;
  // Host names are case-insensitive; the rules name them in lower case.
  const prefix = cache.prefixes[ref.domain.toLowerCase()];
  if (prefix === undefined) return image;
  const repository = `${prefix}/${ref.repository}`;
  if (!isEcrRepositoryName(repository)) return image;
  const tag = ref.tag !== undefined ? `:${ref.tag}` : '';
  const digest = ref.digest !== undefined ? `@${ref.digest}` : '';
  return `${cache.registry}/${repository}${tag}${digest}`;
}

/**
 * Rewrites the images of `containers` in place, to the converted copy where the cache's image
 * has one (PullThroughCache.converted). A container pulled with its own registry
 * credentials (`image_pull_secrets` → repositoryCredentials) keeps its image: the cache pulls
 * with the rule's credentials, which do not reach that repository.
 */
export function applyPullThroughCache(containers: readonly ContainerDefinition[], cache: PullThroughCache): void {
  for (const c of containers) {
    if (c.repositoryCredentials) continue;
    const cached = cachedImage(c.image, cache);
    c.image = cache.converted?.get(cached) ?? cached;
  }
}

/** The private registry host of an account and Region (amazonaws.com.cn in the China partition). */
export function ecrRegistry(accountId: string, region: string, partition = 'aws'): string {
  return `${accountId}.dkr.ecr.${region}.amazonaws.com${partition === 'aws-cn' ? '.cn' : ''}`;
}
