// Before compiling, the planner asks the registries what the plugin images run
// (core/pipeline/plugin-command.ts): the compiler starts those steps under a launcher that
// gives them the build's variables (and the secret mask, for those that receive secrets),
// which then execs the image's own command line.

import type { ImageCommandLookup, ImageCommandResult } from '../../core/images/types.js';
import type { ImageCommandEntry, ImageCommandQuery, ImageCommands } from '../../core/pipeline/plugin-command.js';
import type { Arch } from '../../core/pipeline/types.js';

const keyOf = (image: string, arch: Arch) => `${arch} ${image}`;

export interface ResolvedImageCommands {
  /** The answers, as the compiler reads them. */
  commands: ImageCommands;
  /** Every failed lookup, `ARCH IMAGE: message`. */
  failures: string[];
  /**
   * The failures that asking again later may cure (timeout, 429, 5xx, network), of images
   * whose steps cannot run without the answer (ImageCommandQuery.masked).
   */
  transient: string[];
}

/** Registry lookups one build has under way at once: a file naming many images cannot open hundreds of connections. */
export const LOOKUP_CONCURRENCY = 8;

/** Looks every query up, LOOKUP_CONCURRENCY at a time. */
export async function resolveImageCommands(queries: readonly ImageCommandQuery[], lookup: ImageCommandLookup): Promise<ResolvedImageCommands> {
  const answers = new Map<string, ImageCommandResult>();
  let next = 0;
  const worker = async () => {
    while (next < queries.length) {
      const q = queries[next++]!;
      answers.set(keyOf(q.image, q.arch), await lookup(q.image, q.arch));
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOOKUP_CONCURRENCY, queries.length) }, worker));
  const masked = new Set(queries.filter((q) => q.masked).map((q) => keyOf(q.image, q.arch)));
  const failed = [...answers].flatMap(([key, entry]) => (entry.ok ? [] : [{ text: `${key}: ${entry.error}`, transient: entry.transient && masked.has(key) }]));
  const entries = new Map<string, ImageCommandEntry>(answers);
  return {
    commands: (image, arch) => entries.get(keyOf(image, arch)),
    failures: failed.map((f) => f.text),
    transient: failed.filter((f) => f.transient).map((f) => f.text),
  };
}
