// `slipway run` with `slipway up` running (issue 17): the build is the server's — submitted
// through its API with the token of SLIPWAY_HOME/server.json, built from the checked-out
// branch and commit plus the uncommitted changes, shown by `slipway builds`, restartable —
// and the server is found safely: loopback only, a live process, the token, the API's
// X-Slipway-Request rule.

import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CliIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { LOCAL_RUNS_PATH, newRunToken, readServerFile, removeServerFile, writeServerFile } from '../../local/local-runs.js';
import { startLocalSlipway, type LocalSlipway } from '../../local/up.js';
import { HANG_GUARD_MS } from '../support/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PIPELINE = 'kind: pipeline\ntype: docker\nname: test\nsteps:\n  - name: hello\n    image: alpine:3.20\n    commands:\n      - echo "on $DRONE_BRANCH at $DRONE_COMMIT_SHA"\n      - cat note.txt\n';

let home: string;
let work: string;
let local: LocalSlipway;
let token: string;
const errors: string[] = [];

const git = (...args: string[]): string =>
  execFileSync('git', args, { cwd: work, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: work, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'Dev', GIT_AUTHOR_EMAIL: 'dev@example.com', GIT_COMMITTER_NAME: 'Dev', GIT_COMMITTER_EMAIL: 'dev@example.com' } }).trim();

async function cli(env: Record<string, string>, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { out: (t) => out.push(t), err: (t) => err.push(t), cwd: work, env: { PATH: process.env.PATH, SLIPWAY_HOME: home, ...env } };
  const code = await main(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/**
 * The CLI in a process of its own, as a user runs it: a private stack sets the handlers'
 * environment in its process, which this test's running server uses too.
 */
function cliProcess(env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin/slipway.js'), ...args], { cwd: work, env: { ...process.env, SLIPWAY_HOME: home, ...env }, timeout: HANG_GUARD_MS }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }),
    );
  });
}

beforeAll(async () => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
  home = mkdtempSync(join(tmpdir(), 'slipway-home-'));
  work = mkdtempSync(join(tmpdir(), 'slipway-work-'));
  git('init', '-q', '-b', 'feature/login');
  writeFileSync(join(work, '.drone.yml'), PIPELINE);
  writeFileSync(join(work, 'note.txt'), 'committed\n');
  git('add', '-A');
  git('commit', '-q', '-m', 'Add the login page');
  token = newRunToken();
  local = await startLocalSlipway({ port: 0, scheduleMs: 500, runToken: token, env: { SLIPWAY_HOME: home }, onError: (where, err) => errors.push(`${where}: ${(err as Error).message}`) });
  writeServerFile(home, { url: local.url, pid: process.pid, token });
}, HANG_GUARD_MS);

afterAll(async () => {
  await local?.stop();
  for (const dir of [home, work]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('slipway run with a local server up', () => {
  it('builds the checked-out branch and commit, with the uncommitted changes on top, as a build of the server', async () => {
    const head = git('rev-parse', 'HEAD');
    writeFileSync(join(work, 'note.txt'), 'not committed yet\n');
    const run = await cli({}, 'run', work);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toMatch(new RegExp(`^Building ${work} as local/slipway-work-\\w+@feature/login \\([0-9a-f]{8}\\) on the local server: build #1$`, 'm'));
    expect(run.out).toContain(`${local.url}/#/builds/local/`);
    expect(run.out).toContain('[hello] on feature/login at ');
    expect(run.out).toContain('[hello] not committed yet');
    expect(run.out).toMatch(/slipway build 1 --repo local\/slipway-work-\w+/);
    // As on a private stack, the clone's progress line gives its own time and its span's other phases (read through the API;
    // "steps start" once the first step's commands' start is known when the line is printed: cli/agent-phases.ts).
    expect(run.out).toMatch(/^ {2}✓ clone success in [\d.]+s \(agent start [\d.]+s, services ready [\d.]+s(, steps start [\d.]+s)?\)$/m);

    // The server has it: the builds list (of the CLI) shows the branch and the commit on top of HEAD.
    const slug = /as (local\/\S+)@/.exec(run.out)![1]!;
    const builds = await cli({ SLIPWAY_SERVER: local.url }, 'builds', '--repo', slug, '--json');
    const [build] = JSON.parse(builds.out).builds as { branch: string; commit: string; message: string; status: string }[];
    // One repository's list is read consistently (adapters/dynamodb/builds.ts): the build just run, with its final status.
    expect(build).toMatchObject({ status: 'success', branch: 'feature/login', message: expect.stringMatching(/^Add the login page \+ uncommitted changes/) });
    expect(build!.commit).not.toBe(head);
    expect(execFileSync('git', ['-C', (await local.store.getRepository(slug))!.httpUrl.replace('file://', ''), 'rev-parse', `${build!.commit}^`], { encoding: 'utf8' }).trim()).toBe(head);

    // A clean working copy builds HEAD itself; a restart of the first build still finds its commit.
    writeFileSync(join(work, 'note.txt'), 'committed\n');
    const clean = await cli({}, 'run', '--quiet', work);
    expect(clean.code).toBe(0);
    expect((await local.store.getBuild(`${slug}#2`))?.commit).toBe(head);
    const restarted = await cli({ SLIPWAY_SERVER: local.url }, 'restart', '1', '--repo', slug);
    expect(restarted.code).toBe(0);
    const third = await local.waitForBuild(`${slug}#3`, undefined, HANG_GUARD_MS);
    expect(third).toMatchObject({ status: 'success', commit: build!.commit });
    expect(errors).toEqual([]);
  }, HANG_GUARD_MS);

  it('the route wants the token of server.json and the X-Slipway-Request header; nothing is built otherwise', async () => {
    const post = (body: unknown, headers: Record<string, string>) =>
      fetch(`${local.url}${LOCAL_RUNS_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const request = { dir: work, repo: 'local/intruder' };
    // A web page cannot send the header (the guard answers before the route).
    expect((await post({ ...request, token }, {})).status).toBe(403);
    const wrong = await post({ ...request, token: newRunToken() }, { 'x-slipway-request': '1' });
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ error: expect.stringContaining('the token is not this server') });
    expect((await post({ ...request, token, dir: 'relative/path' }, { 'x-slipway-request': '1' })).status).toBe(400);
    expect(await local.store.getRepository('local/intruder')).toBeNull();
  });

  it('--private builds on a private stack, which says where its build went', async () => {
    const run = await cliProcess({}, 'run', '--private', '--quiet', work);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/on a private stack: asked for \(--private\)/);
    expect(run.out).toContain('it is in no dashboard and not in slipway builds');
  }, HANG_GUARD_MS);
});

describe('finding the local server (SLIPWAY_HOME/server.json)', () => {
  it('is readable by its owner only, and used only for a loopback URL of a live process', () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-home-'));
    try {
      expect(readServerFile(dir)).toMatchObject({ none: expect.stringContaining('no local server is running') });
      const file = writeServerFile(dir, { url: 'http://localhost:8080', pid: process.pid, token: 't' });
      expect(execFileSync('stat', ['-c', '%a', file], { encoding: 'utf8' }).trim()).toBe('600');
      expect(readServerFile(dir)).toEqual({ server: { url: 'http://localhost:8080', pid: process.pid, token: 't' } });
      writeServerFile(dir, { url: 'http://ci.example.com:8080', pid: process.pid, token: 't' });
      expect(readServerFile(dir)).toMatchObject({ none: expect.stringContaining("which is not this machine's loopback") });
      // A pid no process has (above the kernel's pid_max).
      writeServerFile(dir, { url: 'http://127.0.0.1:8080', pid: 2 ** 22 + 1, token: 't' });
      expect(readServerFile(dir)).toMatchObject({ none: expect.stringContaining('is no longer running') });
      // A stopping server removes only its own file.
      writeServerFile(dir, { url: 'http://127.0.0.1:8080', pid: process.pid, token: 'mine' });
      removeServerFile(dir, 'another');
      expect(readServerFile(dir)).toMatchObject({ server: { token: 'mine' } });
      removeServerFile(dir, 'mine');
      expect(readServerFile(dir)).toMatchObject({ none: expect.any(String) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a server file whose server does not answer: the run says so and builds privately', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-home-'));
    try {
      // A port nothing listens on, announced by a live process (this one).
      writeServerFile(dir, { url: 'http://127.0.0.1:9', pid: process.pid, token: 't' });
      const run = await cliProcess({ SLIPWAY_HOME: dir }, 'run', '--quiet', work);
      expect(run.code, run.err).toBe(0);
      expect(run.out).toMatch(/on a private stack: the local server at http:\/\/127\.0\.0\.1:9 did not answer/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, HANG_GUARD_MS);
});
