// The compiler's notes reach the stage records of a new build, bounded for DynamoDB.
import { describe, expect, it } from 'vitest';
import { cliContext } from '../../cli/commands/compile.js';
import { boundedNotes, newBuildRecords, STAGE_NOTE_LIMITS } from '../../core/builds/new-build.js';
import { readyStages, resolveDependents } from '../../core/builds/status.js';
import { compileManifest } from '../../core/pipeline/compile.js';
import type { BuildContext } from '../../core/pipeline/context.js';
import { isValid, loadManifest } from '../../core/pipeline/load.js';
import { FIXTURE_OPTIONS } from '../compiler/support.js';
import { droneYaml, step } from '../support/pipelines.js';

const NOW = Date.UTC(2030, 0, 15, 12);
const push = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40) });
const fork = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40), event: 'pull_request', action: 'opened', fork: true });

function records(yaml: string, ctx: BuildContext, isFork = false) {
  const manifest = loadManifest('.drone.yml', yaml);
  if (!isValid(manifest)) throw new Error(manifest.diagnostics.map((d) => d.message).join('\n'));
  // As the planner compiles: a fork's build runs without secrets.
  const compiled = compileManifest(manifest, ctx, { ...FIXTURE_OPTIONS, withSecrets: !isFork });
  return newBuildRecords({ ctx, deliveryId: 'delivery-1', fork: isFork, now: NOW }, manifest, compiled);
}

const deploy = droneYaml(
  { name: 'default', steps: [step('test', ['npm test']), step('deploy', ['./deploy'], { environment: { TOKEN: { from_secret: 'deploy_token' } } })] },
  { name: 'docs', trigger: { event: ['tag'] }, steps: [step('site', ['make site'])] },
);

describe('stage notes of a new build', () => {
  it("carries the compiler's 'secrets withheld' note on a fork's stage, and none on a push", () => {
    const forked = records(deploy, fork, true);
    expect(forked.stages[0]!.notes).toEqual(['secrets withheld from this build (pull request from a fork): deploy_token']);
    // A stage its trigger left out was not compiled: nothing to note.
    expect(forked.stages[1]).toMatchObject({ name: 'docs', status: 'skipped' });
    expect(forked.stages[1]).not.toHaveProperty('notes');

    const pushed = records(deploy, push);
    // Omitted, not an empty list, when the compiler had nothing to say.
    expect(pushed.stages[0]).not.toHaveProperty('notes');
  });

  it('carries the packing note of a pipeline with more steps than ECS allows containers', () => {
    const yaml = droneYaml({ name: 'many', steps: Array.from({ length: 12 }, (_, i) => step(`s${i}`, [`echo ${i}`])) });
    const { stages, steps } = records(yaml, push);
    expect(stages[0]!.notes).toEqual([expect.stringMatching(/^steps "s0", "s1", "s2", "s3" share one container \(ECS allows 10 containers per task\)$/)]);
    // Every step keeps its own record, packed or not.
    expect(steps.filter((s) => s.kind === 'step').map((s) => s.name)).toEqual(Array.from({ length: 12 }, (_, i) => `s${i}`));
  });
});

describe('boundedNotes', () => {
  it('keeps short lists as they are', () => {
    expect(boundedNotes(['one', 'two'])).toEqual(['one', 'two']);
    expect(boundedNotes([])).toEqual([]);
  });

  it('cuts a long note visibly at the character limit, without splitting a character', () => {
    const long = '€'.repeat(STAGE_NOTE_LIMITS.chars - 2) + '😀😀😀';
    const [cut] = boundedNotes([long]);
    expect([...cut!]).toHaveLength(STAGE_NOTE_LIMITS.chars);
    expect(cut!.endsWith('😀…')).toBe(true);
    const exact = 'x'.repeat(STAGE_NOTE_LIMITS.chars);
    expect(boundedNotes([exact])).toEqual([exact]);
  });

  it('keeps at most the note limit, the last one saying how many were left out', () => {
    const many = Array.from({ length: 45 }, (_, i) => `note ${i}`);
    const bounded = boundedNotes(many);
    expect(bounded).toHaveLength(STAGE_NOTE_LIMITS.count);
    expect(bounded.slice(0, -1)).toEqual(many.slice(0, STAGE_NOTE_LIMITS.count - 1));
    expect(bounded.at(-1)).toBe('… and 26 more notes (`slipway compile` prints them all)');
    // The stored item stays small whatever the compiler said.
    const worst = boundedNotes(Array.from({ length: 100 }, () => '€'.repeat(10_000)));
    expect(Buffer.byteLength(JSON.stringify(worst))).toBeLessThan(32 * 1024);
  });
});

// drone/drone trigger/trigger.go: OnSuccess = trigger.status matches "success", OnFailure =
// it matches "failure" and is not empty; the teardown decides dependents with them.
describe('trigger status of a new build\'s stages', () => {
  const pipelines = droneYaml(
    { name: 'build', steps: [step('test', ['npm test'])] },
    { name: 'notify', depends_on: ['build'], trigger: { status: ['failure'] }, steps: [step('tell', ['echo failed'])] },
    { name: 'always', depends_on: ['build'], trigger: { status: ['success', 'failure'] }, steps: [step('tell', ['echo done'])] },
    { name: 'after', depends_on: ['build'], steps: [step('tell', ['echo passed'])] },
  );

  it('records onSuccess/onFailure from trigger.status, as Drone does', () => {
    const { stages } = records(pipelines, push);
    expect(stages.map((s) => [s.name, s.onSuccess, s.onFailure])).toEqual([
      ['build', true, false],
      ['notify', false, true],
      ['always', true, true],
      ['after', true, false],
    ]);
  });
});

// drone/drone trigger/trigger.go: a dependency that is skipped when the build is created (its
// trigger, another runner, a platform Fargate cannot serve) is dropped from the stage's
// depends_on, its own dependencies taking its place (trigger/dag/dag.go); a stage left with
// nothing to wait for is pending at once. The planner (readyStages) and the stage end
// (resolveDependents) decide by that one dependsOn.
describe('stages that depend on skipped pipelines', () => {
  const arm = { name: 'linux-arm', platform: { arch: 'arm' }, steps: [step('build', ['make'])] };

  it('a notification waits for the pipelines that run, then runs; the skipped one is named in its notes', () => {
    const yaml = droneYaml(
      { name: 'linux-amd64', steps: [step('build', ['make'])] },
      arm,
      { name: 'notifications', depends_on: ['linux-amd64', 'linux-arm'], trigger: { status: ['success', 'failure'] }, steps: [step('notify', ['./notify'])] },
    );
    const { stages, jobs } = records(yaml, push);
    expect(stages.map((s) => [s.name, s.status, s.dependsOn])).toEqual([
      ['linux-amd64', 'pending', []],
      ['notifications', 'pending', ['linux-amd64']],
      ['linux-arm', 'skipped', []],
    ]);
    expect(stages[1]!.notes).toEqual([expect.stringMatching(/^depends_on: "linux-arm" is skipped \(platform arch "arm" runs on another runner/)]);
    expect(readyStages(stages).map((s) => s.name)).toEqual(['linux-amd64']);
    expect(jobs.map((j) => j.pipeline)).toEqual(['linux-amd64', 'notifications']);
    stages[0]!.status = 'success';
    expect(resolveDependents(stages).enqueue.map((s) => s.name)).toEqual(['notifications']);
  });

  it('waits for what the skipped pipeline waited for', () => {
    const yaml = droneYaml(
      { name: 'build', steps: [step('build', ['make'])] },
      { ...arm, depends_on: ['build'] },
      { name: 'manifest', depends_on: ['linux-arm'], steps: [step('push', ['./manifest'])] },
    );
    const { stages } = records(yaml, push);
    expect(stages.find((s) => s.name === 'manifest')!.dependsOn).toEqual(['build']);
    expect(readyStages(stages).map((s) => s.name)).toEqual(['build']);
  });

  it('with every dependency skipped it starts with the build; one that runs only on failure is skipped, since nothing before it can fail', () => {
    const yaml = droneYaml(arm, { name: 'on-failure', depends_on: ['linux-arm'], trigger: { status: ['failure'] }, steps: [step('notify', ['./notify'])] }, { name: 'always', depends_on: ['linux-arm'], steps: [step('notify', ['./notify'])] });
    const { build, stages, jobs } = records(yaml, push);
    expect(stages).toEqual([
      expect.objectContaining({ name: 'on-failure', status: 'skipped', dependsOn: [], message: expect.stringMatching(/runs only when the build is failing/) }),
      expect.objectContaining({ name: 'always', status: 'pending', dependsOn: [], queuedAt: NOW }),
      expect.objectContaining({ name: 'linux-arm', status: 'skipped' }),
    ]);
    expect(jobs.map((j) => j.pipeline)).toEqual(['always']);
    // Before, the planner found such a stage not ready: queued at creation, never sent, the build never ended.
    expect(readyStages(stages).map((s) => s.name)).toEqual(['always']);
    expect(build.status).toBe('pending');
  });
});

// A pipeline for a platform Slipway cannot serve is a stage of the build, skipped with its
// reason, as a pipeline its trigger leaves out is: builds, the API, the CLI and the dashboard
// show it, as Drone and GitHub show jobs that did not run.
describe('pipelines for a platform Slipway cannot serve', () => {
  it.each([
    [{ arch: 'arm' }, 'platform arch "arm" runs on another runner: Fargate runs amd64 and arm64 (Fargate has no 32-bit ARM)'],
    [{ os: 'windows', arch: 'amd64' }, 'platform os "windows" runs on another runner (Slipway runs Linux containers on Fargate)'],
  ])('%j: a stage record, skipped with the reason, numbered after the others; no steps, no job', (platform, reason) => {
    const yaml = droneYaml(
      { name: 'other', platform, depends_on: ['test'], steps: [step('build', ['make'])] },
      { name: 'test', steps: [step('test', ['npm test'])] },
      { name: 'docs', trigger: { event: ['tag'] }, steps: [step('site', ['make site'])] },
    );
    const { build, stages, steps, jobs } = records(yaml, push);
    expect(stages.map((s) => [s.number, s.name, s.status])).toEqual([
      [1, 'test', 'pending'],
      [2, 'docs', 'skipped'],
      [3, 'other', 'skipped'],
    ]);
    expect(stages[2]).toEqual({ buildId: build.id, repo: 'acme/app', buildNumber: build.number, number: 3, name: 'other', attempts: 0, status: 'skipped', message: reason, dependsOn: ['test'], finishedAt: NOW });
    expect(steps.filter((s) => s.stageNumber === 3)).toEqual([]);
    expect(jobs.map((j) => j.pipeline)).toEqual(['test']);
    // It does not hold the build: the build ends with the stages that run.
    expect(build.status).toBe('pending');
  });

  it('a file whose only pipeline is for such a platform makes a finished build with that one skipped stage', () => {
    const { build, stages, jobs } = records(droneYaml({ name: 'arm', platform: { arch: 'arm' }, steps: [step('build', ['make'])] }), push);
    expect(stages.map((s) => [s.number, s.name, s.status])).toEqual([[1, 'arm', 'skipped']]);
    expect(jobs).toEqual([]);
    expect(build).toMatchObject({ status: 'success', finishedAt: NOW });
  });

  it('a build none of whose pipelines runs is created finished (no stage end would finish it)', () => {
    const { build, stages } = records(droneYaml({ name: 'docs', trigger: { event: ['tag'] }, steps: [step('site', ['make site'])] }), push);
    expect(stages.map((s) => s.status)).toEqual(['skipped']);
    expect(build).toMatchObject({ status: 'success', finishedAt: NOW });
  });

  it('a pipeline of another runner type is left to that runner: no stage', () => {
    const yaml = `kind: pipeline\ntype: exec\nname: mac\nsteps:\n- name: a\n  commands: [x]\n---\n${droneYaml({ name: 'test', steps: [step('test', ['npm test'])] })}`;
    expect(records(yaml, push).stages.map((s) => s.name)).toEqual(['test']);
  });
});
