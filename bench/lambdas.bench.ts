// Each Lambda's bundle as deployed (lib/bundling.ts: esbuild, minified, Node 20, ESM — the same for x86_64 and arm64)
// and its cold initialization: the time a fresh node process takes to import the bundled
// handler module (median of several fresh processes). "init" is what Lambda loads at init
// (index.mjs and the chunks it imports statically); "lazy" the chunks a handler imports
// with import() when a request needs them; "first use" the time to import those too.

import { build } from 'esbuild';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { bundleSizes, esbuildOptions, LAMBDA_ENTRY_FILE } from '../lib/bundling.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const names = ['webhook', 'planner', 'autoscaler', 'task-events', 'api'];
const out = mkdtempSync(join(tmpdir(), 'slipway-bundles-'));
const RUNS = 5;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** Median time of `code` in fresh node processes, or why it failed. */
function timed(probe: string, code: string): number | string {
  writeFileSync(probe, code);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(process.execPath, [probe], { encoding: 'utf8', env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1' } });
    if (r.status !== 0) return r.stderr.split('\n').find((l) => l.trim()) ?? String(r.status);
    times.push(Number(r.stdout));
  }
  return median(times);
}

const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
const ms = (t: number | string) => (typeof t === 'number' ? `${t.toFixed(1)} ms` : `failed: ${t}`);

try {
  console.log('lambda        init bundle  gzip    lazy chunks  cold init (import, median of 5)  + lazy chunks');
  for (const name of names) {
    const entry = join(root, 'lambdas', name, 'handler.ts');
    if (!existsSync(entry)) {
      console.log(`${name.padEnd(12)}  (no lambdas/${name}/handler.ts yet)`);
      continue;
    }
    const dir = join(out, name);
    let sizes;
    try {
      // Exactly the deployed options (lib/bundling.ts): the SDK bundled, the credential
      // providers Lambda never reaches left out.
      sizes = bundleSizes((await build({ ...esbuildOptions(entry, dir), metafile: true })).metafile!);
    } catch (err) {
      console.log(`${name.padEnd(12)}  bundle failed: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    const gz = sizes.files.filter((f) => f.initial).reduce((n, f) => n + gzipSync(readFileSync(f.path)).length, 0);
    const index = join(dir, LAMBDA_ENTRY_FILE);
    const init = timed(join(out, `probe-${name}.mjs`), `const t = performance.now(); await import(${JSON.stringify(index)}); process.stdout.write(String(performance.now() - t));`);
    const lazyFiles = sizes.files.filter((f) => !f.initial).map((f) => f.path);
    const all = lazyFiles.length
      ? timed(
          join(out, `probe-all-${name}.mjs`),
          `const t = performance.now(); await import(${JSON.stringify(index)}); await Promise.all(${JSON.stringify(lazyFiles)}.map((f) => import(f))); process.stdout.write(String(performance.now() - t));`,
        )
      : undefined;
    console.log(
      `${name.padEnd(12)}  ${kib(sizes.initial).padStart(10)} ${kib(gz).padStart(8)}  ${(sizes.lazy ? kib(sizes.lazy) : '—').padStart(11)}  ${ms(init).padStart(10)}${' '.repeat(23)}${all === undefined ? '' : ms(all)}`,
    );
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
