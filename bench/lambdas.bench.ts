// Each Lambda's bundle as deployed (lib/bundling.ts: esbuild, minified, Node 20, ESM — the same for x86_64 and arm64)
// and its cold initialization: the time a fresh node process takes to import the bundled
// handler module (median of several fresh processes). Lambdas not written yet are listed.

import { build } from 'esbuild';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { esbuildOptions } from '../lib/bundling.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const names = ['webhook', 'planner', 'autoscaler', 'task-events', 'api'];
const out = mkdtempSync(join(tmpdir(), 'slipway-bundles-'));
const RUNS = 5;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

try {
  console.log('lambda        bundle      gzip    cold init (import, median of 5)');
  for (const name of names) {
    const entry = join(root, 'lambdas', name, 'handler.ts');
    if (!existsSync(entry)) {
      console.log(`${name.padEnd(12)}  (no lambdas/${name}/handler.ts yet)`);
      continue;
    }
    const file = join(out, `${name}.mjs`);
    try {
      // Exactly the deployed options (lib/bundling.ts): the SDK bundled, the credential
      // providers Lambda never reaches left out.
      await build(esbuildOptions(entry, file));
    } catch (err) {
      console.log(`${name.padEnd(12)}  bundle failed: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    const size = statSync(file).size;
    const gz = gzipSync(readFileSync(file)).length;
    const probe = join(out, `probe-${name}.mjs`);
    writeFileSync(probe, `const t = performance.now(); await import(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - t));`);
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = spawnSync(process.execPath, [probe], { encoding: 'utf8', env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1' } });
      if (r.status !== 0) {
        times.length = 0;
        console.log(`${name.padEnd(12)}  import failed: ${r.stderr.split('\n').find((l) => l.trim()) ?? r.status}`);
        break;
      }
      times.push(Number(r.stdout));
    }
    if (times.length) console.log(`${name.padEnd(12)}  ${(size / 1024).toFixed(0).padStart(6)} KiB ${(gz / 1024).toFixed(0).padStart(5)} KiB  ${median(times).toFixed(1)} ms`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
