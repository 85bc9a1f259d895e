// Before compiling, the planner asks the registries what the plugin images that receive
// secrets run (core/pipeline/plugin-command.ts): the compiler wraps those steps with the
// secret mask, which then execs the image's own command line.

import type { ImageCommandLookup } from '../../core/images/types.js';
import type { ImageCommandEntry, ImageCommandQuery, ImageCommands } from '../../core/pipeline/plugin-command.js';
import type { Arch } from '../../core/pipeline/types.js';

const keyOf = (image: string, arch: Arch) => `${arch} ${image}`;

/** Looks every query up at once; the answers, as the compiler reads them. */
export async function resolveImageCommands(queries: readonly ImageCommandQuery[], lookup: ImageCommandLookup): Promise<{ commands: ImageCommands; failures: string[] }> {
  const answers = new Map<string, ImageCommandEntry>();
  await Promise.all(queries.map(async (q) => answers.set(keyOf(q.image, q.arch), await lookup(q.image, q.arch))));
  const failures = [...answers].flatMap(([key, entry]) => (entry.ok ? [] : [`${key}: ${entry.error}`]));
  return { commands: (image, arch) => answers.get(keyOf(image, arch)), failures };
}
