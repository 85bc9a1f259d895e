// A stand-in killed outright (SIGKILL, OOM) cannot stop its tasks. Each container's own
// program dies with it (setpriv --pdeathsig), but what that program started would live on.
// The reaper is a small shell process holding the read end of a pipe from the stand-in:
// when the stand-in dies, the pipe closes and the reaper kills every process in the
// namespaces recorded as the stand-in's. Removing the namespaces themselves is left to the
// next stand-in's start (sweepOrphanedNetworks), which also covers a reaper that was killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { findBinary } from '../require-binary.js';
import { OWNER_DIR, processStamp } from './netns.js';

// $1 = owner records' directory, $2 = our owner stamp, $3 = ip. Blocks until EOF on stdin.
const REAP = `while read -r _; do :; done
for record in "$1"/slw-*; do
  [ -f "$record" ] && [ "$(cat "$record")" = "$2" ] || continue
  "$3" netns pids "\${record##*/}" | xargs -r kill -KILL
done`;

export interface Reaper {
  /** Lets the reaper go once the stand-in has cleaned up after itself. */
  release(): Promise<void>;
}

export function startReaper(): Reaper {
  const ip = findBinary('ip', ['/usr/sbin', '/sbin']) ?? 'ip';
  // detached: a Ctrl-C to the stand-in's process group must not take the reaper with it.
  const child: ChildProcess = spawn('/bin/sh', ['-c', REAP, 'slipway-reaper', OWNER_DIR, processStamp(process.pid)!, ip], {
    detached: true,
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once('exit', () => resolve());
    child.once('error', (error) => {
      console.error(`local-ecs: the task reaper could not start: ${error.message}`);
      resolve();
    });
  });
  return {
    async release() {
      // Our namespaces are gone by now, so the reaper finds nothing of ours to kill.
      child.stdin?.end();
      await exited;
    },
  };
}
