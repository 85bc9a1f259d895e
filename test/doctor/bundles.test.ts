// The doctor's AWS clients (CloudFormation, IAM, Service Quotas) and its adapters are the
// CLI's: no Lambda bundle may carry them (lib/bundling.ts bundles what a handler imports).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { esbuildOptions } from '../../lib/bundling.js';
import { LAMBDA_NAMES, defaultEntries } from '../../lib/functions.js';
import { PROJECT_ROOT } from '../../lib/slipway.js';

const CLI_ONLY = /@aws-sdk\/client-(cloudformation|iam|service-quotas)\/|adapters\/doctor\/|cli\//;

describe('Lambda bundles leave the doctor to the CLI', () => {
  const out = mkdtempSync(join(tmpdir(), 'slipway-doctor-bundles-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  const entries = defaultEntries(PROJECT_ROOT);

  it.each(LAMBDA_NAMES)('%s', async (name) => {
    const result = await esbuild.build({ ...esbuildOptions(entries[name], join(out, `${name}.mjs`)), metafile: true });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.length).toBeGreaterThan(10);
    expect(inputs.filter((i) => CLI_ONLY.test(i))).toEqual([]);
    // The planner answers the doctor: its side (core/doctor's plain data, the planner's doctor.ts) is in it.
    if (name === 'planner') expect(inputs).toContain('lambdas/planner/doctor.ts');
  }, 60_000);
});
