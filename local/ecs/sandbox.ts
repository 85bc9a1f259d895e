// Where a task's containers run: in namespace mode, each container in its own mount, PID,
// IPC and UTS namespaces inside the task's network namespace, with a root file system of
// its own (rootfs.ts) that holds the host's programs read-only and nothing else of the
// host; or the host itself otherwise (shared network; volume paths handed over in
// SLIPWAY_VOLUMES).
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createTaskNetwork, destroyTaskNetwork, type TaskNetwork } from './netns.js';
import { createFileMountPoints, OLD_ROOT, prepareRoot, rootFstab, underProgramDirs } from './rootfs.js';
import { findBinary } from '../require-binary.js';
import type { ContainerUser } from './container-user.js';

export interface SandboxMount {
  /** Directory (or file) on the host. */
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
  /** Run as this user (container-user.ts resolves a definition's or image's `user`); only when we are root. */
  user?: ContainerUser;
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
  /** Starts a container's program. */
  spawn(spec: SandboxSpawn): ChildProcess;
  /**
   * Runs a program inside a running container (a health check), as `docker exec` does: in
   * its namespaces and root file system, as its user. `container` is what spawn returned;
   * `mounts` serve only without namespaces (path rewriting), the container has its own.
   */
  exec(container: ChildProcess, spec: SandboxSpawn): ChildProcess;
  /** Sends a signal to the container's own program (its PID 1 in namespace mode), as `docker stop` does. */
  signal(container: ChildProcess, signal: NodeJS.Signals): void;
  destroy(): Promise<void>;
}

/** Name every task's /etc/hosts gives to the host (like Docker's host.docker.internal). */
export const HOST_ALIAS = 'host.slipway.internal';

/**
 * Capabilities a container's root user keeps: Docker's defaults, which are Fargate's (the
 * ECS API reference, KernelCapabilities: capabilities are added to or dropped from "the
 * default configuration provided by Docker"; moby/moby oci/caps/defaults.go lists them), minus
 * MKNOD: there is no device cgroup here, so a created disk device could be read. Without
 * SYS_ADMIN a container cannot mount, remount the host's programs writable, or unmount what
 * hides the host; without DAC_READ_SEARCH it cannot open files by handle.
 */
export const CONTAINER_CAPABILITIES = ['chown', 'dac_override', 'fsetid', 'fowner', 'net_raw', 'setgid', 'setuid', 'setfcap', 'setpcap', 'net_bind_service', 'sys_chroot', 'kill', 'audit_write'];

// Runs as PID 1 of the container's new PID namespace, in its new mount namespace (private
// propagation: nothing mounted here reaches the host), before pivot_root. $1 is the root
// directory, $2 its fstab (rootfs.ts, rootFstab: the root bound on itself, the host's
// programs and /etc entries read-only, /proc, /sys, /dev, covers over hidden paths, then the
// task's own mounts), mounted by one `mount --all`. Then /proc gets Docker's masked and
// read-only paths (moby/moby oci/defaults.go, MaskedPaths and ReadonlyPaths: /proc/sys and
// /proc/sysrq-trigger would otherwise let root reconfigure or reboot the host), pivot_root
// makes the directory `/` and the old root is unmounted, so nothing of the host outside
// the bound paths is reachable. $3 is the working directory, created (as root, mode 0755) when
// it is missing, after the mounts, as runc does (libcontainer/rootfs_linux.go, prepareRootfs:
// `os.MkdirAll(cwd, 0o755)` "because we are in the jail here"), so that a working directory
// inside a volume (a workspace `path` the clone has not made yet) exists; the rest the program;
// `exec` keeps it PID 1.
const MOUNT_AND_EXEC = `fail() { echo "local-ecs: $*" >&2; exit 125; }
ROOT="$1"; FSTAB="$2"; shift 2
mount --all --fstab "$FSTAB" || fail "cannot mount the container's file systems (listed in $FSTAB)"
P="$ROOT/proc"
for f in kcore keys latency_stats timer_list timer_stats sched_debug; do
  if [ -f "$P/$f" ]; then mount --bind /dev/null "$P/$f" || fail "cannot mask /proc/$f"; fi
done
for d in asound acpi scsi; do
  if [ -d "$P/$d" ]; then mount -t tmpfs -o ro,size=0 slipway-masked "$P/$d" || fail "cannot mask /proc/$d"; fi
done
for p in bus fs irq sys sysrq-trigger; do
  if [ -e "$P/$p" ]; then mount -o bind,ro "$P/$p" "$P/$p" || fail "cannot make /proc/$p read-only"; fi
done
if [ -n "$HOSTNAME" ] && command -v hostname >/dev/null; then hostname "$HOSTNAME" || fail "cannot set the host name $HOSTNAME"; fi
cd "$ROOT" && pivot_root . ${OLD_ROOT} || fail "cannot pivot_root into $ROOT"
cd / && umount -l /${OLD_ROOT} && rmdir /${OLD_ROOT} || fail "cannot detach the host's root"
mkdir -p "$1" && cd "$1" || fail "cannot create the working directory $1"; shift
exec "$@"`;

// Runs inside a container's namespaces and root (nsenter): the working directory, then the program.
const CD_AND_EXEC = `cd "$1" || { echo "local-ecs: working directory $1 does not exist" >&2; exit 125; }; shift; exec "$@"`;

export interface SandboxOptions {
  namespaces: boolean;
  /** The task's private directory on the host (hosts file and containers' roots live here). */
  taskDir: string;
  /**
   * Mount targets of the task's containers. Those under the host's program directories
   * (bound read-only) are created on the host when missing, as before; others are created
   * in each container's own root.
   */
  mountTargets: string[];
  /**
   * Host paths no container may see: covered by an empty tmpfs should they lie under what a
   * container's root binds from the host (the program directories, /etc entries); anything
   * else of the host is absent anyway. Namespace mode only.
   */
  hiddenPaths?: string[];
  /** Host directories bound read-only at their own path in every container. Namespace mode only. */
  sharedPaths?: string[];
}

export async function createSandbox(options: SandboxOptions): Promise<TaskSandbox> {
  if (!options.namespaces) return hostSandbox();
  const network = await createTaskNetwork();
  try {
    for (const target of options.mountTargets) if (underProgramDirs(target, extraProgramDirs())) mkdirSync(target, { recursive: true });
    const hostsFile = `${options.taskDir}/hosts`;
    writeFileSync(hostsFile, `${readFileSync('/etc/hosts', 'utf8').trimEnd()}\n${network.hostAddress} ${HOST_ALIAS}\n`);
    const extraMounts: SandboxMount[] = [{ source: hostsFile, target: '/etc/hosts' }, ...(options.sharedPaths ?? []).map((path) => ({ source: path, target: path, readOnly: true }))];
    // Unix sockets of postgres live here (Debian's default); a private one per task keeps two postgres apart.
    if (existsSync('/var/run/postgresql')) {
      const pgRun = `${options.taskDir}/run-postgresql`;
      mkdirSync(pgRun, { recursive: true, mode: 0o2775 });
      chownToPostgres(pgRun);
      extraMounts.push({ source: pgRun, target: '/run/postgresql' });
    }
    return namespaceSandbox(network, extraMounts, { rootsDir: join(options.taskDir, 'roots'), hidden: options.hiddenPaths ?? [] });
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

/** Node's installation, when it is not under /usr (nvm, a tarball in /opt): bound read-only at its own path. */
function extraProgramDirs(): string[] {
  const prefix = dirname(dirname(process.execPath));
  return underProgramDirs(process.execPath) ? [] : [prefix];
}

/**
 * `setpriv … --pdeathsig KILL` right before the program: the kernel kills the container when
 * its parent dies, however it dies. A uid change clears the death signal, so it is set by the
 * setpriv that changes the uid. In namespace mode the same setpriv drops the capabilities
 * outside CONTAINER_CAPABILITIES (for root; any other user has none).
 */
function programPrefix(user: ContainerUser | undefined, dropCapabilities: boolean): string[] {
  const found = findBinary('setpriv', ['/usr/bin']);
  const deathSignal = ['--pdeathsig', 'KILL'];
  const root = process.getuid?.() === 0;
  if (!root) return found ? [found, ...deathSignal] : [];
  const setpriv = found ?? 'setpriv'; // missing: the container fails to start, and says why
  const caps = dropCapabilities ? ['--bounding-set', ['-all', ...CONTAINER_CAPABILITIES.map((c) => `+${c}`)].join(','), '--inh-caps', '-all'] : [];
  if (!user) return caps.length > 0 || found ? [setpriv, ...caps, ...deathSignal] : [];
  const groups = user.initGroupsOf !== undefined ? '--init-groups' : '--clear-groups';
  return [setpriv, ...caps, `--reuid=${user.uid}`, `--regid=${user.gid}`, groups, ...deathSignal];
}

/** Parents before children, so a nested mount point is created inside its parent's volume. */
function mountOrder(mounts: SandboxMount[]): SandboxMount[] {
  const depth = (m: SandboxMount) => m.target.split('/').filter(Boolean).length;
  return [...mounts].sort((a, b) => depth(a) - depth(b));
}

/**
 * The host pid of a container's PID 1: the one child of the `unshare` process we spawned
 * (unshare --fork waits for it and exits as it does). Undefined before the fork or after the end.
 */
export function containerInitPid(container: ChildProcess): number | undefined {
  const pid = container.pid;
  if (pid === undefined || container.exitCode !== null || container.signalCode !== null) return undefined;
  return childPids(pid)[0];
}

/**
 * The children of a process: /proc/<pid>/task/<pid>/children, or, on a kernel without it
 * (CONFIG_PROC_CHILDREN) or when asked, the processes whose parent it is.
 */
export function childPids(pid: number, how: 'children-file' | 'scan' = 'children-file'): number[] {
  if (how === 'children-file') {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && parentOf(Number(entry)) === pid)
    .map(Number);
}

/** The parent pid of a process (field 4 of /proc/<pid>/stat), undefined once it is gone. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw error;
  }
}

/** True once PID 1 has left the start script (its root is the container's own). */
function containerReady(initPid: number): boolean {
  try {
    return !readFileSync(`/proc/${initPid}/cmdline`, 'utf8').includes('\0slipway-container\0');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** A process that fails at once with this message (a probe that cannot run yet). */
function failing(message: string, env: Record<string, string>): ChildProcess {
  return spawn('/bin/sh', ['-c', 'echo "$1" >&2; exit 1', 'slipway-exec', message], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
}

function namespaceSandbox(network: TaskNetwork, extraMounts: SandboxMount[], isolation: { rootsDir: string; hidden: string[] }): TaskSandbox {
  const ip = findBinary('ip', ['/usr/sbin', '/sbin']) ?? 'ip';
  const setpriv = findBinary('setpriv', ['/usr/bin']) ?? 'setpriv';
  const nsenter = findBinary('nsenter', ['/usr/bin']) ?? 'nsenter';
  let roots = 0;
  return {
    mode: 'namespace',
    hostAddress: network.hostAddress,
    taskAddress: network.taskAddress,
    networkName: network.name,
    hostInterface: network.hostInterface,
    spawn(spec) {
      roots += 1;
      const root = prepareRoot(join(isolation.rootsDir, String(roots)), { extraProgramDirs: extraProgramDirs() });
      const fstab = `${root.dir}.fstab`;
      const mounts = mountOrder([...spec.mounts, ...extraMounts]);
      createFileMountPoints(root, mounts);
      writeFileSync(fstab, rootFstab(root, isolation.hidden, mounts));
      const argv = [
        'netns', 'exec', network.name,
        // The death signal of the unshare process that waits for the container's PID 1;
        // --kill-child passes it on to PID 1, whose end ends the whole PID namespace.
        setpriv, '--pdeathsig', 'KILL',
        'unshare', '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child=KILL', '--ipc', '--uts',
        '/bin/sh', '-c', MOUNT_AND_EXEC, 'slipway-container', root.dir, fstab,
        spec.cwd ?? '/',
        ...programPrefix(spec.user, true), ...spec.argv,
      ];
      // detached: the container leads its own process group, so a stop reaches its children.
      return spawn(ip, argv, { env: spec.env, cwd: '/', detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    },
    exec(container, spec) {
      const init = containerInitPid(container);
      if (init === undefined || !containerReady(init)) return failing('local-ecs: the container is not running (yet): nothing to exec into', spec.env);
      const argv = ['--target', String(init), '--mount', '--net', '--pid', '--ipc', '--uts', '--root', '--wd', '/bin/sh', '-c', CD_AND_EXEC, 'slipway-exec', spec.cwd ?? '/', ...programPrefix(spec.user, true), ...spec.argv];
      return spawn(nsenter, argv, { env: spec.env, cwd: '/', detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    },
    signal(container, signal) {
      // `docker stop` signals PID 1 only. Until unshare has forked, try again shortly; once the
      // container has ended there is nobody to signal.
      const deliver = (): void => {
        if (container.exitCode !== null || container.signalCode !== null) return;
        const init = containerInitPid(container);
        if (init === undefined) {
          setTimeout(deliver, 20);
          return;
        }
        try {
          process.kill(init, signal);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
        }
      };
      deliver();
    },
    destroy: () => destroyTaskNetwork(network),
  };
}

function hostSandbox(): TaskSandbox {
  const start = (spec: SandboxSpawn): ChildProcess => {
    // No mount namespace: the container sees host paths. Paths under a containerPath are
    // rewritten to the volume's directory, and the mapping is given in SLIPWAY_VOLUMES.
    const volumes = Object.fromEntries(spec.mounts.map((m) => [m.target, m.source]));
    const cwd = rewritePath(spec.cwd ?? '/', spec.mounts);
    // The program itself may live on a volume (a masked plugin step runs the agent's busybox from the state volume).
    const [program, ...args] = spec.argv;
    const argv = [...programPrefix(spec.user, false), ...(program === undefined ? [] : [rewritePath(program, spec.mounts)]), ...args];
    const env = { ...spec.env, SLIPWAY_VOLUMES: JSON.stringify(volumes) };
    return spawn(argv[0]!, argv.slice(1), { env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  };
  return {
    mode: 'host',
    hostAddress: '127.0.0.1',
    taskAddress: '127.0.0.1',
    spawn: start,
    exec: (_container, spec) => start(spec),
    signal(container, signal) {
      if (container.pid === undefined) return;
      try {
        process.kill(container.pid, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
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
