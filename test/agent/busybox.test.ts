// The shell masked plugin steps run under: the agent copies a busybox into the state
// volume before it reports ready, and a plan that needs it fails when it cannot.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { AGENT_EXIT } from '../../core/pipeline/contract.js';
import { installBusybox } from '../../task-runner/busybox.js';
import { plan, startAgent, tempDirsPerTest } from './run-agent.js';
import { skipWithout } from '../support/required-tool.js';

const BUSYBOX = ['/usr/bin/busybox', '/bin/busybox'].find((path) => existsSync(path));
const dirs = tempDirsPerTest();

describe.skipIf(skipWithout('busybox', BUSYBOX ? undefined : 'no busybox at /usr/bin/busybox or /bin/busybox'))('busybox for the secret masks', () => {
  it('installs busybox at <state>/bin/busybox, executable by every user, and it runs sh', async () => {
    const d = dirs();
    const result = await installBusybox(join(d.stateDir, 'agent'), { SLIPWAY_BUSYBOX: BUSYBOX });
    expect(result).toEqual({ ok: true, source: BUSYBOX, target: join(d.stateDir, 'agent', 'bin', 'busybox') });
    const target = join(d.stateDir, 'agent', 'bin', 'busybox');
    expect(statSync(target).mode & 0o777).toBe(0o755);
    expect(spawnSync(target, ['sh', '-c', 'echo "$((6 * 7))"'], { encoding: 'utf8' }).stdout).toBe('42\n');
  });

  it('names the missing file when there is no busybox to install', async () => {
    const d = dirs();
    const result = await installBusybox(join(d.stateDir, 'agent'), { SLIPWAY_BUSYBOX: join(d.root, 'nope') });
    expect(result).toEqual({ ok: false, message: `agent: cannot install busybox for the secret masks: SLIPWAY_BUSYBOX=${join(d.root, 'nope')} is not an executable file` });
  });

  it('the agent installs it before it reports ready when the plan asks, and only then', async () => {
    const d = dirs();
    const run = await startAgent({ plan: plan({ installBusybox: true }), stateDir: d.stateDir, workspace: d.workspace, env: { SLIPWAY_BUSYBOX: BUSYBOX } }).done;
    expect(run.code).toBe(AGENT_EXIT.success);
    expect(existsSync(join(d.stateDir, 'agent', 'bin', 'busybox'))).toBe(true);
    expect(readFileSync(join(d.stateDir, 'agent', 'ready'), 'utf8')).not.toBe('');
    const plain = dirs();
    expect((await startAgent({ plan: plan(), stateDir: plain.stateDir, workspace: plain.workspace }).done).code).toBe(AGENT_EXIT.success);
    expect(existsSync(join(plain.stateDir, 'agent', 'bin'))).toBe(false);
  });

  it('a plan that needs it and cannot have it ends the stage with an error, before any step is released', async () => {
    const d = dirs();
    const run = await startAgent({ plan: plan({ installBusybox: true }), stateDir: d.stateDir, workspace: d.workspace, env: { SLIPWAY_BUSYBOX: join(d.root, 'nope') } }).done;
    expect(run.code).toBe(AGENT_EXIT.internalError);
    expect(run.result).toMatchObject({ outcome: 'error', message: expect.stringContaining('cannot install busybox for the secret masks') });
    expect(existsSync(join(d.stateDir, 'agent', 'ready'))).toBe(false);
  });
});
