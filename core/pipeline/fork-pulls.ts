// What a pull request from a fork may pull from the deployment's own ECR registry. Pure.
//
// Drone gives a fork's pull request no secrets, `image_pull_secrets` included (drone/drone
// plugin/registry/static.go skips a pull secret for a pull_request build unless the secret allows
// pull requests), so it pulls no private image; GitHub Actions likewise gives forks no registry token. Here a task's images are
// pulled by its execution role, not by a secret the build holds: a fork's runs with a role of its
// own (lib/build-cluster.ts forkExecutionRole) that may pull only the repositories listed here.
// The compiler refuses, with the place and the fix, an image that role could not pull, rather
// than a task that fails at its pull.

import { ecrImageOf } from '../images/ecr-image.js';

/** The repositories of the deployment's registry a fork's execution role may pull. */
export interface ForkPulls {
  /** The deployment's account and Region: the role's grants name repositories there only. */
  accountId: string;
  region: string;
  /**
   * Repository names, `*` matching any characters (`/` included), as the role's repository
   * ARNs (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html):
   * the agent's and the image builder's repositories, the cache prefixes without credentials
   * and their SOCI-enabled copies, the operator's forkPullRepositories.
   */
  repositories: readonly string[];
}

/** `*` of an IAM resource name as a regular expression; every other character literal. */
function namePattern(name: string): RegExp {
  return new RegExp(`^${name.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/**
 * Whether `image` names the deployment's account's registry (any host form, any Region) outside
 * what a fork's execution role may pull. An image of another registry, or of another account,
 * is not this check's business (pulled anonymously, or refused by its owner).
 */
export function isPrivateToFork(image: string, pulls: ForkPulls): boolean {
  const ecr = ecrImageOf(image);
  if (!ecr || ecr.accountId !== pulls.accountId) return false;
  if (ecr.region !== pulls.region) return true;
  return !pulls.repositories.some((name) => namePattern(name).test(ecr.repository));
}
