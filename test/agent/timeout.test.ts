import { afterEach, describe, expect, it, vi } from 'vitest';

import { StopSwitch } from '../../task-runner/signals.js';
import { MAX_TIMER_MS, armDeadline, nextTimerDelay } from '../../task-runner/timeout.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('pipeline deadline', () => {
  it('arms no delay beyond what setTimeout takes', () => {
    expect(MAX_TIMER_MS).toBe(2_147_483_647);
    expect(nextTimerDelay(5_000)).toBe(5_000);
    expect(nextTimerDelay(40_000 * 60_000)).toBe(MAX_TIMER_MS);
    expect(nextTimerDelay(-3)).toBe(0);
  });

  it('a timeout of 40000 minutes (over the 2^31 - 1 ms limit) fires at its deadline, not at once', () => {
    vi.useFakeTimers({ now: 0 });
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const stop = new StopSwitch();
      const lines: string[] = [];
      const timeoutMs = 40_000 * 60_000;
      armDeadline(stop, timeoutMs, (line) => lines.push(line), '40000 minutes');
      vi.advanceTimersByTime(1_000);
      expect(stop.reason).toBeUndefined();
      vi.advanceTimersByTime(MAX_TIMER_MS); // past the first timer: re-armed for the rest
      expect(stop.reason).toBeUndefined();
      vi.advanceTimersByTime(timeoutMs - MAX_TIMER_MS - 1_002);
      expect(stop.reason).toBeUndefined();
      vi.advanceTimersByTime(2);
      expect(stop.reason).toEqual({ kind: 'timed-out' });
      expect(lines).toEqual(['pipeline timeout of 40000 minutes reached: stopping']);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  });

  it('disarming cancels a chained deadline', () => {
    vi.useFakeTimers({ now: 0 });
    const stop = new StopSwitch();
    const disarm = armDeadline(stop, 3 * MAX_TIMER_MS, () => undefined, 'long');
    vi.advanceTimersByTime(MAX_TIMER_MS + 10);
    disarm();
    vi.advanceTimersByTime(3 * MAX_TIMER_MS);
    expect(stop.reason).toBeUndefined();
  });
});
