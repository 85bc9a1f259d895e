// `slipway doctor --local` for real: the local stack of `slipway up` (DynamoDB Local, fauxqs,
// the ECS stand-in, the same handlers), a fake GitHub for the Git host, and the command as a
// user runs it. The checks without a local stand-in must say they were skipped, and why.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LambdaClient, InvokeCommand } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../../cli/client.js';
import { run } from '../../cli/commands/doctor.js';
import type { CliIO } from '../../cli/io.js';
import { HELLO_REPO } from '../../core/doctor/hello.js';
import type { CheckId, DoctorReport } from '../../core/doctor/types.js';
import { ENV } from '../../core/config/lambda-env.js';
import { setLogDestination } from '../../lambdas/shared/observability/logger.js';
import { startLocalSlipway, type LocalSlipway } from '../../local/up.js';
import { startFakeGitHost, type FakeGitHost } from '../support/fake-git-host.js';

const REPO = 'Codertocat/Hello-World';

/** A loopback port that was free a moment ago, now closed again. */
function freedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('slipway doctor --local against the local stack', () => {
  let local: LocalSlipway;
  let git: FakeGitHost;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let closedPort: number;
  const errors: string[] = [];

  beforeAll(async () => {
    // The handlers' JSON log lines would drown the test report.
    vi.spyOn(console, 'log').mockImplementation(() => {});
    setLogDestination(() => undefined);
    home = mkdtempSync(join(tmpdir(), 'slipway-doctor-'));
    git = await startFakeGitHost();
    git.setFile(REPO, 'main', '.drone.yml', 'kind: pipeline\nname: default\nsteps: []\n');
    git.requireToken('gh-token');
    // GitHub Enterprise's shape: an apiUrl of its own needs the webUrl its repositories clone from.
    // GitLab's API on a port nothing listens on (one just freed); Gitea not configured at all.
    closedPort = await freedPort();
    const credentials = JSON.stringify({ github: { token: 'gh-token', apiUrl: git.apiUrl, webUrl: git.apiUrl }, gitlab: { token: 'gl-token', apiUrl: `http://127.0.0.1:${closedPort}` } });
    local = await startLocalSlipway({
      port: 0,
      scheduleMs: 500,
      env: { ...process.env, SLIPWAY_HOME: home, [ENV.scmCredentials]: credentials },
      onError: (where, err) => errors.push(`${where}: ${(err as Error).message}`),
    });
    env = { ...process.env, SLIPWAY_SERVER: local.url, SLIPWAY_HOME: home, SLIPWAY_TOKEN: '' };
    // As `slipway repo add Codertocat/Hello-World --host github` does: its secret goes to SLIPWAY_HOME.
    await new ApiClient(env).activateRepo(REPO, 'github');
  }, 180_000);

  afterAll(async () => {
    await local?.stop();
    await git?.stop();
    setLogDestination(undefined);
    if (home) rmSync(home, { recursive: true, force: true });
  });

  async function doctor(...args: string[]): Promise<{ code: number; report: DoctorReport; err: string }> {
    let out = '';
    let err = '';
    const io: CliIO = { out: (t) => void (out += t), err: (t) => void (err += `${t}\n`), cwd: process.cwd(), env };
    const code = await run(['--local', '--json', ...args], io);
    return { code, report: JSON.parse(out) as DoctorReport, err };
  }
  const byId = (report: DoctorReport) => Object.fromEntries(report.checks.map((c) => [c.id, c])) as Record<CheckId, DoctorReport['checks'][number]>;

  it('pings the webhook, reaches the Git host through the planner, runs the hello build to success, and says what it skipped', async () => {
    const { code, report, err } = await doctor('--repo', REPO, '--timeout', '300');
    const checks = byId(report);
    expect({ code, statuses: report.checks.map((c) => [c.id, c.status]) }).toEqual({
      code: 0,
      statuses: [
        ['webhook-ping', 'ok'],
        ['git-host', 'ok'],
        ['run-task', 'skipped'],
        ['fargate-quota', 'skipped'],
        ['lambda-concurrency', 'skipped'],
        ['agent-images', 'skipped'],
        ['fork-pulls', 'skipped'],
        ['docker-hub-cache', 'skipped'],
        ['hello-build', 'ok'],
      ],
    });
    expect(report).toMatchObject({ ok: true, target: 'local' });
    expect(checks['webhook-ping'].detail).toBe(`${local.url}/hooks/github answered 200 to a ping for ${REPO} signed with its secret`);
    expect(checks['git-host'].detail).toBe(`github answered 200 for ${REPO} at ${git.apiUrl}: the planner's credentials can read it`);
    // The planner asked with its own token; the doctor never held it.
    expect(git.requests.filter((r) => r.path === `/repos/${REPO}`).map((r) => r.token)).toEqual(['gh-token']);
    expect(checks['run-task'].detail).toMatch(/no IAM/);
    expect(checks['fargate-quota'].detail).toMatch(/no Fargate vCPU quota applies/);
    expect(checks['lambda-concurrency'].detail).toMatch(/no Lambda concurrency applies/);
    expect(checks['agent-images'].detail).toMatch(/there is no agent image/);
    expect(checks['docker-hub-cache'].detail).toMatch(/local mode pulls no image/);
    expect(checks['hello-build'].detail).toMatch(new RegExp(`^${HELLO_REPO} #1 succeeded in \\d+ s, its log says hello$`));
    // --json keeps standard error for failures: no progress lines.
    expect(err).toBe('');
    // The doctor's build is a build like any other, in its own repository.
    const build = await local.store.getBuildDetail(`${HELLO_REPO}#1`);
    expect(build?.stages[0]?.steps.map((s) => [s.name, s.status])).toEqual([['hello', 'success']]);
    expect(errors).toEqual([]);
  }, 330_000);

  it('restarts a hello build like any other: its file is Slipway\'s, never a Git host\'s', async () => {
    const { build } = await new ApiClient(env).restart(HELLO_REPO, 1);
    const finished = await local.waitForBuild(build.id);
    expect({ status: finished.status, parent: finished.parent, steps: finished.stages[0]?.steps.map((s) => [s.name, s.status]) }).toEqual({ status: 'success', parent: 1, steps: [['hello', 'success']] });
  }, 330_000);

  it('fails the Git host check, saying what the host answered and what to fix, when the planner\'s token is refused', async () => {
    git.requireToken('another-token');
    try {
      const { code, report } = await doctor('--repo', REPO, '--no-build');
      const check = byId(report)['git-host'];
      expect(code).toBe(1);
      expect(report.ok).toBe(false);
      expect(check).toMatchObject({ status: 'fail', detail: `github answered 401 for ${REPO} at ${git.apiUrl}: Bad credentials` });
      expect(check.fix).toMatch(/token \(or GitHub App key\) was refused/);
      expect(byId(report)['hello-build']).toMatchObject({ status: 'skipped', detail: 'not asked for (--no-build)' });
    } finally {
      git.requireToken('gh-token');
    }
  });

  it('fails the ping for a repository that is not activated, naming the command that activates it', async () => {
    const { code, report } = await doctor('--repo', 'acme/unknown', '--no-build');
    expect(code).toBe(1);
    expect(byId(report)['webhook-ping']).toMatchObject({ status: 'fail', detail: 'acme/unknown has no stored webhook secret' });
    expect(byId(report)['git-host']).toMatchObject({ status: 'fail', detail: 'repository acme/unknown is not activated' });
  });

  it('tells a Git host the planner cannot reach from one it has no configuration for', async () => {
    const api = new ApiClient(env);
    await api.activateRepo('group/project', 'gitlab');
    await api.activateRepo('tools/site', 'gitea');
    const gitlab = byId((await doctor('--repo', 'group/project', '--no-build')).report);
    expect(gitlab['git-host']).toMatchObject({ status: 'fail', detail: `the planner could not reach http://127.0.0.1:${closedPort}/api/v4 for group/project: scm: no answer from http://127.0.0.1:${closedPort}/api/v4/projects/group%2Fproject (connection refused: ECONNREFUSED)` });
    // GitLab sends no ping event: said, not failed.
    expect(gitlab['webhook-ping']).toMatchObject({ status: 'skipped', detail: 'group/project is a gitlab repository: only GitHub sends a ping event' });
    const gitea = byId((await doctor('--repo', 'tools/site', '--no-build')).report);
    expect(gitea['git-host']).toMatchObject({ status: 'fail', detail: expect.stringContaining('gitea: scm: no API URL for gitea') });
    expect(gitea['git-host'].fix).toContain('SCM credentials secret');
  });

  it('answers Lambda Invoke for the planner only, and only to signed requests', async () => {
    const unsigned = await fetch(`${local.url}/2015-03-31/functions/planner/invocations`, { method: 'POST', body: '{"slipwayDoctor":"hello"}' });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
    const lambda = new LambdaClient({ endpoint: local.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    try {
      await expect(lambda.send(new InvokeCommand({ FunctionName: 'autoscaler', Payload: new TextEncoder().encode('{}') }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
      // An events-queue batch is not the doctor's: the function answers with its error, as Lambda does.
      const res = await lambda.send(new InvokeCommand({ FunctionName: 'planner', Payload: new TextEncoder().encode('{"Records":[]}') }));
      expect(res.FunctionError).toBe('Unhandled');
      expect(JSON.parse(new TextDecoder().decode(res.Payload))).toMatchObject({ errorMessage: expect.stringContaining('only slipway doctor invokes it directly') });
    } finally {
      lambda.destroy();
    }
  });
});
