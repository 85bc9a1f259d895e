// Local webhooks end to end, following the README's "Local webhooks" steps (issue 17): the
// local Git host (slipway git-host: bare repositories, a GitHub-shaped API, a post-receive
// hook that sends GitHub's signed push webhook), `slipway up` started with its SCM
// credentials, `slipway git-host create`, then `git push` → webhook → planner → build →
// commit statuses. And the failure: with the Git host's API down, the push's webhook
// is still 202, and the build ends in `error` saying which address did not answer.

import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CliIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import type { Build } from '../../core/builds/types.js';
import { startLocalGitHost, type LocalGitHost } from '../../local/git-host.js';
import { startLocalSlipway, type LocalSlipway } from '../../local/up.js';
import { HANG_GUARD_MS, waitFor } from '../support/wait.js';

const PIPELINE = 'kind: pipeline\ntype: docker\nname: test\nsteps:\n  - name: greet\n    image: alpine:3.20\n    commands:\n      - echo "pushed $DRONE_COMMIT_SHA to $DRONE_BRANCH"\n';

let root: string;
let home: string;
let work: string;
let gitHost: LocalGitHost;
let local: LocalSlipway;

/** A free loopback port: the server's webhook URL names its port, so it cannot be 0. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const git = (...args: string[]): string =>
  execFileSync('git', args, { cwd: work, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: work, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'Dev', GIT_AUTHOR_EMAIL: 'dev@example.com', GIT_COMMITTER_NAME: 'Dev', GIT_COMMITTER_EMAIL: 'dev@example.com' } });

/**
 * `git push`, with what the post-receive hook printed (git shows it as `remote: …` on stderr).
 * Asynchronous: the server that answers the hook's webhook runs in this process.
 */
const push = (): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile('git', ['push', '-q', 'bare', 'HEAD:main'], { cwd: work, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: work, GIT_CONFIG_NOSYSTEM: '1' } }, (err, stdout, stderr) =>
      err ? reject(new Error(`git push failed: ${stderr}`)) : resolve(`${stdout}${stderr}`),
    ),
  );

async function buildOf(sha: string): Promise<Build> {
  return waitFor(
    `a finished build of ${sha.slice(0, 8)}`,
    async () => {
      const { items } = await local.store.listBuilds('acme/app');
      const id = items.find((b) => b.commit === sha)?.id;
      const build = id ? await local.store.getBuild(id) : null;
      return build && ['success', 'failure', 'error', 'killed'].includes(build.status) ? build : undefined;
    },
    { timeoutMs: HANG_GUARD_MS },
  );
}

beforeAll(async () => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
  root = mkdtempSync(join(tmpdir(), 'slipway-git-root-'));
  home = mkdtempSync(join(tmpdir(), 'slipway-home-'));
  work = mkdtempSync(join(tmpdir(), 'slipway-work-'));
  // 1. slipway git-host serve
  gitHost = await startLocalGitHost({ root });
  // 2. SCM_CREDENTIALS='{"github":{"apiUrl":…,"webUrl":…,"token":"local"}}' slipway up
  const scm = JSON.stringify({ github: { apiUrl: gitHost.apiUrl, webUrl: gitHost.webUrl, token: 'local' } });
  local = await startLocalSlipway({ port: await freePort(), scheduleMs: 500, env: { SLIPWAY_HOME: home, SCM_CREDENTIALS: scm } });
}, HANG_GUARD_MS);

afterAll(async () => {
  await local?.stop();
  await gitHost?.stop();
  for (const dir of [root, home, work]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('local webhooks: git push → webhook → build → commit status', () => {
  it('follows the documented steps to a successful build and its statuses', async () => {
    // 3. slipway git-host create acme/app
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIO = { out: (t) => out.push(t), err: (t) => err.push(t), cwd: work, env: { PATH: process.env.PATH, SLIPWAY_HOME: home, SLIPWAY_SERVER: local.url } };
    expect(await main(['git-host', 'create', 'acme/app', '--root', root], io), err.join('\n')).toBe(0);
    expect(out.join('\n')).toContain(`its pushes send the webhook to ${local.url}/hooks/github`);

    // 4. commit a .drone.yml and push it
    git('init', '-q', '-b', 'main');
    writeFileSync(join(work, '.drone.yml'), PIPELINE);
    git('add', '-A');
    git('commit', '-q', '-m', 'Add CI');
    git('remote', 'add', 'bare', join(root, 'acme', 'app.git'));
    const pushed = await push();
    expect(pushed).toMatch(/slipway webhook refs\/heads\/main: 202 /);
    const sha = git('rev-parse', 'HEAD').trim();

    const build = await buildOf(sha);
    expect(build).toMatchObject({ status: 'success', branch: 'main', message: 'Add CI', event: 'push' });
    const detail = (await local.store.getBuildDetail(build.id))!;
    const greet = detail.stages[0]!.steps.find((s) => s.name === 'greet')!;
    expect(local.aws.ecs.logs(detail.stages[0]!.taskArn!, greet.container).map((l) => l.message)).toContain(`pushed ${sha} to main`);
    // The final status reaches the Git host through the events queue, after the build ends.
    await waitFor('the success status on the Git host', async () => gitHost.statuses.some((s) => s.sha === sha && s.state === 'success') || undefined, { timeoutMs: HANG_GUARD_MS });
    expect(gitHost.statuses.filter((s) => s.sha === sha).map((s) => s.state)).toEqual(['pending', 'success']);
  }, HANG_GUARD_MS);

  it('with the Git host API down, the 202 is followed by an error build that names the address (not a line in a log file)', async () => {
    await gitHost.stop();
    writeFileSync(join(work, 'README'), 'more\n');
    git('add', '-A');
    git('commit', '-q', '-m', 'Docs');
    expect(await push()).toMatch(/slipway webhook refs\/heads\/main: 202 /);
    const sha = git('rev-parse', 'HEAD').trim();
    // The first delivery fails and is retried one visibility timeout later (30 s locally); that one makes the build.
    const build = await buildOf(sha);
    expect(build.status).toBe('error');
    expect(build.error).toContain(`the github API did not answer: scm: no answer from ${gitHost.apiUrl}/repos/acme/app/contents/.drone.yml`);
    expect(build.error).toContain('ECONNREFUSED');
  }, HANG_GUARD_MS);
});
