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
  /** ECS MountPoint `readOnly`: the container cannot write through this mount. */
  readOnly?: boolean;
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

// Runs inside `unshare --mount`: bind mounts (a read-only one remounted so, as ECS's
// `readOnly` does; a missing mount point created in its parent, as a container runtime
// does, which fails under a read-only parent as it does there), then the host paths no
// container may see are covered by empty tmpfs mounts (the secrets of every repository,
// every task's files and logs) while the task's own directory is kept (moved aside and
// back; the covers are empty and 0755, so a service's own user still reaches it), then
// the working directory and the program itself, so the process ECS watches is the
// container's own (exit code, signals).
const MOUNT_AND_EXEC = `while [ "$1" != -- ]; do
  [ -e "$2" ] || mkdir -p "$2" || { echo "local-ecs: cannot create the mount point $2" >&2; exit 125; }
  mount --bind "$1" "$2" || { echo "local-ecs: cannot mount $1 at $2" >&2; exit 125; }
  if [ "$3" = ro ]; then mount -o remount,bind,ro "$2" || { echo "local-ecs: cannot make $2 read-only" >&2; exit 125; }; fi
  shift 3
done; shift
keep="$1"; stash="$2"; shift 2
mount --bind "$keep" "$stash" || { echo "local-ecs: cannot set $keep aside" >&2; exit 125; }
while [ "$1" != -- ]; do
  if [ -e "$1" ]; then mount -t tmpfs -o size=64k,mode=0755 slipway-hidden "$1" || { echo "local-ecs: cannot hide $1" >&2; exit 125; }; fi
  shift
done; shift
mkdir -p "$keep" && mount --move "$stash" "$keep" || { echo "local-ecs: cannot put $keep back" >&2; exit 125; }
cd "$1" || { echo "local-ecs: working directory $1 does not exist" >&2; exit 125; }; shift
exec "$@"`;

export interface SandboxOptions {
  namespaces: boolean;
  /** The task's private directory on the host (hosts file lives here). */
  taskDir: string;
  /** Mount targets every container gets: created on the host when missing. */
  mountTargets: string[];
  /**
   * Host paths no container may see (covered by an empty tmpfs in its mount namespace):
   * the local secret store, the stand-in's directory of every task. `taskDir` stays
   * visible inside them. Namespace mode only.
   */
  hiddenPaths?: string[];
  /** An empty host directory outside hiddenPaths, where the task directory is set aside while they are covered. */
  stashDir?: string;
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
    const stash = options.stashDir ?? `${options.taskDir}.stash`;
    mkdirSync(stash, { recursive: true });
    return namespaceSandbox(network, extraMounts, { keep: options.taskDir, stash, hidden: options.hiddenPaths ?? [] });
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

/** Parents before children, so a nested mount point is created inside its parent's volume. */
function mountOrder(mounts: SandboxMount[]): SandboxMount[] {
  const depth = (m: SandboxMount) => m.target.split('/').filter(Boolean).length;
  return [...mounts].sort((a, b) => depth(a) - depth(b));
}

function namespaceSandbox(network: TaskNetwork, extraMounts: SandboxMount[], isolation: { keep: string; stash: string; hidden: string[] }): TaskSandbox {
  const ip = findBinary('ip', ['/usr/sbin', '/sbin']) ?? 'ip';
  return {
    mode: 'namespace',
    hostAddress: network.hostAddress,
    taskAddress: network.taskAddress,
    networkName: network.name,
    hostInterface: network.hostInterface,
    spawn(spec) {
      const mounts = mountOrder([...spec.mounts, ...extraMounts]).flatMap((m) => [m.source, m.target, m.readOnly ? 'ro' : 'rw']);
      const argv = [
        'netns', 'exec', network.name,
        'unshare', '--mount', '--propagation', 'private',
        '/bin/sh', '-c', MOUNT_AND_EXEC, 'slipway-container',
        ...mounts, '--', isolation.keep, isolation.stash, ...isolation.hidden, '--', spec.cwd ?? '/',
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
