// The task definition family: `slipway-<pipeline>-<hash>`, where the hash covers the
// definition's whole content. The same pipeline (same images, commands, dependencies,
// agent image …) always gets the same family and is registered once; any change gives a
// new family. Per-run values (commit, build number) never reach the definition, so they
// cannot change the hash. sha256 is deterministic: the engine stays pure.

import { createHash } from 'node:crypto';
import { ecsSafeName } from './container-names.js';

const HASH_LENGTH = 16;
/** ECS allows 255 characters in a family name. */
const MAX_NAME = 255 - 'slipway-'.length - 1 - HASH_LENGTH;

// The content is hashed as the compiler's own JSON: the compiler builds every object
// in a fixed key order, so equal content always serialises to equal text (sorting keys
// here measurably slowed every compile for no gain).

export function contentHash(json: string): string {
  return createHash('sha256').update(json).digest('hex').slice(0, HASH_LENGTH);
}

/** `content` is the JSON text of everything in the definition except the family. */
export function familyName(pipelineName: string, content: string): string {
  return `slipway-${ecsSafeName(pipelineName, 'pipeline').slice(0, MAX_NAME)}-${contentHash(content)}`;
}
