// The control plane's decisions between the segments of a split pipeline (core/builds/segment-run.ts).
import { describe, expect, it } from 'vitest';
import { afterSegment, laterSegments, segmentRunKey, segmentTimeoutSeconds, type LaterSegments } from '../../core/builds/segment-run.js';
import type { StageOutcomeReason } from '../../core/builds/types.js';
import { runTaskTokens } from '../../core/scaling/job.js';

const none: LaterSegments = { runOnFailure: false, runAlways: false };
const onFailure: LaterSegments = { runOnFailure: true, runAlways: false };
const always: LaterSegments = { runOnFailure: false, runAlways: true };

describe('afterSegment: does the next segment run?', () => {
  it.each<[string, number, number, StageOutcomeReason, boolean, LaterSegments, string]>([
    ['steps passed: the next one', 1, 3, 'steps-passed', false, none, 'next 2'],
    ['the last segment: the stage ends', 3, 3, 'steps-passed', false, always, 'end'],
    ['a failure, a later step runs on failure', 1, 2, 'step-failed', false, onFailure, 'next 2'],
    ['a failure, a later step runs always', 1, 2, 'step-failed', false, always, 'next 2'],
    ['a failure, nothing later runs on failure', 1, 2, 'step-failed', false, none, 'end skip'],
    ["an early exit (78), a later step runs always (Drone's run policy always passes the skip)", 2, 3, 'steps-passed', true, always, 'next 3'],
    ['an early exit (78), later steps run on failure only: skipped', 1, 2, 'steps-passed', true, onFailure, 'end skip'],
    ['a timeout ends the stage whatever comes later', 1, 2, 'timed-out', false, always, 'end skip'],
    ['a cancel ends the stage', 1, 2, 'cancelled', false, always, 'end skip'],
    ["the agent's error (a snapshot it could not write) ends the stage", 1, 2, 'agent-error', false, always, 'end skip'],
    ['a lost task ends the stage', 1, 2, 'task-lost', false, always, 'end skip'],
  ])('%s', (_name, number, count, reason, earlyExit, later, expected) => {
    const got = afterSegment({ number, count, reason, earlyExit, later });
    expect(got.kind === 'next' ? `next ${got.number}` : `end${got.skipRest ? ' skip' : ''}`).toBe(expected);
  });
});

describe('segmentTimeoutSeconds: the pipeline timeout counts across segments', () => {
  it('gives the next segment what is left of the pipeline timeout', () => {
    expect(segmentTimeoutSeconds(60, 1_000_000, 1_000_000 + 25 * 60_000)).toBe(35 * 60);
    expect(segmentTimeoutSeconds(1, 0, 59_500)).toBeUndefined();
    expect(segmentTimeoutSeconds(1, 0, 58_999)).toBe(1);
    expect(segmentTimeoutSeconds(10, 0, 11 * 60_000)).toBeUndefined();
  });
  it('a clock behind the start (another machine) gives the whole timeout, never more', () => {
    expect(segmentTimeoutSeconds(10, 5_000, 0)).toBe(600);
  });
});

describe('segmentRunKey: one RunTask per segment, the same one on a retry', () => {
  it('keeps the tokens of the first segment (a stage that is not split) and gives every later segment its own', () => {
    const key = 'acme/app#42/2';
    expect(segmentRunKey(key, 1)).toBe(key);
    const tokens = [1, 2, 3].map((n) => runTaskTokens(segmentRunKey(key, n), 0).clientToken);
    expect(new Set(tokens).size).toBe(3);
    expect(runTaskTokens(segmentRunKey(key, 2), 0)).toEqual(runTaskTokens(segmentRunKey(key, 2), 0));
    for (const t of tokens) expect(t.length).toBeLessThanOrEqual(64);
    expect(() => segmentRunKey(key, 0)).toThrow(/positive integer/);
  });
});

describe('laterSegments: what the segments after one hold', () => {
  it('reads the kinds of their step containers', () => {
    const segs = [
      { number: 1, containers: [{ kind: 'always' as const }] },
      { number: 2, containers: [{ kind: 'plain' as const }] },
      { number: 3, containers: [{ kind: 'failure-only' as const }] },
    ];
    expect(laterSegments(segs, 1)).toEqual({ runOnFailure: true, runAlways: false });
    expect(laterSegments(segs, 2)).toEqual({ runOnFailure: true, runAlways: false });
    expect(laterSegments(segs, 3)).toEqual({ runOnFailure: false, runAlways: false });
    expect(laterSegments(segs, 0)).toEqual({ runOnFailure: true, runAlways: true });
  });
});
