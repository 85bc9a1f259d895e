// The exit records step wrappers write into the state volume: `<container>.exit` holds
// the exit code, `<container>.skipped` marks a step its status gate did not run. A second
// source beside the metadata endpoint, and the first to know.

import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { STEP_SKIPPED_SUFFIX } from '../core/pipeline/contract.js';
import type { ExitRecord } from './container-view.js';

const EXIT_SUFFIX = '.exit';

export async function readExitRecords(stepsDir: string): Promise<Record<string, ExitRecord>> {
  let names: string[];
  try {
    names = await readdir(stepsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  const skipped = new Set(names.filter((n) => n.endsWith(STEP_SKIPPED_SUFFIX)).map((n) => n.slice(0, -STEP_SKIPPED_SUFFIX.length)));
  const records: Record<string, ExitRecord> = {};
  for (const name of names) {
    if (!name.endsWith(EXIT_SUFFIX)) continue;
    const container = name.slice(0, -EXIT_SUFFIX.length);
    const path = join(stepsDir, name);
    const text = (await readFile(path, 'utf8')).trim();
    // A wrapper may be caught between creating and writing the file: read it next time.
    if (!/^\d+$/.test(text)) continue;
    const record: ExitRecord = { exitCode: Number(text), at: (await stat(path)).mtime.toISOString() };
    if (skipped.has(container)) record.skipped = true;
    records[container] = record;
  }
  return records;
}
