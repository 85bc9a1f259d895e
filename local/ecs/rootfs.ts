// A container's own root file system in namespace mode: a directory of the task, made the
// container's `/` with pivot_root, holding only what a local "image" needs. Local images are
// the host's programs, so the host's program directories are bound into it read-only; of
// /etc only the entries programs read (never shadow files, ssh host keys or private TLS
// keys); everything else — /tmp, /root, /home, /var, /run — is the container's own and
// empty, removed with the task as Fargate's ephemeral storage is. What ECS mounts on top
// (task volumes, /etc/hosts) is the sandbox's business (sandbox.ts); the special file
// systems (/proc, /sys, /dev) are mounted by its start script.
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import type { SandboxMount } from './sandbox.js';

/** The host's programs and their libraries: what a local image is made of. */
export const PROGRAM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/**
 * The /etc entries a container sees (read-only), and why. Everything else of the host's
 * /etc is absent: shadow and gshadow, ssh host keys, ssl/private, sudoers, machine-id,
 * docker and network configuration.
 * - who is who: passwd, group (setpriv --reuid=postgres, id, whoami), login.defs, shells;
 * - names: nsswitch.conf, host.conf, gai.conf, resolv.conf, protocols, services, networks,
 *   rpc, ethertypes (getaddrinfo, getservbyname); /etc/hosts is the task's own (sandbox.ts);
 * - the dynamic linker: ld.so.cache, ld.so.conf, ld.so.conf.d (Debian's multiarch library
 *   directories are found only through them);
 * - alternatives: /usr/bin/awk, java, editor… are symlinks through /etc/alternatives;
 * - TLS trust: ssl/certs, ssl/openssl.cnf, ca-certificates, ca-certificates.conf;
 * - system-wide settings of the programs pipelines run: gitconfig, npmrc, pip.conf, wgetrc,
 *   maven, java-*, python3*, perl, postgresql-common, mysql, fonts, xml, sgml, mime.types,
 *   magic, magic.mime, terminfo;
 * - containers (policy.json, registries.conf): the image builder's buildah reads its
 *   signature policy and registry settings there (local/image-builder.sh);
 * - shells and locale: profile, profile.d, bash.bashrc, inputrc, environment, locale.alias,
 *   localtime, timezone, os-release, debian_version, lsb-release.
 * A trailing `*` matches names that start with what precedes it.
 */
export const ETC_ENTRIES = [
  'passwd', 'group', 'login.defs', 'shells',
  'nsswitch.conf', 'host.conf', 'gai.conf', 'resolv.conf', 'protocols', 'services', 'networks', 'rpc', 'ethertypes',
  'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d',
  'alternatives',
  'ssl/certs', 'ssl/openssl.cnf', 'ca-certificates', 'ca-certificates.conf',
  'gitconfig', 'npmrc', 'pip.conf', 'wgetrc', 'maven', 'java-*', 'python3*', 'perl', 'postgresql-common', 'mysql', 'fonts', 'xml', 'sgml', 'mime.types', 'magic', 'magic.mime', 'terminfo',
  'containers',
  'profile', 'profile.d', 'bash.bashrc', 'inputrc', 'environment', 'locale.alias', 'localtime', 'timezone', 'os-release', 'debian_version', 'lsb-release',
];

/** Directory (inside every root) where pivot_root puts the old root before it is unmounted. */
export const OLD_ROOT = '.slipway-old-root';

/** Where a container's private data directory (database files) is mounted in namespace mode. */
export const CONTAINER_DATA_DIR = '/var/lib/slipway/data';

/** Character devices bound from the host into every container's /dev (Docker's default devices, less console). */
export const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];
const DEVICE_LINKS: Record<string, string> = { ptmx: 'pts/ptmx', fd: '/proc/self/fd', stdin: '/proc/self/fd/0', stdout: '/proc/self/fd/1', stderr: '/proc/self/fd/2' };

/** What a root is made of: the bind mounts (host → container path) its start script makes first. */
export interface RootPlan {
  dir: string;
  binds: SandboxMount[];
}

export interface RootOptions {
  /** Host paths that stand for /, /etc… (tests); default the real ones. */
  hostRoot?: string;
  /** Extra program directories bound read-only at their own path (node's prefix when it is not under /usr). */
  extraProgramDirs?: string[];
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** `java-*` → every /etc entry whose name starts with `java-`. */
function expandEtcEntries(etc: string): string[] {
  const names = existsSync(etc) ? readdirSync(etc) : [];
  return ETC_ENTRIES.flatMap((entry) => (entry.endsWith('*') ? names.filter((n) => n.startsWith(entry.slice(0, -1))).sort() : [entry]));
}

/**
 * Creates the skeleton of a container's root in `dir` (an empty directory of the task) and
 * returns the read-only binds that fill it. A host path that is a symlink (/bin → usr/bin on
 * merged-/usr systems, /etc/localtime) is copied as the same symlink; a missing one is left out.
 */
export function prepareRoot(dir: string, options: RootOptions = {}): RootPlan {
  const host = options.hostRoot ?? '';
  const binds: SandboxMount[] = [];
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const mirror = (path: string): void => {
    const stats = lstatOrUndefined(host + path);
    if (!stats) return;
    const at = join(dir, path);
    mkdirSync(dirname(at), { recursive: true });
    if (stats.isSymbolicLink()) {
      symlinkSync(readlinkSync(host + path), at);
      return;
    }
    if (stats.isDirectory()) mkdirSync(at, { recursive: true });
    else writeFileSync(at, '');
    binds.push({ source: host + path, target: path, readOnly: true });
  };
  for (const path of [...PROGRAM_DIRS, ...(options.extraProgramDirs ?? [])]) mirror(path);
  mkdirSync(join(dir, 'etc'), { mode: 0o755 });
  for (const entry of expandEtcEntries(`${host}/etc`)) mirror(`/etc/${entry}`);
  // Mount points and the container's own empty directories.
  writeFileSync(join(dir, 'etc', 'hosts'), '');
  symlinkSync('../proc/self/mounts', join(dir, 'etc', 'mtab'));
  // /dev: mount points of the character devices bound from the host, devpts and shm.
  mkdirSync(join(dir, 'dev', 'pts'), { recursive: true, mode: 0o755 });
  mkdirSync(join(dir, 'dev', 'shm'), { mode: 0o755 });
  for (const device of DEVICES) writeFileSync(join(dir, 'dev', device), '');
  for (const [name, target] of Object.entries(DEVICE_LINKS)) symlinkSync(target, join(dir, 'dev', name));
  for (const sub of ['proc', 'sys', 'run', 'home', 'opt', 'mnt', 'srv', 'var/lib', 'var/cache', 'var/log', OLD_ROOT]) mkdirSync(join(dir, sub), { recursive: true, mode: 0o755 });
  for (const sub of ['tmp', 'var/tmp']) {
    mkdirSync(join(dir, sub), { recursive: true });
    chmodSync(join(dir, sub), 0o1777);
  }
  mkdirSync(join(dir, 'root'), { mode: 0o700 });
  symlinkSync('../run', join(dir, 'var', 'run'));
  return { dir, binds };
}

/** The container-side path is under one of the program directories bound read-only. */
export function underProgramDirs(path: string, extra: string[] = []): boolean {
  return [...PROGRAM_DIRS, ...extra].some((d) => path === d || path.startsWith(`${d}/`));
}

/** Mount points at or under `dir` in this process's mount namespace (/proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.replace(/\/$/, '');
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .map((point) => point.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))))
    .filter((point) => point === prefix || point.startsWith(`${prefix}/`));
}

/** A path as fstab writes it: space, tab, newline and backslash in octal (getmntent(3)). */
function fstabPath(path: string): string {
  return path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/**
 * The fstab the start script mounts in one `mount --all`, in order: the root bound on itself
 * (pivot_root needs a mount point), the host's programs and /etc entries read-only, /proc
 * (the container's PID namespace's), /sys read-only, /dev's devices, devpts and shm, empty
 * tmpfs covers over hidden host paths that lie under what is bound, then the task's mounts
 * (parents first; a missing mount point is created, which fails under a read-only parent as
 * with Docker).
 */
export function rootFstab(plan: RootPlan, hidden: string[], taskMounts: SandboxMount[]): string {
  const root = plan.dir;
  const line = (source: string, target: string, type: string, options: string) => `${fstabPath(source)} ${fstabPath(root + target)} ${type} ${options} 0 0`;
  const bind = (m: SandboxMount, extra = '') => line(m.source, m.target, 'none', `bind${m.readOnly ? ',ro' : ''}${extra}`);
  const covered = hidden.filter((h) => existsSync(h) && plan.binds.some((b) => h === b.target || h.startsWith(`${b.target}/`)));
  return [
    `${fstabPath(root)} ${fstabPath(root)} none bind 0 0`,
    ...plan.binds.map((m) => bind(m)),
    line('proc', '/proc', 'proc', 'nosuid,nodev,noexec'),
    line('sysfs', '/sys', 'sysfs', 'ro,nosuid,nodev,noexec'),
    ...DEVICES.map((d) => line(`/dev/${d}`, `/dev/${d}`, 'none', 'bind')),
    line('slipway-devpts', '/dev/pts', 'devpts', 'newinstance,ptmxmode=0666,mode=0620,nosuid,noexec'),
    line('slipway-shm', '/dev/shm', 'tmpfs', 'nosuid,nodev,noexec,mode=1777,size=64m'),
    ...covered.map((h) => line('slipway-hidden', h, 'tmpfs', 'size=64k,mode=0755')),
    ...taskMounts.map((m) => bind(m, ',X-mount.mkdir')),
    '',
  ].join('\n');
}

/**
 * Mount points of the task's file mounts (a file bound onto a file: /etc/hosts, the agent's
 * package.json), created in the root beforehand: `X-mount.mkdir` makes directories only.
 */
export function createFileMountPoints(plan: RootPlan, mounts: SandboxMount[]): void {
  for (const m of mounts) {
    if (lstatOrUndefined(m.source)?.isDirectory() !== false) continue;
    const at = join(plan.dir, m.target);
    if (existsSync(at)) continue;
    mkdirSync(dirname(at), { recursive: true });
    writeFileSync(at, '');
  }
}
