// The planner reads the time through its deps' clock (PlannerDeps.now) only, so that tests and
// the bench that give it another clock see every time it records: deps.ts alone wires the
// wall clock in.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const DIR = new URL('../../lambdas/planner/', import.meta.url);

describe("the planner's clock", () => {
  it('no planner module but deps.ts reads the wall clock', () => {
    const readers = readdirSync(DIR)
      .filter((file) => file.endsWith('.ts') && file !== 'deps.ts')
      .flatMap((file) =>
        readFileSync(new URL(file, DIR), 'utf8')
          .split('\n')
          .flatMap((line, i) => (/\bDate\.now\b|new Date\(\s*\)|performance\.now\(/.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
      );
    expect(readers).toEqual([]);
  });
});
