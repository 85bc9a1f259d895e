// What hostile `.drone.yml` files cost the planner: for each shape, the work units it
// spends (core/pipeline/work.ts, deterministic), the wall-clock time on this machine, the
// nanoseconds per unit (what calibrates DEFAULT_WORK_LIMIT), and how it ends (a result,
// a diagnostic, or over budget). Shapes: the brace-alternatives trigger that was
// exponential, the 100k-key map whose duplicate-key check was quadratic, a flow list
// of 400k items, 2,000 steps naming each other, 3,000 pipelines in a chain.
import { performance } from 'node:perf_hooks';
import { conditionInput, conditionsMatch } from '../core/pipeline/conditions.js';
import type { BuildContext } from '../core/pipeline/context.js';
import { globMatch } from '../core/pipeline/glob.js';
import { loadManifest } from '../core/pipeline/load.js';
import { DEFAULT_WORK_LIMIT, WorkLimitExceeded, WorkMeter, metered } from '../core/pipeline/work.js';

interface Row {
  shape: string;
  bytes: number;
  units: number;
  ms: number;
  outcome: string;
}

function measure(shape: string, bytes: number, fn: () => string): Row {
  const meter = new WorkMeter(Number.MAX_SAFE_INTEGER);
  const started = performance.now();
  let outcome: string;
  try {
    outcome = metered(meter, fn);
  } catch (error) {
    if (!(error instanceof WorkLimitExceeded)) throw error;
    outcome = 'over budget';
  }
  const ms = performance.now() - started;
  return { shape, bytes, units: meter.used, ms, outcome: meter.used > DEFAULT_WORK_LIMIT ? `${outcome} (over the default budget)` : outcome };
}

function loaded(text: string): string {
  const m = loadManifest('.drone.yml', text);
  const error = m.diagnostics.find((d) => d.severity === 'error');
  return error ? `${error.line}:${error.column} ${error.message.slice(0, 60)}…` : `${m.pipelines.length} pipeline(s)`;
}

const rows: Row[] = [];

for (const groups of [20, 40, 80]) {
  const pattern = `${'{a,a}'.repeat(groups)}b`;
  rows.push(measure(`glob {a,a}×${groups}b (2^${groups} if expanded)`, pattern.length, () => String(globMatch(pattern, 'a'.repeat(groups)))));
}
for (const groups of [25, 50, 100]) {
  const pattern = `${'*{a,*}'.repeat(groups)}b`;
  rows.push(measure(`glob *{a,*}×${groups}b`, pattern.length, () => String(globMatch(pattern, 'a'.repeat(2 * groups)))));
}

{
  const trigger = `kind: pipeline\nname: x\ntrigger:\n  branch: ["${'{a,a}'.repeat(40)}b"]\nsteps: [{name: a, image: alpine, commands: [x]}]\n`;
  rows.push(measure('230-byte brace trigger: load + trigger', trigger.length, () => {
    const m = loadManifest('.drone.yml', trigger);
    const ctx = { build: { event: 'push', action: '' }, commit: { branch: 'a'.repeat(40), ref: '' }, repo: { slug: 'o/r' }, system: { host: 'ci' } } as unknown as BuildContext;
    return `triggered: ${conditionsMatch(m.pipelines[0]!.trigger, conditionInput(ctx))}`;
  }));
}

for (const keys of [1_000, 5_000, 100_000]) {
  let text = 'kind: pipeline\nname: x\nsteps: [{name: a, image: alpine, commands: [x]}]\n';
  for (let i = 0; i < keys; i++) text += `${i.toString(36)}: 1\n`;
  rows.push(measure(`one map of ${keys} keys`, text.length, () => loaded(text)));
}

{
  const text = `kind: pipeline\nname: x\nsteps: [{name: a, image: alpine, commands: [${Array(400_000).fill('1').join(',')}]}]\n`;
  rows.push(measure('flow list of 400k items', text.length, () => loaded(text)));
}

{
  let text = 'kind: pipeline\nname: x\nsteps:\n';
  for (let i = 0; i < 2_000; i++) text += `- {name: s${i}, image: plugins/x, detach: true, settings: {a: "s${(i + 1) % 2_000}:1"}}\n`;
  rows.push(measure('2,000 detached plugin steps naming each other', text.length, () => loaded(text)));
}

{
  let text = '';
  for (let i = 0; i < 3_000; i++) text += `---\nkind: pipeline\nname: p${i}\n${i ? `depends_on: [p${i - 1}]\n` : ''}steps: [{name: a, image: alpine, commands: [x]}]\n`;
  rows.push(measure('3,000 pipelines in a depends_on chain', text.length, () => loaded(text)));
}

console.log(`default budget: ${DEFAULT_WORK_LIMIT} units per planner message`);
console.log(['shape'.padEnd(48), 'bytes'.padStart(9), 'units'.padStart(11), 'ms'.padStart(8), 'ns/unit'.padStart(8), '  outcome'].join(' '));
for (const r of rows) {
  const perUnit = r.units > 0 ? ((r.ms * 1e6) / r.units).toFixed(0) : '-';
  console.log([r.shape.padEnd(48), String(r.bytes).padStart(9), String(r.units).padStart(11), r.ms.toFixed(1).padStart(8), perUnit.padStart(8), `  ${r.outcome}`].join(' '));
}
