// Reading untrusted JSON payloads: each accessor names the path it wanted, so a
// malformed event is reported as `repository.full_name: expected a string`.

import { MalformedHookError, type HookHost } from './types.js';

export type Json = Record<string, unknown>;

export class PayloadReader {
  constructor(readonly host: HookHost) {}

  fail(path: string, expected: string): never {
    throw new MalformedHookError(this.host, `${path}: expected ${expected}`);
  }

  private at(root: unknown, path: string): unknown {
    let v: unknown = root;
    for (const key of path.split('.')) {
      if (v === null || typeof v !== 'object') return undefined;
      v = (v as Json)[key];
    }
    return v;
  }

  object(root: unknown, path: string): Json {
    const v = path ? this.at(root, path) : root;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path || 'body', 'an object');
    return v as Json;
  }

  optionalObject(root: unknown, path: string): Json | undefined {
    const v = this.at(root, path);
    if (v === undefined || v === null) return undefined;
    return this.object(root, path);
  }

  string(root: unknown, path: string): string {
    const v = this.at(root, path);
    if (typeof v !== 'string' || v === '') this.fail(path, 'a non-empty string');
    return v;
  }

  optionalString(root: unknown, path: string, fallback = ''): string {
    const v = this.at(root, path);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string') this.fail(path, 'a string');
    return v;
  }

  number(root: unknown, path: string): number {
    const v = this.at(root, path);
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(path, 'a number');
    return v;
  }

  optionalBoolean(root: unknown, path: string, fallback = false): boolean {
    const v = this.at(root, path);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(path, 'true or false');
    return v;
  }

  array(root: unknown, path: string): unknown[] {
    const v = this.at(root, path);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(path, 'a list');
    return v;
  }
}

export const ZERO_SHA = /^0+$/;

/** More changed files than this and the list is dropped (paths conditions then match). */
const MAX_CHANGED_FILES = 1000;

/** The files a push touched, from the commits' added/modified/removed lists. */
export function changedFilesOf(reader: PayloadReader, commits: unknown[]): string[] | undefined {
  const files = new Set<string>();
  for (const [i, commit] of commits.entries()) {
    for (const list of ['added', 'modified', 'removed']) {
      for (const f of reader.array(commit, list)) {
        if (typeof f !== 'string') reader.fail(`commits.${i}.${list}`, 'a list of file names');
        files.add(f);
      }
    }
  }
  if (files.size > MAX_CHANGED_FILES) return undefined;
  return [...files].sort();
}

export function branchOf(ref: string): string {
  return ref.replace(/^refs\/heads\//, '');
}

export function tagOf(ref: string): string {
  return ref.replace(/^refs\/tags\//, '');
}

/** Drone's action names for pull-request events, from each host's words. */
export function pullRequestAction(action: string): 'opened' | 'synchronized' | 'reopened' | null {
  switch (action) {
    case 'opened':
    case 'open':
      return 'opened';
    case 'synchronize':
    case 'synchronized':
      return 'synchronized';
    case 'reopened':
    case 'reopen':
      return 'reopened';
    default:
      return null;
  }
}
