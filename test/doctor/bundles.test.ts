// The doctor's AWS clients (CloudFormation, IAM, Service Quotas) and its adapters are the
// CLI's: no Lambda bundle may carry them (lib/bundling.ts bundles what a handler imports).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as esbuild from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleSizes, esbuildOptions } from '../../lib/bundling.js';
import { LAMBDA_NAMES, defaultEntries } from '../../lib/functions.js';
import { PROJECT_ROOT } from '../../lib/slipway.js';

const CLI_ONLY = /@aws-sdk\/client-(cloudformation|iam|service-quotas)\/|adapters\/doctor\/|cli\//;

describe('Lambda bundles leave the doctor to the CLI', () => {
  const out = mkdtempSync(join(tmpdir(), 'slipway-doctor-bundles-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  const entries = defaultEntries(PROJECT_ROOT);

  it.each(LAMBDA_NAMES)('%s', async (name) => {
    const result = await esbuild.build({ ...esbuildOptions(entries[name], join(out, name)), metafile: true });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.length).toBeGreaterThan(10);
    expect(inputs.filter((i) => CLI_ONLY.test(i))).toEqual([]);
    // The planner answers the doctor: its side (core/doctor's plain data, the planner's doctor.ts) is in it.
    if (name === 'planner') expect(inputs).toContain('lambdas/planner/doctor.ts');
  });
});

// The webhook answers the Git host: what Lambda loads at its init is kept small by leaving the
// SSM client (a webhook secret) and the SQS client (an accepted event) to chunks it imports on
// first use (lambdas/webhook/handler.ts). Bytes of a bundle are the same on every run of one
// lockfile, so the ceiling is stable; a static import of either client breaks it.
describe("the webhook's init bundle", () => {
  const out = mkdtempSync(join(tmpdir(), 'slipway-webhook-bundle-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('holds neither the SSM nor the SQS client, and stays under 300 KiB; they are in its lazy chunks', async () => {
    const result = await esbuild.build({ ...esbuildOptions(defaultEntries(PROJECT_ROOT).webhook, out), metafile: true });
    const sizes = bundleSizes(result.metafile);
    const inputsOf = (initial: boolean) => sizes.files.filter((f) => f.initial === initial).flatMap((f) => Object.keys(result.metafile.outputs[f.path]!.inputs));
    const clients = /@aws-sdk\/client-(ssm|sqs)\//;
    expect(inputsOf(true).filter((i) => clients.test(i))).toEqual([]);
    expect(new Set(inputsOf(false).flatMap((i) => clients.exec(i)?.[1] ?? []))).toEqual(new Set(['ssm', 'sqs']));
    expect(sizes.initial).toBeLessThan(300 * 1024);
    expect(sizes.files.find((f) => f.path.endsWith('/index.mjs'))?.initial).toBe(true);
    // Node (as Lambda's runtime) loads index.mjs and then every lazy chunk from the bundle's folder.
    const lazy = sizes.files.filter((f) => !f.initial).map((f) => resolve(f.path));
    const load = `await import(${JSON.stringify(join(out, 'index.mjs'))}); for (const f of ${JSON.stringify(lazy)}) await import(f); console.log('loaded', ${lazy.length});`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', load], { encoding: 'utf8', env: { PATH: process.env.PATH, AWS_REGION: 'eu-west-1' } });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe(`loaded ${lazy.length}`);
  });
});
