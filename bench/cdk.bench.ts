// The CDK stack's figures: synth time (in-process and through the CDK CLI) and the size and
// load time of each Lambda bundle, bundled exactly as the stack bundles them.
// Uses the project's own Lambdas (lambdas/<name>/handler.ts) where they exist, and says so
// where one is missing or does not bundle (then the test fixture stands in).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { App } from 'aws-cdk-lib';
import { LAMBDA_ENTRY_FILE, UNREACHED_CREDENTIAL_PROVIDERS, bundleSizes as lambdaBundleSizes, esbuildOptions } from '../lib/bundling.js';
import { LAMBDA_NAMES, type LambdaName, defaultEntries } from '../lib/functions.js';
import { PROJECT_ROOT, SlipwayStack } from '../lib/slipway.js';

const FIXTURES = join(PROJECT_ROOT, 'test', 'cdk', 'fixtures');
const GOAL: Record<LambdaName, number> = { webhook: 300 * 1024, planner: 1024 * 1024, autoscaler: 1024 * 1024, 'task-events': 1024 * 1024, api: 1024 * 1024, prices: 1024 * 1024 };
const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`;
const ms = (n: number) => `${n.toFixed(0)} ms`;

type Mode = 'stack' | 'sdk-all-bundled' | 'sdk-from-runtime';

let bundleCount = 0;

/**
 * One bundle written to a folder of `dir` (index.mjs and its chunks): `code` is what Lambda
 * loads at init (index.mjs and the chunks it imports statically), `index` the file to import.
 */
async function bundle(entry: string, mode: Mode, dir: string): Promise<{ code: Uint8Array; index: string; top: [string, number][] }> {
  const external =
    mode === 'stack' ? UNREACHED_CREDENTIAL_PROVIDERS : mode === 'sdk-from-runtime' ? ['@aws-sdk/*', '@smithy/*'] : [];

  // Exactly the stack's options; only the externals vary for the comparison columns.
  const outdir = join(dir, `b${++bundleCount}`);
  const result = await esbuild.build({ ...esbuildOptions(entry, outdir), external, metafile: true });
  const initial = lambdaBundleSizes(result.metafile).files.filter((f) => f.initial);
  const byPackage = new Map<string, number>();
  for (const file of initial) {
    for (const [path, input] of Object.entries(result.metafile.outputs[file.path]!.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? '(our code)';
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + input.bytesInOutput);
    }
  }
  return {
    code: Buffer.concat(initial.map((f) => readFileSync(f.path))),
    index: join(outdir, LAMBDA_ENTRY_FILE),
    top: [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 3),
  };
}

/** Module load time of a bundle's index.mjs in a fresh node (the Lambda init phase minus the runtime's own). */
function loadTime(file: string, runs = 5): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const res = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', `const t=performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now()-t)`],
      { encoding: 'utf8', env: { PATH: process.env.PATH, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' } },
    );
    if (res.status !== 0) return Number.NaN;
    times.push(Number(res.stdout.trim()));
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

async function bundleSizes(): Promise<Record<LambdaName, string>> {
  console.log('\nLambda bundles (ESM, minified; the stack bundles the SDK except unreached credential providers)');
  console.log('lambda        source     init bundle   gzip    goal    load    | SDK all bundled  SDK from runtime | largest parts');
  const real = defaultEntries(PROJECT_ROOT);
  const used: Record<string, string> = {};
  const dir = mkdtempSync(join(tmpdir(), 'slipway-bench-'));
  try {
    for (const name of LAMBDA_NAMES) {
      let source = 'project';
      let entry = real[name];
      let stack: Awaited<ReturnType<typeof bundle>> | undefined;
      if (existsSync(entry)) {
        try {
          stack = await bundle(entry, 'stack', dir);
        } catch (error) {
          console.log(`  ${name}: lambdas/${name}/handler.ts does not bundle yet (${(error as Error).message.split('\n')[1] ?? ''}); measuring the fixture`);
        }
      } else {
        console.log(`  ${name}: lambdas/${name}/handler.ts does not exist yet; measuring the fixture`);
      }
      if (!stack) {
        source = 'fixture';
        entry = join(FIXTURES, 'lambdas', name, 'handler.ts');
        stack = await bundle(entry, 'stack', dir);
      }
      used[name] = entry;
      const all = await bundle(entry, 'sdk-all-bundled', dir);
      const runtime = await bundle(entry, 'sdk-from-runtime', dir);
      const size = stack.code.byteLength;
      const verdict = size <= GOAL[name] ? 'ok' : 'OVER';
      console.log(
        `${name.padEnd(13)} ${source.padEnd(10)} ${kb(size).padStart(9)}  ${kb(gzipSync(stack.code).byteLength).padStart(7)} ${`${verdict} ${kb(GOAL[name])}`.padStart(11)} ${ms(loadTime(stack.index)).padStart(7)} | ` +
          `${kb(all.code.byteLength).padStart(9)} ${ms(loadTime(all.index)).padStart(6)} ${kb(runtime.code.byteLength).padStart(9)}        | ` +
          stack.top.map(([p, n]) => `${p} ${kb(n)}`).join(', '),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return used as Record<LambdaName, string>;
}

function synthInProcess(entries: Record<LambdaName, string>, validate: boolean): { construct: number; synth: number } {
  const outdir = mkdtempSync(join(tmpdir(), 'slipway-bench-synth-'));
  try {
    const t0 = performance.now();
    const app = new App({ outdir, builtinCloudFormationValidation: validate });
    new SlipwayStack(app, 'Slipway', { slipway: { entries, dashboardWhenMissing: 'placeholder' } });
    const t1 = performance.now();
    app.synth();
    return { construct: t1 - t0, synth: performance.now() - t1 };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function synthCli(): string {
  const outdir = mkdtempSync(join(tmpdir(), 'slipway-bench-cli-'));
  try {
    const t0 = performance.now();
    const res = spawnSync('npx', ['cdk', 'synth', '--no-notices', '--quiet', '-o', outdir], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', CDK_DISABLE_CLI_TELEMETRY: 'true' },
    });
    const elapsed = performance.now() - t0;
    if (res.status !== 0) return `failed (exit ${res.status}): ${(res.stderr.match(/ERROR.*|SLIPWAY-.*/) ?? ['see npx cdk synth'])[0]}`;
    return ms(elapsed);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

const entries = await bundleSizes();
console.log('\nSynth (the default stack; Lambda bundling is part of construction)');
const fast = synthInProcess(entries, false);
console.log(`  in-process, no CFN validation: construct+bundle ${ms(fast.construct)}, synth ${ms(fast.synth)}, total ${ms(fast.construct + fast.synth)}`);
const full = synthInProcess(entries, true);
console.log(`  in-process, CDK's CloudFormation validation on: construct+bundle ${ms(full.construct)}, synth ${ms(full.synth)}, total ${ms(full.construct + full.synth)}`);
console.log(`  CLI (npx cdk synth, the project's app): ${synthCli()}`);
