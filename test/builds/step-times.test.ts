// The times a step's record carries, written and shown (core/builds/step-times.ts): a skipped
// step has none, as Drone's (runner-go pipeline/state.go `skip` stamps Started and Stopped with
// one instant: no duration in its UI or API).

import { describe, expect, it } from 'vitest';
import { commandEndFixes, commandStartFixes, shownStep, startsAtCommands, stepTimes } from '../../core/builds/step-times.js';

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

  it("a step that waited in its container: its commands' start wins over a stored one, and an unknown start is left unwritten", () => {
    expect(stepTimes({ startedAt: 2 }, { status: 'success', startedAt: 4 }, 9)).toEqual({ startedAt: 4, finishedAt: 9 });
    expect(stepTimes({}, { status: 'success', startUnknown: true }, 9)).toEqual({ finishedAt: 9 });
    expect(stepTimes({ startedAt: 4 }, { status: 'failure', startUnknown: true }, 9)).toEqual({ finishedAt: 9 });
  });

  it("a step whose container stayed up after its commands ends at their end when it is known, not at the event", () => {
    expect(stepTimes({ startedAt: 2 }, { status: 'success', finishedAt: 4 }, 9)).toEqual({ finishedAt: 4 });
    expect(stepTimes({}, { status: 'success', startedAt: 3, finishedAt: 4 }, 9, 10)).toEqual({ startedAt: 3, finishedAt: 4 });
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

describe('startsAtCommands', () => {
  it('steps whose container waits before their commands: those that start with the task and those that run on a status with a wrapper', () => {
    expect(startsAtCommands({ kind: 'step', afterSetup: true })).toBe(true);
    expect(startsAtCommands({ kind: 'step', waitsInContainer: true })).toBe(true);
    expect(startsAtCommands({ kind: 'step' })).toBe(false);
    expect(startsAtCommands({ kind: 'service' })).toBe(false);
  });
});

describe('commandStartFixes', () => {
  const base = { kind: 'step' as const, afterSetup: true as const };
  const steps = [
    { ...base, number: 2, container: 'lint', status: 'success' as const, finishedAt: 30 },
    { ...base, number: 3, container: 'build', status: 'failure' as const, startedAt: 12, finishedAt: 30 },
    { ...base, number: 4, container: 'test', status: 'skipped' as const },
    { ...base, number: 5, container: 'deploy', status: 'success' as const, startedAt: 20, finishedAt: 30 },
    { kind: 'step' as const, number: 6, container: 'plugin', status: 'success' as const, startedAt: 1, finishedAt: 30 },
  ];
  it("gives finished steps that waited in their containers their commands' start from the agent's result; skipped ones, others and those changed anyway keep theirs", () => {
    const started = { lint: 10, build: 11, test: 12, deploy: 20, plugin: 25 };
    expect(commandStartFixes(steps, started, new Set())).toEqual([
      { number: 2, status: 'success', startedAt: 10 },
      { number: 3, status: 'failure', startedAt: 11 },
    ]);
    expect(commandStartFixes(steps, started, new Set([2, 3]))).toEqual([]);
    expect(commandStartFixes(steps, undefined, new Set())).toEqual([]);
    // A start after the step's end is not this run's: left alone.
    expect(commandStartFixes(steps, { lint: 31 }, new Set())).toEqual([]);
  });
});

describe('commandEndFixes', () => {
  const base = { kind: 'step' as const, afterSetup: true as const };
  const steps = [
    { ...base, number: 2, container: 'build', status: 'success' as const, startedAt: 10, finishedAt: 40 },
    { ...base, number: 3, container: 'lint', status: 'failure' as const, startedAt: 10, finishedAt: 12 },
    { ...base, number: 4, container: 'test', status: 'skipped' as const },
    { kind: 'step' as const, number: 5, container: 'plugin', status: 'success' as const, startedAt: 1, finishedAt: 30 },
  ];
  it("ends a finished step that waited in its container at its commands' end (the agent's result) where its container stayed up after them; others keep theirs", () => {
    const ended = { build: 14, lint: 12, test: 13, plugin: 20 };
    expect(commandEndFixes(steps, ended, new Set())).toEqual([{ number: 2, status: 'success', finishedAt: 14 }]);
    expect(commandEndFixes(steps, ended, new Set([2]))).toEqual([]);
    expect(commandEndFixes(steps, undefined, new Set())).toEqual([]);
    // An end before the step's start is not this run's: left alone.
    expect(commandEndFixes(steps, { build: 9 }, new Set())).toEqual([]);
  });
});
