// A first step's wrapper waits for the agent's setup record (core/pipeline/script.ts,
// setupWaitLines), looking every SETUP_POLL_SECONDS (0.2 s): its commands begin at most that
// long after the gate opens. A `sleep` that refuses a fraction (POSIX asks only for whole
// seconds) makes it sleep a whole second instead: never a loop without a pause.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SETUP_RECORD } from '../../core/pipeline/contract.js';
import { SETUP_POLL_SECONDS, stepScript } from '../../core/pipeline/script.js';
import { HANG_GUARD_MS } from '../support/wait.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'setup-wait-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs a first step's wrapper with a `sleep` of its own: it logs each argument, refuses
 * fractions when `fractions` is false, and writes the setup record at its `looks`-th call
 * (the agent's gate opening while the wrapper sleeps). Returns the arguments it was called with.
 */
function sleepsUntilSetup(fractions: boolean, looks: number): string[] {
  const bin = join(dir, 'bin');
  const state = join(dir, 'state');
  const setup = join(state, SETUP_RECORD.replace(/^\/slipway\//, ''));
  mkdirSync(bin, { recursive: true });
  mkdirSync(join(state, 'steps'), { recursive: true });
  mkdirSync(join(dir, 'ws'));
  const log = join(dir, 'sleeps');
  writeFileSync(log, '');
  writeFileSync(
    join(bin, 'sleep'),
    [
      '#!/bin/sh',
      `echo "$1" >> ${JSON.stringify(log)}`,
      fractions ? '' : 'case "$1" in *.*) exit 1 ;; esac',
      `if [ "$(wc -l < ${JSON.stringify(log)})" -ge ${looks} ]; then mkdir -p ${JSON.stringify(join(setup, '..'))}; echo 0 > ${JSON.stringify(setup)}; fi`,
    ].join('\n'),
  );
  chmodSync(join(bin, 'sleep'), 0o755);
  const script = stepScript({ container: 'test', steps: [{ name: 'test', commands: ['echo ran'] }], workdir: dir, hosts: [], secretEnv: [], afterSetup: true });
  const r = spawnSync('/bin/sh', ['-c', script], {
    env: { PATH: `${bin}:${process.env.PATH}`, SLIPWAY_STATE_DIR: state, SLIPWAY_WORKSPACE: join(dir, 'ws'), SLIPWAY_HOSTS_FILE: join(dir, 'hosts') },
    encoding: 'utf8',
    timeout: HANG_GUARD_MS,
  });
  expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toMatchObject({ stdout: expect.stringContaining("ran") });
  return readFileSync(log, 'utf8').trim().split('\n');
}

describe("a first step's wait for the agent's setup", () => {
  it(`looks every ${SETUP_POLL_SECONDS} s`, () => {
    expect(SETUP_POLL_SECONDS).toBeLessThan(1);
    expect(sleepsUntilSetup(true, 3)).toEqual([String(SETUP_POLL_SECONDS), String(SETUP_POLL_SECONDS), String(SETUP_POLL_SECONDS)]);
  });

  it('with a sleep that refuses fractions: a whole second after each refusal, no busy loop', () => {
    expect(sleepsUntilSetup(false, 4)).toEqual([String(SETUP_POLL_SECONDS), '1', String(SETUP_POLL_SECONDS), '1']);
  });
});
