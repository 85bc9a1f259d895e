// What the secret mask costs a step's output: the same program, printing N lines of which
// one in ten holds a secret, run under each wrapper with and without secrets to mask —
// the step wrapper under the machine's sh (dash here) and busybox sh, and the plugin
// wrapper under busybox sh (the shell the agent installs) — with the mask's two paths:
// awk under the busybox the agent puts in the state volume (on ECS), and the portable
// shell loop (without it). Prints lines per second and the masked/unmasked ratio, each
// measured in the same run (median of the rounds).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pluginScript, stepScript } from '../core/pipeline/script.js';

const LINES = Number(process.env.MASK_BENCH_LINES ?? 20_000);
const ROUNDS = Number(process.env.MASK_BENCH_ROUNDS ?? 5);
const BUSYBOX = ['/usr/bin/busybox', '/bin/busybox'].find((path) => spawnSync(path, ['true']).status === 0);

const dir = mkdtempSync(join(tmpdir(), 'slipway-mask-bench-'));
// Two state directories: one with the agent's busybox (the awk path), one without (the loop).
const withBusybox = join(dir, 'state-busybox');
const withoutBusybox = join(dir, 'state-plain');
mkdirSync(join(withBusybox, 'bin'), { recursive: true });
mkdirSync(withoutBusybox);
if (BUSYBOX) symlinkSync(BUSYBOX, join(withBusybox, 'bin', 'busybox'));
const program = join(dir, 'print');
// awk, not a shell loop: the producer must not be what is measured.
writeFileSync(program, `#!/bin/sh\nawk -v n=${LINES} -v s="$TOKEN" 'BEGIN { for (i = 1; i <= n; i++) if (i % 10 == 0) print "line " i " token=" s " end"; else print "line " i " of the build output, nothing secret here" }'\n`);
chmodSync(program, 0o755);

interface Case {
  name: string;
  argv: (masked: boolean) => string[];
}

const stepArgv = (shell: string[]) => (masked: boolean) => [
  ...shell,
  '-c',
  stepScript({ container: 'bench', workdir: dir, hosts: [], secretEnv: masked ? ['TOKEN'] : [], steps: [{ name: 'bench', commands: [program] }] }),
];
const cases: Case[] = [{ name: 'step wrapper, /bin/sh', argv: stepArgv(['/bin/sh']) }];
if (BUSYBOX) {
  cases.push({ name: 'step wrapper, busybox sh', argv: stepArgv([BUSYBOX, 'sh']) });
  cases.push({
    name: 'plugin wrapper, busybox sh',
    argv: (masked) => [BUSYBOX, 'sh', '-c', pluginScript({ container: 'bench', name: 'bench', hosts: [], secretEnv: masked ? ['TOKEN'] : [] }), 'bench', program],
  });
}

function runOnce(argv: string[], stateDir: string): number {
  const started = performance.now();
  const result = spawnSync(argv[0]!, argv.slice(1), {
    env: { PATH: process.env.PATH, TOKEN: 's3cr3t-t0ken-value', SLIPWAY_STATE_DIR: stateDir, SLIPWAY_WORKSPACE: dir },
    maxBuffer: 1 << 30,
    encoding: 'utf8',
  });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`bench: ${argv[0]} exited ${result.status}: ${result.stderr}`);
  const lines = result.stdout.split('\n').length - 1;
  if (lines < LINES) throw new Error(`bench: expected ${LINES} lines, got ${lines}`);
  if (result.stdout.includes('s3cr3t-t0ken-value') && argv.join(' ').includes('slipway_mask()')) throw new Error('bench: a masked run printed the secret');
  return elapsed;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`secret mask: ${LINES} output lines (1 in 10 holds the secret), median of ${ROUNDS} rounds`);
console.log('wrapper                      mask           unmasked lines/s   masked lines/s   masked/unmasked time');
try {
  const paths = [
    { name: 'shell loop', state: withoutBusybox },
    ...(BUSYBOX ? [{ name: 'busybox awk', state: withBusybox }] : []),
  ];
  const times = new Map<string, { plain: number[]; masked: number[] }>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      for (const path of paths) {
        const key = `${c.name.padEnd(29)}${path.name.padEnd(15)}`;
        const t = times.get(key) ?? { plain: [], masked: [] };
        t.plain.push(runOnce(c.argv(false), path.state));
        t.masked.push(runOnce(c.argv(true), path.state));
        times.set(key, t);
      }
    }
  }
  for (const [key, t] of times) {
    const plain = median(t.plain);
    const masked = median(t.masked);
    const rate = (ms: number) => `${Math.round((LINES / ms) * 1000).toLocaleString('en-US')}`.padStart(12);
    console.log(`${key}${rate(plain)}     ${rate(masked)}      ${(masked / plain).toFixed(1)}×`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
