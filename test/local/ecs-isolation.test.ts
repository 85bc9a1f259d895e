// Namespaces: two tasks each with postgres on localhost:5432 at once, volumes at their
// containerPath, a private /etc/hosts; the shared-network fallback; nothing left behind.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_STATE_DIR, AGENT_STATE_VOLUME, ENV_FILE, STATE_DIR, STATE_VOLUME, STEP_RECORD_DIR, stepExitFile, stepRecordVolume } from '../../core/pipeline/contract.js';
import { baseMounts } from '../../core/pipeline/mounts.js';
import type { Pipeline } from '../../core/pipeline/types.js';
import { execFileSync } from 'node:child_process';
import { StopTaskCommand, type ContainerDefinition } from '@aws-sdk/client-ecs';
import { startLocalEcs } from '../../local/ecs/index.js';
import { skipWithout } from '../support/required-tool.js';
import { listTaskNetworks, namespaceSupport } from '../../local/ecs/netns.js';
import { ecsClient, ecsForFile, runOne, sh, waitFor } from './helpers.js';

const noNamespaces = skipWithout('network and mount namespaces', await namespaceSupport());
const standIn = ecsForFile();

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
  sh('step', 'psql -h localhost -p 5432 -U postgres -d "$DB" -tAc "select current_database()" && echo "127.0.0.1 db" >> /etc/hosts && psql -h db -U postgres -d "$DB" -tAc "select 1" && sleep 3600', {
    essential: true,
    stopTimeout: 2,
    environment: [{ name: 'DB', value: db }],
    dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }],
  }),
];

describe.skipIf(noNamespaces)('with network and mount namespaces', () => {
  it('runs two tasks that each have postgres on localhost:5432 at the same time', async () => {
    const hostsBefore = readFileSync('/etc/hosts', 'utf8');
    const [a, b] = await Promise.all([runOne(standIn.client, postgresTask('alpha')), runOne(standIn.client, postgresTask('beta'))]);
    const answered = (arn: string) => standIn.ecs.logs(arn, 'step').map((l) => l.message);
    await waitFor('both steps answered', () => answered(a).length === 2 && answered(b).length === 2, 150_000);
    expect(answered(a)).toEqual(['alpha', '1']);
    expect(answered(b)).toEqual(['beta', '1']);
    // Both servers are up at this very moment, each on its task's localhost:5432.
    for (const task of standIn.ecs.tasks().filter((t) => t.taskArn === a || t.taskArn === b)) {
      expect(task.containers).toMatchObject([{ name: 'db', lastStatus: 'RUNNING', healthStatus: 'HEALTHY' }, { name: 'step', lastStatus: 'RUNNING' }]);
    }
    await Promise.all([a, b].map((task) => standIn.client.send(new StopTaskCommand({ task }))));
    const stopped = await Promise.all([standIn.ecs.waitForStopped(a, 150_000), standIn.ecs.waitForStopped(b, 150_000)]);
    // postgres shuts down cleanly on SIGTERM (exit 0), like in its image.
    for (const task of stopped) expect((task.containers as { exitCode?: number }[])[0]?.exitCode).toBe(0);
    expect(readFileSync('/etc/hosts', 'utf8')).toBe(hostsBefore);
  });

  it('mounts each task volume at its containerPath, private to the task', async () => {
    const mount = [{ sourceVolume: 'workspace', containerPath: '/drone/src' }];
    const a = await runOne(standIn.client, [sh('main', 'echo a > /drone/src/who; sleep 0.3; cat /drone/src/who; grep -c host.slipway.internal /etc/hosts', { essential: true, mountPoints: mount })], { volumes: [{ name: 'workspace' }] });
    const b = await runOne(standIn.client, [sh('main', 'echo b > /drone/src/who; sleep 0.3; cat /drone/src/who', { essential: true, mountPoints: mount })], { volumes: [{ name: 'workspace' }] });
    await Promise.all([standIn.ecs.waitForStopped(a, 150_000), standIn.ecs.waitForStopped(b, 150_000)]);
    expect(standIn.ecs.logs(a, 'main').map((l) => l.message)).toEqual(['a', '1']);
    expect(standIn.ecs.logs(b, 'main').map((l) => l.message)).toEqual(['b']);
    // Nothing of either task reached the host's own path (which need not exist at all).
    expect(existsSync('/drone/src/who')).toBe(false);
  });
});

describe.skipIf(noNamespaces)('what a step may write and see (namespace mode)', () => {
  // The compiler's layout (contract.ts): the agent's state read-write in the agent only,
  // nested read-only in the state volume that holds the steps' exit records.
  const volumes = [{ name: STATE_VOLUME }, { name: AGENT_STATE_VOLUME }];
  const mounts = (agent: boolean) => [
    { sourceVolume: STATE_VOLUME, containerPath: STATE_DIR, readOnly: false },
    { sourceVolume: AGENT_STATE_VOLUME, containerPath: AGENT_STATE_DIR, readOnly: !agent },
  ];

  it('a step cannot overwrite the env file the agent wrote (readOnly mount), and writes its own exit record', async () => {
    const task = await runOne(
      standIn.client,
      [
        // The agent ends the task once the step has said all it says (not after a time a loaded machine may outrun).
        sh('agent', `echo "export SAFE=1" > ${ENV_FILE} && while [ ! -e ${STATE_DIR}/step-done ]; do sleep 0.1; done`, { essential: true, mountPoints: mounts(true) }),
        // START only says the agent's process exists: wait for its file (a loaded machine may run the step first).
        sh('step', `while [ ! -s ${ENV_FILE} ]; do sleep 0.1; done; if echo "export EVIL=1" > ${ENV_FILE}; then echo overwritten; else echo refused; fi; cat ${ENV_FILE}; mkdir -p ${STEP_RECORD_DIR} && echo 0 > ${STEP_RECORD_DIR}/step.exit && cat ${STEP_RECORD_DIR}/step.exit; touch ${STATE_DIR}/step-done`, {
          essential: false,
          mountPoints: mounts(false),
          dependsOn: [{ containerName: 'agent', condition: 'START' }],
        }),
      ],
      { volumes },
    );
    await standIn.ecs.waitForStopped(task, 150_000);
    const lines = standIn.ecs.logs(task, 'step').map((l) => l.message);
    expect(lines).toContain('refused');
    expect(lines).toContain('export SAFE=1');
    expect(lines).not.toContain('overwritten');
    expect(lines[lines.length - 1]).toBe('0');
  });

  it("a step can neither overwrite nor remove another step's exit record: each has its own volume, read-only in the others (the compiler's mounts)", async () => {
    const pipeline = { workspace: { base: '/drone', path: 'src' } } as Pipeline;
    const records = ['build', 'evil'];
    const recordVolumes = records.map((c) => ({ name: stepRecordVolume(c) }));
    const build = stepExitFile(STEP_RECORD_DIR, 'build');
    const task = await runOne(
      standIn.client,
      [
        // The agent reads the records once the steps are over.
        sh('agent', `while [ ! -s ${stepExitFile(STEP_RECORD_DIR, 'evil')} ]; do sleep 0.1; done; cat ${build}`, { essential: true, mountPoints: baseMounts(pipeline, { agent: true, records }) }),
        sh('build', `echo 1 > ${build}`, { essential: false, mountPoints: baseMounts(pipeline, { own: 'build', records }) }),
        sh(
          'evil',
          [
            `if echo 0 > ${build}; then echo overwritten; else echo refused; fi`,
            `if rm -f ${build} && [ ! -e ${build} ]; then echo removed; else echo kept; fi`,
            `if mkdir -p ${STEP_RECORD_DIR}/build/x 2>/dev/null; then echo planted; else echo no-plant; fi`,
            `echo 0 > ${stepExitFile(STEP_RECORD_DIR, 'evil')}`,
          ].join('; '),
          { essential: false, mountPoints: baseMounts(pipeline, { own: 'evil', records }), dependsOn: [{ containerName: 'build', condition: 'COMPLETE' }] },
        ),
      ],
      { volumes: [{ name: 'workspace' }, { name: STATE_VOLUME }, { name: AGENT_STATE_VOLUME }, ...recordVolumes] },
    );
    await standIn.ecs.waitForStopped(task, 150_000);
    expect(standIn.ecs.logs(task, 'evil').map((l) => l.message).filter((m) => !m.includes('Read-only'))).toEqual(['refused', 'kept', 'no-plant']);
    // The agent still reads the failing step's own code.
    expect(standIn.ecs.logs(task, 'agent').map((l) => l.message)).toEqual(['1']);
  });

  it('a container sees neither the secret store nor another task\'s files, and keeps its own', async () => {
    const home = mkdtempSync(join(tmpdir(), 'slipway-home-'));
    writeFileSync(join(home, 'secrets.json'), '{"/slipway/other/repo/TOKEN":"s3cret"}');
    const local = await startLocalEcs({ hiddenPaths: [home] });
    const localClient = ecsClient(local.endpoint);
    try {
      const mount = [{ sourceVolume: 'workspace', containerPath: '/drone/src' }];
      const other = await runOne(localClient, [sh('main', 'echo theirs > /drone/src/file; sleep 20', { essential: true, mountPoints: mount })], { volumes: [{ name: 'workspace' }] });
      await waitFor('the other task runs', () => (local.tasks().find((t) => t.taskArn === other)?.lastStatus === 'RUNNING' ? true : undefined));
      const script = [
        `cat ${home}/secrets.json 2>/dev/null || echo "no secrets"`,
        `if grep -rqs theirs "${local.logsDir}/.." 2>/dev/null; then echo "found theirs"; else echo "nothing of theirs"; fi`,
        'echo mine > /drone/src/file && cat /drone/src/file',
      ].join('; ');
      const mine = await runOne(localClient, [sh('main', script, { essential: true, mountPoints: mount })], { volumes: [{ name: 'workspace' }] });
      await local.waitForStopped(mine, 150_000);
      expect(local.logs(mine, 'main').map((l) => l.message)).toEqual(['no secrets', 'nothing of theirs', 'mine']);
      // The host still has them: they were hidden, not removed.
      expect(readFileSync(join(home, 'secrets.json'), 'utf8')).toContain('s3cret');
      await localClient.send(new StopTaskCommand({ task: other }));
    } finally {
      localClient.destroy();
      await local.stop();
      rmSync(home, { recursive: true, force: true });
    }
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
      const final = await shared.waitForStopped(arn, 150_000);
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
        // Runs until the stand-in stops (what the test checks), however long the wait before it.
        sh('main', 'sleep 3600 & sleep 3600', { essential: true }),
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
      });
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
