// The cut of pipelines over ECS's 10 containers into segments (core/pipeline/segments.ts):
// golden files (test/fixtures/segments/NAME.yml → NAME.json, `UPDATE_GOLDEN=1` rewrites
// them; review the diff), then the properties every cut must have, on random step graphs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_CONTAINERS } from '../../core/pipeline/limits.js';
import { loadManifest } from '../../core/pipeline/load.js';
import { segments, type SegmentPlan } from '../../core/pipeline/segments.js';
import { stepDependencies, stepKind, type OrderedStep } from '../../core/pipeline/step-order.js';

const dir = fileURLToPath(new URL('../fixtures/segments/', import.meta.url));
const update = process.env.UPDATE_GOLDEN === '1';
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.yml')).sort();

describe('segments: golden cuts', () => {
  it('covers linear, DAG, status steps, packed containers, services, a pipeline that fits and one that cannot be cut', () => {
    expect(fixtures).toEqual(['dag.yml', 'fits.yml', 'impossible.yml', 'linear.yml', 'packed.yml', 'services.yml', 'status.yml']);
  });
  for (const name of fixtures) {
    it(name, () => {
      const manifest = loadManifest(name, readFileSync(join(dir, name), 'utf8'));
      expect(manifest.pipelines.length).toBeGreaterThan(0);
      const actual = `${JSON.stringify(
        manifest.pipelines.map((p) => ({ pipeline: p.name, plan: segments(p) })),
        null,
        2,
      )}\n`;
      const expectedFile = join(dir, name.replace(/\.yml$/, '.json'));
      if (update) writeFileSync(expectedFile, actual);
      expect(existsSync(expectedFile), `${expectedFile} is missing: run with UPDATE_GOLDEN=1 and review it`).toBe(true);
      expect(actual).toBe(readFileSync(expectedFile, 'utf8'));
    });
  }
});

function planOf(yaml: string): SegmentPlan {
  const manifest = loadManifest('.drone.yml', yaml);
  return segments(manifest.pipelines[0]!);
}

function stepsYaml(steps: { name: string; image: string; dependsOn?: string[]; status?: string }[], services = 0): string {
  const lines = ['kind: pipeline', 'type: docker', 'name: p'];
  if (services > 0) {
    lines.push('services:');
    for (let i = 0; i < services; i++) lines.push(`  - name: svc${i}`, `    image: svc${i}:1`);
  }
  lines.push('steps:');
  for (const s of steps) {
    lines.push(`  - name: ${s.name}`, `    image: ${s.image}`, '    commands: [true]');
    if (s.dependsOn) lines.push(`    depends_on: [${s.dependsOn.join(', ')}]`);
    if (s.status) lines.push(`    when: { status: [${s.status}] }`);
  }
  return `${lines.join('\n')}\n`;
}

describe('segments: the rules of the cut', () => {
  it('a pipeline that fits in one task is one task, services included', () => {
    const steps = Array.from({ length: 5 }, (_, i) => ({ name: `s${i}`, image: `i${i}` }));
    expect(planOf(stepsYaml(steps, 4))).toEqual({ kind: 'single', size: 10 });
  });

  it('services leave the segments for the service task: 13 steps and 4 services give 9 + 4 steps', () => {
    const steps = Array.from({ length: 13 }, (_, i) => ({ name: `s${i}`, image: `i${i}` }));
    const plan = planOf(stepsYaml(steps, 4));
    if (plan.kind !== 'split') throw new Error(`expected a split, got ${plan.kind}`);
    expect(plan.segments.map((s) => s.containers.length)).toEqual([9, 4]);
    expect(plan.serviceTask).toEqual({ services: ['svc0', 'svc1', 'svc2', 'svc3'], detached: [], size: 5 });
  });

  it('a status-gated plugin step and its gate are never cut apart', () => {
    const yaml =
      stepsYaml(Array.from({ length: 8 }, (_, i) => ({ name: `s${i}`, image: `i${i}` }))) +
      '  - name: notify\n    image: plugins/slack\n    when: { status: [failure] }\n  - name: last\n    image: x\n    commands: [true]\n';
    const plan = planOf(yaml);
    if (plan.kind !== 'split') throw new Error(`expected a split, got ${plan.kind}`);
    // 8 plain steps fill 8 of 9 places: the plugin needs 2 (itself and its gate), so it moves on.
    expect(plan.segments.map((s) => s.containers.map((c) => c.steps.join('+')))).toEqual([['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7'], ['notify', 'last']]);
    expect(plan.segments[1]!.size).toBe(4);
  });

  it('a detached step after other steps cannot be split: the service task starts with the first segment and never sees what they wrote', () => {
    // b5 and a0 share an image, so packing would merge them but for the detached step between.
    const before = Array.from({ length: 6 }, (_, i) => ({ name: `b${i}`, image: i === 5 ? 'same' : `b${i}` }));
    const after = Array.from({ length: 6 }, (_, i) => ({ name: `a${i}`, image: i === 0 ? 'same' : `a${i}` }));
    const yaml = stepsYaml(before, 2).replace('steps:\n', 'steps:\n') + stepsYaml(after).split('steps:\n')[1]!;
    const withDetached = yaml.replace('  - name: a0\n', '  - name: server\n    image: srv\n    detach: true\n    commands: [serve]\n  - name: a0\n');
    const plan = planOf(withDetached);
    expect(plan).toEqual({ kind: 'impossible', reason: expect.stringMatching(/^a pipeline split into several tasks runs its services and detached steps in a task of their own, .* but detached step "server" comes after step "b5", so it would not see the files written before it$/) });
    // The first step detached: it starts with the service task.
    const first = planOf(yaml.replace('steps:\n', 'steps:\n  - name: server\n    image: srv\n    detach: true\n    commands: [serve]\n'));
    if (first.kind !== 'split') throw new Error(`expected a split, got ${first.kind}`);
    expect(first.serviceTask?.detached).toEqual(['server']);
  });

  // owncloud/web's browser test pipelines (test/fixtures/corpus/owncloud__web.yml) in small:
  // the refusal names every service that reads the workspace (and the text that shows it), every
  // volume a service shares with steps (and their paths), and every late detached step, at once.
  it('a refused cut names each service, workspace path, shared volume and late detached step that stands in the way, in one message', () => {
    const steps = Array.from({ length: 9 }, (_, i) => `  - name: s${i}\n    image: i${i}\n    commands: [true]\n`).join('');
    const yaml =
      'kind: pipeline\ntype: docker\nname: p\nworkspace:\n  base: /var/www/owncloud\n  path: phoenix\n' +
      'services:\n' +
      '  - name: phoenix\n    image: owncloudci/php:7.1\n    commands: [mkdir dist, apachectl -D FOREGROUND]\n    environment:\n      APACHE_WEBROOT: /var/www/owncloud/phoenix/dist\n' +
      '  - name: owncloud\n    image: owncloudci/php:7.1\n    command: [apachectl, -D, FOREGROUND]\n    environment:\n      APACHE_WEBROOT: { from_secret: root }\n      DOCROOT: /var/www/owncloud/server/\n' +
      '  - name: selenium\n    image: selenium/standalone-chrome:3\n    volumes: [{ name: uploads, path: /uploads }]\n' +
      '  - name: mysql\n    image: mysql:5.5\n' +
      `steps:\n${steps}` +
      '  - name: log\n    image: alpine\n    detach: true\n    commands: [tail -f /var/www/owncloud/server/data/owncloud.log]\n' +
      '  - name: copy\n    image: alpine\n    commands: [cp -a . /up]\n    volumes: [{ name: uploads, path: /up }]\n' +
      '  - name: test\n    image: node\n    commands: [ls /up]\n    volumes: [{ name: uploads, path: /up }]\n' +
      'volumes:\n  - name: uploads\n    temp: {}\n';
    expect(planOf(yaml)).toEqual({
      kind: 'impossible',
      reason:
        "a pipeline split into several tasks runs its services and detached steps in a task of their own, started from its own clone with the first of the steps' tasks and sharing no volume with them, but " +
        'service "phoenix" reads the workspace /var/www/owncloud (its environment APACHE_WEBROOT=/var/www/owncloud/phoenix/dist); ' +
        // A secret's value is never read (nor shown): the literal beside it is what shows the workspace.
        'service "owncloud" reads the workspace /var/www/owncloud (its environment DOCROOT=/var/www/owncloud/server/); ' +
        'service "selenium" mounts the volume "uploads" (at /uploads) that step "copy" (at /up), step "test" (at /up) mount too; ' +
        'detached step "log" comes after step "s8", so it would not see the files written before it',
    });
  });

  // The file is attacker-written: a command may be a whole script, and a newline in a
  // diagnostic would print a line of its own (a forged `file:1:1: …` in CI output).
  it('shows the one line of a script that names the workspace, cut short, with control characters escaped', () => {
    const steps = Array.from({ length: 10 }, (_, i) => `  - name: s${i}\n    image: i${i}\n    commands: [true]\n`).join('');
    const script = `echo start\nexec httpd -f x.conf -d ${'/opt/'.repeat(30)} -c "DocumentRoot /drone/src/public" \u0007 -X ${'z'.repeat(100)}\necho .drone.yml:1:1: error: forged`;
    const plan = planOf(`kind: pipeline\ntype: docker\nname: p\nservices:\n  - name: web\n    image: httpd\n    commands: [${JSON.stringify(script)}]\nsteps:\n${steps}`);
    if (plan.kind !== 'impossible') throw new Error(`expected a refusal, got ${plan.kind}`);
    expect(plan.reason).toMatch(/service "web" reads the workspace \/drone\/src \(its commands: "…[^"]*\/opt\/ -c "DocumentRoot \/drone\/src\/public" \\x07 -X z+…"\)$/);
    expect(plan.reason).not.toMatch(/[\n\u0007]|forged/);
    const shown = /its commands: "(.*)"\)$/.exec(plan.reason)![1]!;
    expect(shown.length).toBeLessThanOrEqual(100 + 2 + 10);
  });

  it('names the first three steps that share a volume with a service and counts the rest', () => {
    const steps = Array.from({ length: 11 }, (_, i) => `  - name: s${i}\n    image: i${i}\n    commands: [true]\n    volumes: [{ name: cache, path: /c${i} }]\n`).join('');
    const plan = planOf(`kind: pipeline\ntype: docker\nname: p\nservices:\n  - name: db\n    image: postgres\n    volumes: [{ name: cache, path: /cache }]\nsteps:\n${steps}volumes:\n  - name: cache\n    temp: {}\n`);
    if (plan.kind !== 'impossible') throw new Error(`expected a refusal, got ${plan.kind}`);
    expect(plan.reason).toMatch(/but service "db" mounts the volume "cache" \(at \/cache\) that step "s0" \(at \/c0\), step "s1" \(at \/c1\), step "s2" \(at \/c2\) and 8 more steps mount too$/);
  });

  it('property: every segment fits a task, holds each step once, and no step waits for a later segment', () => {
    const graph = fc
      .integer({ min: 10, max: 30 })
      .chain((n) =>
        fc.tuple(
          fc.constant(n),
          fc.array(fc.subarray(Array.from({ length: n }, (_, i) => i)), { minLength: n, maxLength: n }),
          fc.array(fc.constantFrom('', 'failure', 'success, failure'), { minLength: n, maxLength: n }),
          fc.array(fc.integer({ min: 0, max: 3 }), { minLength: n, maxLength: n }),
          fc.boolean(),
          fc.integer({ min: 0, max: 4 }),
        ),
      );
    fc.assert(
      fc.property(graph, ([n, deps, statuses, images, dag, services]) => {
        // Only earlier steps as dependencies: an acyclic graph, as lint demands.
        const steps = Array.from({ length: n }, (_, i) => ({
          name: `s${i}`,
          image: `img${images[i]}`,
          ...(dag ? { dependsOn: deps[i]!.filter((d) => d < i).map((d) => `s${d}`) } : {}),
          ...(statuses[i] ? { status: statuses[i] } : {}),
        }));
        if (dag && steps.every((s) => (s.dependsOn ?? []).length === 0)) steps[1]!.dependsOn = ['s0'];
        const manifest = loadManifest('.drone.yml', stepsYaml(steps, services));
        const pipeline = manifest.pipelines[0]!;
        const plan = segments(pipeline);
        if (plan.kind !== 'split') return plan.kind === 'single';
        const seen: string[] = [];
        const segmentOf = new Map<string, number>();
        for (const seg of plan.segments) {
          expect(seg.size).toBeLessThanOrEqual(MAX_CONTAINERS);
          expect(seg.size).toBe(1 + seg.containers.reduce((k, c) => k + (c.gate ? 2 : 1), 0));
          for (const c of seg.containers) for (const s of c.steps) {
            seen.push(s);
            segmentOf.set(s, seg.number);
          }
        }
        expect(seen.sort()).toEqual(steps.map((s) => s.name).sort());
        const active = new Map<string, OrderedStep>(pipeline.steps.map((s) => [s.name, { step: s, kind: stepKind(s)! }]));
        for (const [name, d] of stepDependencies(pipeline.steps, active)) {
          for (const up of [...d.on.map((o) => o.step), ...d.after]) expect(segmentOf.get(up)!).toBeLessThanOrEqual(segmentOf.get(name)!);
        }
        return true;
      }),
      { numRuns: 200 },
    );
  });
});
