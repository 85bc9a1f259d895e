// Installs contract.STATE_BUSYBOX, which every launched plugin step (masked or not) runs
// under and every secret mask runs its awk with: a static busybox from the agent's own image, copied into the
// state volume that every container mounts. Copied rather than shared by volumesFrom so a
// plugin image keeps its own root file system; static so it runs in any image, even one
// built FROM scratch.

import { access, chmod, copyFile, mkdir, rename } from 'node:fs/promises';
import { constants } from 'node:fs';
import { dirname, join } from 'node:path';

import { AGENT_ENV } from '../core/pipeline/contract.js';

/** Where the agent image's busybox is (alpine's busybox-static), then a host's (local runs). */
export const BUSYBOX_CANDIDATES = ['/bin/busybox.static', '/bin/busybox', '/usr/bin/busybox'];

export type InstallResult = { ok: true; source: string; target: string } | { ok: false; message: string };

/** Copies busybox to `<agentDir>/bin/busybox` (agentDir: statePaths().agent), executable by every user (a plugin may run as any). */
export async function installBusybox(agentDir: string, env: NodeJS.ProcessEnv): Promise<InstallResult> {
  const configured = env[AGENT_ENV.busybox];
  const candidates = configured ? [configured] : BUSYBOX_CANDIDATES;
  const source = await firstExecutable(candidates);
  if (source === undefined) {
    const where = configured ? `${AGENT_ENV.busybox}=${configured} is not an executable file` : `none of ${candidates.join(', ')} exists`;
    return { ok: false, message: `agent: cannot install busybox for the secret masks: ${where}` };
  }
  const target = join(agentDir, 'bin', 'busybox');
  // A temporary name, then rename: a step never sees a half-written binary.
  const temporary = `${target}.${process.pid}.tmp`;
  try {
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    await copyFile(source, temporary);
    await chmod(temporary, 0o755);
    await rename(temporary, target);
  } catch (error) {
    return { ok: false, message: `agent: cannot install ${source} at ${target}: ${(error as Error).message}` };
  }
  return { ok: true, source, target };
}

async function firstExecutable(paths: string[]): Promise<string | undefined> {
  for (const path of paths) {
    try {
      await access(path, constants.X_OK);
      return path;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EACCES' && code !== 'ENOTDIR') throw error;
    }
  }
  return undefined;
}
