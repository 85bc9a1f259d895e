// What a pull request from a fork may pull from the deployment's own ECR registry. Pure.
//
// Drone gives a fork's pull request no secrets, `image_pull_secrets` included (drone/drone
// plugin/registry/static.go skips a pull secret for a pull_request build unless the secret allows
// pull requests), so it pulls no private image; GitHub Actions likewise gives forks no registry token. Here a task's images are
// pulled by its execution role, not by a secret the build holds: a fork's runs with a role of its
// own (lib/build-cluster.ts forkExecutionRole) that may pull only the repositories listed here.
// The compiler refuses, with the place and the fix, an image that role could not pull, rather
// than a task that fails at its pull; and, in the repositories of the images the stack puts into
// a fork's task itself, every image but those, which that role could pull: ECR grants pulls per
// repository, with no resource or condition key for a tag or digest
// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html),
// and the agent built by the stack lives in CDK's bootstrap asset repository, which holds every
// container asset of every CDK app of the account.

import { ecrImageOf, type EcrImage } from '../images/ecr-image.js';

/** The repositories of the deployment's registry a fork's execution role may pull. */
export interface ForkPulls {
  /** The deployment's account and Region: the role's grants name repositories there only. */
  accountId: string;
  region: string;
  /**
   * Repository names, `*` matching any characters (`/` included), as the role's repository
   * ARNs (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html):
   * the cache prefixes without credentials and their SOCI-enabled copies, the operator's
   * forkPullRepositories.
   */
  repositories: readonly string[];
  /**
   * The ECR images the stack puts into a fork's task itself (the agent of each architecture, the
   * image builder), in any account and Region, as the planner writes them. The role may pull
   * their whole repositories; a fork may name only these images there, whatever `repositories` says.
   */
  images: readonly string[];
}

/** Why a fork may not name an image of the deployment's registry. */
export type ForkPullRefusal =
  /** Outside what the fork execution role may pull. */
  | { kind: 'private' }
  /** In the repository of an image the stack runs itself, but another image than that one. */
  | { kind: 'beside-own-image'; repository: string };

/** `*` of an IAM resource name as a regular expression; every other character literal. */
function namePattern(name: string): RegExp {
  return new RegExp(`^${name.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/**
 * Why `image` may not be in a fork's task, or undefined when it may: an image beside one of the
 * stack's own in their repository (any account, any Region, any host form) unless it is exactly
 * that image (same tag and same digest: a digest after a tag is what ECS pulls); an image of the
 * deployment's account's registry outside what the fork execution role may pull. An image of
 * another registry, or of another account, is not this check's business (pulled anonymously, or
 * refused by its owner).
 */
export function forkPullRefusal(image: string, pulls: ForkPulls): ForkPullRefusal | undefined {
  const ref = ecrImageOf(image);
  if (!ref) return undefined;
  const sameRepository = (other: EcrImage) => other.accountId === ref.accountId && other.region === ref.region && other.repository === ref.repository;
  const own = pulls.images.map(ecrImageOf).filter((o) => o !== undefined && sameRepository(o));
  if (own.length > 0) {
    return own.some((o) => o!.tag === ref.tag && o!.digest === ref.digest) ? undefined : { kind: 'beside-own-image', repository: ref.repository };
  }
  if (ref.accountId !== pulls.accountId) return undefined;
  if (ref.region !== pulls.region) return { kind: 'private' };
  return pulls.repositories.some((name) => namePattern(name).test(ref.repository)) ? undefined : { kind: 'private' };
}

/** Whether a fork may not name `image` (forkPullRefusal says why). */
export function isPrivateToFork(image: string, pulls: ForkPulls): boolean {
  return forkPullRefusal(image, pulls) !== undefined;
}
