// Where a stage's time went, from push to its task's end: the webhook's receipt (Build.receivedAt,
// for the stages that start with the build), the times ECS gives its task
// (createdAt, pullStartedAt, pullStoppedAt, stoppingAt, stoppedAt: the STOPPED event carries
// them all, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html)
// and the agent's own (AgentResult.setup), recorded once when the stage ends. Pure.
//
// Phases may overlap: images are pulled while the agent clones (steps start with the task).

import type { AgentSetupTimes } from '../pipeline/contract.js';
import type { TaskStateChangeDetail } from './task-event.js';
import type { Build, Stage, StepRecord } from './types.js';

/** Epoch ms of each mark a stage's task passed; absent when it did not (or is unknown). */
export interface StageTimeline {
  /**
   * A split stage's timelines are one per segment (each segment is a task of its own, queued
   * when the one before ended): the segment this one is of, the start of it it records
   * (Stage.attempts before it: 0 unless a Spot interruption requeued it) and when that start was
   * queued. Absent on the timelines of stages that are not split (and of stages recorded before
   * they were kept): the stage's segment, attempt and queuedAt are theirs.
   */
  segment?: number;
  attempt?: number;
  queuedAt?: number;
  /**
   * Why the stage waited in the queue (no capacity, a failed start retried, a Spot
   * interruption, …): its waiting message, moved here when its task ran (StageStore.markRunning)
   * so that the outcome's message does not overwrite it. Absent when it waited for nothing, and
   * on stages recorded before it was kept.
   */
  queuedBecause?: string;
  taskCreatedAt?: number;
  pullStartedAt?: number;
  pullStoppedAt?: number;
  agentStartedAt?: number;
  clonedAt?: number;
  readyAt?: number;
  /**
   * The first step's start (a step that waited in its container: its commands') and the last
   * non-detached step's end, from the step records as the stage ended (stepMarks): the metrics
   * read stages without their steps.
   */
  firstStepAt?: number;
  lastStepAt?: number;
  stoppingAt?: number;
  stoppedAt?: number;
}

type StepTimes = Pick<StepRecord, 'kind' | 'startedAt' | 'finishedAt' | 'status' | 'detached'>;

/** When the stage's first step started and its last non-detached step ended, by their records; absent when none did. */
export function stepMarks(steps: readonly StepTimes[]): Pick<StageTimeline, 'firstStepAt' | 'lastStepAt'> {
  const ran = steps.filter((s) => s.kind === 'step' && s.startedAt !== undefined && s.status !== 'skipped');
  const ends = ran.filter((s) => !s.detached && s.finishedAt !== undefined).map((s) => s.finishedAt!);
  return {
    ...(ran.length > 0 ? { firstStepAt: Math.min(...ran.map((s) => s.startedAt!)) } : {}),
    ...(ends.length > 0 ? { lastStepAt: Math.max(...ends) } : {}),
  };
}

export const PHASE_NAMES = ['control plane', 'queued', 'provisioning', 'pulls', 'clone', 'services ready', 'first step', 'steps', 'teardown'] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

export interface StagePhase {
  name: PhaseName;
  /** Epoch ms. */
  from: number;
  to: number;
  /** What the phase was about, when known: why it waited, for `queued`. */
  note?: string;
  /** The segment of a split stage it belongs to (absent: the stage is not split). */
  segment?: number;
}

/**
 * A stage whose time starts at the push: nothing to wait for, its first attempt (Stage.attempts
 * before the start; a Spot retry is queued anew) and its first segment (a split stage's later
 * segments are queued when the one before ends). Only these count webhook → RunTask and have a
 * "control plane" phase (webhook → events queue → planner → config fetch → queued).
 */
export function startsWithBuild(stage: Pick<Stage, 'dependsOn' | 'segment'>, attempt: number): boolean {
  return stage.dependsOn.length === 0 && attempt === 0 && (stage.segment ?? 1) === 1;
}

const ms = (iso: string | undefined): number | undefined => {
  if (iso === undefined) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
};

/** The marks of a stopped task (its last event) and of its agent's result, when it was read. */
export function stageTimeline(detail: Pick<TaskStateChangeDetail, 'createdAt' | 'pullStartedAt' | 'pullStoppedAt' | 'stoppingAt' | 'stoppedAt'>, setup?: AgentSetupTimes): StageTimeline {
  const marks: StageTimeline = {
    taskCreatedAt: ms(detail.createdAt),
    pullStartedAt: ms(detail.pullStartedAt),
    pullStoppedAt: ms(detail.pullStoppedAt),
    agentStartedAt: ms(setup?.startedAt),
    clonedAt: ms(setup?.clonedAt),
    readyAt: ms(setup?.readyAt),
    stoppingAt: ms(detail.stoppingAt),
    stoppedAt: ms(detail.stoppedAt),
  };
  return Object.fromEntries(Object.entries(marks).filter(([, v]) => v !== undefined)) as StageTimeline;
}

/**
 * The phases of a finished stage, in order, each only when both its ends are known and in
 * order. `steps` are the stage's step records (their start and end times); without them (the
 * metrics), the step marks its timeline recorded. `build` gives the webhook's receipt: the
 * control plane phase of a stage that started with the build (startsWithBuild, with the
 * attempt its task was: the stage counts every start).
 */
export function stagePhases(
  stage: Pick<Stage, 'queuedAt' | 'finishedAt' | 'timeline' | 'segmentTimelines' | 'dependsOn' | 'attempts' | 'segment'>,
  steps: readonly StepTimes[],
  build?: Pick<Build, 'receivedAt'>,
): StagePhase[] {
  const earlier = stage.segmentTimelines ?? [];
  if (earlier.length === 0) return timelinePhases(stage, stage.timeline ?? {}, steps, build, stage.finishedAt);
  // A split stage: each segment's phases, in order; the step records span every segment, so
  // each segment's own step marks count.
  const timelines = [...earlier, ...(stage.timeline ? [stage.timeline] : [])].sort((a, b) => (a.segment ?? 1) - (b.segment ?? 1));
  return timelines.flatMap((t, i) => {
    const last = i === timelines.length - 1 && stage.timeline !== undefined;
    return timelinePhases(stage, t, [], build, last ? stage.finishedAt : undefined).map((p) => ({ ...p, segment: t.segment ?? stage.segment ?? 1 }));
  });
}

/**
 * Why a stage whose task is now over waited in the queue: moved to its timeline when its task
 * ran (StageStore.markRunning); a stage recorded before that kept it as its message meanwhile.
 * Only for a stage that is not finished (a finished stage's message is its outcome's).
 */
export function queuedReason(stage: Pick<Stage, 'timeline' | 'message'>): string | undefined {
  return stage.timeline?.queuedBecause ?? stage.message;
}

/** Whether a stage has recorded a timeline: its own, or (a split stage) one of a segment that ended. */
export function hasTimeline(stage: Pick<Stage, 'timeline' | 'segmentTimelines'>): boolean {
  return stage.timeline !== undefined || (stage.segmentTimelines?.length ?? 0) > 0;
}

/** Whether a stage's timeline began at the push: that of the start of its first segment that started with the build. */
export function timelineFromPush(stage: Pick<Stage, 'dependsOn' | 'attempts' | 'segment'>, t: Pick<StageTimeline, 'segment' | 'attempt'>): boolean {
  return startsWithBuild({ dependsOn: stage.dependsOn, segment: t.segment ?? stage.segment }, t.attempt ?? Math.max(0, stage.attempts - 1));
}

/** The phases of one task's timeline (a stage's, or one segment's of a split stage). */
function timelinePhases(
  stage: Pick<Stage, 'queuedAt' | 'dependsOn' | 'attempts' | 'segment'>,
  t: StageTimeline,
  steps: readonly StepTimes[],
  build: Pick<Build, 'receivedAt'> | undefined,
  finishedAt: number | undefined,
): StagePhase[] {
  const marks = steps.length > 0 ? stepMarks(steps) : { firstStepAt: t.firstStepAt, lastStepAt: t.lastStepAt };
  const firstStart = marks.firstStepAt;
  // A step recorded before steps started at their commands kept its container's start, which the
  // setup's end follows: its commands ran from then.
  const firstStep = firstStart !== undefined && t.readyAt !== undefined ? Math.max(firstStart, t.readyAt) : firstStart;
  const lastStep = marks.lastStepAt;
  const stopped = t.stoppedAt ?? finishedAt;
  const queuedAt = t.queuedAt ?? stage.queuedAt;
  const phases: StagePhase[] = [];
  const add = (name: PhaseName, from: number | undefined, to: number | undefined, note?: string) => {
    if (from !== undefined && to !== undefined && to >= from) phases.push({ name, from, to, ...(note !== undefined ? { note } : {}) });
  };
  if (timelineFromPush(stage, t)) add('control plane', build?.receivedAt, queuedAt);
  add('queued', queuedAt, t.taskCreatedAt, t.queuedBecause);
  add('provisioning', t.taskCreatedAt, t.pullStartedAt);
  add('pulls', t.pullStartedAt, t.pullStoppedAt);
  add('clone', t.agentStartedAt, t.clonedAt);
  add('services ready', t.clonedAt, t.readyAt);
  add('first step', t.readyAt, firstStep);
  add('steps', firstStep, lastStep ?? t.stoppingAt);
  add('teardown', lastStep !== undefined && t.stoppingAt !== undefined ? Math.min(lastStep, t.stoppingAt) : (t.stoppingAt ?? lastStep), stopped);
  return phases;
}
