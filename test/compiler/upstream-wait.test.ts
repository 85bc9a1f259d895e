// A plain step with commands starts with the task and waits in its wrapper for the steps it
// comes after (core/pipeline/script.ts, upstreamLines), reading their records with the rules
// ECS applies to containers (API_ContainerDependency: SUCCESS = exited 0, COMPLETE = exited,
// START = started; a container that never started meets none). Each case runs the real
// wrapper under every shell this machine has.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stepScript, type UpstreamEdge } from '../../core/pipeline/script.js';
import { startWrapper, wrapperShells } from './wrapper-process.js';
import { HANG_GUARD_MS } from '../support/wait.js';

const SHELLS = wrapperShells();

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-upstream-'));
  mkdirSync(join(dir, 'ws'));
  mkdirSync(join(dir, 'state', 'agent'), { recursive: true });
  writeFileSync(join(dir, 'state', 'agent', 'setup.exit'), '0\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Records of an upstream container, by suffix (`.exit`, `.skipped`, `.started`, `.unreachable`) and their text. */
type Records = Partial<Record<'exit' | 'skipped' | 'started' | 'unreachable', string>>;

function writeRecords(container: string, records: Records): void {
  mkdirSync(join(dir, 'state', 'steps', container), { recursive: true });
  for (const [suffix, text] of Object.entries(records)) writeFileSync(join(dir, 'state', 'steps', container, `${container}.${suffix}`), text);
}

const script = (upstream: UpstreamEdge[]) =>
  stepScript({ container: 'test', steps: [{ name: 'test', commands: ['echo RAN'] }], workdir: '/nowhere', hosts: [], secretEnv: [], afterSetup: true, skipAfterFailedSetup: true, upstream });

const env = () => ({ PATH: process.env.PATH, SLIPWAY_STATE_DIR: join(dir, 'state'), SLIPWAY_WORKSPACE: join(dir, 'ws'), SLIPWAY_HOSTS_FILE: join(dir, 'hosts'), SLIPWAY_WAIT_SECONDS: '0.05' });

function runNow(shell: string[], upstream: UpstreamEdge[]) {
  const [bin, ...args] = shell;
  const r = spawnSync(bin!, [...args, '-c', script(upstream)], { env: env(), encoding: 'utf8', timeout: HANG_GUARD_MS });
  return { status: r.status, stdout: r.stdout, skipped: existsSync(join(dir, 'state', 'steps', 'test', 'test.skipped')), started: existsSync(join(dir, 'state', 'steps', 'test', 'test.started')) };
}

// [what, edge condition and kind, the upstream's records, runs (true) or is skipped with this message]
const CASES: [string, Pick<UpstreamEdge, 'condition' | 'kind'>, Records, true | string][] = [
  ['SUCCESS: exited 0', { condition: 'SUCCESS', kind: 'wrapped' }, { exit: '0\n' }, true],
  ['SUCCESS: exited 0 after skipping itself (early exit, status gate): as ECS, its container succeeded', { condition: 'SUCCESS', kind: 'wrapped' }, { exit: '0\n', skipped: '' }, true],
  ['SUCCESS: failed', { condition: 'SUCCESS', kind: 'wrapped' }, { exit: '3\n' }, 'build exited 3'],
  ['SUCCESS: exited 78 (the early exit skips it, as ECS blocks it)', { condition: 'SUCCESS', kind: 'wrapped' }, { exit: '78\n' }, 'build exited 78'],
  ['SUCCESS: a user exit 79 is a failure', { condition: 'SUCCESS', kind: 'wrapped' }, { exit: '79\n' }, 'build exited 79'],
  ['SUCCESS: its wrapper skipped it (79 beside .skipped): it never ran', { condition: 'SUCCESS', kind: 'wrapped' }, { exit: '79\n', skipped: '' }, 'build did not run'],
  ['SUCCESS: the agent declared it unreachable', { condition: 'SUCCESS', kind: 'wrapped' }, { unreachable: 'dependency x failed\n' }, 'build did not run'],
  ['SUCCESS: a plugin its status gate skipped never started', { condition: 'SUCCESS', kind: 'plugin' }, { skipped: '' }, 'build was skipped'],
  ['COMPLETE: failed (failure: ignore)', { condition: 'COMPLETE', kind: 'wrapped' }, { exit: '1\n' }, true],
  ['COMPLETE: its wrapper skipped it: it never ran, which meets no condition', { condition: 'COMPLETE', kind: 'wrapped' }, { exit: '79\n', skipped: '' }, 'build did not run'],
  ['COMPLETE: unreachable', { condition: 'COMPLETE', kind: 'plugin' }, { unreachable: 'x\n' }, 'build did not run'],
  ['COMPLETE: a failure-only plugin its gate skipped has ended (ECS waited for the gate)', { condition: 'COMPLETE', kind: 'gated' }, { skipped: '' }, true],
  ['COMPLETE: a failure-only plugin whose gate could not run has ended too', { condition: 'COMPLETE', kind: 'gated' }, { unreachable: 'x\n' }, true],
  ['START: its commands started', { condition: 'START', kind: 'wrapped' }, { started: '' }, true],
  ['START: it ended', { condition: 'START', kind: 'wrapped' }, { exit: '0\n' }, true],
  ['START: its wrapper skipped it', { condition: 'START', kind: 'wrapped' }, { exit: '79\n', skipped: '' }, 'build did not run'],
];

for (const shell of SHELLS) {
  describe(`a plain step's wait for its upstream under ${shell.join(' ')}`, () => {
    for (const [what, edge, records, expected] of CASES) {
      it(`${what}: ${expected === true ? 'runs' : 'skipped'}`, () => {
        writeRecords('build', records);
        const r = runNow(shell, [{ container: 'build', ...edge }]);
        if (expected === true) {
          expect(r, r.stdout).toMatchObject({ status: 0, skipped: false, started: true });
          expect(r.stdout).toContain('\nRAN\n');
        } else {
          expect(r, r.stdout).toMatchObject({ status: 79, skipped: true, started: false });
          expect(r.stdout).toContain(`slipway: skipping test: ${expected}\n`);
          expect(r.stdout).not.toContain('RAN');
        }
      });
    }

    it('one edge that can no longer be met skips the step at once, while another still runs', () => {
      writeRecords('slow', {});
      writeRecords('build', { exit: '2\n' });
      const r = runNow(shell, [
        { container: 'slow', condition: 'SUCCESS', kind: 'wrapped' },
        { container: 'build', condition: 'SUCCESS', kind: 'wrapped' },
      ]);
      expect(r).toMatchObject({ status: 79, skipped: true });
      expect(r.stdout).toContain('slipway: skipping test: build exited 2');
    });

    it('waits while a record is missing, or its wrapper has written .skipped but not yet its exit code; runs once every one is met', async () => {
      writeRecords('build', { skipped: '' });
      const [bin, ...args] = shell;
      const wrapper = startWrapper([bin!, ...args, '-c', script([
        { container: 'build', condition: 'SUCCESS', kind: 'wrapped' },
        { container: 'lint', condition: 'COMPLETE', kind: 'plugin' },
      ])], env());
      try {
        await wrapper.waitForOutput('slipway: test waits for build, lint');
        // Still waiting after several looks: its poll sleeps 0.05 s; the agent-like writes below end it.
        writeRecords('build', { exit: '0\n' });
        expect(wrapper.stdout()).not.toContain('RAN');
        writeRecords('lint', { exit: '1\n' });
        expect(await wrapper.exited()).toBe(0);
        expect(wrapper.stdout()).toContain('RAN');
      } finally {
        wrapper.cleanup();
      }
    });
  });
}
