// Namespace mode gives each container a root of its own: the host's programs read-only and
// nothing else of the host (no /tmp, /root, /home, checkout or /etc/shadow of the host), its
// own PID namespace (PID 1 as in a Docker container; no host process to reach through
// /proc/<pid>/root), Docker's default capabilities. Health checks run inside it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StopTaskCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { startLocalEcs, type LocalEcs } from '../../local/ecs/index.js';
import { namespaceSupport } from '../../local/ecs/netns.js';
import { AGENT_CODE_DIR, PROJECT_ROOT } from '../../local/images.js';
import { DEFAULT_AGENT_IMAGE } from '../../core/pipeline/contract.js';
import { skipWithout } from '../support/required-tool.js';
import { ecsClient, runOne, sh, waitFor } from './helpers.js';

const noNamespaces = skipWithout('network and mount namespaces', await namespaceSupport());
let ecs: LocalEcs;
let client: ECSClient;
let hostDir: string;
let secretHome: string;
let sharedDir: string;

beforeAll(async () => {
  hostDir = mkdtempSync(join(tmpdir(), 'slipway-host-'));
  writeFileSync(join(hostDir, 'secret.txt'), 'host-secret');
  secretHome = mkdtempSync(join(tmpdir(), 'slipway-home-'));
  writeFileSync(join(secretHome, 'secrets.json'), '{"/slipway/other/repo/TOKEN":"s3cret"}');
  sharedDir = mkdtempSync(join(tmpdir(), 'slipway-shared-'));
  writeFileSync(join(sharedDir, 'gate'), 'open');
  ecs = await startLocalEcs({ hiddenPaths: [secretHome], sharedPaths: [sharedDir] });
  client = ecsClient(ecs.endpoint);
});

afterAll(async () => {
  client?.destroy();
  await ecs?.stop();
  rmSync(hostDir, { recursive: true, force: true });
  rmSync(secretHome, { recursive: true, force: true });
  rmSync(sharedDir, { recursive: true, force: true });
});

/** Runs one essential shell container to its end; its log lines. */
async function run(script: string): Promise<string[]> {
  const arn = await runOne(client, [sh('main', script, { essential: true })]);
  await ecs.waitForStopped(arn, 150_000);
  return ecs.logs(arn, 'main').map((l) => l.message);
}

describe.skipIf(noNamespaces)('a container sees nothing of the host outside its task (namespace mode)', () => {
  it('cannot read or write a host directory outside its task: a temp dir under /tmp, the project checkout', async () => {
    const project = PROJECT_ROOT.replace(/\/$/, '');
    const lines = await run(
      [
        `cat ${hostDir}/secret.txt 2>/dev/null || echo no-read`,
        `if { echo x > ${hostDir}/planted; } 2>/dev/null; then echo wrote; else echo no-write; fi`,
        `if cat ${project}/package.json >/dev/null 2>&1; then echo read-project; else echo no-project; fi`,
        `if touch ${project}/planted 2>/dev/null; then echo wrote-project; else echo no-write-project; fi`,
        // Its own /tmp is private and writable.
        'echo mine > /tmp/own && cat /tmp/own',
      ].join('; '),
    );
    expect(lines).toEqual(['no-read', 'no-write', 'no-project', 'no-write-project', 'mine']);
    expect(existsSync(join(hostDir, 'planted'))).toBe(false);
    expect(existsSync(join(project, 'planted'))).toBe(false);
  });

  it('sees a shared host directory (the sharedPaths option) read-only at its own path', async () => {
    const lines = await run(`cat ${sharedDir}/gate; echo; if touch ${sharedDir}/planted 2>/dev/null; then echo wrote; else echo read-only; fi`);
    expect(lines).toEqual(['open', 'read-only']);
    expect(existsSync(join(sharedDir, 'planted'))).toBe(false);
  });

  it('cannot list /root or /home, nor read /etc/shadow', async () => {
    // What there is to hide on this host (else the test would prove nothing).
    expect(readdirSync('/root').length).toBeGreaterThan(0);
    expect(existsSync('/etc/shadow')).toBe(true);
    const lines = await run('echo root:; ls -A /root; echo home:; ls -A /home; if cat /etc/shadow >/dev/null 2>&1; then echo read-shadow; else echo no-shadow; fi');
    expect(lines).toEqual(['root:', 'home:', 'no-shadow']);
  });

  it("cannot reach a host process's root through /proc/<pid>/root: its PID namespace shows only its own processes", async () => {
    const lines = await run(
      [
        `cat /proc/${process.pid}/root${secretHome}/secrets.json 2>/dev/null || echo unreachable`,
        `if [ -e /proc/${process.pid} ]; then echo host-pid-visible; else echo host-pid-absent; fi`,
        'echo "pid $$"',
      ].join('; '),
    );
    expect(lines).toEqual(['unreachable', 'host-pid-absent', 'pid 1']);
  });

  it("cannot write the host's programs, /proc/sys or /proc/sysrq-trigger, and root holds only Docker's default capabilities (no SYS_ADMIN to remount)", async () => {
    const planted = `/usr/local/slipway-planted-${process.pid}`;
    try {
      const lines = await run(
        [
          `if touch ${planted} 2>/dev/null; then echo wrote-usr; else echo usr-read-only; fi`,
          'if [ -w /proc/sys/kernel/core_pattern ]; then echo proc-sys-writable; else echo proc-sys-read-only; fi',
          'if [ ! -e /proc/sysrq-trigger ] || [ ! -w /proc/sysrq-trigger ]; then echo sysrq-read-only; else echo sysrq-writable; fi',
          "grep '^CapEff' /proc/self/status",
        ].join('; '),
      );
      expect(lines.slice(0, 3)).toEqual(['usr-read-only', 'proc-sys-read-only', 'sysrq-read-only']);
      const effective = BigInt(`0x${lines[3]?.split(/\s+/)[1]}`);
      const has = (bit: number) => (effective >> BigInt(bit)) & 1n;
      // capabilities(7): CAP_CHOWN 0, CAP_SETUID 7, CAP_MKNOD 27, CAP_SYS_ADMIN 21, CAP_SYS_MODULE 16, CAP_DAC_READ_SEARCH 2.
      expect([has(0), has(7)]).toEqual([1n, 1n]);
      expect([has(21), has(16), has(2), has(27)]).toEqual([0n, 0n, 0n, 0n]);
      expect(existsSync(planted)).toBe(false);
    } finally {
      rmSync(planted, { force: true });
    }
  });

  // pid_namespaces(7): the init of a PID namespace gets only the signals it has a handler
  // for (SIGKILL excepted), so `docker stop` of a program that ignores SIGTERM waits for
  // the stop timeout and kills it (exit 137), as ECS does after stopTimeout.
  it('runs the program as PID 1: without a SIGTERM handler it is killed after stopTimeout (137), as in a Docker container', async () => {
    const arn = await runOne(client, [sh('main', 'echo up; sleep 3600', { essential: true, stopTimeout: 2 })]);
    await waitFor('the program running', () => ecs.logs(arn, 'main').some((l) => l.message === 'up'));
    await client.send(new StopTaskCommand({ task: arn }));
    const final = await ecs.waitForStopped(arn, 150_000);
    expect((final.containers as { exitCode?: number }[])[0]?.exitCode).toBe(137);
  });

  it("runs the agent image from the project's code mounted read-only at /opt/slipway; other images do not see it", async () => {
    const agent = await runOne(client, [{ name: 'agent', image: DEFAULT_AGENT_IMAGE, essential: true }]);
    const step = await run(`if [ -e ${AGENT_CODE_DIR} ]; then echo agent-code-visible; else echo no-agent-code; fi`);
    await ecs.waitForStopped(agent, 150_000);
    // Started without its plan, the agent says so: it ran, from the mounted code.
    expect(ecs.logs(agent, 'agent').map((l) => l.message).join('\n')).toContain('SLIPWAY_PLAN is not set');
    expect(step).toEqual(['no-agent-code']);
  });

  it('runs the catalogue postgres and redis in roots of their own: a step reaches postgres through its Unix socket (/var/run/postgresql, per task) and redis on localhost', async () => {
    const arn = await runOne(client, [
      { name: 'db', image: 'postgres:15', essential: false, stopTimeout: 5, environment: [{ name: 'POSTGRES_PASSWORD', value: 'pw' }], healthCheck: { command: ['CMD-SHELL', 'pg_isready'], interval: 5, timeout: 5, retries: 10 } },
      { name: 'cache', image: 'redis:7', essential: false, stopTimeout: 5, healthCheck: { command: ['CMD', 'redis-cli', 'ping'], interval: 5, timeout: 5, retries: 10 } },
      sh('step', 'psql -U postgres -tAc "select 42"; redis-cli ping', {
        essential: true,
        dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }, { containerName: 'cache', condition: 'HEALTHY' }],
      }),
    ]);
    const final = await ecs.waitForStopped(arn, 150_000);
    expect(ecs.logs(arn, 'step').map((l) => l.message)).toEqual(['42', 'PONG']);
    // Both shut down cleanly on the stop's SIGTERM, as PID 1 with their own handlers.
    expect((final.containers as { name: string; exitCode?: number }[]).map((c) => [c.name, c.exitCode])).toEqual([['db', 0], ['cache', 0], ['step', 0]]);
  });

  it("runs health checks inside the container: they see its own private /tmp", async () => {
    const arn = await runOne(client, [
      sh('svc', 'echo ok > /tmp/ready; sleep 3600', { stopTimeout: 2, healthCheck: { command: ['CMD-SHELL', 'test -f /tmp/ready'], interval: 5, timeout: 5, retries: 3 } }),
      sh('main', 'test -f /tmp/ready && echo shared || echo own-tmp', { essential: true, dependsOn: [{ containerName: 'svc', condition: 'HEALTHY' }] }),
    ]);
    const final = await ecs.waitForStopped(arn, 150_000);
    expect(ecs.logs(arn, 'main').map((l) => l.message)).toEqual(['own-tmp']);
    expect((final.containers as { name: string; exitCode?: number }[]).find((c) => c.name === 'main')?.exitCode).toBe(0);
  });
});
