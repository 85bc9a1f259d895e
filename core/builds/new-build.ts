// The records of a new build, from the compiled manifest: the build, one stage per
// pipeline of the file (pending, or skipped with the trigger's reason), the steps of each
// compiled stage in file order, and the job of each stage for the jobs queue. Pure.

import { conditionMatches } from '../pipeline/conditions.js';
import type { BuildContext } from '../pipeline/context.js';
import type { CompileResult, CompiledStage } from '../pipeline/compile.js';
import { AGENT_CONTAINER } from '../pipeline/contract.js';
import { ecsSafeName } from '../pipeline/container-names.js';
import { formatDiagnostic } from '../pipeline/format.js';
import type { Condition, Diagnostic, Manifest } from '../pipeline/types.js';
import { buildFailureSummary, buildStatusOf, dependencyVerdict, isStageDone, resolveDependents } from './status.js';
import type { StageJob } from '../scaling/job.js';
import type { Build, GithubInstallation, Stage, StepRecord } from './types.js';
import { buildId as makeBuildId, stageKey } from './types.js';

export interface NewBuildInput {
  ctx: BuildContext;
  deliveryId: string;
  /** The repository's GitHub App installation (the planner's, see StageJob.githubInstallation): each job carries it to the autoscaler's clone token. */
  githubInstallation?: GithubInstallation;
  fork: boolean;
  /** Epoch ms: the build's creation time and the queue time of its first stages. */
  now: number;
  /** Epoch ms the webhook arrived (Build.receivedAt). */
  receivedAt?: Build['receivedAt'];
}

export function buildRecord(input: NewBuildInput, overrides: Partial<Build> = {}): Build {
  const { ctx } = input;
  return {
    id: makeBuildId(ctx.repo.slug, ctx.build.number),
    repo: ctx.repo.slug,
    number: ctx.build.number,
    status: 'pending',
    event: ctx.build.event,
    action: ctx.build.action,
    ref: ctx.commit.ref,
    branch: ctx.commit.branch,
    commit: ctx.commit.sha,
    message: ctx.commit.message,
    author: ctx.commit.author.login,
    link: ctx.commit.link,
    deliveryId: input.deliveryId,
    fork: input.fork,
    createdAt: input.now,
    ...(input.receivedAt !== undefined ? { receivedAt: input.receivedAt } : {}),
    ...(ctx.build.parent !== undefined ? { parent: ctx.build.parent } : {}),
    ...(ctx.pullRequest
      ? {
          sourceBranch: ctx.pullRequest.sourceBranch,
          targetBranch: ctx.pullRequest.targetBranch,
          pullRequestNumber: ctx.pullRequest.number,
          pullRequestTitle: ctx.pullRequest.title,
        }
      : {}),
    ...overrides,
  };
}

/**
 * Stage notes are stored on the stage item: a bound keeps it far below DynamoDB's 400 KB
 * per item (at most 20 × 500 characters, ≤ 30 KB in UTF-8) however many steps a
 * pipeline has. What is cut says so, so nobody mistakes it for all there was.
 */
export const STAGE_NOTE_LIMITS = { count: 20, chars: 500 } as const;

export function boundedNotes(notes: readonly string[], limits: { count: number; chars: number } = STAGE_NOTE_LIMITS): string[] {
  const cut = (note: string): string => {
    // Code points, so that a cut never splits a surrogate pair.
    const chars = [...note];
    return chars.length <= limits.chars ? note : `${chars.slice(0, limits.chars - 1).join('')}…`;
  };
  if (notes.length <= limits.count) return notes.map(cut);
  const kept = notes.slice(0, limits.count - 1).map(cut);
  const more = notes.length - kept.length;
  return [...kept, `… and ${more} more notes (\`slipway compile\` prints them all)`];
}

function stepsOf(build: Build, number: number, compiled: CompiledStage, manifest: Manifest): StepRecord[] {
  const base = { buildId: build.id, stageNumber: number };
  const out: StepRecord[] = [];
  const add = (r: Omit<StepRecord, 'buildId' | 'stageNumber' | 'number'>): void => {
    out.push({ ...base, number: out.length + 1, ...r });
  };
  const plan = compiled.plan;
  if (!plan.clone.disable) add({ name: 'clone', container: AGENT_CONTAINER, status: 'pending', detached: false, kind: 'clone' });
  for (const s of plan.services) add({ name: s.name, container: s.container, status: 'pending', detached: false, kind: 'service' });
  const planned = new Map<string, { container: string; detach: boolean; whenStatus?: 'failure' | 'always'; afterSetup?: true; waitsInContainer?: boolean }>();
  // A split pipeline: the steps of every segment (each segment's plan lists its own), and the
  // detached steps of its service task.
  for (const p of [...(compiled.segments?.map((s) => s.plan) ?? [plan]), ...(compiled.serviceTask ? [compiled.serviceTask.plan] : [])]) {
    for (const c of p.steps) {
      const status = c.whenStatus ? { whenStatus: c.whenStatus, ...(c.gate === undefined ? { waitsInContainer: true } : {}) } : {};
      for (const name of c.steps) planned.set(name, { container: c.container, detach: c.detach, ...status, ...(c.afterSetup ? { afterSetup: true as const } : {}) });
    }
  }
  const skipped = new Map(compiled.skippedSteps.map((s) => [s.name, s.reason]));
  const pipeline = manifest.pipelines.find((p) => p.name === compiled.name);
  // File order, so a skipped step shows where the user wrote it.
  const names = pipeline ? pipeline.steps.map((s) => s.name) : [...planned.keys(), ...skipped.keys()];
  for (const name of names) {
    const p = planned.get(name);
    if (p) add({ name, container: p.container, status: 'pending', detached: p.detach, kind: 'step', ...(p.whenStatus ? { whenStatus: p.whenStatus } : {}), ...(p.afterSetup ? { afterSetup: true as const } : {}), ...(p.waitsInContainer ? { waitsInContainer: true } : {}) });
    else if (skipped.has(name)) add({ name, container: ecsSafeName(name, 'step'), status: 'skipped', detached: false, kind: 'step', reason: skipped.get(name) });
  }
  return out;
}

/**
 * When a stage with `depends_on` runs, from its `trigger: status` (Drone's trigger.go: on
 * success when the status matches `success`, on failure when it matches `failure` and is
 * not empty; core/builds/status.ts, resolveDependents, applies them).
 */
export function triggerStatus(status: Condition): { onSuccess: boolean; onFailure: boolean } {
  const empty = status.include.length === 0 && status.exclude.length === 0;
  return { onSuccess: conditionMatches(status, 'success', 'status'), onFailure: !empty && conditionMatches(status, 'failure', 'status') };
}

export interface NewBuildRecords {
  build: Build;
  stages: Stage[];
  steps: StepRecord[];
  /** One per compiled stage (pending), keyed by stage number. */
  jobs: StageJob[];
}

/**
 * An errored stage's message: its errors as `FILE:LINE:COLUMN: error: message`, one per line,
 * bounded like the notes (the stage item stays small however many errors there are).
 */
export function pipelineErrorText(diagnostics: readonly Diagnostic[]): string {
  return boundedNotes(diagnostics.map(formatDiagnostic)).join('\n').replace('`slipway compile` prints them all', '`slipway lint` prints them all');
}

/**
 * Records of a build whose manifest was read. Stage numbers are file positions (1-based).
 * A pipeline with errors of its own is a stage in status `error` that says why; its
 * dependents are decided at once by Drone's rules (resolveDependents: skipped, unless their
 * trigger asks for failure). A build whose every stage is decided at creation is created
 * finished.
 */
export function newBuildRecords(input: NewBuildInput, manifest: Manifest, compiled: CompileResult): NewBuildRecords {
  const build = buildRecord(input);
  const compiledByName = new Map(compiled.stages.map((s) => [s.name, s]));
  const skippedByName = new Map(compiled.skipped.map((s) => [s.name, s.reason]));
  const erroredByNumber = new Map(compiled.errors.map((e) => [e.number, e]));
  const stages: Stage[] = [];
  const steps: StepRecord[] = [];
  const jobs: StageJob[] = [];
  manifest.pipelines.forEach((pipeline, i) => {
    const number = i + 1;
    const common = { buildId: build.id, repo: build.repo, buildNumber: build.number, number, name: pipeline.name, attempts: 0 };
    const errored = erroredByNumber.get(number);
    if (errored) {
      stages.push({ ...common, status: 'error', reason: 'invalid-config', message: pipelineErrorText(errored.diagnostics), dependsOn: errored.dependsOn, finishedAt: input.now });
      return;
    }
    const c = compiledByName.get(pipeline.name);
    if (!c) {
      stages.push({ ...common, status: 'skipped', message: skippedByName.get(pipeline.name) ?? 'not triggered', dependsOn: pipeline.dependsOn, finishedAt: input.now });
      return;
    }
    const trigger = triggerStatus(pipeline.trigger.status);
    // A stage with nothing to wait for is decided now, by the rule the stage ends use
    // (dependencyVerdict): it starts with the build, or never when it runs only on failure.
    // Drone starts the latter too (trigger.go makes every stage without dependencies pending),
    // which its maintainers call a bug (harness/harness#2683): a failure notifier then runs on
    // every passing build. As GitHub Actions' `if: failure()` and GitLab's `when: on_failure`
    // do, it is skipped: nothing before it can fail.
    const root = c.dependsOn.length === 0 ? dependencyVerdict({ dependsOn: [], ...trigger }, new Map(), new Set()) : undefined;
    if (root?.kind === 'skip') {
      stages.push({ ...common, status: 'skipped', message: root.message, dependsOn: [], finishedAt: input.now });
      return;
    }
    const family = c.taskDefinition.family ?? '';
    const notes = boundedNotes(c.notes);
    stages.push({
      ...common,
      status: 'pending',
      dependsOn: c.dependsOn,
      ...trigger,
      family,
      ...(c.dependsOn.length === 0 ? { queuedAt: input.now } : {}),
      ...(notes.length > 0 ? { notes } : {}),
      ...(c.segments ? { segments: c.segments.length } : {}),
    });
    steps.push(...stepsOf(build, number, c, manifest));
    jobs.push({
      stageKey: stageKey(build.id, number),
      buildId: build.id,
      stageNumber: number,
      repo: build.repo,
      pipeline: pipeline.name,
      // Written either way: a job without it is one stored before it was (start-stage.ts isForkJob).
      fork: build.fork,
      ...(input.githubInstallation ? { githubInstallation: input.githubInstallation } : {}),
      ...(pipeline.concurrency ? { concurrencyLimit: pipeline.concurrency.limit } : {}),
      cpu: Number(c.taskDefinition.cpu),
      memory: Number(c.taskDefinition.memory),
      taskDefinition: { ...c.taskDefinition, family } as StageJob['taskDefinition'],
      runTask: c.runTask as StageJob['runTask'],
      ...(c.segments
        ? {
            segments: c.segments.map((seg) => ({
              number: seg.number,
              taskDefinition: { ...seg.taskDefinition, family: seg.taskDefinition.family ?? '' } as StageJob['taskDefinition'],
              runTask: seg.runTask as StageJob['runTask'],
              cpu: Number(seg.taskDefinition.cpu),
              memory: Number(seg.taskDefinition.memory),
              containers: seg.plan.steps.map((st) => st.container),
              later: seg.later,
            })),
          }
        : {}),
      ...(c.serviceTask
        ? {
            serviceTask: {
              taskDefinition: { ...c.serviceTask.taskDefinition } as StageJob['taskDefinition'],
              runTask: c.serviceTask.runTask as StageJob['runTask'],
              cpu: Number(c.serviceTask.taskDefinition.cpu),
              memory: Number(c.serviceTask.taskDefinition.memory),
            },
          }
        : {}),
      ...(input.receivedAt !== undefined ? { receivedAt: input.receivedAt } : {}),
      queuedAt: input.now,
    });
  });
  // Docker pipelines for a platform Slipway cannot serve (32-bit ARM, Windows) are shown skipped
  // with that reason, as a trigger-skipped one is (and as Drone and GitHub show jobs nothing ran);
  // numbered after the file's other pipelines, whose numbers (DRONE_STAGE_NUMBER, their tasks'
  // tokens) stay their file positions among docker pipelines. Pipelines of another runner type
  // are left to that runner, as Drone leaves them.
  manifest.skipped
    .filter((s) => s.platform)
    .forEach((skipped, k) => {
      const number = manifest.pipelines.length + k + 1;
      stages.push({ buildId: build.id, repo: build.repo, buildNumber: build.number, number, name: skipped.name, attempts: 0, status: 'skipped', message: skipped.reason, dependsOn: skipped.dependsOn, finishedAt: input.now });
    });
  decideAtCreation(build, stages, steps, jobs, input.now);
  return { build, stages, steps, jobs };
}

/**
 * Dependents of stages that are over before anything ran (errored ones) are decided now, as
 * the task-events handler decides them when a stage ends (lambdas/task-events/stage-end.ts).
 * A build none of whose stages runs (all skipped or in error) is created finished: no stage end
 * would ever finish it.
 */
function decideAtCreation(build: Build, stages: Stage[], steps: StepRecord[], jobs: StageJob[], now: number): void {
  const errored = stages.some((s) => s.status === 'error');
  while (errored) {
    const decision = resolveDependents(stages);
    if (decision.skip.length === 0 && decision.enqueue.length === 0) break;
    for (const { stage, message, reason } of decision.skip) {
      Object.assign(stage, { status: 'skipped', message, finishedAt: now, ...(reason ? { reason } : {}) });
      for (const step of steps) if (step.stageNumber === stage.number) Object.assign(step, { status: 'skipped', reason: message });
      const job = jobs.findIndex((j) => j.stageNumber === stage.number);
      if (job >= 0) jobs.splice(job, 1);
    }
    for (const stage of decision.enqueue) stage.queuedAt = now;
  }
  if (stages.length > 0 && stages.every((s) => isStageDone(s.status))) {
    build.status = buildStatusOf(stages);
    build.finishedAt = now;
    const summary = buildFailureSummary(build.status, stages);
    if (summary !== undefined) build.error = summary;
  }
}
