// `slipway run` against a running `slipway up`: the server builds a working copy of this
// machine, so that the build is in its dashboard and in `slipway builds`/`build`/`logs`/
// `restart` like any other. The CLI finds the server through a file only its owner can read
// (SLIPWAY_HOME/server.json: the loopback URL and a random token); a run must carry that
// token, so neither a web page (it cannot send the API's X-Slipway-Request header) nor
// another user of this machine (who cannot read the file) can make the server run a
// directory's pipeline.
//
// Each repository has one bare repository for the server's life, into which every run of it
// pushes its commit: a restart of an earlier build still finds that commit.

import { execFileSync } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { Snapshot } from './snapshot.js';
import { snapshotWorkingCopy } from './snapshot.js';

export const LOCAL_RUNS_PATH = '/api/local/runs';
const SERVER_FILE = 'server.json';
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** What `slipway up` writes while it serves, for `slipway run` to find it. */
export interface ServerFile {
  url: string;
  pid: number;
  token: string;
}

export function newRunToken(): string {
  return randomBytes(32).toString('hex');
}

/** Writes SLIPWAY_HOME/server.json, readable by its owner only (the token lets a run in). */
export function writeServerFile(home: string, server: ServerFile): string {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const file = join(home, SERVER_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(server)}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
  return file;
}

/** Removes the file if it is still this server's (a later `slipway up` may have replaced it). */
export function removeServerFile(home: string, token: string): void {
  const found = readServerFile(home);
  if (found && 'server' in found && found.server.token === token) rmSync(join(home, SERVER_FILE), { force: true });
}

/**
 * The local server this machine's `slipway up` announced, or why there is none to use: no
 * file, its process is gone, or a URL that is not loopback (never sent a token elsewhere).
 */
export function readServerFile(home: string): { server: ServerFile } | { none: string } {
  const file = join(home, SERVER_FILE);
  if (!existsSync(file)) return { none: `no local server is running (${file} does not exist)` };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // Another user's server (EACCES): its builds are not this user's to start.
    return { none: `${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): the local server is another user's` };
  }
  let value: Partial<ServerFile>;
  try {
    value = JSON.parse(text) as Partial<ServerFile>;
  } catch (err) {
    return { none: `${file} is not JSON (${(err as Error).message})` };
  }
  if (typeof value.url !== 'string' || typeof value.token !== 'string' || typeof value.pid !== 'number') return { none: `${file} lacks url, token or pid` };
  let host: string;
  try {
    host = new URL(value.url).hostname;
  } catch {
    return { none: `${file} names no URL: ${JSON.stringify(value.url)}` };
  }
  if (!LOOPBACK.has(host) || new URL(value.url).protocol !== 'http:') return { none: `${file} names ${value.url}, which is not this machine's loopback` };
  if (!processAlive(value.pid)) return { none: `the server that wrote ${file} (pid ${value.pid}) is no longer running` };
  return { server: value as ServerFile };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The body of POST /api/local/runs. */
export interface LocalRunRequest {
  token: string;
  /** Absolute path of the working copy. */
  dir: string;
  repo: string;
  /** Default: the checked-out branch (main on a detached HEAD or outside git). */
  branch?: string;
}

export type LocalRunResponse = { buildId: string; repo: string; number: number; url: string; commit: string; branch: string } | { skipped: string };

/** A request the route refuses, with the HTTP status to answer. */
export class LocalRunRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'LocalRunRefused';
  }
}

export interface LocalRunsOptions {
  token: string;
  /** Plans a build of the repository at `snapshot`'s commit (LocalSlipway.buildSnapshot). */
  build(snapshot: Snapshot, repo: { slug: string }): Promise<{ buildId: string } | { skipped: string } | 'queued'>;
  publicUrl: string;
}

export interface LocalRuns {
  handle(body: string): Promise<LocalRunResponse>;
  /** Removes every repository made for runs (at the server's stop). */
  remove(): void;
}

const SLUG = /^[A-Za-z0-9_.-]{1,100}(\/[A-Za-z0-9_.-]{1,100}){1,9}$/;

export function localRuns(options: LocalRunsOptions): LocalRuns {
  const root = mkdtempSync(join(tmpdir(), 'slipway-runs-'));
  const expected = Buffer.from(options.token);
  const bareOf = (slug: string): string => {
    const bare = join(root, `${slug}.git`);
    if (!existsSync(bare)) {
      mkdirSync(bare, { recursive: true });
      execFileSync('git', ['init', '-q', '--bare', bare], { stdio: ['ignore', 'pipe', 'pipe'] });
    }
    return bare;
  };
  return {
    async handle(body) {
      let request: Partial<LocalRunRequest>;
      try {
        request = JSON.parse(body) as Partial<LocalRunRequest>;
      } catch (err) {
        throw new LocalRunRefused(400, `local run: the body is not JSON (${(err as Error).message})`);
      }
      const given = Buffer.from(typeof request.token === 'string' ? request.token : '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new LocalRunRefused(403, 'local run: the token is not this server\'s (slipway run reads it from SLIPWAY_HOME/server.json)');
      }
      const { dir, repo, branch } = request;
      if (typeof dir !== 'string' || !isAbsolute(dir)) throw new LocalRunRefused(400, 'local run: "dir" must be an absolute path');
      if (!existsSync(join(dir, '.drone.yml'))) throw new LocalRunRefused(400, `local run: ${join(dir, '.drone.yml')} does not exist`);
      if (typeof repo !== 'string' || !SLUG.test(repo) || repo.split('/').some((s) => s === '.' || s === '..')) {
        throw new LocalRunRefused(400, `local run: "repo" must be OWNER/NAME, got ${JSON.stringify(repo)}`);
      }
      if (branch !== undefined && (typeof branch !== 'string' || !/^[\w./-]{1,200}$/.test(branch) || branch.includes('..'))) {
        throw new LocalRunRefused(400, `local run: "branch" ${JSON.stringify(branch)} is not a branch name`);
      }
      const snapshot = snapshotWorkingCopy(dir, branch ? { branch } : {});
      try {
        // The commit joins the repository's one bare repository; a ref per commit keeps it after the branch moves on.
        const bare = bareOf(repo);
        execFileSync('git', ['push', '-q', '--force', bare, `HEAD:refs/heads/${snapshot.branch}`, `HEAD:refs/slipway/${snapshot.sha}`], { cwd: snapshot.dir, stdio: ['ignore', 'pipe', 'pipe'] });
        const submitted = await options.build({ ...snapshot, dir: bare, remove: () => undefined }, { slug: repo });
        if (submitted === 'queued') return { skipped: 'the build was queued without an id' };
        if ('skipped' in submitted) return submitted;
        const number = Number(submitted.buildId.slice(submitted.buildId.lastIndexOf('#') + 1));
        return { buildId: submitted.buildId, repo, number, url: `${options.publicUrl}/#/builds/${repo}/${number}`, commit: snapshot.sha, branch: snapshot.branch };
      } finally {
        snapshot.remove();
      }
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
