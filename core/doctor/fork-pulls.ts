// Which images a fork's execution role may pull beside the ones the stack puts into a fork's task.
// The role pulls the agent's repository (and the image builder's, when in ECR) whole: ECR grants
// pulls per repository, with no permission per tag or digest
// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html).
// The compiler refuses a fork's pipeline naming any other image there (core/pipeline/fork-pulls.ts);
// the doctor tells the operator what else IAM would let through, so that the agent can be given a
// repository of its own (agentImageUri) where the stack's build pushes it to CDK's asset
// repository, beside every container asset of the account's CDK apps. Pure.

import { ENV } from '../config/lambda-env.js';
import { agentImagesToCheck, ecrImageToCheck } from './agent-images.js';

/** A repository the fork execution role may pull whole, and the images of the stack's in it. */
export interface ForkPullRepository {
  registryId: string;
  region: string;
  repository: string;
  /** The tags and digests of the stack's own images there (agent, image builder). */
  ownTags: string[];
  ownDigests: string[];
  /** CDK's bootstrap asset repository (`cdk-<qualifier>-container-assets-<account>-<region>`). */
  cdkAssets: boolean;
}

/** One image of a repository, as ECR lists it (ListImages). */
export interface ListedImage {
  imageTag?: string;
  imageDigest?: string;
}

/** What the doctor saw in one repository: how many images besides the stack's, a few of their tags. */
export interface ForkPullObservation {
  repository: ForkPullRepository;
  others: number;
  /** Up to five of their tags. */
  sample: string[];
  /** The listing stopped before its end (the count is a floor). */
  truncated: boolean;
}

const CDK_ASSETS = /^cdk-[a-z0-9]+-container-assets-\d{12}-[a-z0-9-]+$/;

/** The repositories of the agent images (and the image builder) the planner writes into tasks, one entry each. */
export function forkPullRepositoriesOf(env: Record<string, string | undefined>): ForkPullRepository[] {
  const uris = [...agentImagesToCheck(env).map((i) => i.uri), ...(env[ENV.imageBuilder] ? [env[ENV.imageBuilder]!] : [])];
  const byKey = new Map<string, ForkPullRepository>();
  for (const uri of uris) {
    const ecr = ecrImageToCheck(uri);
    if ('notEcr' in ecr) continue;
    const key = `${ecr.accountId}/${ecr.region}/${ecr.repository}`;
    const entry = byKey.get(key) ?? { registryId: ecr.accountId, region: ecr.region, repository: ecr.repository, ownTags: [], ownDigests: [], cdkAssets: CDK_ASSETS.test(ecr.repository) };
    if ('imageDigest' in ecr.imageId) entry.ownDigests.push(ecr.imageId.imageDigest);
    else entry.ownTags.push(ecr.imageId.imageTag);
    byKey.set(key, entry);
  }
  return [...byKey.values()];
}

/**
 * The images of a repository that are not the stack's: distinct digests of tagged images, less
 * those of the stack's own tags and digests (an image with several tags is one image). Untagged
 * manifests are left out: the platform entries of a multi-arch image and build attestations are
 * untagged, and a fork names an image by tag as a rule.
 */
export function observeForkPulls(repository: ForkPullRepository, listed: readonly ListedImage[], truncated: boolean): ForkPullObservation {
  const own = new Set(repository.ownDigests);
  for (const image of listed) if (image.imageTag && image.imageDigest && repository.ownTags.includes(image.imageTag)) own.add(image.imageDigest);
  const others = new Map<string, string>();
  for (const image of listed) {
    if (!image.imageTag || repository.ownTags.includes(image.imageTag)) continue;
    const digest = image.imageDigest ?? `tag:${image.imageTag}`;
    if (own.has(digest) || others.has(digest)) continue;
    others.set(digest, image.imageTag);
  }
  return { repository, others: others.size, sample: [...others.values()].slice(0, 5), truncated };
}
