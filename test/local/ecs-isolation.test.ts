// Namespaces: two tasks each with postgres on localhost:5432 at once, volumes at their
// containerPath, a private /etc/hosts; the shared-network fallback; nothing left behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { StopTaskCommand, type ContainerDefinition, type ECSClient } from '@aws-sdk/client-ecs';
import { startLocalEcs, type LocalEcs } from '../../local/ecs/index.js';
import { listTaskNetworks, namespaceSupport } from '../../local/ecs/netns.js';
import { ecsClient, runOne, sh, waitFor } from './helpers.js';

const noNamespaces = await namespaceSupport();
let ecs: LocalEcs;
let client: ECSClient;

beforeAll(async () => {
  ecs = await startLocalEcs();
  client = ecsClient(ecs.endpoint);
});

afterAll(async () => {
  client?.destroy();
  await ecs?.stop();
});

const postgresTask = (db: string): ContainerDefinition[] => [
  {
    name: 'db',
    image: 'postgres:15',
    essential: false,
    stopTimeout: 5,
    startTimeout: 60,
    environment: [{ name: 'POSTGRES_PASSWORD', value: 'secret' }, { name: 'POSTGRES_DB', value: db }],
    healthCheck: { command: ['CMD-SHELL', 'pg_isready -h 127.0.0.1 -p 5432'], interval: 5, timeout: 2, retries: 5 },
  },
  sh('step', 'psql -h localhost -p 5432 -U postgres -d "$DB" -tAc "select current_database()" && echo "127.0.0.1 db" >> /etc/hosts && psql -h db -U postgres -d "$DB" -tAc "select 1" && sleep 30', {
    essential: true,
    stopTimeout: 2,
    environment: [{ name: 'DB', value: db }],
    dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }],
  }),
];

describe.skipIf(noNamespaces)('with network and mount namespaces', () => {
  it('runs two tasks that each have postgres on localhost:5432 at the same time', async () => {
    const hostsBefore = readFileSync('/etc/hosts', 'utf8');
    const [a, b] = await Promise.all([runOne(client, postgresTask('alpha')), runOne(client, postgresTask('beta'))]);
    const answered = (arn: string) => ecs.logs(arn, 'step').map((l) => l.message);
    await waitFor('both steps answered', () => answered(a).length === 2 && answered(b).length === 2, 40_000);
    expect(answered(a)).toEqual(['alpha', '1']);
    expect(answered(b)).toEqual(['beta', '1']);
    // Both servers are up at this very moment, each on its task's localhost:5432.
    for (const task of ecs.tasks().filter((t) => t.taskArn === a || t.taskArn === b)) {
      expect(task.containers).toMatchObject([{ name: 'db', lastStatus: 'RUNNING', healthStatus: 'HEALTHY' }, { name: 'step', lastStatus: 'RUNNING' }]);
    }
    await Promise.all([a, b].map((task) => client.send(new StopTaskCommand({ task }))));
    const stopped = await Promise.all([ecs.waitForStopped(a, 20_000), ecs.waitForStopped(b, 20_000)]);
    // postgres shuts down cleanly on SIGTERM (exit 0), like in its image.
    for (const task of stopped) expect((task.containers as { exitCode?: number }[])[0]?.exitCode).toBe(0);
    expect(readFileSync('/etc/hosts', 'utf8')).toBe(hostsBefore);
  }, 60_000);

  it('mounts each task volume at its containerPath, private to the task', async () => {
    const mount = [{ sourceVolume: 'workspace', containerPath: '/drone/src' }];
    const a = await runOne(client, [sh('main', 'echo a > /drone/src/who; sleep 0.3; cat /drone/src/who; grep -c host.slipway.internal /etc/hosts', { essential: true, mountPoints: mount })], { volumes: [{ name: 'workspace' }] });
    const b = await runOne(client, [sh('main', 'echo b > /drone/src/who; sleep 0.3; cat /drone/src/who', { essential: true, mountPoints: mount })], { volumes: [{ name: 'workspace' }] });
    await Promise.all([ecs.waitForStopped(a, 10_000), ecs.waitForStopped(b, 10_000)]);
    expect(ecs.logs(a, 'main').map((l) => l.message)).toEqual(['a', '1']);
    expect(ecs.logs(b, 'main').map((l) => l.message)).toEqual(['b']);
    expect(execFileSync('ls', ['-A', '/drone/src']).toString()).toBe('');
  });
});

describe('sharing the host network (no namespaces)', () => {
  it('reports a port clash clearly and rewrites volume paths through SLIPWAY_VOLUMES', async () => {
    const shared = await startLocalEcs({ namespaces: false });
    const sharedClient = ecsClient(shared.endpoint);
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const port = (blocker.address() as { port: number }).port;
    try {
      expect(shared.isolation).toBe('host');
      const arn = await runOne(
        sharedClient,
        [
          sh('svc', 'sleep 5', { portMappings: [{ containerPort: port }] }),
          sh('main', 'pwd; echo "$SLIPWAY_VOLUMES"', { essential: true, workingDirectory: '/drone/src', mountPoints: [{ sourceVolume: 'ws', containerPath: '/drone/src' }] }),
        ],
        { volumes: [{ name: 'ws' }] },
      );
      const final = await shared.waitForStopped(arn, 10_000);
      const svc = (final.containers as { name: string; reason?: string }[]).find((c) => c.name === 'svc');
      expect(svc?.reason).toMatch(new RegExp(`port ${port} is already in use on this host`));
      const [pwd, volumes] = shared.logs(arn, 'main').map((l) => l.message);
      const map = JSON.parse(volumes!) as Record<string, string>;
      expect(pwd).toBe(map['/drone/src']);
      expect(pwd).toMatch(/volumes\/ws$/);
    } finally {
      blocker.close();
      sharedClient.destroy();
      await shared.stop();
    }
  });
});

describe.skipIf(noNamespaces)('cleanup', () => {
  it('leaves no namespace, veth, process or temp dir behind once the stand-in stops', async () => {
    const leftover = await startLocalEcs();
    let stopped = false;
    try {
      const client = ecsClient(leftover.endpoint);
      const arn = await runOne(client, [
        { name: 'cache', image: 'redis:7', essential: false },
        sh('main', 'sleep 60 & sleep 60', { essential: true }),
      ]);
      client.destroy();
      const sandbox = await waitFor('both containers running', () => {
        const task = leftover.tasks().find((t) => t.taskArn === arn)!;
        const running = (task.containers as { lastStatus: string }[]).every((c) => c.lastStatus === 'RUNNING');
        return running ? leftover.sandboxOf(arn) : undefined;
      });
      const network = sandbox.network!;
      // RUNNING means spawned: the shell may not have forked its sleeps yet.
      const pids = await waitFor('redis-server, the shell and its two sleeps', () => {
        const found = execFileSync('ip', ['netns', 'pids', network]).toString().trim().split('\n').filter(Boolean).map(Number);
        return found.length >= 4 ? found : undefined;
      }, 5_000);
      expect(await listTaskNetworks()).toContain(network);
      stopped = true;
      await leftover.stop();
      expect(await listTaskNetworks()).not.toContain(network);
      expect(execFileSync('ip', ['-o', 'link']).toString()).not.toContain(`${sandbox.hostInterface}:`);
      expect(pids.filter(isRunning)).toEqual([]);
      expect(existsSync(leftover.logsDir)).toBe(false);
    } finally {
      if (!stopped) await leftover.stop();
    }
  });
});

/** A process that exists and is not a zombie (orphans wait for PID 1 to reap them). */
function isRunning(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];
  return state !== 'Z' && state !== 'X';
}
