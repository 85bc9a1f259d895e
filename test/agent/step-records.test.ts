import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { openRecordDirs, readStepRecords, replaceEmptyExitRecord, writeFinalRecord } from '../../task-runner/step-records.js';

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

/** `<dir>/<container>/<container><suffix>`: each container's records in its own volume (contract.ts). */
function record(dir: string, container: string, suffix: string, text: string): void {
  mkdirSync(join(dir, container), { recursive: true });
  writeFileSync(join(dir, container, `${container}${suffix}`), text);
}
const at = (dir: string, container: string, suffix: string): string => join(dir, container, `${container}${suffix}`);
/** Every file under the records directory, as `<container>/<file>`. */
const files = (dir: string): string[] => readdirSync(dir).flatMap((c) => readdirSync(join(dir, c)).map((f) => `${c}/${f}`)).sort();

describe('step records', () => {
  // Fargate's task volumes are root's, mode 0755, and a step runs as its image's USER: its
  // wrapper must still write its own records (test/control-plane/e2e-plugin-secrets.test.ts).
  it('opens each step container\'s record directory to whatever user the step runs as', async () => {
    const dir = stepsDir();
    mkdirSync(join(dir, 'build'), { mode: 0o755 });
    await openRecordDirs(dir, ['build', 'notify']);
    expect(['build', 'notify'].map((c) => (statSync(join(dir, c)).mode & 0o777).toString(8))).toEqual(['777', '777']);
  });

  it('reads exit codes, skip markers beside them, and markers without an exit record', async () => {
    const dir = stepsDir();
    record(dir, 'build', '.exit', '0\n');
    record(dir, 'notify', '.exit', '0');
    record(dir, 'notify', '.skipped', '');
    record(dir, 'slack', '.skipped', ''); // a plugin's gate container: the step never starts
    record(dir, 'half', '.exit', ''); // caught mid-write: read next time
    const records = await readStepRecords(dir);
    expect(Object.keys(records.exits).sort()).toEqual(['build', 'notify']);
    expect(records.exits['build']).toMatchObject({ exitCode: 0 });
    expect(records.exits['notify']).toMatchObject({ exitCode: 0, skipped: true });
    expect([...records.skipMarks]).toEqual(['slack']);
    expect([...records.recorded].sort()).toEqual(['build', 'half', 'notify', 'slack']);
    expect([...records.emptyExits]).toEqual(['half']);
  });

  it("reads a skip marker's reason (one printable line, bounded: a step writes its own directory) and the started markers", async () => {
    const dir = stepsDir();
    record(dir, 'after', '.exit', '0\n');
    record(dir, 'after', '.skipped', 'check exited 78: the rest of the pipeline is skipped\n');
    record(dir, 'loud', '.skipped', `\u001b[31mred\u0007${'x'.repeat(500)}\nsecond line`);
    record(dir, 'report', '.started', '');
    const records = await readStepRecords(dir);
    expect(records.skipReasons['after']).toBe('check exited 78: the rest of the pipeline is skipped');
    expect(records.skipReasons['loud']).toMatch(/^\[31mredx+…$/);
    expect(records.skipReasons['loud']!.length).toBe(200);
    expect(Object.keys(records.started)).toEqual(['report']);
    expect(Number.isNaN(Date.parse(records.started['report']!))).toBe(false);
    // A started marker is no final record: steps that wait for one keep waiting.
    expect(records.recorded.has('report')).toBe(false);
  });

  it('an empty exit record is replaced (once ECS says its container stopped), never a written one', async () => {
    const dir = stepsDir();
    record(dir, 'half', '.exit', '');
    record(dir, 'build', '.exit', '2\n');
    expect(await replaceEmptyExitRecord(dir, 'build', '0')).toBe(false);
    expect(await replaceEmptyExitRecord(dir, 'missing', '0')).toBe(false);
    expect(await replaceEmptyExitRecord(dir, 'half', '143')).toBe(true);
    expect(await replaceEmptyExitRecord(dir, 'half', '0')).toBe(false);
    expect(readFileSync(at(dir, 'half', '.exit'), 'utf8')).toBe('143\n');
    expect(readFileSync(at(dir, 'build', '.exit'), 'utf8')).toBe('2\n');
    expect(files(dir)).toEqual(['build/build.exit', 'half/half.exit']);
    expect((await readStepRecords(dir)).emptyExits.size).toBe(0);
  });

  it('the agent writes a final record once, atomically, and never over a wrapper\'s own', async () => {
    const dir = stepsDir();
    record(dir, 'build', '.exit', '2\n');
    expect(await writeFinalRecord(dir, 'test', 'unreachable', 'dependency build failed with exit code 2')).toBe(true);
    expect(await writeFinalRecord(dir, 'test', 'unreachable', 'something else')).toBe(false);
    expect(readFileSync(at(dir, 'test', '.unreachable'), 'utf8')).toBe('dependency build failed with exit code 2\n');
    expect(await writeFinalRecord(dir, 'publish', 'exit', '1')).toBe(true);
    expect(await writeFinalRecord(dir, 'build', 'exit', '0')).toBe(false);
    expect(readFileSync(at(dir, 'build', '.exit'), 'utf8')).toBe('2\n');
    // No temporary file is left behind, and the records read back.
    expect(files(dir)).toEqual(['build/build.exit', 'publish/publish.exit', 'test/test.unreachable']);
    const records = await readStepRecords(dir);
    expect(records.exits['publish']).toMatchObject({ exitCode: 1 });
    expect([...records.recorded].sort()).toEqual(['build', 'publish', 'test']);
  });

  it('a record that vanishes between the listing and the read is not an error', async () => {
    const dir = stepsDir();
    record(dir, 'build', '.exit', '1\n');
    mkdirSync(join(dir, 'ghost'));
    symlinkSync(join(dir, 'gone'), at(dir, 'ghost', '.exit'));
    const records = await readStepRecords(dir);
    expect(records.exits).toEqual({ build: expect.objectContaining({ exitCode: 1 }) });
  });

  it("reads a container's records from its own directory only: a record one step writes for another is not read", async () => {
    const dir = stepsDir();
    record(dir, 'test', '.exit', '1\n');
    // Written by step `lint` in its own volume, naming `test`, and a stray file beside the volumes.
    writeFileSync(join(dir, 'test.exit'), '0\n');
    mkdirSync(join(dir, 'lint'));
    writeFileSync(join(dir, 'lint', 'test.exit'), '0\n');
    writeFileSync(join(dir, 'lint', 'deploy.skipped'), '');
    const records = await readStepRecords(dir);
    expect(records.exits).toEqual({ test: expect.objectContaining({ exitCode: 1 }) });
    expect([...records.recorded]).toEqual(['test']);
    expect(records.skipMarks.size).toBe(0);
  });

  it('no directory yet: nothing recorded', async () => {
    expect(await readStepRecords(join(stepsDir(), 'missing'))).toEqual({ exits: {}, skipMarks: new Set(), recorded: new Set(), emptyExits: new Set(), skipReasons: {}, started: {} });
  });
});
