// What the time around a stage's clone step is made of. Its record runs from the agent
// container's start (an ECS event) to the clone's end (the agent's own time, once known:
// lambdas/shared/execution/agent-progress.ts), so it holds the agent's start and the clone; the
// wait for services and the health check that lets the first steps start follow it. The
// agent's own log lines (task-runner/agent.ts, clone.ts, each with its time) mark where one
// ends and the next begins; this splits the span at them.
//
// "steps start" (the agent ready → the first step's commands start) is, for a step with
// commands, the moment its wrapper sees the setup record (it waits in its container, started
// with the task); for a plugin step, mostly ECS's health check: it waits for the agent to be
// HEALTHY, and a check runs one interval after the container starts, then every interval
// (5–300 s, default 30: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_HealthCheck.html).

import { AGENT_LINE } from '../core/pipeline/contract.js';
import type { StepRecord } from '../core/builds/types.js';

/** A log line with its time (epoch milliseconds), as the log readers return them. */
export interface TimedLine {
  time: number;
  text: string;
}

export interface AgentPhase {
  name: 'agent start' | 'clone' | 'services ready' | 'steps start';
  ms: number;
}

const AGENT = AGENT_LINE.prefix;

/**
 * When the first step that waited for the setup started its commands (epoch ms): the end of
 * "steps start". A step that waits in its wrapper counts from its commands' start, which its
 * record holds (step-times.ts startsAtCommands), as the stage's timeline counts it
 * (core/builds/stage-timeline.ts stepMarks); a step that runs on a status starts with the agent.
 */
export function firstStepStart(steps: readonly Pick<StepRecord, 'kind' | 'status' | 'startedAt' | 'whenStatus'>[]): number | undefined {
  const starts = steps.filter((s) => s.kind === 'step' && s.status !== 'skipped' && s.whenStatus === undefined && s.startedAt !== undefined).map((s) => s.startedAt!);
  return starts.length > 0 ? Math.min(...starts) : undefined;
}

/**
 * The phases of a clone step from its agent's log, in order; each one only when both of its
 * ends are known. Undefined when the log does not show the clone ended (it failed, or the log
 * is not read yet): the step's own duration then is all there is to show.
 */
export function agentPhases(
  step: { startedAt?: number; finishedAt?: number },
  lines: readonly TimedLine[],
  /**
   * The stage's steps start with the task and wait for the agent in their wrapper
   * (StepRecord.afterSetup): the clone step's record then ends when a step passes or the
   * autoscaler's scheduled pass sees the agent HEALTHY (lambdas/autoscaler/reconcile.ts),
   * so its end is no step's start: without firstStepAt, no "steps start" phase.
   */
  stepsStartWithTask = false,
  /**
   * firstStepStart of the stage's steps. One before `ready:` is a step recorded with its
   * container's start, which held the wait for the setup (records made before steps started at
   * their commands): its commands ran from `ready:` on, as stage-timeline.ts counts it. Without
   * it, the clone record's end, unless the steps start with the task.
   */
  firstStepAt?: number,
): AgentPhase[] | undefined {
  const at = (test: (message: string) => boolean): number | undefined =>
    lines.find((l) => l.text.startsWith(AGENT) && test(l.text.slice(AGENT.length)))?.time;
  const agentFirst = lines.find((l) => l.text.startsWith(AGENT))?.time;
  const cloneStart = at((m) => m.startsWith(AGENT_LINE.clone));
  const cloneEnd = at((m) => m.startsWith(AGENT_LINE.cloned) || m === AGENT_LINE.cloneDisabled);
  if (cloneStart === undefined || cloneEnd === undefined) return undefined;
  const ready = at((m) => m.startsWith('ready: '));
  const phases: AgentPhase[] = [];
  const add = (name: AgentPhase['name'], from: number | undefined, to: number | undefined) => {
    if (from !== undefined && to !== undefined && to >= from) phases.push({ name, ms: to - from });
  };
  add('agent start', step.startedAt, agentFirst);
  add('clone', cloneStart, cloneEnd);
  add('services ready', cloneEnd, ready);
  const firstStep = firstStepAt !== undefined && ready !== undefined ? Math.max(firstStepAt, ready) : (firstStepAt ?? (stepsStartWithTask ? undefined : step.finishedAt));
  add('steps start', ready, firstStep);
  return phases;
}

/** `0.27s`, `3.4s`, `16s`, `2m 05s`: short spans keep the precision a clone has. */
export function phaseDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 1) return `${s.toFixed(2)}s`;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.round(s)}s`;
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)}m ${String(whole % 60).padStart(2, '0')}s`;
}

/** The clone's own time, and the other phases beside it: `0.27s` and `agent start 2.1s, services ready 1.0s, steps start 12s`. */
export function describePhases(phases: readonly AgentPhase[]): { clone: string; others: string } | undefined {
  const clone = phases.find((p) => p.name === 'clone');
  if (!clone) return undefined;
  return {
    clone: phaseDuration(clone.ms),
    others: phases
      .filter((p) => p.name !== 'clone')
      .map((p) => `${p.name} ${phaseDuration(p.ms)}`)
      .join(', '),
  };
}
