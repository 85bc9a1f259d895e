// When the commands of a step that waits in its container started, read from its agent's log
// while the stage runs. Pure.
//
// Such a step's container starts before its commands do: with the task, waiting in its wrapper
// for the clone and the services (StepRecord.afterSetup), or for the steps before it
// (StepRecord.waitsInContainer). ECS's events say only when the container started; the agent
// says when the wrapper's wait ended (its `.started` marker), in a line with that time
// (task-runner/supervise.ts), and the agent's result says it again when the stage ends.

import { AGENT_LINE } from '../pipeline/contract.js';
import type { TimedText } from './clone-end.js';
import { startsAtCommands } from './step-times.js';
import type { StepRecord } from './types.js';

/**
 * The commands' start of each step the agent's lines say started, by container (epoch ms): the
 * time the line names, else the line's own (an agent that named none saw the start at most one
 * poll late). The first line of a container counts.
 */
export function commandStartsFromAgentLog(lines: readonly TimedText[]): Map<string, number> {
  const starts = new Map<string, number>();
  for (const line of lines) {
    const said = agentStepLine(line.text);
    if (said === undefined) continue;
    const { container, after } = said;
    if (starts.has(container)) continue;
    if (after.startsWith(AGENT_LINE.stepStartedAt)) {
      const named = Date.parse(after.slice(AGENT_LINE.stepStartedAt.length).split(' ', 1)[0] ?? '');
      if (!Number.isNaN(named)) starts.set(container, named);
    } else if (after === AGENT_LINE.stepStarted || after.startsWith(`${AGENT_LINE.stepStarted} (`)) {
      starts.set(container, line.time);
    }
  }
  return starts;
}

/**
 * What an agent's line says of one step (`slipway-agent: step <container> …`, task-runner/supervise.ts):
 * the container and the rest of the line from the space after its name.
 */
export function agentStepLine(text: string): { container: string; after: string } | undefined {
  const head = AGENT_LINE.prefix + AGENT_LINE.step;
  if (!text.startsWith(head)) return undefined;
  const rest = text.slice(head.length);
  const space = rest.indexOf(' ');
  return space <= 0 ? undefined : { container: rest.slice(0, space), after: rest.slice(space) };
}

/**
 * The step's record with its commands' start when its agent's lines show it: a pending step
 * runs from then; a finished one recorded without a start (its container stopped before the
 * stage ended, AgentResult.started comes with that end) gets it. Anything else as it is.
 */
export function withCommandStart(step: StepRecord, startedAt: number | undefined): StepRecord {
  if (startedAt === undefined || !startsAtCommands(step)) return step;
  if (step.status === 'pending') return { ...step, status: 'running', startedAt };
  if (step.status === 'skipped' || step.startedAt !== undefined) return step;
  return { ...step, startedAt };
}
