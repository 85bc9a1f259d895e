// The exit records step wrappers write, each into its own record volume
// (`<stepsDir>/<container>/`, contract.ts STEP_RECORD_DIR): `<container>.exit` holds
// the exit code, `<container>.skipped` marks a step its status gate did not run. A second
// source beside the metadata endpoint, and the first to know. The agent completes them
// (`writeFinalRecord`): an exit record for a container without a wrapper, and
// `<container>.unreachable` for one that can never start, which steps that run on a
// status wait for (script.ts).

import { chmod, link, mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { STEP_SKIPPED_SUFFIX, STEP_STARTED_SUFFIX, STEP_UNREACHABLE_SUFFIX } from '../core/pipeline/contract.js';
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
  /** Containers with any final record file (`.exit`, even one not yet readable, `.skipped`, `.unreachable`). */
  recorded: Set<string>;
  /**
   * Containers whose `<container>.exit` is empty: no record yet, not a failure. Its wrapper
   * is between creating the file and writing the code (`echo "$rc" > file`), or was stopped
   * there; once ECS reports the container stopped, the agent records ECS's exit code in its
   * place (replaceEmptyExitRecord).
   */
  emptyExits: Set<string>;
  /** What the `.skipped` markers that say why (the early-exit check) say, by container. */
  skipReasons: Record<string, string>;
  /**
   * `<container>.started` markers of steps that run on a status: their waits are over and
   * their commands run. The time the marker was written (ISO-8601), by container.
   */
  started: Record<string, string>;
}

/** Longest skip reason kept from a marker (a step can write its own directory: bounded, one line, printable). */
const SKIP_REASON_MAX = 200;

function skipReasonOf(text: string): string | undefined {
  const line = (text.split('\n', 1)[0] ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim();
  if (line === '') return undefined;
  return line.length > SKIP_REASON_MAX ? `${line.slice(0, SKIP_REASON_MAX - 1)}…` : line;
}

/**
 * Each container's record files, read from its own directory only (`<c>/<c>.exit`: a step
 * can write nothing but its own directory, contract.ts), so a file naming another container
 * is ignored wherever it lies.
 */
async function recordFiles(stepsDir: string): Promise<{ name: string; path: string }[] | undefined> {
  let dirs: string[];
  try {
    dirs = await readdir(stepsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const out: { name: string; path: string }[] = [];
  for (const container of dirs) {
    if (container.startsWith('.')) continue;
    let names: string[];
    try {
      names = await readdir(join(stepsDir, container));
    } catch (error) {
      // A stray file, or a directory gone: no records there.
      if (['ENOTDIR', 'ENOENT'].includes((error as NodeJS.ErrnoException).code ?? '')) continue;
      throw error;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      if ([EXIT_SUFFIX, STEP_SKIPPED_SUFFIX, STEP_UNREACHABLE_SUFFIX, STEP_STARTED_SUFFIX].some((suffix) => name === `${container}${suffix}`)) out.push({ name, path: join(stepsDir, container, name) });
    }
  }
  return out;
}

export async function readStepRecords(stepsDir: string): Promise<StepRecords> {
  const files = await recordFiles(stepsDir);
  if (!files) return { exits: {}, skipMarks: new Set(), recorded: new Set(), emptyExits: new Set(), skipReasons: {}, started: {} };
  const names = files.map((f) => f.name);
  const skipped = new Set(names.filter((n) => n.endsWith(STEP_SKIPPED_SUFFIX)).map((n) => n.slice(0, -STEP_SKIPPED_SUFFIX.length)));
  const exits: Record<string, ExitRecord> = {};
  const emptyExits = new Set<string>();
  for (const { name, path } of files) {
    if (!name.endsWith(EXIT_SUFFIX)) continue;
    const container = name.slice(0, -EXIT_SUFFIX.length);
    const read = await readRecord(path);
    // A wrapper may be caught between creating and writing the file: read it next time.
    if (read?.text === '') emptyExits.add(container);
    if (read === undefined || !/^\d+$/.test(read.text)) continue;
    const record: ExitRecord = { exitCode: Number(read.text), at: read.at };
    if (skipped.has(container)) record.skipped = true;
    exits[container] = record;
  }
  const skipMarks = new Set([...skipped].filter((container) => exits[container] === undefined));
  const skipReasons: Record<string, string> = {};
  const started: Record<string, string> = {};
  for (const { name, path } of files) {
    if (name.endsWith(STEP_SKIPPED_SUFFIX)) {
      const read = await readRecord(path);
      const reason = read === undefined ? undefined : skipReasonOf(read.text);
      if (reason !== undefined) skipReasons[name.slice(0, -STEP_SKIPPED_SUFFIX.length)] = reason;
    }
    if (name.endsWith(STEP_STARTED_SUFFIX)) {
      const read = await readRecord(path);
      if (read !== undefined) started[name.slice(0, -STEP_STARTED_SUFFIX.length)] = read.at;
    }
  }
  const recorded = new Set<string>();
  for (const name of names) {
    for (const suffix of [EXIT_SUFFIX, STEP_SKIPPED_SUFFIX, STEP_UNREACHABLE_SUFFIX]) {
      if (name.endsWith(suffix)) recorded.add(name.slice(0, -suffix.length));
    }
  }
  return { exits, skipMarks, recorded, emptyExits, skipReasons, started };
}

/**
 * Lets each step container write its own records whatever user its image runs as. A task
 * volume is an empty directory owned by root, mode 0755, on Fargate (shared/reference:
 * "Bind-mount volumes are root-owned 0755"), and a container without `user` runs as its
 * image's USER (API_ContainerDefinition `user`), which for many images is not root: its
 * wrapper could then write neither its `.started` marker nor its exit or skip record, and the
 * step would fail (or a skip read as a pass). Writable by all is no wider than needed: each
 * record volume is mounted writable only in its own container, its gate and the agent, and
 * read-only everywhere else (contract.ts, STEP_RECORD_DIR). Run by the agent, as root, before
 * any step can start its commands.
 */
export async function openRecordDirs(stepsDir: string, containers: readonly string[]): Promise<void> {
  for (const container of containers) {
    const dir = join(stepsDir, container);
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o777);
  }
}

export type FinalRecordKind = 'exit' | 'unreachable';

/**
 * Writes `<container>.exit` or `<container>.unreachable` atomically and at most once: the
 * text goes to a hidden temporary file that is then hard-linked into place, which fails
 * rather than replace a record already there (a wrapper's own exit record always wins).
 * Returns false when a record was already there.
 */
export async function writeFinalRecord(stepsDir: string, container: string, kind: FinalRecordKind, text: string): Promise<boolean> {
  const suffix = kind === 'exit' ? EXIT_SUFFIX : STEP_UNREACHABLE_SUFFIX;
  const dir = join(stepsDir, container);
  const final = join(dir, `${container}${suffix}`);
  const temporary = join(dir, `.${container}${suffix}.${process.pid}.tmp`);
  // The container's record volume is mounted there on ECS; locally it may not exist yet.
  await mkdir(dir, { recursive: true });
  await writeFile(temporary, `${text}\n`);
  try {
    await link(temporary, final);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temporary);
  }
}

/**
 * Replaces an empty `<container>.exit` with `text`, atomically (a hidden temporary file
 * renamed over it), and only while it is still empty. For a container ECS reports stopped:
 * its wrapper can no longer write, so the file would stay empty and steps that wait for a
 * final record (script.ts) would wait until the pipeline times out. Returns whether it did.
 */
export async function replaceEmptyExitRecord(stepsDir: string, container: string, text: string): Promise<boolean> {
  const final = join(stepsDir, container, `${container}${EXIT_SUFFIX}`);
  const current = await readRecord(final);
  if (current === undefined || current.text !== '') return false;
  const temporary = join(stepsDir, container, `.${container}${EXIT_SUFFIX}.${process.pid}.tmp`);
  await writeFile(temporary, `${text}\n`);
  try {
    await rename(temporary, final);
  } catch (error) {
    await unlink(temporary);
    throw error;
  }
  return true;
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
