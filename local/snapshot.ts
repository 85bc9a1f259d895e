// A local build's repository: a fresh git repository in a temp dir holding a copy of a
// directory's files, committed once. The agent clones it like any remote; the user's own
// repository (and its index, branches, stashes) is never touched. In a git working copy
// the files are those git would see (tracked and untracked, minus ignored ones), so
// uncommitted changes are built, as with `drone exec`.

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

export interface Snapshot {
  /** The temp repository (its own working tree). */
  dir: string;
  sha: string;
  branch: string;
  message: string;
  author: string;
  remove(): void;
}

const git = (cwd: string, args: string[]): string =>
  execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

function gitFiles(source: string): string[] | null {
  try {
    if (git(source, ['rev-parse', '--is-inside-work-tree']) !== 'true') return null;
  } catch (err) {
    // Not a git working copy (or git refuses it): copy the directory as it is.
    if ((err as { status?: number }).status !== undefined) return null;
    throw err;
  }
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: source, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return out.split('\0').filter((f) => f && existsSync(join(source, f)));
}

export function snapshotDirectory(sourceDir: string, options: { branch?: string; message?: string; author?: string } = {}): Snapshot {
  const source = resolve(sourceDir);
  if (!existsSync(source) || !statSync(source).isDirectory()) throw new Error(`snapshot: ${source} is not a directory`);
  const dir = mkdtempSync(join(tmpdir(), `slipway-${basename(source).replace(/[^\w.-]/g, '_')}-`));
  try {
    const files = gitFiles(source);
    if (files) {
      for (const f of files) {
        mkdirSync(dirname(join(dir, f)), { recursive: true });
        cpSync(join(source, f), join(dir, f), { recursive: false });
      }
    } else {
      cpSync(source, dir, { recursive: true, filter: (src) => !/[/\\](\.git|node_modules)$/.test(src) });
    }
    const branch = options.branch ?? 'main';
    const author = options.author ?? 'slipway';
    const message = options.message ?? `local build of ${source}`;
    const env = { ...process.env, GIT_AUTHOR_NAME: author, GIT_AUTHOR_EMAIL: `${author}@localhost`, GIT_COMMITTER_NAME: author, GIT_COMMITTER_EMAIL: `${author}@localhost` };
    const run = (args: string[]) => execFileSync('git', args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    run(['init', '-q', '-b', branch]);
    run(['add', '-A']);
    run(['commit', '-q', '--allow-empty', '--no-gpg-sign', '-m', message]);
    return { dir, sha: git(dir, ['rev-parse', 'HEAD']), branch, message, author, remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
