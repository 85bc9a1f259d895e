// Pipelines over ECS's 10 containers compiled into consecutive tasks (CompileOptions.splitPipelines,
// core/pipeline/compile-segments.ts): golden files (test/fixtures/compile-split/NAME.yml →
// NAME.json; `UPDATE_GOLDEN=1` rewrites them, review the diff), then the segments run one
// after the other with their real scripts (simulate.ts) in one state directory, as the
// agent of segment 2 finds it once it has seeded segment 1's records.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compilePipeline, CompileError, type CompiledStage } from '../../core/pipeline/compile.js';
import { loadManifest } from '../../core/pipeline/load.js';
import { MAX_OVERRIDE_CHARS } from '../../core/pipeline/limits.js';
import { SERVICES_HOST_RESERVE, UPSTREAM_RESERVE } from '../../core/pipeline/override-budget.js';
import { fixtureContext, fixtureOptions } from './support.js';
import { simulate, type Outcome } from './simulate.js';

const dir = fileURLToPath(new URL('../fixtures/compile-split/', import.meta.url));
const update = process.env.UPDATE_GOLDEN === '1';

function compileSplit(file: string, text: string): CompiledStage {
  const manifest = loadManifest(file, text);
  const { context } = fixtureContext(text);
  return compilePipeline(manifest.pipelines[0]!, context, { ...fixtureOptions(text), splitPipelines: true }, { file, secrets: manifest.secrets, stageNumber: 1 });
}

describe('split pipelines: golden compile output', () => {
  const fixtures = readdirSync(dir).filter((f) => f.endsWith('.yml')).sort();
  it('has the linear, the DAG and the services fixture', () => expect(fixtures).toEqual(['dag.yml', 'linear.yml', 'services.yml']));
  for (const name of fixtures) {
    it(name, () => {
      const actual = `${JSON.stringify(compileSplit(name, readFileSync(join(dir, name), 'utf8')), null, 2)}\n`;
      const expectedFile = join(dir, name.replace(/\.yml$/, '.json'));
      if (update) writeFileSync(expectedFile, actual);
      expect(existsSync(expectedFile), `${expectedFile} is missing: run with UPDATE_GOLDEN=1 and review it`).toBe(true);
      expect(actual).toBe(readFileSync(expectedFile, 'utf8'));
    });
  }
});

function linear(failing?: string): string {
  const text = readFileSync(join(dir, 'linear.yml'), 'utf8');
  return failing ? text.replace(`commands: [echo ${failing.slice(1)} > out-${failing.slice(1)}.txt]`, 'commands: [exit 3]') : text;
}

function segmentStage(stage: CompiledStage, n: number): CompiledStage {
  const seg = stage.segments![n - 1]!;
  return { ...stage, taskDefinition: seg.taskDefinition, runTask: seg.runTask, plan: seg.plan, segments: undefined };
}

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'slipway-split-'));
  mkdirSync(join(work, 'ws'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

async function runSegments(stage: CompiledStage): Promise<Outcome[]> {
  const env = {
    SLIPWAY_STATE_DIR: join(work, 'state'),
    SLIPWAY_WORKSPACE: join(work, 'ws'),
    SLIPWAY_HOSTS_FILE: join(work, 'hosts'),
    SLIPWAY_WAIT_SECONDS: '0.05',
  };
  const out: Outcome[] = [];
  for (let n = 1; n <= stage.segments!.length; n++) out.push(await simulate(segmentStage(stage, n), { env }));
  return out;
}

describe('split pipelines: the segments run as one pipeline would', () => {
  it('every segment is a task definition of at most 10 containers with its own family; container names and DRONE_STEP_NUMBER are the whole pipeline\'s', () => {
    const stage = compileSplit('linear.yml', linear());
    expect(stage.segments!.map((s) => s.steps)).toEqual([
      ['s1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9'],
      ['check', 'publish', 'notify'],
    ]);
    const families = stage.segments!.map((s) => s.taskDefinition.family);
    expect(new Set(families).size).toBe(2);
    expect(stage.taskDefinition.family).toBe(families[0]);
    // RunTask's idempotency: a start of segment 2 must not get segment 1's task back.
    expect(stage.segments!.map((s) => s.runTask.clientToken)).toEqual(['acme/app#1/1', 'acme/app#1/1#segment-2']);
    for (const s of stage.segments!) expect(s.taskDefinition.containerDefinitions!.length).toBeLessThanOrEqual(10);
    const two = stage.segments![1]!.taskDefinition;
    const number = (name: string) => two.containerDefinitions!.find((c) => c.name === name)!.environment!.find((e) => e.name === 'DRONE_STEP_NUMBER')!.value;
    // The clone is 1, s1…s9 are 2…10.
    expect([number('check'), number('publish'), number('notify')]).toEqual(['11', '12', '13']);
    expect(stage.segments!.map((s) => s.plan.segment)).toEqual([
      { number: 1, count: 2 },
      { number: 2, count: 2 },
    ]);
    // Segment 1's records are volumes of segment 2's task too: read-only in its steps.
    const check = two.containerDefinitions!.find((c) => c.name === 'check')!;
    expect(check.mountPoints!.find((m) => m.containerPath === '/slipway/steps/s3')).toMatchObject({ readOnly: true });
    expect(stage.notes[0]).toMatch(/^needs more than the 10 containers ECS allows in a task: runs as 2 consecutive tasks \(1: s1, .*, s9; 2: check, publish, notify\)/);
  });

  it('all pass: segment 2 runs its plain steps and plugin, and skips the failure-only step', async () => {
    const [one, two] = await runSegments(compileSplit('linear.yml', linear()));
    expect(Object.values(one!.reports).every((r) => r.status === 'success')).toBe(true);
    expect(two!.reports['check']).toMatchObject({ status: 'success' });
    expect(two!.reports['publish']).toMatchObject({ status: 'success' });
    expect(two!.reports['notify']).toMatchObject({ status: 'skipped' });
    expect(two!.failed).toEqual([]);
  });

  it('a failure in segment 1: in segment 2 plain steps are skipped (the plugin through its gate) and the failure-only step runs', async () => {
    const [one, two] = await runSegments(compileSplit('linear.yml', linear('s3')));
    expect(one!.reports['s3']).toMatchObject({ status: 'failure', exitCode: 3 });
    expect(one!.reports['s4']).toMatchObject({ status: 'skipped' });
    const check = two!.ran.find((r) => r.name === 'check');
    expect(check?.stdout).toContain('slipway: skipping check: s3 failed in an earlier segment of the pipeline');
    expect(two!.reports['check']).toMatchObject({ status: 'skipped' });
    expect(two!.ran.find((r) => r.name === 'publish-gate')?.stdout).toContain('slipway: skipping publish: s3 failed in an earlier segment of the pipeline');
    expect(two!.reports['publish']).toMatchObject({ status: 'skipped' });
    expect(two!.ran.map((r) => r.name)).not.toContain('publish');
    expect(two!.reports['notify']).toMatchObject({ status: 'success', exitCode: 0 });
  });

  it('a DAG: each segment closed under depends_on, and a step whose upstream ran in segment 1 waits only for the agent', () => {
    const stage = compileSplit('dag.yml', readFileSync(join(dir, 'dag.yml'), 'utf8'));
    const seen = new Set<string>();
    const text = readFileSync(join(dir, 'dag.yml'), 'utf8');
    const manifest = loadManifest('dag.yml', text);
    const deps = new Map(manifest.pipelines[0]!.steps.map((s) => [s.name, s.dependsOn] as const));
    for (const seg of stage.segments!) {
      for (const name of seg.steps) {
        for (const d of deps.get(name)!) expect(seen.has(d) || seg.steps.includes(d), `${name} depends on ${d}`).toBe(true);
      }
      for (const name of seg.steps) seen.add(name);
    }
    const later = stage.segments![1]!;
    for (const c of later.taskDefinition.containerDefinitions!) {
      for (const d of c.dependsOn ?? []) expect(later.taskDefinition.containerDefinitions!.some((x) => x.name === d.containerName), `${c.name} → ${d.containerName}`).toBe(true);
    }
  });

  it('services and a detached step go to a service task: the segments carry none, and their steps reach them by name at its IP', () => {
    const stage = compileSplit('services.yml', readFileSync(join(dir, 'services.yml'), 'utf8'));
    const service = stage.serviceTask!;
    expect(service.taskDefinition.containerDefinitions.map((c) => c.name)).toEqual(['slipway-agent', 'db', 'cache', 'watch']);
    expect(service.plan).toMatchObject({ role: 'services', services: [{ name: 'db', ports: [5432] }, { name: 'cache', ports: [6379] }] });
    // Its own RunTask token: never a segment's task.
    expect(service.runTask.clientToken).toBe('acme/app#1/1#services');
    for (const seg of stage.segments!) {
      const names = seg.taskDefinition.containerDefinitions.map((c) => c.name);
      expect(names).not.toContain('db');
      expect(names).not.toContain('watch');
      expect(seg.plan).toMatchObject({ remoteServices: true, services: [{ name: 'db' }, { name: 'cache' }] });
    }
    // Drone counts the services before the steps: clone 1, db 2, cache 3, watch 4, seed 5.
    const seed = stage.segments![0]!.taskDefinition.containerDefinitions.find((c) => c.name === 'seed')!;
    expect(seed.environment!.find((e) => e.name === 'DRONE_STEP_NUMBER')!.value).toBe('5');
    const script = seed.command![0]!;
    expect(script).toContain('/agent/services-host');
    expect(script).toContain(`slipway_hostline="$slipway_svc "'db cache watch'`);
    expect(script).not.toContain("'127.0.0.1 db");
    expect(stage.notes).toContain('its service "db", service "cache", detached step "watch" run in a task of their own for the whole stage: steps reach them by name (db, cache, watch), not at localhost');
    // s2's DATABASE_URL names localhost:5432: the stage notes say what it means here.
    expect(stage.notes).toContain(
      'localhost does not reach the services here: "s2" names localhost with port 5432 of "db", but this pipeline runs as several tasks with its services in a task of their own: use the name ("db:5432")',
    );
  });

  it('the wrapper maps the service names to the address the agent wrote, and fails without one', async () => {
    const stage = compileSplit('services.yml', readFileSync(join(dir, 'services.yml'), 'utf8'));
    const env = { SLIPWAY_STATE_DIR: join(work, 'state'), SLIPWAY_WORKSPACE: join(work, 'ws'), SLIPWAY_HOSTS_FILE: join(work, 'hosts'), SLIPWAY_WAIT_SECONDS: '0.05' };
    const without = await simulate(segmentStage(stage, 2), { env });
    expect(without.reports['read']).toMatchObject({ status: 'failure', exitCode: 1 });
    expect(existsSync(join(work, 'hosts'))).toBe(false);
    rmSync(join(work, 'state'), { recursive: true, force: true });
    mkdirSync(join(work, 'state', 'agent'), { recursive: true });
    writeFileSync(join(work, 'state', 'agent', 'services-host'), '10.0.3.17\n');
    await simulate(segmentStage(stage, 2), { env });
    expect(readFileSync(join(work, 'hosts'), 'utf8')).toContain('10.0.3.17 db cache watch');
  });

  it("a segment's overrides keep room for the service task's address beside the build's state, whatever the commit message", () => {
    const text = readFileSync(join(dir, 'services.yml'), 'utf8');
    const manifest = loadManifest('services.yml', text);
    const { context } = fixtureContext(text);
    const ctx = { ...context, commit: { ...context.commit, message: 'x'.repeat(100 * 1024) } };
    const stage = compilePipeline(manifest.pipelines[0]!, ctx, { ...fixtureOptions(text), splitPipelines: true }, { file: 'services.yml', stageNumber: 1 });
    for (const seg of stage.segments!) {
      expect(JSON.stringify(seg.runTask.overrides).length).toBeLessThanOrEqual(MAX_OVERRIDE_CHARS - UPSTREAM_RESERVE - SERVICES_HOST_RESERVE);
      // The largest address ECS could give fits in what was kept for it.
      expect(JSON.stringify({ name: 'SLIPWAY_SERVICES_HOST', value: 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255' }).length + 1).toBeLessThanOrEqual(SERVICES_HOST_RESERVE);
    }
  });

  const refused = (yaml: string): CompileError => {
    const manifest = loadManifest('.drone.yml', yaml);
    try {
      compilePipeline(manifest.pipelines[0]!, fixtureContext('').context, { ...fixtureOptions(''), splitPipelines: true });
    } catch (e) {
      if (e instanceof CompileError) return e;
      throw e;
    }
    throw new Error('compiled');
  };
  const tenSteps = Array.from({ length: 10 }, (_, i) => `  - name: s${i}\n    image: i${i}\n    commands: [true]\n`).join('');

  it('a service that serves the workspace cannot move to a task of its own: refused at the steps: key, saying why', () => {
    const err = refused(`kind: pipeline\ntype: docker\nname: p\nservices:\n  - name: web\n    image: httpd:2\n    environment:\n      WEBROOT: /drone/src/dist\nsteps:\n${tenSteps}`);
    expect(err.diagnostics[0]).toMatchObject({ line: 9, column: 1 });
    expect(err.diagnostics[0]!.message).toMatch(/it cannot be split into several tasks either: .* but service "web" reads the workspace \/drone\/src \(its environment WEBROOT=\/drone\/src\/dist\)$/);
  });

  it('a service that shares a volume with a step, or a detached step after other steps, is refused too', () => {
    const shared = refused(
      `kind: pipeline\ntype: docker\nname: p\nservices:\n  - name: sel\n    image: selenium/standalone-chrome\n    volumes: [{ name: up, path: /up }]\nsteps:\n${tenSteps}  - name: copy\n    image: alpine\n    commands: [cp a /up]\n    volumes: [{ name: up, path: /up }]\nvolumes:\n  - name: up\n    temp: {}\n`,
    );
    expect(shared.diagnostics[0]!.message).toMatch(/but service "sel" mounts the volume "up" \(at \/up\) that step "copy" \(at \/up\) mounts too$/);
    const late = refused(`kind: pipeline\ntype: docker\nname: p\nsteps:\n${tenSteps}  - name: log\n    image: alpine\n    detach: true\n    commands: [tail -f x]\n    depends_on: [s9]\n`);
    expect(late.diagnostics[0]!.message).toMatch(/but detached step "log" comes after step "s9", so it would not see the files written before it$/);
  });
});
