// The images an EC2 instance pulls ahead when it starts (lib/ec2-prepull.sh): per architecture,
// the agent image first, then the images the recent builds on EC2 capacity used most, each
// repository getting a fair share. Pure: the autoscaler gathers the uses and writes the lists
// (lambdas/autoscaler/prepull.ts); each instance reads its architecture's list at boot.
//
// Why bounded, and per repository: every instance of an architecture pulls the same list,
// whoever's build it will run, and a pipeline file is attacker-written. A repository whose
// builds name a hundred images must neither make every instance pull a hundred images nor
// push the images of the others off the list. So:
// - the list holds at most `maxImages` references, `maxChars` characters in all (an SSM
//   standard parameter holds 4096, https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html);
// - repositories take turns (most active first), one image per turn, at most `maxPerRepo` each;
// - within a repository, the images used by the most stages come first;
// - with the images' sizes (ECR's DescribeImages: compressed, the largest platform of a
//   manifest list, https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageDetail.html),
//   no image over `maxImageBytes` and no more than `maxBytes` in all: one huge image cannot take
//   every instance's disk and bandwidth. An image whose size is unknown (not in the cache yet)
//   is left out: a build pulls it itself.
// - only images the instance itself may pull (the instance role's ECR rights,
//   lib/ec2-capacity.ts): the deployment's ECR pull-through cache repositories, exactly as the
//   task definitions name them (the compiler rewrote them, core/pipeline/pull-through-cache.ts),
//   and the agent image. Not images pulled as written from other registries: an instance pulling
//   Docker Hub images anonymously would spend the build's own pull allowance of its IP address.

import { parseImageReference } from '../images/reference.js';
import type { Arch } from '../pipeline/types.js';

/** One stage that ran (or waits) on EC2 capacity: the images of its task definition. */
export interface ImageUse {
  repo: string;
  arch: Arch;
  images: readonly string[];
  /** Epoch ms of the use (the stage's start, or its queueing while it waits). */
  at: number;
}

/** Which images an instance may pull: repositories of the account's registry under these prefixes. */
export interface PullableImages {
  /** `<account>.dkr.ecr.<region>.amazonaws.com` */
  registry: string;
  /** Repository prefixes, without slashes at either end (`slipway-docker-hub`). */
  repositoryPrefixes: readonly string[];
}

export interface CommonImagesLimits {
  /** References per list, the agent's included. */
  maxImages: number;
  /** References one repository adds at most. */
  maxPerRepo: number;
  /** Characters of the list as written (one reference a line). */
  maxChars: number;
  /** With sizes: compressed bytes of one image at most. */
  maxImageBytes: number;
  /** With sizes: compressed bytes of the list's images in all (the agent's aside). */
  maxBytes: number;
}

const GIB = 1024 ** 3;

/**
 * 12 references of at most 2 GiB each, 6 GiB in all (compressed; about twice that on disk,
 * within the 60 % of a 50 GiB volume the boot script fills at most).
 */
export const DEFAULT_COMMON_IMAGES_LIMITS: CommonImagesLimits = { maxImages: 12, maxPerRepo: 4, maxChars: 4096, maxImageBytes: 2 * GIB, maxBytes: 6 * GIB };

/** Longest reference kept: longer ones are legal but no cache path the compiler writes comes near it. */
const MAX_REFERENCE_CHARS = 512;
/** What the boot script accepts on a line (lib/ec2-prepull.sh checks the same): nothing a shell or docker would read as more. */
const REFERENCE_CHARS = /^[a-z0-9][A-Za-z0-9._\-/:@]*$/;

export interface CommonImagesInput {
  uses: readonly ImageUse[];
  /** The architectures to give a list (the deployment's groups). */
  arches: readonly Arch[];
  /** The agent image of each architecture: always first on its list. */
  agentImages: Partial<Record<Arch, string>>;
  pullable: PullableImages;
  limits?: CommonImagesLimits;
  /** Compressed size of each image ECR holds (ImageSizes); absent: sizes are not checked. */
  sizes?: ReadonlyMap<string, number>;
}

/** Each architecture's list, most useful first. */
export function commonImages(input: CommonImagesInput): Partial<Record<Arch, string[]>> {
  const limits = input.limits ?? DEFAULT_COMMON_IMAGES_LIMITS;
  const out: Partial<Record<Arch, string[]>> = {};
  for (const arch of input.arches) out[arch] = listFor(arch, input, limits);
  return out;
}

interface RepoImages {
  repo: string;
  stages: number;
  last: number;
  /** Most used first. */
  ranked: string[];
}

function listFor(arch: Arch, input: CommonImagesInput, limits: CommonImagesLimits): string[] {
  const list: string[] = [];
  let chars = 0;
  let bytes = 0;
  const agent = input.agentImages[arch];
  const sizeOf = (image: string): number | undefined => (input.sizes === undefined || image === agent ? 0 : input.sizes.get(image));
  const fits = (image: string) => {
    if (list.length >= limits.maxImages || chars + (list.length > 0 ? 1 : 0) + image.length > limits.maxChars) return false;
    const size = sizeOf(image);
    return size !== undefined && size <= limits.maxImageBytes && bytes + size <= limits.maxBytes;
  };
  const add = (image: string) => {
    chars += (list.length > 0 ? 1 : 0) + image.length;
    bytes += sizeOf(image) ?? 0;
    list.push(image);
  };
  if (agent !== undefined && isWellFormed(agent) && fits(agent)) add(agent);

  const order = rankedByRepository(arch, input);

  // Turns: each repository adds its next image not yet listed, until the list is full or no
  // repository has anything left to add within its share.
  const added = new Map<string, number>();
  const next = new Map<string, number>();
  let progress = true;
  while (progress && list.length < limits.maxImages) {
    progress = false;
    for (const r of order) {
      if ((added.get(r.repo) ?? 0) >= limits.maxPerRepo) continue;
      let i = next.get(r.repo) ?? 0;
      while (i < r.ranked.length && (list.includes(r.ranked[i]!) || !fits(r.ranked[i]!))) i += 1;
      next.set(r.repo, i + 1);
      if (i >= r.ranked.length) continue;
      add(r.ranked[i]!);
      added.set(r.repo, (added.get(r.repo) ?? 0) + 1);
      progress = true;
      if (list.length >= limits.maxImages) break;
    }
  }
  return list;
}

/** Each repository's pullable images for `arch`, most used first; the most active repositories first. */
function rankedByRepository(arch: Arch, input: CommonImagesInput): RepoImages[] {
  const agent = input.agentImages[arch];
  const repos = new Map<string, { stages: number; last: number; images: Map<string, { count: number; last: number }> }>();
  // Hundreds of stages name the same few images: each reference is parsed once.
  const pullable = new Map<string, boolean>();
  const mayPull = (image: string) => pullable.get(image) ?? pullable.set(image, isPullableImage(image, input.pullable)).get(image)!;
  for (const use of input.uses) {
    if (use.arch !== arch) continue;
    const r = repos.get(use.repo) ?? { stages: 0, last: 0, images: new Map() };
    r.stages += 1;
    r.last = Math.max(r.last, use.at);
    for (const image of new Set(use.images)) {
      if (image === agent || !mayPull(image)) continue;
      const seen = r.images.get(image) ?? { count: 0, last: 0 };
      r.images.set(image, { count: seen.count + 1, last: Math.max(seen.last, use.at) });
    }
    repos.set(use.repo, r);
  }
  return [...repos.entries()]
    .map(([repo, r]) => ({
      repo,
      stages: r.stages,
      last: r.last,
      ranked: [...r.images.entries()].sort(([a, x], [b, y]) => y.count - x.count || y.last - x.last || (a < b ? -1 : 1)).map(([image]) => image),
    }))
    .sort((a, b) => b.stages - a.stages || b.last - a.last || (a.repo < b.repo ? -1 : 1));

}

/** A reference the boot script takes as one argument to `docker pull`, and nothing else. */
export function isWellFormed(image: string): boolean {
  return image.length <= MAX_REFERENCE_CHARS && REFERENCE_CHARS.test(image) && parseImageReference(image).ok;
}

/** Whether an instance may pull `image` with its own role: a repository of the registry under one of the prefixes. */
export function isPullableImage(image: string, pullable: PullableImages): boolean {
  if (image.length > MAX_REFERENCE_CHARS || !REFERENCE_CHARS.test(image)) return false;
  const parsed = parseImageReference(image);
  if (!parsed.ok || parsed.ref.domain !== pullable.registry) return false;
  return pullable.repositoryPrefixes.some((p) => p.length > 0 && parsed.ref.repository.startsWith(`${p}/`));
}

/**
 * The images of a stored task definition (a job's, as the compiler wrote it), minus those of
 * containers pulled with their own registry credentials (`image_pull_secrets`): the instance
 * has no right to those.
 */
export function imagesOfTaskDefinition(taskDefinition: Readonly<Record<string, unknown>>): string[] {
  const containers = Array.isArray(taskDefinition.containerDefinitions) ? (taskDefinition.containerDefinitions as { image?: unknown; repositoryCredentials?: unknown }[]) : [];
  return containers.filter((c) => typeof c?.image === 'string' && c.repositoryCredentials === undefined).map((c) => c.image as string);
}

/** The list as the instance reads it: one reference a line. */
export function prepullListText(images: readonly string[]): string {
  return images.join('\n');
}

/**
 * The images whose sizes are worth asking ECR for: repositories take turns as in the lists, each
 * up to twice its share (its share, and as many again for those too large), at most four times
 * a list's length in all, so that a refresh asks ECR a bounded number of questions.
 */
export function sizeCandidates(input: CommonImagesInput): string[] {
  const limits = input.limits ?? DEFAULT_COMMON_IMAGES_LIMITS;
  const out = new Set<string>();
  const most = 4 * limits.maxImages;
  for (const arch of input.arches) {
    const order = rankedByRepository(arch, input).map((r) => r.ranked.slice(0, 2 * limits.maxPerRepo));
    for (let turn = 0; order.some((ranked) => turn < ranked.length); turn += 1) {
      for (const ranked of order) {
        if (out.size >= most * input.arches.length) return [...out];
        if (turn < ranked.length) out.add(ranked[turn]!);
      }
    }
  }
  return [...out];
}

/** The compressed size of images in the account's registry (deployed: ECR DescribeImages, adapters/ecr/image-sizes.ts). */
export interface ImageSizes {
  /** Bytes by reference, for those ECR holds; the others are absent. */
  sizes(images: readonly string[]): Promise<Map<string, number>>;
}

/** Where each architecture's list is kept (deployed: one SSM parameter each, adapters/ssm/prepull-lists.ts). */
export interface PrepullLists {
  /** Writes the list of `arch` unless it already holds exactly these images. */
  write(arch: Arch, images: readonly string[]): Promise<'written' | 'unchanged'>;
}
