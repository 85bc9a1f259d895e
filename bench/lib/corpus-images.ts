// Which pull-through cache rule covers the images of the corpus of real `.drone.yml` files
// (test/fixtures/corpus): for each registry, how many step and service images name it, in how
// many files, and whether the stack's rules (lib/pull-through-cache.ts, each with its
// credentials given) pull it through the cache. Pure: the files' text in, counts out.

import { parseAllDocuments } from 'yaml';
import { parseImageReference } from '../../core/images/reference.js';
import { cachedImage, type PullThroughCache } from '../../core/pipeline/pull-through-cache.js';
import type { CorpusFile } from './corpus.js';

export interface RegistryCount {
  /** The registry as image references name it (`docker.io` for Docker Hub), or `(not a reference)`. */
  registry: string;
  images: number;
  files: number;
  /** Of `images`, those the cache rewrites (a rule covers the registry and ECR takes the name). */
  cached: number;
}

export interface CorpusImages {
  images: number;
  cached: number;
  /** Most images first. */
  registries: RegistryCount[];
}

/**
 * A document as plain data, or undefined when Drone could not read it either: YAML errors, or
 * an alias with no anchor (`files: *.tar.zst`), which `toJS` throws as a ReferenceError and
 * `slipway lint` reports as `yaml: unknown alias` (such a file pulls no image).
 */
function documentValue(doc: ReturnType<typeof parseAllDocuments>[number]): unknown {
  if (doc.errors.length > 0) return undefined;
  try {
    return doc.toJS({ maxAliasCount: 10_000 });
  } catch (err) {
    if (err instanceof ReferenceError) return undefined;
    throw err;
  }
}

/** The `image:` of every step and service of the docker pipelines of one file (none of a document YAML cannot read). */
export function pipelineImages(text: string): string[] {
  const images: string[] = [];
  for (const doc of parseAllDocuments(text)) {
    const value = documentValue(doc) as Record<string, unknown> | null | undefined;
    if (!value || typeof value !== 'object' || String(value.kind).toLowerCase() !== 'pipeline') continue;
    if (value.type !== undefined && value.type !== 'docker') continue;
    for (const list of [value.steps, value.services]) {
      if (!Array.isArray(list)) continue;
      for (const c of list) if (c && typeof c === 'object' && typeof (c as { image?: unknown }).image === 'string') images.push((c as { image: string }).image);
    }
  }
  return images;
}

export function corpusImages(files: readonly CorpusFile[], cache: PullThroughCache): CorpusImages {
  const byRegistry = new Map<string, { images: number; files: Set<string>; cached: number }>();
  for (const file of files) {
    for (const image of pipelineImages(file.text)) {
      const parsed = parseImageReference(image);
      const registry = parsed.ok ? parsed.ref.domain.toLowerCase() : '(not a reference)';
      const entry = byRegistry.get(registry) ?? { images: 0, files: new Set<string>(), cached: 0 };
      entry.images += 1;
      entry.files.add(file.name);
      if (cachedImage(image, cache) !== image) entry.cached += 1;
      byRegistry.set(registry, entry);
    }
  }
  const registries = [...byRegistry].map(([registry, e]) => ({ registry, images: e.images, files: e.files.size, cached: e.cached })).sort((a, b) => b.images - a.images || a.registry.localeCompare(b.registry));
  return {
    images: registries.reduce((n, r) => n + r.images, 0),
    cached: registries.reduce((n, r) => n + r.cached, 0),
    registries,
  };
}
