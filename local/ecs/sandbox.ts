// Where a task's containers run: its own network + mount namespaces when the host allows
// (each task volume bind-mounted at its containerPath, a private copy of /etc/hosts), or
// the host itself otherwise (shared network; volume paths handed over in SLIPWAY_VOLUMES).
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createTaskNetwork, destroyTaskNetwork, type TaskNetwork } from './netns.js';
import { findBinary } from '../require-binary.js';

export interface SandboxMount {
  /** Directory on the host. */
  source: string;
  /** Path the container sees. */
  target: string;
}

export interface SandboxSpawn {
  argv: string[];
  env: Record<string, string>;
  /** Working directory as the container sees it. */
  cwd?: string;
  /** Run as this user (name or uid[:gid]); only when we are root. */
  user?: string;
  mounts: SandboxMount[];
}

export interface TaskSandbox {
  mode: 'namespace' | 'host';
  /** The host's address as the task's containers reach it. */
  hostAddress: string;
  /** The task's own IPv4 address (metadata "Networks"). */
  taskAddress: string;
  networkName?: string;
  hostInterface?: string;
  spawn(spec: SandboxSpawn): ChildProcess;
  destroy(): Promise<void>;
}

/** Name every task's /etc/hosts gives to the host (like Docker's host.docker.internal). */
export const HOST_ALIAS = 'host.slipway.internal';

// Runs inside `unshare --mount`: bind mounts, working directory, then the program itself,
// so the process ECS watches is the container's own (exit code, signals).
const MOUNT_AND_EXEC = `while [ "$1" != -- ]; do mount --bind "$1" "$2" || { echo "local-ecs: cannot mount $1 at $2" >&2; exit 125; }; shift 2; done; shift
cd "$1" || { echo "local-ecs: working directory $1 does not exist" >&2; exit 125; }; shift
exec "$@"`;

export interface SandboxOptions {
  namespaces: boolean;
  /** The task's private directory on the host (hosts file lives here). */
  taskDir: string;
  /** Mount targets every container gets: created on the host when missing. */
  mountTargets: string[];
}

export async function createSandbox(options: SandboxOptions): Promise<TaskSandbox> {
  if (!options.namespaces) return hostSandbox();
  const network = await createTaskNetwork();
  try {
    for (const target of options.mountTargets) mkdirSync(target, { recursive: true });
    const hostsFile = `${options.taskDir}/hosts`;
    writeFileSync(hostsFile, `${readFileSync('/etc/hosts', 'utf8').trimEnd()}\n${network.hostAddress} ${HOST_ALIAS}\n`);
    // Unix sockets of postgres live here; a private one per task keeps two postgres apart.
    const pgRun = `${options.taskDir}/run-postgresql`;
    const extraMounts: SandboxMount[] = [{ source: hostsFile, target: '/etc/hosts' }];
    if (existsSync('/var/run/postgresql')) {
      mkdirSync(pgRun, { recursive: true, mode: 0o2775 });
      chownToPostgres(pgRun);
      extraMounts.push({ source: pgRun, target: '/var/run/postgresql' });
    }
    return namespaceSandbox(network, extraMounts);
  } catch (error) {
    await destroyTaskNetwork(network);
    throw error;
  }
}

function chownToPostgres(dir: string): void {
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').find((line) => line.startsWith('postgres:'));
  const [, , uid, gid] = passwd?.split(':') ?? [];
  if (uid && gid) chownSync(dir, Number(uid), Number(gid));
}

/**
 * `setpriv … --pdeathsig KILL` right before the program: the kernel kills the container when
 * the stand-in's process dies, however it dies. `ip netns exec`, `unshare` and the mount
 * script all exec, so the program keeps the pid our process spawned and we stay its parent.
 * A uid change clears the death signal, so it is set by the setpriv that changes the uid.
 * What the program itself started is left to the next start's sweep of its namespace.
 */
function programPrefix(user: string | undefined): string[] {
  const found = findBinary('setpriv', ['/usr/bin']);
  const deathSignal = ['--pdeathsig', 'KILL'];
  if (!user || process.getuid?.() !== 0) return found ? [found, ...deathSignal] : [];
  const setpriv = found ?? 'setpriv'; // missing: the container fails to start, and says why
  const [u, g] = user.split(':');
  if (g !== undefined) return [setpriv, `--reuid=${u}`, `--regid=${g}`, '--clear-groups', ...deathSignal];
  return [setpriv, `--reuid=${u}`, `--regid=${u}`, '--init-groups', ...deathSignal];
}

function namespaceSandbox(network: TaskNetwork, extraMounts: SandboxMount[]): TaskSandbox {
  const ip = findBinary('ip', ['/usr/sbin', '/sbin']) ?? 'ip';
  return {
    mode: 'namespace',
    hostAddress: network.hostAddress,
    taskAddress: network.taskAddress,
    networkName: network.name,
    hostInterface: network.hostInterface,
    spawn(spec) {
      const mounts = [...spec.mounts, ...extraMounts].flatMap((m) => [m.source, m.target]);
      const argv = [
        'netns', 'exec', network.name,
        'unshare', '--mount', '--propagation', 'private',
        '/bin/sh', '-c', MOUNT_AND_EXEC, 'slipway-container',
        ...mounts, '--', spec.cwd ?? '/',
        ...programPrefix(spec.user), ...spec.argv,
      ];
      // detached: the container leads its own process group, so a stop reaches its children.
      return spawn(ip, argv, { env: spec.env, cwd: '/', detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    },
    destroy: () => destroyTaskNetwork(network),
  };
}

function hostSandbox(): TaskSandbox {
  return {
    mode: 'host',
    hostAddress: '127.0.0.1',
    taskAddress: '127.0.0.1',
    spawn(spec) {
      // No mount namespace: the container sees host paths. Paths under a containerPath are
      // rewritten to the volume's directory, and the mapping is given in SLIPWAY_VOLUMES.
      const volumes = Object.fromEntries(spec.mounts.map((m) => [m.target, m.source]));
      const cwd = rewritePath(spec.cwd ?? '/', spec.mounts);
      // The program itself may live on a volume (a masked plugin step runs the agent's busybox from the state volume).
      const [program, ...args] = spec.argv;
      const argv = [...programPrefix(spec.user), ...(program === undefined ? [] : [rewritePath(program, spec.mounts)]), ...args];
      const env = { ...spec.env, SLIPWAY_VOLUMES: JSON.stringify(volumes) };
      return spawn(argv[0]!, argv.slice(1), { env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    },
    destroy: async () => undefined,
  };
}

/** `/drone/src/app` → `<workspace volume dir>/app` when tasks share the host. */
export function rewritePath(path: string, mounts: SandboxMount[]): string {
  const match = mounts
    .filter((m) => path === m.target || path.startsWith(`${m.target.replace(/\/$/, '')}/`))
    .sort((a, b) => b.target.length - a.target.length)[0];
  return match ? match.source + path.slice(match.target.length) : path;
}
