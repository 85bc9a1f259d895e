// The exit records step wrappers write into the state volume: `<container>.exit` holds
// the exit code, `<container>.skipped` marks a step its status gate did not run. A second
// source beside the metadata endpoint, and the first to know.

import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { STEP_SKIPPED_SUFFIX } from '../core/pipeline/contract.js';
import type { ExitRecord } from './container-view.js';

const EXIT_SUFFIX = '.exit';

export interface StepRecords {
  /** `<container>.exit`, by container. */
  exits: Record<string, ExitRecord>;
  /**
   * Containers with a `<container>.skipped` marker and no exit record (yet). A step's own
   * wrapper writes its exit record right after; a plugin step's gate container writes the
   * marker for the step, which then never starts and never writes one.
   */
  skipMarks: Set<string>;
}

export async function readStepRecords(stepsDir: string): Promise<StepRecords> {
  let names: string[];
  try {
    names = await readdir(stepsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { exits: {}, skipMarks: new Set() };
    throw error;
  }
  const skipped = new Set(names.filter((n) => n.endsWith(STEP_SKIPPED_SUFFIX)).map((n) => n.slice(0, -STEP_SKIPPED_SUFFIX.length)));
  const exits: Record<string, ExitRecord> = {};
  for (const name of names) {
    if (!name.endsWith(EXIT_SUFFIX)) continue;
    const container = name.slice(0, -EXIT_SUFFIX.length);
    const path = join(stepsDir, name);
    const read = await readRecord(path);
    // A wrapper may be caught between creating and writing the file: read it next time.
    if (read === undefined || !/^\d+$/.test(read.text)) continue;
    const record: ExitRecord = { exitCode: Number(read.text), at: read.at };
    if (skipped.has(container)) record.skipped = true;
    exits[container] = record;
  }
  const skipMarks = new Set([...skipped].filter((container) => exits[container] === undefined));
  return { exits, skipMarks };
}

/** The exit records alone. */
export async function readExitRecords(stepsDir: string): Promise<Record<string, ExitRecord>> {
  return (await readStepRecords(stepsDir)).exits;
}

/** A record's text and time; undefined when it vanished between the listing and the read. */
async function readRecord(path: string): Promise<{ text: string; at: string } | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return { text, at: (await stat(path)).mtime.toISOString() };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
