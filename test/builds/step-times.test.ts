// The times a step's record carries, written and shown (core/builds/step-times.ts): a skipped
// step has none, as Drone's (runner-go pipeline/state.go `skip` stamps Started and Stopped with
// one instant: no duration in its UI or API).

import { describe, expect, it } from 'vitest';
import { shownStep, stepTimes } from '../../core/builds/step-times.js';

describe('stepTimes', () => {
  it('a running step starts at the event, or when its commands started when that is known apart', () => {
    expect(stepTimes({}, { status: 'running' }, 5)).toEqual({ startedAt: 5 });
    expect(stepTimes({}, { status: 'running', startedAt: 3 }, 5)).toEqual({ startedAt: 3 });
  });

  it('a finished step ends at its end, and starts then too when it was never seen running', () => {
    expect(stepTimes({ startedAt: 2 }, { status: 'success' }, 5)).toEqual({ finishedAt: 5 });
    expect(stepTimes({}, { status: 'failure' }, 5, 7)).toEqual({ startedAt: 5, finishedAt: 7 });
    expect(stepTimes({}, { status: 'success', startedAt: 4 }, 5)).toEqual({ startedAt: 4, finishedAt: 5 });
  });

  it('a skipped step gets no times, whatever its container did', () => {
    expect(stepTimes({ startedAt: 2 }, { status: 'skipped' }, 5)).toEqual({});
    expect(stepTimes({}, { status: 'skipped', startedAt: 4 }, 5, 7)).toEqual({});
  });
});

describe('shownStep', () => {
  it('shows a skipped step recorded with its container\'s times without them; others as recorded', () => {
    const skipped = { name: 'use-cache', status: 'skipped' as const, startedAt: 1000, finishedAt: 35_000, reason: 'service not ready' };
    expect(shownStep(skipped)).toEqual({ name: 'use-cache', status: 'skipped', reason: 'service not ready' });
    const passed = { name: 'test', status: 'success' as const, startedAt: 1000, finishedAt: 2000 };
    expect(shownStep(passed)).toBe(passed);
  });
});
