// A local build's repository: a fresh git repository in a temp dir holding a copy of a
// directory's files, committed once. The agent clones it like any remote; the user's own
// repository (and its index, branches, stashes) is never touched. In a git working copy
// the files are those git would see (tracked and untracked, minus ignored ones), so
// uncommitted changes are built, as with `drone exec`.

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs';
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

/** What a working copy has checked out, read with git; null outside a git working copy with a commit. */
export interface WorkingCopy {
  /** The checked-out branch; undefined on a detached HEAD. */
  branch?: string;
  head: { sha: string; message: string; author: string; email: string };
  /** Changes to tracked files or untracked files git does not ignore. */
  dirty: boolean;
}

export function workingCopyOf(dir: string): WorkingCopy | null {
  if (gitFiles(resolve(dir)) === null) return null;
  let sha: string;
  try {
    sha = git(dir, ['rev-parse', '--verify', '-q', 'HEAD']);
  } catch (err) {
    // A repository without a commit yet.
    if ((err as { status?: number }).status !== undefined) return null;
    throw err;
  }
  let branch: string | undefined;
  try {
    branch = git(dir, ['symbolic-ref', '--short', '-q', 'HEAD']) || undefined;
  } catch (err) {
    // Detached HEAD: symbolic-ref exits 1.
    if ((err as { status?: number }).status === undefined) throw err;
  }
  const [author = 'local', email = 'local@localhost', ...message] = git(dir, ['log', '-1', '--format=%an%n%ae%n%B', 'HEAD']).split('\n');
  const dirty = git(dir, ['status', '--porcelain', '--untracked-files=normal']) !== '';
  return { ...(branch ? { branch } : {}), head: { sha, message: message.join('\n').trim(), author, email }, dirty };
}

/**
 * A local build's repository made from a working copy as `slipway run` builds it: its
 * checked-out commit (same id, message and author) on its branch, and, when it has uncommitted
 * changes, one more commit on top holding the files git sees (tracked and untracked, minus
 * ignored ones, as snapshotDirectory). Outside a git working copy: snapshotDirectory.
 */
export function snapshotWorkingCopy(sourceDir: string, options: { branch?: string } = {}): Snapshot & { workingCopy: WorkingCopy | null } {
  const source = resolve(sourceDir);
  const wc = workingCopyOf(source);
  if (!wc) return { ...snapshotDirectory(source, { branch: options.branch ?? 'main', message: `slipway run of ${basename(source)}`, author: 'local' }), workingCopy: null };
  const branch = options.branch ?? wc.branch ?? 'main';
  const dir = mkdtempSync(join(tmpdir(), `slipway-${basename(source).replace(/[^\w.-]/g, '_')}-`));
  try {
    const env = { ...process.env, GIT_AUTHOR_NAME: wc.head.author, GIT_AUTHOR_EMAIL: wc.head.email, GIT_COMMITTER_NAME: wc.head.author, GIT_COMMITTER_EMAIL: wc.head.email };
    const run = (args: string[]) => execFileSync('git', args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    // A local clone (objects hard-linked where the file system allows): the user's repository is only read.
    run(['clone', '-q', '--no-checkout', source, '.']);
    run(['checkout', '-q', '-B', branch, wc.head.sha]);
    let message = wc.head.message;
    if (wc.dirty) {
      for (const f of git(dir, ['ls-files', '-z']).split('\0').filter(Boolean)) unlinkSync(join(dir, f));
      for (const f of gitFiles(source) ?? []) {
        mkdirSync(dirname(join(dir, f)), { recursive: true });
        cpSync(join(source, f), join(dir, f), { recursive: false });
      }
      message = `${wc.head.message.split('\n')[0] ?? ''} + uncommitted changes\n\nThe working copy of ${source} on top of ${wc.head.sha.slice(0, 12)}.`;
      run(['add', '-A']);
      run(['commit', '-q', '--allow-empty', '--no-gpg-sign', '-m', message]);
    }
    return { dir, sha: git(dir, ['rev-parse', 'HEAD']), branch, message, author: wc.head.author, remove: () => rmSync(dir, { recursive: true, force: true }), workingCopy: wc };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
