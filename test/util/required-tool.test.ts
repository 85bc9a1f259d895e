import { afterEach, describe, expect, it, vi } from 'vitest';

import { isCi, skipWithout } from '../support/required-tool.js';

describe('tests that need a system tool', () => {
  const saved = process.env.CI;
  afterEach(() => {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
    vi.restoreAllMocks();
  });

  it('run when the tool is present, in CI or not', () => {
    process.env.CI = 'true';
    expect(skipWithout('busybox', undefined)).toBe(false);
    delete process.env.CI;
    expect(skipWithout('busybox', undefined)).toBe(false);
  });

  it('skip with a warning on a developer machine without the tool', () => {
    delete process.env.CI;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(skipWithout('Chromium', 'no chromium on PATH')).toBe(true);
    expect(warn).toHaveBeenCalledWith('tests that need Chromium are skipped: no chromium on PATH');
  });

  it('fail under CI=true, where scripts/setup.sh installs every tool', () => {
    process.env.CI = 'true';
    expect(() => skipWithout('busybox', 'not installed')).toThrow(
      'busybox is required under CI=true but is unavailable: not installed; scripts/setup.sh should have installed it',
    );
  });

  it('reads CI the way CI providers set it', () => {
    expect(isCi({ CI: 'true' })).toBe(true);
    expect(isCi({ CI: '1' })).toBe(true);
    expect(isCi({ CI: 'TRUE' })).toBe(true);
    expect(isCi({ CI: 'false' })).toBe(false);
    expect(isCi({})).toBe(false);
  });
});
