// What a container's root is made of (local/ecs/rootfs.ts), on a made-up host: the program
// directories and the chosen /etc entries bound read-only, symlinks copied, secrets absent;
// and how the stand-in finds a container's PID 1 from the host (sandbox.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountsUnder, prepareRoot, rootFstab } from '../../local/ecs/rootfs.js';
import { childPids } from '../../local/ecs/sandbox.js';

const dirs: string[] = [];
const temp = (prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A host with merged /usr, a few /etc entries worth having and a few that must stay out. */
function fakeHost(): string {
  const host = temp('slipway-fake-host-');
  mkdirSync(join(host, 'usr', 'bin'), { recursive: true });
  symlinkSync('usr/bin', join(host, 'bin'));
  mkdirSync(join(host, 'etc', 'ssl', 'certs'), { recursive: true });
  mkdirSync(join(host, 'etc', 'ssl', 'private'), { recursive: true });
  mkdirSync(join(host, 'etc', 'java-17-openjdk'));
  mkdirSync(join(host, 'etc', 'ssh'));
  for (const file of ['passwd', 'group', 'shadow', 'gshadow', 'ssl/openssl.cnf', 'ssl/private/key.pem', 'ssh/ssh_host_ed25519_key', 'sudoers', 'machine-id']) writeFileSync(join(host, 'etc', file), 'x');
  symlinkSync('/usr/share/zoneinfo/Etc/UTC', join(host, 'etc', 'localtime'));
  return host;
}

describe('a container root', () => {
  it('binds the program directories and the chosen /etc entries read-only; never shadow, ssh keys or private TLS keys', () => {
    const host = fakeHost();
    const root = prepareRoot(join(temp('slipway-root-'), 'r'), { hostRoot: host });
    const targets = root.binds.map((b) => b.target);
    expect(targets).toEqual(['/usr', '/etc/passwd', '/etc/group', '/etc/ssl/certs', '/etc/ssl/openssl.cnf', '/etc/java-17-openjdk']);
    expect(root.binds.every((b) => b.readOnly === true && b.source === host + b.target)).toBe(true);
    for (const absent of ['/etc/shadow', '/etc/gshadow', '/etc/ssh', '/etc/ssl/private', '/etc/sudoers', '/etc/machine-id']) expect(targets).not.toContain(absent);
    // Symlinks are copied as they are; the container's own directories are empty and its.
    expect(readlinkSync(join(root.dir, 'bin'))).toBe('usr/bin');
    expect(readlinkSync(join(root.dir, 'etc', 'localtime'))).toBe('/usr/share/zoneinfo/Etc/UTC');
    expect(lstatSync(join(root.dir, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(lstatSync(join(root.dir, 'root')).mode & 0o777).toBe(0o700);
    expect(readlinkSync(join(root.dir, 'var', 'run'))).toBe('../run');
  });

  it('writes one fstab: the root on itself first, binds read-only, covers only hidden paths under what is bound, the task mounts last; spaces escaped', () => {
    const host = fakeHost();
    const root = prepareRoot(join(temp('slipway root '), 'r'), { hostRoot: host });
    const hiddenUnderUsr = join(host, 'usr', 'bin');
    const fstab = rootFstab({ ...root, binds: root.binds.map((b) => ({ ...b, target: b.source })) }, [hiddenUnderUsr, '/nowhere/at/all'], [{ source: '/host/ws', target: '/drone/src' }]).split('\n');
    const escaped = root.dir.replace(/ /g, '\\040');
    expect(fstab[0]).toBe(`${escaped} ${escaped} none bind 0 0`);
    expect(fstab).toContain(`${host.replace(/ /g, '\\040')}/usr ${escaped}${host.replace(/ /g, '\\040')}/usr none bind,ro 0 0`);
    expect(fstab.filter((l) => l.includes('slipway-hidden'))).toEqual([`slipway-hidden ${escaped}${hiddenUnderUsr.replace(/ /g, '\\040')} tmpfs size=64k,mode=0755 0 0`]);
    expect(fstab.filter(Boolean).at(-1)).toBe(`/host/ws ${escaped}/drone/src none bind,X-mount.mkdir 0 0`);
  });

  it('finds mount points under a directory (a task directory is never removed through one)', () => {
    expect(mountsUnder('/proc')).toContain('/proc');
    expect(mountsUnder(temp('slipway-no-mounts-'))).toEqual([]);
  });
});

describe("a container's PID 1, seen from the host", () => {
  it('is found as the child of the process the stand-in spawned, through /proc/<pid>/task/<pid>/children or by scanning /proc', async () => {
    const parent = spawn('/bin/sh', ['-c', 'sleep 30 & echo started; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise<void>((resolve) => parent.stdout!.once('data', () => resolve()));
      const listed = childPids(parent.pid!);
      expect(listed).toHaveLength(1);
      expect(childPids(parent.pid!, 'scan')).toEqual(listed);
      // The one child is the background job: its parent is the shell. (Its command line may still be the
      // shell's for a moment, between fork and exec, so the parent pid is what is checked.)
      const stat = readFileSync(`/proc/${listed[0]}/stat`, 'utf8');
      expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])).toBe(parent.pid);
    } finally {
      for (const pid of childPids(parent.pid!)) process.kill(pid, 'SIGKILL');
      parent.kill('SIGKILL');
    }
  });
});
