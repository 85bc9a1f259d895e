// A step container another step names in an ECS START stays up after its commands until that
// dependent is up (core/pipeline/script.ts, upMarkerLines and lingerLines): before
// aws/amazon-ecs-agent commit 51e94bfbe, START holds only while the upstream is RUNNING
// (agent/engine/dependencygraph/graph.go, containerOrderingDependenciesIsResolved), so a
// dependent still pulling when its upstream exits would wait for ever. Each case runs the real
// wrapper under every shell this machine has; waits are the wrapper's own polls (0.05 s here).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STEP_UNREACHABLE_SUFFIX, STEP_UP_SUFFIX } from '../../core/pipeline/contract.js';
import { stepScript } from '../../core/pipeline/script.js';
import { startWrapper, type WrapperProcess, wrapperShells } from './wrapper-process.js';
import { waitFor } from '../support/wait.js';

const SHELLS = wrapperShells();

const POLL_SECONDS = 0.05;
/** Looks of the wrapper's loop that a waiting wrapper must outlast to count as waiting. */
const LOOKS = 10;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-linger-'));
  mkdirSync(join(dir, 'ws'));
  mkdirSync(join(dir, 'state', 'agent'), { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const steps = (...path: string[]) => join(dir, 'state', 'steps', ...path);
const record = (container: string, suffix: string) => steps(container, `${container}${suffix}`);
const env = () => ({ PATH: process.env.PATH, SLIPWAY_STATE_DIR: join(dir, 'state'), SLIPWAY_WORKSPACE: join(dir, 'ws'), SLIPWAY_HOSTS_FILE: join(dir, 'hosts'), SLIPWAY_WAIT_SECONDS: String(POLL_SECONDS) });
const setupDone = () => writeFileSync(join(dir, 'state', 'agent', 'setup.exit'), '0\n');
const mark = (container: string, suffix: string) => {
  mkdirSync(steps(container), { recursive: true });
  writeFileSync(record(container, suffix), '');
};

/** `build`, which `test` and `e2e` name in a START, running `commands`. */
const upstream = (commands: string[]) => stepScript({ container: 'build', steps: [{ name: 'build', commands }], workdir: '/nowhere', hosts: [], secretEnv: [], afterSetup: true, skipAfterFailedSetup: true, startDependents: ['test', 'e2e'] });

/** Still running after LOOKS of its polls (a lower bound: a slow machine only waits longer). */
async function stillWaiting(wrapper: WrapperProcess): Promise<boolean> {
  return (await wrapper.exited(LOOKS * POLL_SECONDS * 1000)) === `still running after ${LOOKS * POLL_SECONDS * 1000} ms`;
}

for (const shell of SHELLS) {
  const run = (script: string) => startWrapper([...shell, '-c', script], env());

  describe(`under ${shell.join(' ')}`, () => {
    it('a dependent writes its .up marker first of all, before the setup record it waits for', async () => {
      const wrapper = run(stepScript({ container: 'test', steps: [{ name: 'test', commands: ['echo RAN'] }], workdir: '/nowhere', hosts: [], secretEnv: [], afterSetup: true, skipAfterFailedSetup: true, upMarker: true }));
      try {
        await waitFor('test.up', async () => existsSync(record('test', STEP_UP_SUFFIX)));
        expect(wrapper.stdout()).not.toContain('RAN');
        setupDone();
        expect(await wrapper.exited()).toBe(0);
        expect(wrapper.stdout()).toContain('RAN');
      } finally {
        wrapper.cleanup();
      }
    });

    it('a dependent that cannot write its marker yet (its record directory not yet opened to its user) tries again at each look, and does not die of it', async () => {
      // A directory where the marker goes: the write fails, as it does for a user the directory is not yet open to.
      mkdirSync(record('test', STEP_UP_SUFFIX), { recursive: true });
      const wrapper = run(stepScript({ container: 'test', steps: [{ name: 'test', commands: ['echo RAN'] }], workdir: '/nowhere', hosts: [], secretEnv: [], afterSetup: true, skipAfterFailedSetup: true, upMarker: true }));
      try {
        expect(await stillWaiting(wrapper)).toBe(true);
        rmSync(record('test', STEP_UP_SUFFIX), { recursive: true });
        await waitFor('test.up', async () => existsSync(record('test', STEP_UP_SUFFIX)) && !statSync(record('test', STEP_UP_SUFFIX)).isDirectory());
        setupDone();
        expect(await wrapper.exited()).toBe(0);
        expect(wrapper.stdout()).toContain('RAN');
      } finally {
        wrapper.cleanup();
      }
    });

    it('a marker write that failed in the very look that found the setup record is made once more after it (the agent opened the directory and wrote the record in between)', async () => {
      // The race, made certain: a `mkdir` first on PATH writes the setup record at the wrapper's
      // first marker write, whose `true >` then fails on a directory in the marker's place, and
      // clears that directory at its next call. Without the write after the wait, no marker.
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      mkdirSync(record('test', STEP_UP_SUFFIX), { recursive: true });
      const realMkdir = ['/bin/mkdir', '/usr/bin/mkdir'].find((p) => existsSync(p))!;
      writeFileSync(
        join(bin, 'mkdir'),
        [
          '#!/bin/sh',
          `n=$(cat "${join(dir, 'calls')}" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "${join(dir, 'calls')}"`,
          `if [ "$n" = 1 ]; then printf '0\\n' > "${join(dir, 'state', 'agent', 'setup.exit')}"; else rmdir "${record('test', STEP_UP_SUFFIX)}" 2>/dev/null; fi`,
          `exec ${realMkdir} "$@"`,
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
      const script = stepScript({ container: 'test', steps: [{ name: 'test', commands: ['echo RAN'] }], workdir: '/nowhere', hosts: [], secretEnv: [], afterSetup: true, skipAfterFailedSetup: true, upMarker: true });
      const wrapper = startWrapper([...shell, '-c', script], { ...env(), PATH: `${bin}:${process.env.PATH}` });
      try {
        expect(await wrapper.exited()).toBe(0);
        expect(wrapper.stdout()).toContain('RAN');
        expect(statSync(record('test', STEP_UP_SUFFIX)).isFile()).toBe(true);
      } finally {
        wrapper.cleanup();
      }
    });

    it('the upstream writes its exit record at its commands\' end, stays up until every dependent is up, then exits with the commands\' code', async () => {
      setupDone();
      const wrapper = run(upstream(['exit 3']));
      try {
        await waitFor('build.exit', async () => existsSync(record('build', '.exit')) && readFileSync(record('build', '.exit'), 'utf8') === '3\n');
        expect(await stillWaiting(wrapper)).toBe(true);
        mark('test', STEP_UP_SUFFIX);
        expect(await stillWaiting(wrapper)).toBe(true);
        mark('e2e', STEP_UP_SUFFIX);
        expect(await wrapper.exited()).toBe(3);
        expect(readFileSync(record('build', '.exit'), 'utf8')).toBe('3\n');
      } finally {
        wrapper.cleanup();
      }
    });

    it("the agent's .unreachable for a dependent that never started releases the upstream as its .up would", async () => {
      setupDone();
      mark('test', STEP_UP_SUFFIX);
      const wrapper = run(upstream(['true']));
      try {
        await waitFor('build.exit', async () => existsSync(record('build', '.exit')));
        expect(await stillWaiting(wrapper)).toBe(true);
        mark('e2e', STEP_UNREACHABLE_SUFFIX);
        expect(await wrapper.exited()).toBe(0);
      } finally {
        wrapper.cleanup();
      }
    });

    it('SIGTERM during the wait (the task stops) exits at once with the commands\' code, the record unchanged', async () => {
      setupDone();
      const wrapper = run(upstream(['true']));
      try {
        await waitFor('build.exit', async () => existsSync(record('build', '.exit')));
        wrapper.signal('SIGTERM');
        expect(await wrapper.exited()).toBe(0);
        expect(readFileSync(record('build', '.exit'), 'utf8')).toBe('0\n');
      } finally {
        wrapper.cleanup();
      }
    });

    it('SIGTERM during the commands stops the step with 143 and does not wait for the dependents', async () => {
      setupDone();
      const wrapper = run(upstream(['echo BEGUN', 'sleep 30']));
      try {
        await wrapper.waitForOutput('BEGUN');
        wrapper.signal('SIGTERM');
        expect(await wrapper.exited()).toBe(143);
        expect(readFileSync(record('build', '.exit'), 'utf8')).toBe('143\n');
      } finally {
        wrapper.cleanup();
      }
    });
  });
}
