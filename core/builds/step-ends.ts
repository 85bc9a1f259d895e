// When the commands of a step that waits in its container ended, and how, read from its agent's
// log while the stage runs. Pure.
//
// A step with commands that a later step names in an ECS START stays up after its commands
// until that step's container is up (core/pipeline/script.ts, lingerLines), which may take a
// pull of tens of seconds: ECS's events show its container still running. The agent reads the
// step's exit record and says so in a line with its exit code and the record's time
// (task-runner/supervise.ts); its result says the time again when the stage ends
// (AgentResult.ended, step-times.ts commandEndFixes). The status is decided by the stage end's
// own rule (status.ts stepChanges), for that exit code, from what is known while the task runs:
// where that rule waits for the stage's end (a step that runs on a status, a wrapper that
// skipped itself with SETUP_SKIPPED_EXIT_CODE, an exit 0 after an exit 78, a signal that a
// stop of the task may have sent), nothing is decided here.

import { AGENT_CONTAINER, AGENT_LINE } from '../pipeline/contract.js';
import type { TimedText } from './clone-end.js';
import { isStepDone, stepChanges, type StepChange } from './status.js';
import type { TaskStateChangeDetail } from './task-event.js';
import { agentStepLine } from './step-starts.js';
import { startsAtCommands, stepTimes } from './step-times.js';
import type { StepRecord } from './types.js';

/** A step's exit as its agent's line says it: its exit code and when its exit record was written (epoch ms). */
export interface CommandEnd {
  exitCode: number;
  at: number;
}

/**
 * The exit of each step the agent's lines say exited with a known code and a named time, by
 * container. The first line of a container counts; a line without a time (an older agent) or
 * with a code that is not an exit status (0–255) says nothing here.
 */
export function commandEndsFromAgentLog(lines: readonly TimedText[]): Map<string, CommandEnd> {
  const ends = new Map<string, CommandEnd>();
  for (const line of lines) {
    const said = agentStepLine(line.text);
    if (said === undefined) continue;
    const { container, after } = said;
    if (ends.has(container) || !after.startsWith(AGENT_LINE.stepExited)) continue;
    const [code, time, ...more] = after.slice(AGENT_LINE.stepExited.length).split(AGENT_LINE.stepEndedAt);
    if (code === undefined || time === undefined || more.length > 0 || !/^\d{1,3}$/.test(code)) continue;
    const exitCode = Number(code);
    const at = /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(time) ? Date.parse(time) : Number.NaN;
    if (exitCode > 255 || Number.isNaN(at)) continue;
    ends.set(container, { exitCode, at });
  }
  return ends;
}

/**
 * A step whose end the agent's log may show while the stage runs and the stage end's rule can
 * decide from its exit code alone: one with commands that waits in its wrapper for the setup
 * (afterSetup). Not a step that runs on a status (its container's exit 0 may be its gate's skip,
 * which only the agent's result settles), nor a plugin step (no exit record of its own).
 */
export function endReadable(step: Pick<StepRecord, 'kind' | 'afterSetup' | 'waitsInContainer' | 'whenStatus'>): boolean {
  return startsAtCommands(step) && step.afterSetup === true && step.waitsInContainer !== true && step.whenStatus === undefined;
}

/**
 * The status the stage's end would give the step for its exit, while the task runs: stepChanges
 * on the stage's steps with each exit the agent's lines show as a stopped container, once for a
 * task that runs on and once for one being stopped (a cancel, a Spot interruption: a signal's
 * exit then is a kill, not a failure). Undefined unless both agree on a final status: the rule
 * itself waits for the stage's end, or the answer depends on what only the end tells.
 */
export function endDecision(step: StepRecord, stageSteps: readonly StepRecord[], ends: ReadonlyMap<string, CommandEnd>, taskArn: string): StepChange | undefined {
  const containers = [
    { name: AGENT_CONTAINER, lastStatus: 'RUNNING' },
    ...stageSteps.flatMap((s) => {
      const end = s.kind === 'step' ? ends.get(s.container) : undefined;
      return end ? [{ name: s.container, lastStatus: 'STOPPED', exitCode: end.exitCode }] : [];
    }),
  ];
  const task = (stopping: boolean): TaskStateChangeDetail => ({
    clusterArn: '', taskArn, taskDefinitionArn: '', lastStatus: 'RUNNING', version: 0, containers,
    ...(stopping ? { desiredStatus: 'STOPPED', stopCode: 'UserInitiated' } : { desiredStatus: 'RUNNING' }),
  });
  const [runsOn, stopped] = [false, true].map((stopping) => stepChanges(task(stopping), [...stageSteps]).find((c) => c.number === step.number));
  if (runsOn === undefined || stopped === undefined) return undefined;
  if (runsOn.status !== stopped.status || runsOn.exitCode !== stopped.exitCode || !isStepDone(runsOn.status) || runsOn.status === 'skipped') return undefined;
  return runsOn;
}

/**
 * The step's record with the end its agent's lines show, forward only: a step that runs or
 * waits, of the task whose log was read, ends with the stage end's status for its exit code and
 * its commands' end as its finish (its start as known, never after its end). Anything else as it is.
 */
export function withCommandEnd(step: StepRecord, stageSteps: readonly StepRecord[], ends: ReadonlyMap<string, CommandEnd>, taskArn: string): StepRecord {
  const end = ends.get(step.container);
  if (end === undefined || !endReadable(step) || isStepDone(step.status)) return step;
  if (step.startedAt !== undefined && end.at < step.startedAt) return step;
  const change = endDecision(step, stageSteps, ends, taskArn);
  if (change === undefined) return step;
  const times = stepTimes(step, { status: change.status, ...(step.startedAt === undefined ? { startUnknown: true } : {}), finishedAt: end.at }, end.at);
  const { startedAt: _startedAt, finishedAt: _finishedAt, ...rest } = step;
  return {
    ...rest,
    status: change.status,
    ...(change.exitCode !== undefined ? { exitCode: change.exitCode } : {}),
    ...(change.reason !== undefined ? { reason: change.reason } : {}),
    ...(step.startedAt !== undefined ? { startedAt: step.startedAt } : {}),
    ...times,
  };
}
