// Where a stage's time went, from push to its task's end: the times ECS gives its task
// (createdAt, pullStartedAt, pullStoppedAt, stoppingAt, stoppedAt: the STOPPED event carries
// them all, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html)
// and the agent's own (AgentResult.setup), recorded once when the stage ends. Pure.
//
// Phases may overlap: images are pulled while the agent clones (steps start with the task).

import type { AgentSetupTimes } from '../pipeline/contract.js';
import type { TaskStateChangeDetail } from './task-event.js';
import type { Stage, StepRecord } from './types.js';

/** Epoch ms of each mark a stage's task passed; absent when it did not (or is unknown). */
export interface StageTimeline {
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

export const PHASE_NAMES = ['queued', 'provisioning', 'pulls', 'clone', 'services ready', 'first step', 'steps', 'teardown'] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

export interface StagePhase {
  name: PhaseName;
  /** Epoch ms. */
  from: number;
  to: number;
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
 * metrics), the step marks its timeline recorded.
 */
export function stagePhases(stage: Pick<Stage, 'queuedAt' | 'finishedAt' | 'timeline'>, steps: readonly StepTimes[]): StagePhase[] {
  const t = stage.timeline ?? {};
  const marks = steps.length > 0 ? stepMarks(steps) : { firstStepAt: t.firstStepAt, lastStepAt: t.lastStepAt };
  const firstStart = marks.firstStepAt;
  // A step recorded before steps started at their commands kept its container's start, which the
  // setup's end follows: its commands ran from then.
  const firstStep = firstStart !== undefined && t.readyAt !== undefined ? Math.max(firstStart, t.readyAt) : firstStart;
  const lastStep = marks.lastStepAt;
  const stopped = t.stoppedAt ?? stage.finishedAt;
  const phases: StagePhase[] = [];
  const add = (name: PhaseName, from: number | undefined, to: number | undefined) => {
    if (from !== undefined && to !== undefined && to >= from) phases.push({ name, from, to });
  };
  add('queued', stage.queuedAt, t.taskCreatedAt);
  add('provisioning', t.taskCreatedAt, t.pullStartedAt);
  add('pulls', t.pullStartedAt, t.pullStoppedAt);
  add('clone', t.agentStartedAt, t.clonedAt);
  add('services ready', t.clonedAt, t.readyAt);
  add('first step', t.readyAt, firstStep);
  add('steps', firstStep, lastStep ?? t.stoppingAt);
  add('teardown', lastStep !== undefined && t.stoppingAt !== undefined ? Math.min(lastStep, t.stoppingAt) : (t.stoppingAt ?? lastStep), stopped);
  return phases;
}
