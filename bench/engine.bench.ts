// The engine's cost: lint + compile (loadManifest + compileManifest) of each example
// pipeline, of one generated pipeline (9 steps, a service) and of a generated file of 50
// such pipelines. Prints, per file and per pipeline, the median and p95 wall time, the
// median CPU time, and the two phases (load = YAML + parse + lint, compile). Goal: under
// 1 ms median for a typical pipeline.
//
// Two things keep the figures honest on a shared machine:
//  - Rounds: every file is measured in every round, so a burst of load from elsewhere hits
//    all of them alike and the ratios below compare like with like.
//  - CPU time next to wall time: a call of ~50 ms is descheduled many times on a busy
//    machine while a sub-millisecond one mostly runs within one time slice, so wall-clock
//    medians make a large file look superlinear when it is not. The process's CPU time
//    does not count time spent waiting for a core.
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
const BUDGET_MS = Number(process.env.ENGINE_BENCH_MS ?? 10_000);

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

interface Case {
  name: string;
  text: string;
  pipelines: number;
  /** Calls per round: small files more often, so each gets enough samples. */
  perRound: number;
  wall: number[];
  cpu: number[];
  load: number[];
  compile: number[];
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

function once(c: Case): void {
  const w0 = performance.now();
  const c0 = process.cpuUsage();
  const manifest = loadManifest(c.name, c.text);
  const w1 = performance.now();
  if (!isValid(manifest)) throw new Error(`${c.name} is invalid`);
  const stages = compileManifest(manifest, ctx, options).stages.length;
  const w2 = performance.now();
  c.cpu.push(cpuMs(c0));
  if (stages !== c.pipelines) throw new Error(`${c.name}: ${stages} stages, expected ${c.pipelines}`);
  c.wall.push(w2 - w0);
  c.load.push(w1 - w0);
  c.compile.push(w2 - w1);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)]!;
const ms = (x: number, width = 9) => `${x.toFixed(3)}`.padStart(width);

const cases: Case[] = [];
const add = (name: string, text: string, perRound: number) => {
  const pipelines = compileManifest(loadManifest(name, text), ctx, options).stages.length;
  cases.push({ name, text, pipelines, perRound, wall: [], cpu: [], load: [], compile: [] });
};
for (const example of readdirSync(join(root, 'examples')).sort()) {
  add(`examples/${example}`, readFileSync(join(root, 'examples', example, '.drone.yml'), 'utf8'), 20);
}
add('generated 1 pipeline x 9 steps', generated(1, 9), 20);
add('generated 50 pipelines x 9 steps', generated(50, 9), 1);

for (const c of cases) for (let i = 0; i < 20; i++) once(c); // warm up
for (const c of cases) for (const list of [c.wall, c.cpu, c.load, c.compile]) list.length = 0;
const start = performance.now();
let rounds = 0;
while (performance.now() - start < BUDGET_MS || rounds < 20) {
  for (const c of cases) for (let i = 0; i < c.perRound; i++) once(c);
  rounds++;
}

console.log(`lint + compile (loadManifest + compileManifest), one build context; ${rounds} rounds, all files in every round`);
console.log(`${'file'.padEnd(34)} pls   runs |   wall ms: median      p95 | cpu median | load med  compile med | per pipeline: wall    cpu`);
for (const c of cases) {
  console.log(
    `${c.name.padEnd(34)} ${String(c.pipelines).padStart(3)} ${String(c.wall.length).padStart(6)} | ` +
      `${ms(median(c.wall), 16)} ${ms(p95(c.wall), 8)} | ${ms(median(c.cpu), 10)} | ${ms(median(c.load), 8)} ${ms(median(c.compile), 12)} | ` +
      `${ms(median(c.wall) / c.pipelines, 18)} ${ms(median(c.cpu) / c.pipelines, 6)}`,
  );
}

// Ratios within this run: does a file of 50 pipelines cost 50 single pipelines?
const big = cases.find((c) => c.pipelines === 50)!;
const single = cases.find((c) => c.name.startsWith('generated 1 '))!;
const examples = cases.filter((c) => c.name.startsWith('examples/'));
const typical = (pick: (c: Case) => number[]) => median(examples.map((c) => median(pick(c))));
const ratio = (a: number, b: number) => (a / b).toFixed(2);
console.log(
  `per pipeline, 50-pipeline file / the same pipeline alone: wall ${ratio(median(big.wall) / 50, median(single.wall))}, cpu ${ratio(median(big.cpu) / 50, median(single.cpu))}` +
    ` (1.00 = linear in the file's size)`,
);
console.log(
  `per pipeline, 50-pipeline file / typical example (median of the examples): wall ${ratio(median(big.wall) / 50, typical((c) => c.wall))}, cpu ${ratio(median(big.cpu) / 50, typical((c) => c.cpu))}`,
);
console.log(
  `phases of the typical example: load ${ratio(typical((c) => c.load), typical((c) => c.wall))} of wall, compile ${ratio(typical((c) => c.compile), typical((c) => c.wall))}`,
);
