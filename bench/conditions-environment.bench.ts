// Per-step costs of the pure helpers the planner, compiler and agent call on every build:
// condition evaluation, the DRONE_* environment, its shell export, plugin settings.
import { performance } from 'node:perf_hooks';
import { conditionInput, conditionsMatch } from '../core/pipeline/conditions.js';
import { buildEnvironment, shellExports } from '../core/pipeline/environment.js';
import { pluginEnvironment } from '../core/pipeline/plugin-settings.js';
import { helloWorldContext } from '../test/support/build-context.js';
import type { Condition, Conditions } from '../core/pipeline/types.js';

const none = (): Condition => ({ include: [], exclude: [] });
const conditions: Conditions = {
  action: none(),
  branch: { include: ['main', 'release/*'], exclude: ['release/old-*'] },
  cron: none(),
  event: { include: ['push', 'tag', 'pull_request'], exclude: [] },
  instance: none(),
  paths: { include: ['src/**', '**/*.go'], exclude: ['docs/**'] },
  ref: { include: ['refs/heads/*', 'refs/tags/v*'], exclude: [] },
  repo: { include: ['octocat/*'], exclude: [] },
  status: none(),
  target: none(),
};

const ctx = helloWorldContext({
  commit: {
    sha: '7fd1a60b01f91b314f59955a4e4d4e80d8edf11d',
    ref: 'refs/tags/v1.2.3-rc.1',
    message: "Release 'v1.2.3'\n\nWith $notes",
    link: 'https://github.com/octocat/hello-world/commit/7fd1a60',
  },
  build: { number: 42, event: 'tag', action: 'created' },
  changedFiles: Array.from({ length: 50 }, (_, i) => `pkg/module${i}/file${i}.go`),
});

const stage = {
  name: 'default',
  number: 1,
  kind: 'pipeline' as const,
  type: 'docker' as const,
  os: 'linux',
  arch: 'amd64',
  dependsOn: [],
  workspace: '/drone/src',
};

const settings = {
  repo: { value: 'octocat/hello-world' },
  tags: { value: ['latest', '1.2.3', '1.2'] },
  build_args: { value: { A: '1', B: 2 } },
  password: { fromSecret: 'docker_password' },
};

function median(fn: () => unknown, runs = 15, iterations = 2000): number {
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) fn();
    times.push(((performance.now() - start) / iterations) * 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const input = conditionInput(ctx);
const env = buildEnvironment(ctx, stage);
const figures: Array<[string, number]> = [
  ['conditionsMatch (8 fields, 50 changed files)', median(() => conditionsMatch(conditions, input))],
  ['buildEnvironment (tag with semver)', median(() => buildEnvironment(ctx, stage))],
  [`shellExports (${Object.keys(env).length} variables)`, median(() => shellExports(env))],
  ['pluginEnvironment (4 settings)', median(() => pluginEnvironment(settings))],
];
for (const [name, us] of figures) console.log(`${name.padEnd(48)} median ${us.toFixed(2)} µs`);
