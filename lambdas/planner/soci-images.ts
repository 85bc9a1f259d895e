// The SOCI-enabled copies a build's task definitions may name (core/images/soci.ts): after a
// first compile, the planner asks ECR what each cached tag points at now (DescribeImages, the
// call the autoscaler's image sizes use) and the store whether that digest has a converted
// copy; where it has, the build is compiled again and names the copy by digest, which Fargate
// lazy-loads. The first build of a new image pulls it whole; the conversion it causes serves the
// next ones. A copy is named only while ECR holds it and its push is under the copies' lifetime.
// A lookup that fails leaves the cached tags: this is a speed-up, never a reason to fail or
// delay a build.

import { parseImageReference } from '../../core/images/reference.js';
import { SOCI_REPOSITORY_PREFIX, convertedReference, copyStillNamed, namedImageKeysOf, type ConvertedImages, type SociIndexStore, type DescribeEcrImages } from '../../core/images/soci.js';
import type { CompileResult } from '../../core/pipeline/compile-options.js';
import type { PullThroughCache } from '../../core/pipeline/pull-through-cache.js';

/** Cached images looked up per build at most: a file naming hundreds of images costs a bounded number of reads. */
export const MAX_SOCI_LOOKUPS = 32;

/** Cached reference → the SOCI-enabled copy to name instead. */
export type SociImageLookup = (cachedImages: readonly string[]) => Promise<ConvertedImages>;

/** The images of a compiled build that came through `cache` (every task: stage, segments, service task), in first-seen order. */
export function cachedImagesOf(result: CompileResult, cache: PullThroughCache): string[] {
  const prefixes = Object.values(cache.prefixes);
  const seen = new Set<string>();
  for (const stage of result.stages) {
    const definitions = [stage.taskDefinition, ...(stage.segments ?? []).map((s) => s.taskDefinition), ...(stage.serviceTask ? [stage.serviceTask.taskDefinition] : [])];
    for (const definition of definitions) {
      for (const container of definition.containerDefinitions) {
        const parsed = parseImageReference(container.image);
        if (!parsed.ok || parsed.ref.domain !== cache.registry) continue;
        const { repository } = parsed.ref;
        if (repository.startsWith(`${SOCI_REPOSITORY_PREFIX}/`) || !prefixes.some((p) => repository.startsWith(`${p}/`))) continue;
        seen.add(container.image);
      }
    }
  }
  return [...seen];
}

export interface SociLookupDeps {
  /** ECR DescribeImages of the account's registry (adapters/ecr/image-sizes.ts). */
  describe: DescribeEcrImages;
  store: Pick<SociIndexStore, 'getMany'>;
  now: () => number;
}

export function sociImageLookup(deps: SociLookupDeps): SociImageLookup {
  return async (images) => {
    const asked = images.slice(0, MAX_SOCI_LOOKUPS);
    const details = await deps.describe(asked);
    const digests = [...new Set([...details.values()].map((d) => d.digest))];
    const records = digests.length > 0 ? await deps.store.getMany(digests) : new Map();
    const named = new Map<string, string>();
    for (const [image, detail] of details) {
      const converted = convertedReference(image, detail.digest, records.get(detail.digest), deps.now());
      if (converted) named.set(image, converted);
    }
    if (named.size === 0) return named;
    // The copies as ECR holds them: one its lifecycle has expired, or is about to (its push older
    // than the store's conversion: copyStillNamed), would fail the task's pull; the cached tag runs.
    const copies = await deps.describe([...new Set(named.values())]);
    const out = new Map<string, string>();
    for (const [image, copy] of named) if (copyStillNamed(copies.get(copy)?.pushedAt, deps.now())) out.set(image, copy);
    return out;
  };
}

/**
 * Records that a trusted build (not a fork's) of `repo` names these cached images: only the
 * cache's events of an image so named are converted, charged to that repository
 * (core/images/soci.ts, "Who can cause a conversion"). At most MAX_SOCI_LOOKUPS per build.
 */
export type SociImageNamer = (cachedImages: readonly string[], repo: string) => Promise<void>;

export function sociImageNamer(deps: { store: Pick<SociIndexStore, 'nameImages'>; now: () => number }): SociImageNamer {
  return async (images, repo) => {
    const keys = images.slice(0, MAX_SOCI_LOOKUPS).flatMap(namedImageKeysOf);
    if (keys.length > 0) await deps.store.nameImages(keys, repo, deps.now());
  };
}
