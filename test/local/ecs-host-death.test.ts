// A stand-in killed outright (SIGKILL) leaves nothing running: its containers' programs die
// with it (parent-death signal), what they started is killed by its reaper, and the next
// stand-in's start removes the namespaces left behind — but never a live stand-in's.
import { describe, expect, it } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startLocalEcs, type LocalEcs } from '../../local/ecs/index.js';
import { skipWithout } from '../support/required-tool.js';
import { listTaskNetworks, namespaceSupport, OWNER_DIR } from '../../local/ecs/netns.js';
import { ecsClient, runOne, sh, waitFor } from './helpers.js';

const noNamespaces = skipWithout('network and mount namespaces', await namespaceSupport());
const fixture = fileURLToPath(new URL('./fixtures/ecs-host.ts', import.meta.url));

interface Started {
  child: ChildProcess;
  arn: string;
  sandbox: { isolation: string; network?: string; hostInterface?: string };
}

/** Starts the stand-in fixture in a process of its own and waits for its running task. */
async function startHost(mode: 'namespace' | 'host'): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  const line = await waitFor('the stand-in process to report its task', () => {
    if (exited !== null) throw new Error(`the stand-in process exited (${exited}) before its task ran`);
    return output.includes('\n') ? output.split('\n')[0] : undefined;
  });
  return { child, ...(JSON.parse(line!) as Omit<Started, 'child'>) };
}

function killHost(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  return gone;
}

/** Processes whose parent is `pid` (the container programs and, with namespaces, the reaper). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      const stat = readStat(Number(entry));
      return stat !== undefined && Number(stat.split(' ')[1]) === pid;
    })
    .map(Number);
}

/** The /proc stat fields after "(comm) ", or undefined once the process is gone. */
function readStat(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** A process that exists and is not a zombie (orphans wait for PID 1 to reap them). */
function isRunning(pid: number): boolean {
  const state = readStat(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

const netnsPids = (network: string): number[] =>
  execFileSync('ip', ['netns', 'pids', network]).toString().trim().split('\n').filter(Boolean).map(Number);

describe('a stand-in killed with SIGKILL', () => {
  it.skipIf(noNamespaces)('takes its tasks with it; the next start removes its namespace and keeps a live one', async () => {
    let live: LocalEcs | undefined;
    let next: LocalEcs | undefined;
    let host: Started | undefined;
    try {
      live = await startLocalEcs();
      const liveClient = ecsClient(live.endpoint);
      // Runs until stopped (live.stop() below): it must still run at the end, however long the test takes.
      const liveArn = await runOne(liveClient, [sh('main', 'sleep 3600', { essential: true, stopTimeout: 2 })]);
      liveClient.destroy();
      const liveNetwork = (await waitFor('the live task running', () => live!.sandboxOf(liveArn)?.network)) ?? '';

      host = await startHost('namespace');
      const network = host.sandbox.network!;
      // redis-server, the shell and its two sleeps
      const inTask = await waitFor('every process of the task', () => (netnsPids(network).length >= 4 ? netnsPids(network) : undefined));
      const direct = childrenOf(host.child.pid!);
      expect(direct.length).toBeGreaterThanOrEqual(3); // two container programs and the reaper

      await killHost(host.child);
      await waitFor('the task processes to die', () => [...inTask, ...direct].every((pid) => !isRunning(pid)));
      // The namespace outlives its owner until the next start.
      expect(await listTaskNetworks()).toContain(network);

      next = await startLocalEcs();
      expect(await listTaskNetworks()).not.toContain(network);
      expect(execFileSync('ip', ['-o', 'link']).toString()).not.toContain(`${host.sandbox.hostInterface}:`);
      expect(existsSync(`${OWNER_DIR}/${network}`)).toBe(false);
      // Another stand-in that is still running keeps its namespace and its task.
      expect(await listTaskNetworks()).toContain(liveNetwork);
      expect(live.tasks().find((t) => t.taskArn === liveArn)?.lastStatus).toBe('RUNNING');
    } finally {
      if (host) await killHost(host.child);
      await next?.stop();
      await live?.stop();
    }
  });

  it('kills the container programs when tasks share the host network too', async () => {
    const host = await startHost('host');
    try {
      const direct = await waitFor('both container programs', () => {
        const pids = childrenOf(host.child.pid!);
        return pids.length >= 2 ? pids : undefined;
      });
      await killHost(host.child);
      await waitFor('the container programs to die', () => direct.every((pid) => !isRunning(pid)));
    } finally {
      await killHost(host.child);
    }
  });
});
