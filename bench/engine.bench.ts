// The engine's cost: lint + compile (loadManifest + compileManifest) of each example
// pipeline and of a generated file of 50 pipelines × 9 steps. Prints median and p95 per
// file and per pipeline. Goal: under 1 ms median for a typical pipeline.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { cliContext } from '../cli/commands/compile.js';
import { compileManifest, type CompileOptions } from '../core/pipeline/compile.js';
import { isValid, loadManifest } from '../core/pipeline/load.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const options: CompileOptions = { logGroup: '/slipway/builds', region: 'eu-west-1', accountId: '123456789012' };
const ctx = cliContext({ repo: 'acme/app' });

function generated(pipelines: number, steps: number): string {
  const docs: string[] = [];
  for (let p = 0; p < pipelines; p++) {
    const lines = ['kind: pipeline', 'type: docker', `name: pipeline-${p}`, '', 'services:', '  - name: db', '    image: postgres:15', '', 'steps:'];
    for (let s = 0; s < steps; s++) {
      lines.push(`  - name: step-${s}`, `    image: node:${18 + Math.floor(s / 3)}`, '    environment:', `      STEP: "${s}"`, '    commands:', `      - npm run task-${s}`, '      - echo done');
      if (s === steps - 1) lines.push('    when:', '      status: [failure]');
    }
    if (p > 0) lines.push('depends_on:', `  - pipeline-${p - 1}`);
    docs.push(lines.join('\n'));
  }
  return docs.join('\n---\n');
}

function measure(name: string, text: string, budgetMs = 1500): void {
  const once = () => {
    const manifest = loadManifest(name, text);
    if (!isValid(manifest)) throw new Error(`${name} is invalid`);
    return compileManifest(manifest, ctx, options).stages.length;
  };
  const pipelines = once();
  for (let i = 0; i < 20; i++) once(); // warm up
  const times: number[] = [];
  const start = performance.now();
  while (performance.now() - start < budgetMs || times.length < 30) {
    const t0 = performance.now();
    once();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  const p95 = times[Math.floor(times.length * 0.95)]!;
  const fmt = (ms: number) => `${ms.toFixed(3)} ms`;
  console.log(
    `${name.padEnd(32)} pipelines ${String(pipelines).padStart(3)}  runs ${String(times.length).padStart(6)}  median ${fmt(median).padStart(11)}  p95 ${fmt(p95).padStart(11)}  per pipeline ${fmt(median / pipelines).padStart(10)}`,
  );
}

console.log('lint + compile (loadManifest + compileManifest), one build context');
for (const example of readdirSync(join(root, 'examples')).sort()) {
  const file = join(root, 'examples', example, '.drone.yml');
  measure(`examples/${example}`, readFileSync(file, 'utf8'));
}
measure('generated 50 pipelines x 9 steps', generated(50, 9), 4000);
