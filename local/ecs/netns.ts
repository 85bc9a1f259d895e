// One Linux network namespace per local task: awsvpc's "all containers of a task share
// localhost", so two tasks can each listen on 127.0.0.1:5432. A veth pair on a link-local
// /30 (169.254.x.y, the range ECS itself uses for its metadata endpoint) lets the task
// reach the host (metadata endpoint, local Git server) and the other tasks at their own
// addresses, as tasks in one security group with a self-referencing rule reach each other
// (a split pipeline's segments reach its service task: lib/network.ts), and nothing
// beyond: the namespace routes only 169.254.0.0/16 (no default route), and the host
// forwards only what comes in on the tasks' veths (their interface's `forwarding`, not
// the host's ip_forward).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomInt } from 'node:crypto';
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
const HOST_INTERFACE_PREFIX = 'slwh';

/**
 * One file per namespace, named like it, holding "<pid> <start time>" of the stand-in that
 * owns it. It is created (exclusively) before the namespace and removed after it, so a live
 * namespace always has a live owner on record, and a sweep can tell orphans from namespaces
 * of another stand-in that is still running. The start time guards against a reused pid.
 */
export const OWNER_DIR = '/run/slipway/netns';

/** "<pid> <start time>" of a process, or undefined when it is gone (or a zombie). */
export function processStamp(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  // Fields after "(comm) ": state is the 3rd field of stat, starttime the 22nd.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return `${pid} ${fields[19]}`;
}

function ownerFile(name: string): string {
  return join(OWNER_DIR, name);
}

/**
 * Records us as the owner of `name`, or returns false when someone else is on record.
 * Written aside and hard-linked into place, so a reader never sees a half-written record.
 */
function claim(name: string, owner: string): boolean {
  const draft = ownerFile(`.${name}.${process.pid}`);
  writeFileSync(draft, `${owner}\n`);
  try {
    linkSync(draft, ownerFile(name));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(draft, { force: true });
  }
}

/** True when the namespace's recorded owner still runs. */
function ownerAlive(name: string): boolean {
  const probe = /^slw-probe-(\d+)-/.exec(name);
  if (probe) return processStamp(Number(probe[1])) !== undefined;
  let recorded: string;
  try {
    recorded = readFileSync(ownerFile(name), 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false; // made before owners were recorded
    throw error;
  }
  const pid = Number(recorded.split(' ')[0]);
  return pid > 0 && processStamp(pid) === recorded;
}

let ipBinary: string | undefined;
function ip(): string {
  ipBinary ??= findBinary('ip', ['/usr/sbin', '/sbin']);
  if (!ipBinary) throw new Error("local-ecs: 'ip' (iproute2) not found; run `npm run setup`");
  return ipBinary;
}

// A hang guard for `ip`/`unshare`: they answer in milliseconds, but a loaded machine can
// stall them for seconds, and a timeout here would fail a task that would have started.
const IP_TIMEOUT_MS = 60_000;

async function ipRun(args: string[]): Promise<string> {
  try {
    const { stdout } = await run(ip(), args, { timeout: IP_TIMEOUT_MS });
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
    await run(ip(), ['netns', 'exec', probe, 'unshare', '--mount', '--propagation', 'private', 'true'], { timeout: IP_TIMEOUT_MS });
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
/** Every task's /30 is in here: the one route of a task's namespace beyond its own /30. */
const LINK_LOCAL = '169.254.0.0/16';

/**
 * Creates the namespace. The namespace's name carries the /30's index, and `ip netns add`
 * fails when the name exists, so concurrent stand-ins (other processes too) never share a /30.
 */
export async function createTaskNetwork(): Promise<TaskNetwork> {
  mkdirSync(OWNER_DIR, { recursive: true });
  const owner = processStamp(process.pid)!;
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const index = randomInt(BLOCKS);
    const name = `${NETNS_PREFIX}${index}`;
    if (!claim(name, owner)) continue;
    try {
      await ipRun(['netns', 'add', name]);
    } catch (error) {
      rmSync(ownerFile(name), { force: true });
      if (/File exists/i.test((error as Error).message)) continue; // an orphan with no record: the next sweep's
      throw error;
    }
    const { host, task } = blockAddresses(index);
    const hostInterface = `${HOST_INTERFACE_PREFIX}${index}`;
    try {
      await ipRun(['-n', name, 'link', 'set', 'lo', 'up']);
      await ipRun(['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
      await ipRun(['addr', 'add', `${host}/30`, 'dev', hostInterface]);
      await ipRun(['link', 'set', hostInterface, 'up']);
      await ipRun(['-n', name, 'addr', 'add', `${task}/30`, 'dev', 'eth0']);
      await ipRun(['-n', name, 'link', 'set', 'eth0', 'up']);
      await ipRun(['-n', name, 'route', 'add', LINK_LOCAL, 'via', host, 'dev', 'eth0']);
      writeFileSync(`/proc/sys/net/ipv4/conf/${hostInterface}/forwarding`, '1\n');
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
  rmSync(ownerFile(network.name), { force: true });
}

/**
 * Removes what stand-ins that died without stopping left behind: namespaces (and whatever
 * still runs in them), host-side veths and owner records whose owner is gone. Namespaces of
 * a stand-in that still runs are kept. Returns the names of the namespaces removed.
 */
export async function sweepOrphanedNetworks(): Promise<string[]> {
  const swept: string[] = [];
  for (const name of await listTaskNetworks()) {
    if (ownerAlive(name)) continue;
    const index = /^slw-(\d+)$/.exec(name)?.[1];
    await destroyTaskNetwork({ name, hostInterface: `${HOST_INTERFACE_PREFIX}${index ?? 'none'}`, hostAddress: '', taskAddress: '' });
    swept.push(name);
  }
  // A veth whose namespace was deleted while a process still held it open outlives the name.
  const links = (await ipRun(['-o', 'link', 'show'])).split('\n');
  for (const link of links) {
    const index = new RegExp(`^\\d+: ${HOST_INTERFACE_PREFIX}(\\d+)[@:]`).exec(link)?.[1];
    if (index === undefined || ownerAlive(`${NETNS_PREFIX}${index}`)) continue;
    await ipRun(['link', 'del', `${HOST_INTERFACE_PREFIX}${index}`]).catch((error: Error) => {
      if (!/Cannot find device|does not exist/i.test(error.message)) throw error;
    });
  }
  let records: string[] = [];
  try {
    records = readdirSync(OWNER_DIR);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // Records of owners that died between writing them and creating the namespace.
  for (const name of records) {
    const draftOwner = name.startsWith('.') ? Number(name.split('.').pop()) : undefined;
    const stale = draftOwner === undefined ? !ownerAlive(name) : processStamp(draftOwner) === undefined;
    if (stale) rmSync(ownerFile(name), { force: true });
  }
  return swept;
}

/** Names of the namespaces this module's naming scheme owns (for leak checks). */
export async function listTaskNetworks(): Promise<string[]> {
  const out = await ipRun(['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.startsWith(NETNS_PREFIX));
}
