// The live lines of `slipway run` and the demo (cli/progress.ts) come in the order the build did
// things, each once, none lost, whatever the reads it is given: a read may see a step both start
// and end, several stages move at once, or come from a replica behind the read before it.

import { describe, expect, it } from 'vitest';
import { progressPrinter } from '../../cli/progress.js';
import type { BuildDetail, StepRecord, StepStatus } from '../../core/builds/types.js';

const T = 1_796_191_155_000;
type StepState = { status: StepStatus; startedAt?: number; finishedAt?: number; reason?: string };

function step(stageNumber: number, number: number, name: string, state: StepState, extra: Partial<StepRecord> = {}): StepRecord {
  return { buildId: 'demo/app#1', stageNumber, number, name, container: name, detached: false, kind: name === 'clone' ? 'clone' : 'step', ...state, ...extra };
}

function build(stages: { name: string; steps: StepRecord[] }[]): BuildDetail {
  return {
    id: 'demo/app#1', repo: 'demo/app', number: 1, status: 'running', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: 'c'.repeat(40),
    message: '', author: '', link: '', deliveryId: 'd', fork: false, createdAt: T,
    stages: stages.map((s, i) => ({ buildId: 'demo/app#1', repo: 'demo/app', buildNumber: 1, number: i + 1, name: s.name, status: 'running', dependsOn: [], attempts: 1, steps: s.steps })),
  };
}

function printed(reads: BuildDetail[]): string[] {
  const lines: string[] = [];
  const print = progressPrinter((l) => lines.push(l.replace(/ in [\d.]+s/, '')));
  for (const read of reads) print(read);
  return lines;
}

const pending: StepState = { status: 'pending' };
const running = (s: number): StepState => ({ status: 'running', startedAt: T + s * 1000 });
const passed = (s: number, e: number): StepState => ({ status: 'success', startedAt: T + s * 1000, finishedAt: T + e * 1000 });

describe('progress lines', () => {
  it('a step that started and ended between two reads: its start, then its end, never its end alone', () => {
    const lines = printed([
      build([{ name: 'test', steps: [step(1, 1, 'clone', passed(0, 1)), step(1, 2, 'one', running(1)), step(1, 3, 'two', pending)] }]),
      build([{ name: 'test', steps: [step(1, 1, 'clone', passed(0, 1)), step(1, 2, 'one', passed(1, 3)), step(1, 3, 'two', passed(3, 4))] }]),
    ]);
    expect(lines).toEqual(['  … clone running', '  ✓ clone success', '  … one running', '  ✓ one success', '  … two running', '  ✓ two success']);
  });

  it('a read behind the one before (running after success) prints nothing, and nothing is printed twice', () => {
    const lines = printed([
      build([{ name: 'test', steps: [step(1, 1, 'clone', running(0))] }]),
      build([{ name: 'test', steps: [step(1, 1, 'clone', passed(0, 1))] }]),
      build([{ name: 'test', steps: [step(1, 1, 'clone', running(0))] }]),
      build([{ name: 'test', steps: [step(1, 1, 'clone', passed(0, 1))] }]),
    ]);
    expect(lines).toEqual(['  … clone running', '  ✓ clone success']);
  });

  it('steps of several stages seen moving in one read come in the order of their times, not of the pipeline', () => {
    const lines = printed([
      build([
        { name: 'backend', steps: [step(1, 1, 'build', passed(2, 9))] },
        { name: 'frontend', steps: [step(2, 1, 'lint', passed(1, 3)), step(2, 2, 'test', { status: 'failure', startedAt: T + 3000, finishedAt: T + 5000, reason: 'exit code 1' })] },
      ]),
    ]);
    expect(lines).toEqual([
      '  … frontend/lint running',
      '  … backend/build running',
      '  ✓ frontend/lint success',
      '  … frontend/test running',
      '  ✗ frontend/test failure — exit code 1',
      '  ✓ backend/build success',
    ]);
  });

  it('a step waiting in its wrapper for the setup runs once the clone is over, after the clone\'s line', () => {
    const waits = { afterSetup: true as const };
    const lines = printed([
      build([{ name: 'test', steps: [step(1, 1, 'clone', running(0)), step(1, 2, 'one', running(0), waits)] }]),
      build([{ name: 'test', steps: [step(1, 1, 'clone', passed(0, 2)), step(1, 2, 'one', running(0), waits)] }]),
      build([{ name: 'test', steps: [step(1, 1, 'clone', passed(0, 2)), step(1, 2, 'one', passed(0, 5), waits)] }]),
    ]);
    expect(lines).toEqual(['  … clone running', '  ✓ clone success', '  … one running', '  ✓ one success']);
  });

  it('a step seen ended while the clone still shows running (its end read late) waits for the clone\'s line', () => {
    const lines = printed([
      build([{ name: 'test', steps: [step(1, 1, 'clone', running(0)), step(1, 2, 'db', running(0), { kind: 'service' }), step(1, 3, 'plugin', passed(3, 4))] }]),
      build([{ name: 'test', steps: [step(1, 1, 'clone', passed(0, 2)), step(1, 2, 'db', running(0), { kind: 'service' }), step(1, 3, 'plugin', passed(3, 4))] }]),
    ]);
    expect(lines).toEqual(['  … clone running', '  … db (service) running', '  ✓ clone success', '  … plugin running', '  ✓ plugin success']);
  });

  it('a skipped step has no start line and no duration; it comes after the lines with times of its read', () => {
    const lines: string[] = [];
    progressPrinter((l) => lines.push(l))(
      build([{ name: 'test', steps: [step(1, 1, 'clone', passed(0, 1)), step(1, 2, 'deploy', { status: 'skipped', startedAt: T, finishedAt: T + 9000, reason: 'service not ready' })] }]),
    );
    expect(lines).toEqual(['  … clone running', '  ✓ clone success in 1.0s', '  - deploy skipped — service not ready']);
  });
});
