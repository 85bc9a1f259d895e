// One pipeline's problem is that pipeline's problem (issue 15): a pipeline with errors of its
// own is set apart with them and the others are compiled; only the file's own errors (YAML
// syntax, a document that is no pipeline) fail it as a whole. Pipelines for a platform
// Fargate cannot serve are skipped. Unknown keys in when:/trigger: are errors.
import { describe, expect, it } from 'vitest';
import { cliContext } from '../../cli/commands/compile.js';
import { newBuildRecords } from '../../core/builds/new-build.js';
import { compileManifest } from '../../core/pipeline/compile.js';
import { formatDiagnostic } from '../../core/pipeline/format.js';
import { fileErrors, isReadable, isValid, loadManifest } from '../../core/pipeline/load.js';
import { FIXTURE_OPTIONS } from '../compiler/support.js';

const NOW = Date.UTC(2030, 0, 15, 12);
const push = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40) });
const tag = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40), event: 'tag' });

const pipeline = (name: string, body = '', step = '  - name: s\n    image: alpine\n    commands: [x]\n') =>
  `kind: pipeline\ntype: docker\nname: ${name}\n${body}steps:\n${step}`;
const privileged = '  - name: s\n    image: alpine\n    privileged: true\n    commands: [x]\n';

function build(text: string, ctx = push) {
  const manifest = loadManifest('.drone.yml', text);
  const compiled = compileManifest(manifest, ctx, FIXTURE_OPTIONS);
  return { manifest, compiled, records: newBuildRecords({ ctx, deliveryId: 'd-1', fork: false, now: NOW }, manifest, compiled) };
}

describe('a pipeline with errors of its own', () => {
  const file = [pipeline('image', '', privileged), pipeline('test'), pipeline('after-image', 'depends_on: [image]\n')].join('---\n');

  it('keeps its errors to itself: the manifest is readable and the other pipelines compile', () => {
    const { manifest, compiled } = build(file);
    // lint still sees every error (slipway lint exits 1)
    expect(isValid(manifest)).toBe(false);
    expect(isReadable(manifest)).toBe(true);
    expect(fileErrors(manifest)).toEqual([]);
    expect(manifest.errors.map((e) => [e.index, e.name, e.diagnostics.map(formatDiagnostic)])).toEqual([
      [0, 'image', ['.drone.yml:7:17: error: steps[0].privileged: Fargate cannot run privileged containers; build images with plugins/docker, which Slipway runs without privileges (kaniko), or run the pipeline on EC2 capacity, which an operator allows per trusted repository (slipway repo update OWNER/NAME --trusted; never for pull requests from forks)']],
    ]);
    expect(compiled.stages.map((s) => s.name)).toEqual(['test', 'after-image']);
    expect(compiled.errors.map((e) => [e.name, e.number, e.dependsOn])).toEqual([['image', 1, []]]);
  });

  it('becomes a stage in error with its FILE:LINE:COLUMN message; its dependent is skipped by Drone\'s rule, the others run', () => {
    const { records } = build(file);
    expect(records.stages.map((s) => [s.name, s.status, s.reason])).toEqual([
      ['image', 'error', 'invalid-config'],
      ['test', 'pending', undefined],
      // drone/drone operator/manager/teardown.go cancelDownstream: a waiting stage is skipped
      // once its dependencies are complete and one failed (core.Stage.IsFailed counts
      // StatusError), unless it runs on failure.
      ['after-image', 'skipped', 'dependency-failed'],
    ]);
    expect(records.stages[0]!.message).toMatch(/^\.drone\.yml:7:17: error: steps\[0\]\.privileged: Fargate cannot run privileged containers/);
    expect(records.stages[2]!.message).toBe('depends on image (error), which did not pass');
    expect(records.build.status).toBe('pending');
    // Only the running pipeline has a job; the errored stage has no steps, the skipped one's are skipped.
    expect(records.jobs.map((j) => j.pipeline)).toEqual(['test']);
    expect(records.steps.filter((s) => s.stageNumber === 1)).toEqual([]);
    expect(records.steps.filter((s) => s.stageNumber === 3).map((s) => [s.name, s.status])).toEqual([
      ['clone', 'skipped'],
      ['s', 'skipped'],
    ]);
  });

  it('ends the build at creation when no stage is left to run, in error, with the message', () => {
    const { records } = build(pipeline('only', '', privileged));
    expect(records.build).toMatchObject({ status: 'error', finishedAt: NOW });
    expect(records.build.error).toMatch(/^\.drone\.yml:7:17: error: steps\[0\]\.privileged/);
    expect(records.jobs).toEqual([]);
  });

  it('is left out by its trigger like any other when the trigger was read without error (a tag-only pipeline does not fail every push)', () => {
    const text = [pipeline('release', 'trigger: { event: [tag] }\n', privileged), pipeline('test')].join('---\n');
    expect(build(text).compiled.skipped).toEqual([{ name: 'release', reason: 'trigger: event "push" is not included in [tag]' }]);
    expect(build(text).compiled.errors).toEqual([]);
    expect(build(text, tag).compiled.errors.map((e) => e.name)).toEqual(['release']);
  });

  it('is part of every build when the error is in its trigger, so that the error is seen', () => {
    const text = [pipeline('deploy', 'trigger: { branches: [production] }\n'), pipeline('test')].join('---\n');
    const { compiled } = build(text);
    expect(compiled.errors.map((e) => [e.name, e.diagnostics.map(formatDiagnostic)])).toEqual([
      ['deploy', ['.drone.yml:4:12: error: trigger: unknown key "branches" in trigger — did you mean "branch"?']],
    ]);
    expect(compiled.stages.map((s) => s.name)).toEqual(['test']);
  });

  it('reports a compile-time error (one the compiler finds for this build) the same way', () => {
    const many = Array.from({ length: 11 }, (_, i) => `  - name: s${i}\n    image: i${i}\n    commands: [x]\n    when: { branch: [main, dev] }\n`).join('');
    const { compiled, records } = build([pipeline('big', '', many), pipeline('test')].join('---\n'));
    expect(compiled.errors.map((e) => [e.name, e.diagnostics.map((d) => `${d.line}:${d.column}`)])).toEqual([['big', ['4:1']]]);
    expect(records.stages.map((s) => s.status)).toEqual(['error', 'pending']);
  });
});

describe('the file as a whole', () => {
  it('fails whole on a YAML syntax error, even when one pipeline reads', () => {
    const m = loadManifest('.drone.yml', `${pipeline('ok')}---\nkind: pipeline\nsteps: [\n`);
    expect(isReadable(m)).toBe(false);
    expect(fileErrors(m).map((d) => d.message)[0]).toMatch(/^yaml: /);
  });

  it("fails whole on a Drone 0.8 file, saying what it is", () => {
    const m = loadManifest('.drone.yml', 'pipeline:\n  build:\n    image: golang\n    commands: [go test]\n');
    expect(fileErrors(m).map(formatDiagnostic)).toEqual([
      '.drone.yml:1:1: error: document: missing "kind" (expected pipeline, secret or signature); this looks like a Drone 0.8 file: convert it with `drone convert`',
    ]);
  });
});

describe('platforms Slipway cannot serve are skipped with the reason, as other runners\' pipelines are', () => {
  it.each([
    ['platform: { os: linux, arch: arm }\n', 'platform arch "arm" runs on another runner: Fargate runs amd64 and arm64 (Fargate has no 32-bit ARM)'],
    ['platform: { arch: s390x }\n', 'platform arch "s390x" runs on another runner: Fargate runs amd64 and arm64'],
    ['platform: { os: windows, arch: amd64 }\n', 'platform os "windows" runs on another runner (Slipway runs Linux containers on Fargate)'],
    ['platform: { os: darwin }\n', 'platform os "darwin" runs on another runner (Slipway runs Linux containers on Fargate)'],
  ])('%j', (platform, reason) => {
    const { manifest, compiled } = build([pipeline('other', platform), pipeline('test')].join('---\n'));
    expect(manifest.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(manifest.skipped).toEqual([{ name: 'other', reason, dependsOn: [], platform: true }]);
    expect(compiled.stages.map((s) => s.name)).toEqual(['test']);
  });

  it('keeps arm64 and amd64', () => {
    const { manifest } = build([pipeline('a', 'platform: { arch: arm64 }\n'), pipeline('b', 'platform: { os: linux, arch: amd64 }\n')].join('---\n'));
    expect(manifest.skipped).toEqual([]);
    expect(manifest.pipelines.map((p) => p.platform.arch)).toEqual(['arm64', 'amd64']);
  });
});

describe('unknown keys in when: and trigger: are errors, not a silent drop', () => {
  // runner-go manifest/cond.go, Conditions: action, cron, ref, repo, instance, target,
  // event, branch, status, paths; each an include/exclude Condition. Drone's YAML reader
  // ignores any other key, so the condition is simply gone.
  it.each([
    ['  - name: deploy\n    image: alpine\n    commands: [x]\n    when: { branches: [main] }\n', '8:13: error: steps[0].when: unknown key "branches" in when — did you mean "branch"?'],
    ['  - name: deploy\n    image: alpine\n    commands: [x]\n    when: { evnet: tag }\n', '8:13: error: steps[0].when: unknown key "evnet" in when — did you mean "event"?'],
    ['  - name: deploy\n    image: alpine\n    commands: [x]\n    when: { only: [main] }\n', '8:13: error: steps[0].when: unknown key "only" in when — use branch: / event: with include and exclude'],
    ['  - name: deploy\n    image: alpine\n    commands: [x]\n    when: { branch: { inclde: [main] } }\n', '8:23: error: steps[0].when.branch: unknown key "inclde" in a condition — did you mean "include"?'],
  ])('%j', (step, expected) => {
    const m = loadManifest('.drone.yml', pipeline('p', '', step));
    expect(m.diagnostics.map(formatDiagnostic)).toEqual([`.drone.yml:${expected}`]);
    expect(m.errors.map((e) => e.name)).toEqual(['p']);
  });

  it('accepts every key Drone reads', () => {
    const when = '{ action: [opened], branch: [main], cron: [nightly], event: [push], instance: [ci], paths: [src/**], ref: [refs/heads/*], repo: [acme/*], status: [success], target: [prod] }';
    const m = loadManifest('.drone.yml', pipeline('p', `trigger: ${when}\n`, `  - name: s\n    image: alpine\n    commands: [x]\n    when: ${when}\n`));
    expect(m.diagnostics).toEqual([]);
  });
});
