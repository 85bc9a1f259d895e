// Cloning with the real git from real repositories made in the test.

import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AGENT_EXIT } from '../../core/pipeline/contract.js';
import type { BuildContext } from '../../core/pipeline/context.js';
import type { CloneSettings } from '../../core/pipeline/types.js';
import { clonePlan, redactUrl } from '../../task-runner/clone-plan.js';
import { CloneError, cloneRepository } from '../../task-runner/clone.js';
import { createGitHome, scrub } from '../../task-runner/credentials.js';
import { createLibrary, createOrigin, git, startGitHttpServer, type OriginRepo } from './git-fixtures.js';
import { context, plan, startAgent } from './run-agent.js';

let root: string;
let origin: OriginRepo;
let library: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'slipway-clone-test-'));
  library = createLibrary(root);
  origin = createOrigin(root, library);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const settings = (extra: Partial<CloneSettings> = {}): CloneSettings => ({
  disable: false,
  tags: false,
  skipVerify: false,
  submodules: false,
  retries: 0,
  ...extra,
});

function ctxFor(sha: string, ref: string, extra: Partial<BuildContext> = {}): BuildContext {
  const base = context();
  const branch = ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : '';
  return {
    ...base,
    repo: { ...base.repo, httpUrl: `file://${origin.bare}` },
    commit: { ...base.commit, sha, ref, branch },
    ...extra,
  };
}

let counter = 0;
async function clone(ctx: BuildContext, clone: CloneSettings): Promise<{ dir: string; lines: string[] }> {
  counter += 1;
  const dir = join(root, `ws-${counter}`);
  const lines: string[] = [];
  await cloneRepository({ ctx, clone, workspace: dir, env: { PATH: process.env['PATH'] }, log: (l) => lines.push(l), signal: new AbortController().signal });
  return { dir, lines };
}

describe('clone', () => {
  it('a branch push checks out the commit on a local branch of that name', async () => {
    const { dir } = await clone(ctxFor(origin.commits.third, 'refs/heads/main'), settings());
    expect(git(dir, 'rev-parse', 'HEAD')).toBe(origin.commits.third);
    expect(git(dir, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('third\n');
    expect(git(dir, 'tag')).toBe(''); // tags: false
  });

  it('another branch', async () => {
    const { dir } = await clone(ctxFor(origin.commits.feature, 'refs/heads/feature'), settings());
    expect(git(dir, 'rev-parse', 'HEAD')).toBe(origin.commits.feature);
    expect(existsSync(join(dir, 'feature.txt'))).toBe(true);
  });

  it('depth 1 gives a shallow clone of exactly one commit', async () => {
    const { dir } = await clone(ctxFor(origin.commits.third, 'refs/heads/main'), settings({ depth: 1 }));
    expect(git(dir, 'rev-parse', '--is-shallow-repository')).toBe('true');
    expect(git(dir, 'rev-list', '--count', 'HEAD')).toBe('1');
    expect(git(dir, 'rev-parse', 'HEAD')).toBe(origin.commits.third);
  });

  it('a commit behind the branch tip (the branch moved on) is still checked out', async () => {
    const { dir } = await clone(ctxFor(origin.commits.first, 'refs/heads/main'), settings());
    expect(git(dir, 'rev-parse', 'HEAD')).toBe(origin.commits.first);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('first\n');
  });

  // The default depth (DEFAULT_CLONE_DEPTH): the ref's one commit does not hold it, so the
  // commit is fetched by id, shallow too.
  it('at depth 1, a commit behind the branch tip is fetched by id and checked out', async () => {
    const { dir } = await clone(ctxFor(origin.commits.first, 'refs/heads/main'), settings({ depth: 1 }));
    expect(git(dir, 'rev-parse', 'HEAD')).toBe(origin.commits.first);
    expect(git(dir, 'rev-parse', '--is-shallow-repository')).toBe('true');
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('first\n');
  });

  it('a tag build checks out the tagged commit on a detached head', async () => {
    const ctx = ctxFor(origin.commits.tagged, 'refs/tags/v1.0.0', { tag: 'v1.0.0' });
    ctx.build = { ...ctx.build, event: 'tag' };
    const { dir } = await clone(ctx, settings({ depth: 1 }));
    expect(git(dir, 'rev-parse', 'HEAD')).toBe(origin.commits.tagged);
    expect(git(dir, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('HEAD');
    expect(git(dir, 'tag')).toBe('v1.0.0');
  });

  it('tags: true fetches every tag', async () => {
    const { dir } = await clone(ctxFor(origin.commits.third, 'refs/heads/main'), settings({ tags: true }));
    expect(git(dir, 'tag').split('\n').sort()).toEqual(['lightweight', 'v1.0.0']);
  });

  it('a GitHub pull request ref (refs/pull/N/head)', async () => {
    const ctx = ctxFor(origin.commits.pr, 'refs/pull/7/head');
    const { dir } = await clone(ctx, settings({ depth: 1 }));
    expect(git(dir, 'rev-parse', 'HEAD')).toBe(origin.commits.pr);
    expect(readFileSync(join(dir, 'pr.txt'), 'utf8')).toBe('pull request 7\n');
  });

  it('a GitLab merge request derived from the pull request number when the ref is empty', async () => {
    const ctx = ctxFor(origin.commits.mr, '');
    ctx.repo = { ...ctx.repo, scm: 'gitlab' };
    ctx.pullRequest = { number: 3, title: 'mr', sourceBranch: 'x', targetBranch: 'main', fork: false };
    expect(clonePlan(ctx, settings()).refspec).toBe('+refs/merge-requests/3/head:refs/merge-requests/3/head');
    const { dir } = await clone(ctx, settings());
    expect(git(dir, 'rev-parse', 'HEAD')).toBe(origin.commits.mr);
  });

  it('submodules when asked, not otherwise', async () => {
    const without = await clone(ctxFor(origin.commits.third, 'refs/heads/main'), settings());
    expect(existsSync(join(without.dir, 'lib', 'lib.txt'))).toBe(false);
    const withSub = await clone(ctxFor(origin.commits.third, 'refs/heads/main'), settings({ submodules: true }));
    expect(readFileSync(join(withSub.dir, 'lib', 'lib.txt'), 'utf8')).toBe('library\n');
  });

  it("a commit that is not on the remote fails with the commit, the ref and the URL, and git's exit code of the fetch by commit", async () => {
    const missing = 'deadbeef'.repeat(5);
    const failure = clone(ctxFor(missing, 'refs/heads/main'), settings());
    await expect(failure).rejects.toThrow(new CloneError(`clone: commit ${missing} not found in refs/heads/main of file://${origin.bare}`, 128));
    // What Drone's clone step (git in a container) would end with.
    await expect(failure).rejects.toMatchObject({ gitExitCode: 128 });
  });
});

describe('clone plan', () => {
  it('fetch options follow depth and tags', () => {
    const plan = clonePlan(ctxFor('abc', 'refs/heads/main'), settings({ depth: 5, tags: true, submodules: true }));
    expect(plan).toEqual({
      sha: 'abc',
      refspec: '+refs/heads/main:refs/remotes/origin/main',
      checkout: ['-B', 'main', 'abc'],
      fetchOptions: ['--depth=5', '--tags'],
      submodules: ['submodule', 'update', '--init', '--recursive', '--depth=5'],
    });
  });

  it('URLs lose their credentials before they are printed', () => {
    expect(redactUrl('https://x-token:s3cr3t@github.com/octo/app.git')).toBe('https://github.com/octo/app.git');
    expect(redactUrl('file:///srv/repo.git')).toBe('file:///srv/repo.git');
  });
});

describe('clone credentials', () => {
  it('go into a private netrc (0600 in a 0700 dir) that is removed afterwards', async () => {
    const home = await createGitHome({ DRONE_NETRC_MACHINE: 'git.example.com', DRONE_NETRC_USERNAME: 'bot', DRONE_NETRC_PASSWORD: 'p4ss-w0rd' });
    try {
      expect(statSync(home.dir).mode & 0o777).toBe(0o700);
      const netrc = join(home.dir, '.netrc');
      expect(statSync(netrc).mode & 0o777).toBe(0o600);
      expect(readFileSync(netrc, 'utf8')).toBe('machine git.example.com login bot password p4ss-w0rd\n');
      expect(scrub('fatal: p4ss-w0rd rejected for bot', home.secrets)).toBe('fatal: ******** rejected for ********');
    } finally {
      await home.dispose();
    }
    expect(existsSync(home.dir)).toBe(false);
  });

  it('with whitespace or a quote: a clone failure naming the variable, never the value, and no netrc left behind', async () => {
    const tmp = mkdtempSync(join(root, 'home-'));
    const previous = process.env['TMPDIR'];
    process.env['TMPDIR'] = tmp;
    try {
      for (const [password, kind] of [['tok en-s3cret', 'whitespace'], ['tok-s3cret\n', 'a line break'], ['tok"s3cret', 'a double quote']] as const) {
        const attempt = createGitHome({ DRONE_NETRC_MACHINE: 'git.example.com', DRONE_NETRC_USERNAME: 'bot', DRONE_NETRC_PASSWORD: password });
        await expect(attempt).rejects.toBeInstanceOf(CloneError);
        const message = await attempt.catch((error: Error) => error.message);
        expect(message).toContain(`clone: DRONE_NETRC_PASSWORD contains ${kind}, which a netrc file cannot hold`);
        expect(message).not.toContain('s3cret');
      }
    } finally {
      if (previous === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = previous;
    }
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('a password with a space ends the agent as a clone failure (exit 5), not an internal error', async () => {
    const secret = 'hunter2 trailing';
    const run = await startAgent({
      plan: plan({ clone: settings() }),
      ctx: ctxFor(origin.commits.third, 'refs/heads/main', {}),
      stateDir: join(root, 'state-bad-netrc'),
      workspace: join(root, 'ws-bad-netrc'),
      env: { DRONE_NETRC_MACHINE: '127.0.0.1', DRONE_NETRC_USERNAME: 'ci-bot', DRONE_NETRC_PASSWORD: secret },
    }).done;
    expect(run.code, run.stdout + run.stderr).toBe(AGENT_EXIT.cloneFailed);
    expect(run.result).toMatchObject({ outcome: 'clone-failed', exitCode: 5 });
    // No git command failed: no git exit code to report.
    expect(run.result?.cloneExitCode).toBeUndefined();
    expect(run.result?.message).toMatch(/^clone: DRONE_NETRC_PASSWORD contains whitespace, which a netrc file cannot hold/);
    expect(run.stdout + run.stderr).not.toContain('hunter2');
    expect(run.stdout).not.toContain('unexpected error');
  });

  it('over HTTP: the clone authenticates, and the password is in no log line, no git argument and no git environment', async () => {
    const password = 'hunter2-very-secret';
    const server = await startGitHttpServer(root, 'ci-bot', password);
    const shimDir = join(root, 'shim');
    const shimLog = join(root, 'shim.log');
    mkdirSync(shimDir, { recursive: true });
    const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    // Records each git invocation's arguments and environment, then runs the real git.
    writeFileSync(
      join(shimDir, 'git'),
      `#!/bin/sh\nprintf 'ARGS %s\\n' "$*" >> '${shimLog}'\nenv >> '${shimLog}'\nexec '${realGit}' "$@"\n`,
    );
    chmodSync(join(shimDir, 'git'), 0o755);
    const agentTmp = join(root, 'agent-tmp');
    mkdirSync(agentTmp);
    try {
      const base = context();
      const ctx: BuildContext = {
        ...base,
        repo: { ...base.repo, httpUrl: `${server.url}/origin.git` },
        commit: { ...base.commit, sha: origin.commits.third, ref: 'refs/heads/main', branch: 'main' },
      };
      const workspace = join(root, 'ws-http');
      const run = await startAgent({
        plan: plan({ clone: { disable: false, depth: 1, tags: false, skipVerify: false, submodules: false, retries: 0 } }),
        ctx,
        stateDir: join(root, 'state-http'),
        workspace,
        env: {
          PATH: `${shimDir}:${process.env['PATH']}`,
          TMPDIR: agentTmp,
          DRONE_NETRC_MACHINE: '127.0.0.1',
          DRONE_NETRC_USERNAME: 'ci-bot',
          DRONE_NETRC_PASSWORD: password,
        },
      }).done;

      expect(run.code, run.stdout).toBe(AGENT_EXIT.success);
      expect(git(workspace, 'rev-parse', 'HEAD')).toBe(origin.commits.third);
      expect(server.authorizations).toContain(`Basic ${Buffer.from(`ci-bot:${password}`).toString('base64')}`);
      expect(run.stdout + run.stderr).not.toContain(password);
      const shim = readFileSync(shimLog, 'utf8');
      expect(shim).toContain('ARGS ');
      expect(shim).toContain(`ARGS remote add origin ${server.url}/origin.git`);
      expect(shim).not.toContain(password);
      // The netrc's private HOME is gone once the clone is done.
      expect(readdirSync(agentTmp).filter((name) => name.startsWith('slipway-git-'))).toEqual([]);

      // Without credentials the same clone fails as a clone failure, exit 5.
      const denied = await startAgent({
        plan: plan({ clone: { disable: false, tags: false, skipVerify: false, submodules: false, retries: 0 } }),
        ctx,
        stateDir: join(root, 'state-http-2'),
        workspace: join(root, 'ws-http-2'),
      }).done;
      expect(denied.code).toBe(AGENT_EXIT.cloneFailed);
      expect(denied.result).toMatchObject({ outcome: 'clone-failed', exitCode: 5 });
      expect(denied.result?.message).toContain(`fetch of ${server.url}/origin.git failed`);
      // git's own exit code of that fetch, for the clone step's record (Drone shows git's).
      expect(denied.result?.cloneExitCode).toBe(128);
    } finally {
      await server.close();
    }
  });
});
