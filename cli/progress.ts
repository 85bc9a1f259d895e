// Progress of a build in the terminal: one line when a step starts and one when it ends
// (with its duration), in the order the build did them, then the summary table of stages
// and steps.
//
// The build is read again and again (a poll, or each change of the local store): between
// two reads a step may have started and ended, several steps of several stages may have
// moved, and a read may come from a replica that is behind the one before. So each read's
// new lines are put in the order of their times, a step's start is printed before its end
// even when both are seen at once, and a status is printed at most once and never one
// older than what was printed (a status only moves forward: core/builds/status-rank.ts).

import { isFinished, statusRank } from '../core/builds/status-rank.js';
import { shownStep } from '../core/builds/step-times.js';
import { stepLogTask, type BuildDetail, type Stage, type StepRecord } from '../core/builds/types.js';
import { agentPhases, describePhases, firstStepStart, type AgentPhase } from './agent-phases.js';
import { duration } from './format.js';

/** The phases of a clone step (agentPhases over its log), when its log can be read. */
export type PhasesOf = (stage: Stage & { steps?: readonly StepRecord[] }, step: StepRecord) => AgentPhase[] | undefined;

const MARK: Record<string, string> = { success: '✓', failure: '✗', error: '✗', killed: '■', skipped: '-', running: '…' };

/** One line to print, with when it happened (epoch ms; unknown: after everything known) and its place in the pipeline. */
interface ProgressLine {
  at: number;
  order: number;
  text: string;
}

/**
 * A step runs only after the clone (the setup's first part): a plugin step waits for the
 * agent's HEALTHY, one with commands in its wrapper for the agent's setup record, with its
 * container running meanwhile (StepRecord.afterSetup, whenStatus). Services start with the agent.
 * So while a read shows the clone unfinished, what it shows of the steps waits for the read
 * that shows the clone's end (the end of a stage always does), and a step's start is printed
 * no earlier than that end.
 */
function waitsForClone(step: StepRecord): boolean {
  return step.kind === 'step';
}

/**
 * A callback for each read of a build that prints what changed since the reads before it. With
 * `phasesOf`, a clone step's line gives the clone's own time and, beside it, the agent's start,
 * the wait for services and the start of the steps.
 */
export function progressPrinter(out: (line: string) => void, phasesOf?: PhasesOf): (build: BuildDetail) => void {
  /** The rank (status-rank.ts) of the last status printed for each step. */
  const printed = new Map<string, number>();
  return (build) => {
    const now = Date.now();
    const lines: ProgressLine[] = [];
    for (const stage of build.stages) {
      const prefix = build.stages.length > 1 ? `${stage.name}/` : '';
      const clone = stage.steps.find((s) => s.kind === 'clone');
      for (const step of stage.steps) {
        const key = `${stage.number}.${step.number}`;
        const rank = statusRank(step.status);
        const before = printed.get(key) ?? 0;
        // Nothing new, or a read older than one already printed.
        if (rank <= before) continue;
        const order = stage.number * 10_000 + step.number * 2;
        if (waitsForClone(step) && clone && !isFinished(clone.status)) continue;
        const span = shownStep(step);
        // Its start, unless printed already: also when this read sees it ended (it ran in between).
        if (before < 1 && span.startedAt !== undefined) {
          const setupEnd = waitsForClone(step) ? clone?.finishedAt : undefined;
          const at = setupEnd !== undefined ? Math.max(span.startedAt, setupEnd) : span.startedAt;
          lines.push({ at, order, text: `  ${MARK.running} ${prefix}${step.name}${step.kind === 'service' ? ' (service)' : ''} running` });
        }
        if (rank === 2) lines.push({ at: span.finishedAt ?? Number.POSITIVE_INFINITY, order: order + 1, text: endLine(stage, step, prefix, now, phasesOf) });
        printed.set(key, rank);
      }
    }
    lines.sort((a, b) => a.at - b.at || a.order - b.order);
    for (const line of lines) out(line.text);
  };
}

/** A finished step's line: its mark, status, duration and, unless it passed, why. */
function endLine(stage: BuildDetail['stages'][number], step: StepRecord, prefix: string, now: number, phasesOf?: PhasesOf): string {
  const kind = step.kind === 'service' ? ' (service)' : '';
  if (step.kind === 'clone' && step.status === 'success' && phasesOf) {
    const phases = describePhases(phasesOf(stage, step) ?? []);
    if (phases) return `  ${MARK.success} ${prefix}${step.name} success in ${phases.clone}${phases.others ? ` (${phases.others})` : ''}`;
    return `  ${MARK.success} ${prefix}${step.name} success in ${duration(step.startedAt, step.finishedAt, now)}`;
  }
  const span = shownStep(step);
  return `  ${MARK[step.status] ?? '?'} ${prefix}${step.name}${kind} ${step.status}${span.startedAt !== undefined ? ` in ${duration(span.startedAt, span.finishedAt, now)}` : ''}${step.reason && step.status !== 'success' ? ` — ${step.reason}` : ''}`;
}

/** Phases read from the ECS stand-in's capture of the agent's output (local mode: `run`, `up`). */
export function localPhases(local: { aws: { ecs: { logs(taskArn: string, container: string): { timestamp: number; message: string }[] } } }): PhasesOf {
  return (stage, step) => {
    const taskArn = stepLogTask(stage, step);
    if (!taskArn) return undefined;
    const steps = stage.steps ?? [];
    return agentPhases(step, local.aws.ecs.logs(taskArn, step.container).map((l) => ({ time: l.timestamp, text: l.message })), steps.some((s) => s.afterSetup), firstStepStart(steps));
  };
}
