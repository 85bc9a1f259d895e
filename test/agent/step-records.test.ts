import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { readStepRecords } from '../../task-runner/step-records.js';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function stepsDir(): string {
  const root = mkdtempSync(join(tmpdir(), 'slipway-records-test-'));
  roots.push(root);
  const dir = join(root, 'steps');
  mkdirSync(dir);
  return dir;
}

describe('step records', () => {
  it('reads exit codes, skip markers beside them, and markers without an exit record', async () => {
    const dir = stepsDir();
    writeFileSync(join(dir, 'build.exit'), '0\n');
    writeFileSync(join(dir, 'notify.exit'), '0');
    writeFileSync(join(dir, 'notify.skipped'), '');
    writeFileSync(join(dir, 'slack.skipped'), ''); // a plugin's gate container: the step never starts
    writeFileSync(join(dir, 'half.exit'), ''); // caught mid-write: read next time
    const records = await readStepRecords(dir);
    expect(Object.keys(records.exits).sort()).toEqual(['build', 'notify']);
    expect(records.exits['build']).toMatchObject({ exitCode: 0 });
    expect(records.exits['notify']).toMatchObject({ exitCode: 0, skipped: true });
    expect([...records.skipMarks]).toEqual(['slack']);
  });

  it('a record that vanishes between the listing and the read is not an error', async () => {
    const dir = stepsDir();
    writeFileSync(join(dir, 'build.exit'), '1\n');
    symlinkSync(join(dir, 'gone'), join(dir, 'ghost.exit'));
    const records = await readStepRecords(dir);
    expect(records.exits).toEqual({ build: expect.objectContaining({ exitCode: 1 }) });
  });

  it('no directory yet: nothing recorded', async () => {
    expect(await readStepRecords(join(stepsDir(), 'missing'))).toEqual({ exits: {}, skipMarks: new Set() });
  });
});
