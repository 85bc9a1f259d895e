import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../cli/commands/compile.js';
import type { CliIO } from '../../cli/io.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

async function compile(args: string[], cwd = root) {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`), cwd, env: {} };
  const code = await run(args, io);
  return { code, out, err };
}

describe('slipway compile', () => {
  for (const example of readdirSync(join(root, 'examples'))) {
    it(`compiles examples/${example}`, async () => {
      const r = await compile([`examples/${example}/.drone.yml`]);
      expect(r.code).toBe(0);
      const json = JSON.parse(r.out) as { stages: Record<string, unknown>[]; skipped: unknown[] };
      expect(json.stages.length).toBeGreaterThan(0);
      for (const s of json.stages) expect(Object.keys(s)).toEqual(['name', 'dependsOn', 'taskDefinition', 'runTask']);
    });
  }

  it('builds the context from flags', async () => {
    const r = await compile(['examples/redis/.drone.yml', '--event', 'pull_request', '--branch', 'develop', '--commit', 'c'.repeat(40), '--repo', 'team/cache', '--action', 'opened']);
    expect(r.code).toBe(0);
    const stage = JSON.parse(r.out).stages[0];
    const agent = stage.runTask.overrides.containerOverrides[0];
    const build = JSON.parse(agent.environment.find((e: { name: string }) => e.name === 'SLIPWAY_BUILD').value);
    expect(build).toMatchObject({ repo: { slug: 'team/cache' }, commit: { sha: 'c'.repeat(40) }, build: { event: 'pull_request', action: 'opened' }, pullRequest: { targetBranch: 'develop' } });
  });

  it('takes the repository name from the folder by default', async () => {
    const r = await compile(['examples/postgres/.drone.yml']);
    expect(r.out).toContain('"slipway:repo"');
    expect(JSON.parse(r.out).stages[0].runTask.tags).toContainEqual({ key: 'slipway:repo', value: 'local/postgres' });
  });

  it('lists pipelines left out by their trigger', async () => {
    const r = await compile(['examples/postgres/.drone.yml', '--event', 'cron']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ stages: [], skipped: [{ name: 'test', reason: 'trigger: event "cron" is not included in [push, pull_request]' }], errors: [] });
  });

  it('exits 0 and lists a pipeline with an error of its own under errors, compiling the others (contract of issue 15)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-cli-'));
    writeFileSync(
      join(dir, '.drone.yml'),
      'kind: pipeline\ntype: docker\nname: x\nsteps:\n  - name: a\n    image: alpine\n    privileged: true\n    commands: [x]\n---\nkind: pipeline\ntype: docker\nname: y\nsteps:\n  - name: b\n    image: alpine\n    commands: [y]\n',
    );
    const r = await compile([], dir);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as { stages: { name: string }[]; skipped: unknown[]; errors: { name: string; line: number; column: number; message: string }[] };
    expect(out.stages.map((s) => s.name)).toEqual(['y']);
    expect(out.skipped).toEqual([]);
    expect(out.errors).toEqual([{ name: 'x', line: 7, column: 17, message: expect.stringContaining('privileged') as string }]);
    expect(r.err).toMatch(/^\.drone\.yml:7:\d+: error: /m);
  });

  // drone/drone trigger/trigger.go: a skipped stage is dropped from its dependents' depends_on.
  it('lists a 32-bit ARM pipeline under skipped and compiles its dependent, which waits for the others, with one note', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-cli-'));
    const p = (name: string, extra = '') => `kind: pipeline\ntype: docker\nname: ${name}\n${extra}steps:\n  - name: a\n    image: alpine\n    commands: [x]\n`;
    writeFileSync(join(dir, '.drone.yml'), [p('amd64'), p('arm', 'platform: { arch: arm }\n'), p('notify', 'depends_on: [amd64, arm]\n')].join('---\n'));
    const r = await compile([], dir);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as { stages: { name: string; dependsOn: string[] }[]; skipped: unknown[]; errors: unknown[] };
    expect(out.stages.map((s) => [s.name, s.dependsOn])).toEqual([['amd64', []], ['notify', ['amd64']]]);
    expect(out.skipped).toEqual([{ name: 'arm', reason: 'platform arch "arm" runs on another runner: Fargate runs amd64 and arm64 (Fargate has no 32-bit ARM)' }]);
    expect(out.errors).toEqual([]);
    expect(r.err.match(/"arm" is skipped/g)).toHaveLength(1);
    expect(r.err).toContain('.drone.yml: note: pipeline "notify": depends_on: "arm" is skipped (platform arch "arm" runs on another runner');
  });

  it('exits 1 with FILE:LINE:COLUMN diagnostics when the file itself cannot be read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-cli-'));
    writeFileSync(join(dir, '.drone.yml'), 'kind: pipeline\nsteps: [\n');
    const r = await compile([], dir);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^\.drone\.yml:\d+:\d+: error: yaml: /m);
  });

  // As a deployment runs it (docs/design/split-pipelines.md): a pipeline over ECS's 10
  // containers that the cut can split compiles into consecutive tasks, and says so once.
  it.each(['too-many-containers.yml', 'too-many-containers-conditional.yml'])('compiles %s, over 10 containers, into consecutive tasks with one note', async (name) => {
    const r = await compile([`test/fixtures/compile/fail/${name}`]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as { stages: { name: string; segments?: { number: number; steps: string[] }[] }[]; errors: unknown[] };
    expect(out.errors).toEqual([]);
    expect(out.stages.map((s) => [s.name, s.segments?.map((seg) => seg.steps.length)])).toEqual([['too-many', [9, 2]]]);
    expect(r.err).not.toContain('too many containers');
    expect(r.err.match(/consecutive tasks/g)).toHaveLength(1);
    expect(r.err).toContain(`${name}: note: pipeline "too-many": needs more than the 10 containers ECS allows in a task: runs as 2 consecutive tasks`);
  });

  it('splits a pipeline that names ${DRONE_STAGE_NAME} too (it is read again with its own stage values, as the planner reads it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-cli-'));
    const steps = Array.from({ length: 11 }, (_, i) => `  - name: step${i + 1}\n    image: image${i + 1}\n    commands: ["echo \${DRONE_STAGE_NAME}"]\n`).join('');
    writeFileSync(join(dir, '.drone.yml'), `kind: pipeline\nname: staged\nsteps:\n${steps}`);
    const r = await compile([], dir);
    const out = JSON.parse(r.out) as { stages: { name: string; segments?: unknown[] }[]; errors: unknown[] };
    expect(out.errors).toEqual([]);
    expect(out.stages.map((s) => [s.name, s.segments?.length])).toEqual([['staged', 2]]);
  });

  // The conditional one is only a warning for lint (when: may leave steps out) and an
  // error of the compiler for this build: once, at the steps: key, not at 1:1.
  it.each([
    ['unconditional', ''],
    ['conditional', '    when: { branch: [main] }\n'],
  ])('lists a %s pipeline that cannot be split (a service serving the workspace) under errors at its steps: line, printed once, saying why', async (_kind, when) => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-cli-'));
    const steps = Array.from({ length: 11 }, (_, i) => `  - name: step${i + 1}\n    image: image${i + 1}\n    commands: [echo]\n${when}`).join('');
    // A service that serves the workspace cannot move to a task of its own (segments.ts).
    writeFileSync(join(dir, '.drone.yml'), `kind: pipeline\nname: too-many\nservices:\n  - name: web\n    image: php:8\n    commands: [php -S 0.0.0.0:80 -t /drone/src]\nsteps:\n${steps}`);
    const r = await compile([], dir);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as { errors: { name: string; line: number; column: number; message: string }[] };
    expect(out.errors).toEqual([{ name: 'too-many', line: 7, column: 1, message: expect.stringContaining('needs 13 containers') as string }]);
    expect(out.errors[0]!.message).toContain('it cannot be split into several tasks either: a pipeline split into several tasks runs its services');
    expect(out.errors[0]!.message).toContain('but service "web" reads the workspace /drone/src (its commands: "php -S 0.0.0.0:80 -t /drone/src")');
    expect(r.err.match(/too many containers/g)).toHaveLength(1);
    expect(r.err).toContain('.drone.yml:7:1: error: ');
  });

  it.each([[['--event', 'nope']], [['--repo', 'noslash']], [['--bogus']], [['a.yml', 'b.yml']], [['missing.yml']], [['--branch']]])('exits 2 on usage errors: %j', async (args) => {
    const r = await compile(args);
    expect(r.code).toBe(2);
    expect(r.err).toContain('usage: slipway compile');
  });
});
