// Whether the deployment pulls Docker Hub images through its own ECR pull-through cache rule.
// ECR caches Docker Hub only with credentials ("For upstream registries that require
// authentication with secrets, you must store the credentials in a Secrets Manager secret",
// https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-creating-rule.html),
// so the stack creates that rule only once dockerHubCredentialsSecretArn names a secret
// (lib/pull-through-cache.ts), and the planner rewrites Docker Hub images only through a rule it
// is told of (ENV.pullThroughCache). Without it, tasks pull `node:20`, `postgres:16`, … from Docker
// Hub as written, anonymously. Pure: the doctor reads the planner's environment and judges it.

import { ENV } from '../config/lambda-env.js';

/** Docker Hub as image references name it (core/images/reference.ts). */
const DOCKER_HUB = 'docker.io';

/**
 * Push → first step at p50 of issue 18's pipeline (a postgres service and a node image), from
 * `npm run bench -- start-model`: a deployment left at its defaults (no Docker Hub rule) and the
 * same with the Docker Hub secret given. test/bench/start-model.test.ts keeps them the model's.
 */
export const START_P50_SECONDS = { withoutDockerHubRule: 100.2, withDockerHubRule: 81.4 } as const;

/** The deployment's cache rules as the planner has them: registry domain → repository prefix; none when it has no cache at all. */
export type DockerHubCacheObservation = { rules: Readonly<Record<string, string>> } | { noCache: true } | { error: string };

export function observeDockerHubCache(plannerEnv: Readonly<Record<string, string | undefined>>): DockerHubCacheObservation {
  const text = plannerEnv[ENV.pullThroughCache];
  if (text === undefined || text === '') return { noCache: true };
  try {
    const rules = JSON.parse(text) as unknown;
    if (typeof rules !== 'object' || rules === null || Array.isArray(rules) || !Object.values(rules).every((p) => typeof p === 'string')) {
      return { error: `the planner's ${ENV.pullThroughCache} is not a map of registry domains to repository prefixes: ${text.slice(0, 200)}` };
    }
    return { rules: rules as Record<string, string> };
  } catch (err) {
    return { error: `the planner's ${ENV.pullThroughCache} is not JSON (${(err as Error).message})` };
  }
}

/** The prefix of the Docker Hub rule among `rules`, if any. */
export function dockerHubPrefix(rules: Readonly<Record<string, string>>): string | undefined {
  return Object.entries(rules).find(([domain]) => domain.toLowerCase() === DOCKER_HUB)?.[1];
}
