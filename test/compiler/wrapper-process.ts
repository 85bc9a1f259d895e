// A step wrapper run as a container's main process, for the tests that signal it: its own
// process group (detached), as PID 1 of a container leads one, so that what it passes on
// with `kill 0` stays inside, and whatever is left is killed with the group at the end.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { HANG_GUARD_MS } from '../support/wait.js';

export interface WrapperProcess {
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Resolves once stdout holds `text`, or after `timeoutMs`, a hang guard (the assertions that follow say what was missing). */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  /** The exit status, or a message when it is still running after `timeoutMs` (a hang guard). */
  exited(timeoutMs?: number): Promise<number | null | string>;
  signal(signal: NodeJS.Signals): void;
  /** Kills the whole group (children the wrapper left behind included). */
  cleanup(): void;
}

export function startWrapper(argv: string[], env: Record<string, string | undefined>): WrapperProcess {
  const child = spawn(argv[0]!, argv.slice(1), { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  // 'exit', not 'close': an orphaned child may still hold the pipes.
  const ended = new Promise<number | null>((resolve) => child.on('exit', (status) => resolve(status)));
  return {
    stdout: () => out,
    async waitForOutput(text, timeoutMs = HANG_GUARD_MS) {
      const until = Date.now() + timeoutMs;
      while (!out.includes(text) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    },
    // A wrapper that works reacts at once; one that ignores the signal runs on until its command
    // ends (the tests' `sleep 30`), which its exit status then shows.
    exited: (timeoutMs = HANG_GUARD_MS) => Promise.race([ended, new Promise<string>((r) => setTimeout(() => r(`still running after ${timeoutMs} ms`), timeoutMs))]),
    signal: (signal) => child.kill(signal),
    cleanup() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    },
  };
}

/** Every shell a generated script must run under that this machine has: sh, busybox's, bash in POSIX mode. */
export function wrapperShells(): string[][] {
  const shells: string[][] = [['/bin/sh']];
  const busybox = ['busybox', '/usr/bin/busybox', '/bin/busybox'].find((candidate) => spawnSync(candidate, ['sh', '-c', 'exit 0']).status === 0);
  if (busybox !== undefined) shells.push([busybox, 'sh']);
  if (existsSync('/bin/bash')) shells.push(['/bin/bash', '--posix', '--norc', '--noprofile']);
  return shells;
}
