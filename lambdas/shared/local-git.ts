// The `local` Git host of local mode: the repository is a directory (or file:// URL) on
// this machine, and the pipeline file is read at the commit with `git show`.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export function localRepoPath(httpUrl: string): string {
  return httpUrl.startsWith('file://') ? fileURLToPath(httpUrl) : httpUrl;
}

function git(repoPath: string, args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    execFile('git', ['-C', repoPath, ...args], { maxBuffer: 2 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ ok: !err, stdout, stderr, ...(err ? { error: err } : {}) }),
    );
  });
}

/** The file's text at `sha`, or null when the commit has no such file. */
export async function readFileAtCommit(repoPath: string, sha: string, path: string): Promise<string | null> {
  if (!/^[0-9a-fA-F]{4,64}$/.test(sha)) throw new Error(`local-git: ${JSON.stringify(sha)} is not a commit id`);
  const shown = await git(repoPath, ['show', `${sha}:${path}`]);
  if (shown.ok) return shown.stdout;
  const where = `${path} at ${sha.slice(0, 12)} in ${repoPath}`;
  // git says "does not exist in" both for a missing path and for an unknown commit.
  if (/does not exist in|exists on disk, but not in/.test(shown.stderr)) {
    const commit = await git(repoPath, ['cat-file', '-e', `${sha}^{commit}`]);
    if (commit.ok) return null;
    throw new Error(`local-git: cannot read ${where}: no such commit`);
  }
  throw new Error(`local-git: cannot read ${where}: ${shown.stderr.trim() || shown.error?.message}`);
}
