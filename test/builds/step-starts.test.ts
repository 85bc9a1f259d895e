// A step that waits in its container runs from its commands' start, read from its agent's lines
// while the stage runs (core/builds/step-starts.ts; the agent writes them: task-runner/supervise.ts).

import { describe, expect, it } from 'vitest';
import { commandStartsFromAgentLog, withCommandStart } from '../../core/builds/step-starts.js';
import type { StepRecord } from '../../core/builds/types.js';

const line = (time: number, text: string) => ({ time, text });

describe('commandStartsFromAgentLog', () => {
  it("takes the time each `step … started` line names (the `.started` marker's), else the line's own; the first line of a container counts", () => {
    const starts = commandStartsFromAgentLog([
      line(1000, 'slipway-agent: clone: checked out abc'),
      line(9000, 'slipway-agent: step build started at 2030-01-01T00:00:07.250Z'),
      line(9500, 'slipway-agent: step server started at 2030-01-01T00:00:08.000Z (detached)'),
      line(9600, 'slipway-agent: step old started'),
      line(9700, 'slipway-agent: step old-detached started (detached)'),
      line(9800, 'slipway-agent: step build started at 2030-01-01T00:00:09.000Z'),
      line(9900, 'slipway-agent: step test exited with code 0'),
      line(9950, 'slipway-agent: step test started at not-a-time'),
      line(9990, 'step fake started at 2030-01-01T00:00:01.000Z'),
    ]);
    expect(Object.fromEntries(starts)).toEqual({
      build: Date.parse('2030-01-01T00:00:07.250Z'),
      server: Date.parse('2030-01-01T00:00:08.000Z'),
      old: 9600,
      'old-detached': 9700,
    });
  });
});

describe('withCommandStart', () => {
  const step = (extra: Partial<StepRecord>): StepRecord => ({ buildId: 'b', stageNumber: 1, number: 2, name: 'build', container: 'build', status: 'pending', detached: false, kind: 'step', afterSetup: true, ...extra });

  it('a pending step that waits in its container runs from its commands\' start; a finished one without a start gets it', () => {
    expect(withCommandStart(step({}), 7)).toMatchObject({ status: 'running', startedAt: 7 });
    expect(withCommandStart(step({ status: 'success', finishedAt: 9 }), 7)).toMatchObject({ status: 'success', startedAt: 7, finishedAt: 9 });
  });

  it('leaves alone a skipped step, one with a start, one whose container starts with its commands, and an unknown start', () => {
    for (const s of [step({ status: 'skipped' }), step({ status: 'running', startedAt: 5 }), step({ afterSetup: undefined }), step({ kind: 'service' })]) {
      expect(withCommandStart(s, 7)).toBe(s);
    }
    const pending = step({});
    expect(withCommandStart(pending, undefined)).toBe(pending);
  });
});
