// Progress of a local build in the terminal: one line when a step starts and one when it
// ends (with its duration), then the summary table of stages and steps.

import { stepLogTask, type BuildDetail, type Stage, type StepRecord } from '../core/builds/types.js';
import { agentPhases, describePhases, type AgentPhase } from './agent-phases.js';
import { duration } from './format.js';

/** The phases of a clone step (agentPhases over its log), when its log can be read. */
export type PhasesOf = (stage: Stage & { steps?: readonly StepRecord[] }, step: StepRecord) => AgentPhase[] | undefined;

const MARK: Record<string, string> = { success: '✓', failure: '✗', error: '✗', killed: '■', skipped: '-', running: '…' };

/**
 * A callback for LocalSlipway.waitForBuild that prints what changed since its last call. With
 * `phasesOf`, a clone step's line gives the clone's own time and, beside it, the agent's start,
 * the wait for services and the start of the steps, which its record's span also holds.
 */
export function progressPrinter(out: (line: string) => void, phasesOf?: PhasesOf): (build: BuildDetail) => void {
  const seen = new Map<string, string>();
  return (build) => {
    const now = Date.now();
    for (const stage of build.stages) {
      const prefix = build.stages.length > 1 ? `${stage.name}/` : '';
      for (const step of stage.steps) {
        const key = `${stage.number}.${step.number}`;
        const before = seen.get(key);
        if (before === step.status) continue;
        seen.set(key, step.status);
        if (step.status === 'pending') continue;
        const kind = step.kind === 'service' ? ' (service)' : '';
        if (step.status === 'running') out(`  … ${prefix}${step.name}${kind} running`);
        else if (step.kind === 'clone' && step.status === 'success' && phasesOf) {
          const phases = describePhases(phasesOf(stage, step) ?? []);
          if (phases) out(`  ${MARK.success} ${prefix}${step.name} success in ${phases.clone}${phases.others ? ` (${phases.others})` : ''}`);
          else out(`  ${MARK.success} ${prefix}${step.name} success in ${duration(step.startedAt, step.finishedAt, now)}`);
        } else out(`  ${MARK[step.status] ?? '?'} ${prefix}${step.name}${kind} ${step.status}${step.startedAt !== undefined ? ` in ${duration(step.startedAt, step.finishedAt, now)}` : ''}${step.reason && step.status !== 'success' ? ` — ${step.reason}` : ''}`);
      }
    }
  };
}

/** Phases read from the ECS stand-in's capture of the agent's output (local mode: `run`, `up`). */
export function localPhases(local: { aws: { ecs: { logs(taskArn: string, container: string): { timestamp: number; message: string }[] } } }): PhasesOf {
  return (stage, step) => {
    const taskArn = stepLogTask(stage, step);
    if (!taskArn) return undefined;
    return agentPhases(step, local.aws.ecs.logs(taskArn, step.container).map((l) => ({ time: l.timestamp, text: l.message })), stage.steps?.some((s) => s.afterSetup) ?? false);
  };
}
