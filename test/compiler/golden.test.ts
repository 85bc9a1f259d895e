// Golden tests: each test/fixtures/compile/NAME.yml compiles (for the context in its
// `# context:` header line, else a push to main) to exactly NAME.json beside it.
// `UPDATE_GOLDEN=1 npx vitest run test/compiler` rewrites the expected files; review the diff.
// Files under fail/ must be rejected with exactly the text of NAME.error beside them.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileManifest } from '../../core/pipeline/compile.js';
import { formatDiagnostic } from '../../core/pipeline/format.js';
import { isValid, loadManifest } from '../../core/pipeline/load.js';
import { compileFixture, fixtureContext as compileFixtureContext, fixtureOptions } from './support.js';

const dir = fileURLToPath(new URL('../fixtures/compile/', import.meta.url));
const update = process.env.UPDATE_GOLDEN === '1';
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.yml')).sort();
const failures = readdirSync(join(dir, 'fail')).filter((f) => f.endsWith('.yml')).sort();

describe('golden compile output', () => {
  it('has at least 25 fixtures', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(25);
  });

  for (const name of fixtures) {
    it(name, () => {
      const text = readFileSync(join(dir, name), 'utf8');
      const actual = `${JSON.stringify(compileFixture(name, text), null, 2)}\n`;
      const expectedFile = join(dir, name.replace(/\.yml$/, '.json'));
      if (update) writeFileSync(expectedFile, actual);
      // A missing expected file is a failure, not a pass against itself.
      expect(existsSync(expectedFile), `${expectedFile} is missing: run with UPDATE_GOLDEN=1 and review it`).toBe(true);
      expect(actual).toBe(readFileSync(expectedFile, 'utf8'));
    });
  }
});

describe('fixtures that must fail', () => {
  for (const name of failures) {
    it(name, () => {
      const text = readFileSync(join(dir, 'fail', name), 'utf8');
      const manifest = loadManifest(name, text);
      let actual: string;
      if (!isValid(manifest)) {
        actual = manifest.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n');
      } else {
        const { context } = compileFixtureContext(text);
        const { errors } = compileManifest(manifest, context, fixtureOptions(text));
        if (errors.length === 0) throw new Error(`${name} compiled but must fail`);
        actual = errors.flatMap((e) => e.diagnostics).map(formatDiagnostic).join('\n');
      }
      const expectedFile = join(dir, 'fail', name.replace(/\.yml$/, '.error'));
      if (update) writeFileSync(expectedFile, `${actual}\n`);
      expect(existsSync(expectedFile), `${expectedFile} is missing: run with UPDATE_GOLDEN=1 and review it`).toBe(true);
      expect(`${actual}\n`).toBe(readFileSync(expectedFile, 'utf8'));
    });
  }
});

