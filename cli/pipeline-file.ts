// Reading the pipeline file a command names (lint, compile): the same checks and the same
// words for a directory, a missing or unreadable file and one over the size limit.

import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { MANIFEST_LIMITS, oversizedManifest } from '../core/pipeline/load.js';
import type { Manifest } from '../core/pipeline/types.js';

export type PipelineFile =
  | { kind: 'read'; path: string; bytes: Uint8Array }
  /** Decided by its size alone, without reading it: the manifest holds the one diagnostic. */
  | { kind: 'too-large'; manifest: Manifest }
  | { kind: 'directory'; message: string }
  | { kind: 'unreadable'; message: string };

export async function readPipelineFile(cwd: string, file: string): Promise<PipelineFile> {
  const path = resolve(cwd, file);
  try {
    const info = await stat(path);
    if (info.isDirectory()) {
      return { kind: 'directory', message: `${file} is a directory; pass the pipeline file (e.g. ${file.replace(/\/$/, '')}/.drone.yml)` };
    }
    if (info.size > MANIFEST_LIMITS.maxBytes) return { kind: 'too-large', manifest: oversizedManifest(file, info.size) };
    return { kind: 'read', path, bytes: await readFile(path) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    return { kind: 'unreadable', message: `cannot read ${file}: ${reason}` };
  }
}
