// One Linux network namespace per local task: awsvpc's "all containers of a task share
// localhost", so two tasks can each listen on 127.0.0.1:5432. A veth pair on a link-local
// /30 (169.254.x.y, the range ECS itself uses for its metadata endpoint) lets the task
// reach the host (metadata endpoint, local Git server) and nothing beyond: no default
// route in the namespace, no forwarding on the host.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomInt } from 'node:crypto';
import { findBinary } from '../require-binary.js';

const run = promisify(execFile);

export interface TaskNetwork {
  /** Name under /run/netns. */
  name: string;
  /** The host's end of the veth pair (the task reaches the host here). */
  hostAddress: string;
  /** The task's own address on its eth0. */
  taskAddress: string;
  hostInterface: string;
}

/** Every namespace this module creates starts with this, so leftovers are easy to spot. */
export const NETNS_PREFIX = 'slw-';

let ipBinary: string | undefined;
function ip(): string {
  ipBinary ??= findBinary('ip', ['/usr/sbin', '/sbin']);
  if (!ipBinary) throw new Error("local-ecs: 'ip' (iproute2) not found; run `npm run setup`");
  return ipBinary;
}

async function ipRun(args: string[]): Promise<string> {
  try {
    const { stdout } = await run(ip(), args, { timeout: 10_000 });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`local-ecs: ip ${args.join(' ')} failed: ${stderr.trim() || (error as Error).message}`);
  }
}

let support: Promise<string | undefined> | undefined;

/** undefined when namespaces work here, else why not (we then share the host network). */
export function namespaceSupport(): Promise<string | undefined> {
  support ??= probeSupport();
  return support;
}

async function probeSupport(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not running as root';
  if (!findBinary('ip', ['/usr/sbin', '/sbin'])) return "'ip' (iproute2) is not installed";
  if (!findBinary('unshare', ['/usr/bin'])) return "'unshare' (util-linux) is not installed";
  const probe = `${NETNS_PREFIX}probe-${process.pid}-${randomInt(1e6)}`;
  try {
    await ipRun(['netns', 'add', probe]);
    await run(ip(), ['netns', 'exec', probe, 'unshare', '--mount', '--propagation', 'private', 'true'], { timeout: 10_000 });
  } catch (error) {
    return (error as Error).message;
  } finally {
    await ipRun(['netns', 'del', probe]).catch(() => undefined); // absent when `add` failed
  }
  return undefined;
}

/** A /30 in 169.254.0.0/16, avoiding 169.254.169.x and 169.254.170.x (AWS's own metadata addresses). */
function blockAddresses(index: number): { host: string; task: string } {
  const third = 1 + Math.floor(index / 64);
  const octet3 = third >= 169 ? third + 2 : third;
  const base = (index % 64) * 4;
  return { host: `169.254.${octet3}.${base + 1}`, task: `169.254.${octet3}.${base + 2}` };
}
const BLOCKS = 252 * 64;

/**
 * Creates the namespace. The namespace's name carries the /30's index, and `ip netns add`
 * fails when the name exists, so concurrent stand-ins (other processes too) never share a /30.
 */
export async function createTaskNetwork(): Promise<TaskNetwork> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const index = randomInt(BLOCKS);
    const name = `${NETNS_PREFIX}${index}`;
    try {
      await ipRun(['netns', 'add', name]);
    } catch (error) {
      if (/File exists/i.test((error as Error).message)) continue;
      throw error;
    }
    const { host, task } = blockAddresses(index);
    const hostInterface = `slwh${index}`;
    try {
      await ipRun(['-n', name, 'link', 'set', 'lo', 'up']);
      await ipRun(['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
      await ipRun(['addr', 'add', `${host}/30`, 'dev', hostInterface]);
      await ipRun(['link', 'set', hostInterface, 'up']);
      await ipRun(['-n', name, 'addr', 'add', `${task}/30`, 'dev', 'eth0']);
      await ipRun(['-n', name, 'link', 'set', 'eth0', 'up']);
    } catch (error) {
      await destroyTaskNetwork({ name, hostAddress: host, taskAddress: task, hostInterface });
      throw error;
    }
    return { name, hostAddress: host, taskAddress: task, hostInterface };
  }
  throw new Error('local-ecs: no free link-local /30 for a task network after 20 attempts');
}

/** Kills whatever still runs in the namespace, then removes the veth pair and the namespace. */
export async function destroyTaskNetwork(network: TaskNetwork): Promise<void> {
  for (let round = 0; round < 50; round += 1) {
    const pids = (await ipRun(['netns', 'pids', network.name]).catch(() => ''))
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((pid) => pid > 0);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // Deleting the namespace destroys its end of the pair, and with it the host's end.
  await ipRun(['link', 'del', network.hostInterface]).catch((error: Error) => {
    if (!/Cannot find device|does not exist/i.test(error.message)) throw error;
  });
  await ipRun(['netns', 'del', network.name]).catch((error: Error) => {
    if (!/No such file/i.test(error.message)) throw error;
  });
}

/** Names of the namespaces this module's naming scheme owns (for leak checks). */
export async function listTaskNetworks(): Promise<string[]> {
  const out = await ipRun(['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.startsWith(NETNS_PREFIX));
}
