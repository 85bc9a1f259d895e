// A build as read while its stages run, with what each running stage's agent log shows that
// ECS's events cannot: the clone's end (core/builds/clone-end.ts) and when the commands of the
// steps that wait in their containers started (core/builds/step-starts.ts). The API's build
// route and local mode's follow of a build use it, so that the clone shows passed (or failed)
// when it ended, not when a step that started with the task first passes, and such a step
// shows running from its commands' start, not pending until its container ends.
//
// What is seen is recorded forward only (a clone passed, a step from pending to running, a
// finished step's start), so the log is read only while something is still unknown. A failed
// clone is shown and left to the stage's end to record, which adds git's exit code from the
// agent's result (core/builds/status.ts stepChanges).

import type { BuildStore } from '../../../core/builds/ports.js';
import { cloneEndFromAgentLog, withCloneEnd, type TimedText } from '../../../core/builds/clone-end.js';
import { isStepDone } from '../../../core/builds/status.js';
import { commandStartsFromAgentLog, withCommandStart } from '../../../core/builds/step-starts.js';
import { startsAtCommands } from '../../../core/builds/step-times.js';
import { stepLogTask, type BuildDetail, type StepRecord } from '../../../core/builds/types.js';
import { headPosition, type LogReader } from '../../../core/logs/log-reader.js';
import { AGENT_CONTAINER } from '../../../core/pipeline/contract.js';
import { logStreamName } from '../../../core/pipeline/log-configuration.js';

/**
 * The agent's lines read from the head of its stream: the clone ends within its first ones, git's
 * progress lines included; a step's start follows a few lines per step before it. One
 * GetLogEvents call returns up to 10,000 events, so this costs no more calls than 200 did.
 */
const AGENT_HEAD_LINES = 1000;
/**
 * Stages whose agent's log one read of a build reads at most: the dashboard reads a running
 * build every second, and CloudWatch Logs' GetLogEvents quota is the account's, per Region, and
 * low (https://docs.aws.amazon.com/general/latest/gr/cwl_region.html; lambdas/shared/clients.ts):
 * the step logs read beside it share it. What is found is recorded, so the next reads turn to the others.
 */
const MAX_AGENT_READS = 4;

export interface AgentProgressDeps {
  store: Pick<BuildStore, 'updateStep'>;
  logs: LogReader;
  log(message: string, fields?: Record<string, unknown>): void;
}

type StageDetail = BuildDetail['stages'][number];

export async function withAgentProgress<T extends BuildDetail>(deps: AgentProgressDeps, detail: T): Promise<T> {
  const toRead = new Set(detail.stages.filter(agentLogTells).slice(0, MAX_AGENT_READS));
  const stages = await Promise.all(
    detail.stages.map(async (stage) => {
      const taskArn = stage.taskArn;
      if (!toRead.has(stage) || taskArn === undefined) return stage;
      let lines: TimedText[];
      try {
        const page = await deps.logs.read(logStreamName(AGENT_CONTAINER, taskArn), headPosition(0), AGENT_HEAD_LINES);
        lines = page.events.map((e) => ({ time: e.timestamp, text: e.message }));
      } catch (err) {
        // The build is still worth showing: its records stand until a later read.
        deps.log("agent log could not be read; the stage's steps are shown as stored", { buildId: detail.id, stage: stage.number, taskArn, error: (err as Error).message });
        return stage;
      }
      const clone = cloneUnknown(stage) ? stage.steps.find((s) => s.kind === 'clone') : undefined;
      const cloneEnd = clone ? cloneEndFromAgentLog(lines) : undefined;
      const starts = commandStartsFromAgentLog(lines);
      const steps: StepRecord[] = [];
      for (const step of stage.steps) {
        const shown = step === clone ? withCloneEnd(step, cloneEnd, lines[0]?.time) : runsInTask(stage, step, taskArn) ? withCommandStart(step, starts.get(step.container)) : step;
        if (shown !== step) await record(deps, detail.id, stage.number, step, shown, taskArn);
        steps.push(shown);
      }
      return { ...stage, steps };
    }),
  );
  return { ...detail, stages };
}

/** Writes what the agent's log showed, forward only; a failed clone is left to the stage's end. */
async function record(deps: AgentProgressDeps, buildId: string, stageNumber: number, step: StepRecord, shown: StepRecord, taskArn: string): Promise<void> {
  if (step.kind === 'clone') {
    if (shown.status !== 'success') return;
    await deps.store.updateStep(buildId, stageNumber, step.number, { status: 'success', startedAt: shown.startedAt, finishedAt: shown.finishedAt, taskArn }, { fromStatuses: ['pending', 'running'] });
    return;
  }
  if (shown.startedAt === undefined) return;
  const patch = step.status === 'pending' ? { status: 'running' as const, startedAt: shown.startedAt, taskArn } : { status: step.status, startedAt: shown.startedAt };
  await deps.store.updateStep(buildId, stageNumber, step.number, patch, { fromStatuses: [step.status] });
}

/** The step's container belongs to the task whose agent's log is read (a split stage's segments each have theirs). */
function runsInTask(stage: StageDetail, step: StepRecord, taskArn: string): boolean {
  return (stepLogTask(stage, step) ?? taskArn) === taskArn;
}

/** A running stage whose agent's log may say more than its records: its clone's end, or a waiting step's start. */
function agentLogTells(stage: StageDetail): boolean {
  if (stage.status !== 'running' || stage.taskArn === undefined) return false;
  return cloneUnknown(stage) || stage.steps.some((s) => startsAtCommands(s) && (s.status === 'pending' || (s.status !== 'skipped' && s.startedAt === undefined)));
}

/** The clone's record is not final yet, and its agent's log may say more. */
function cloneUnknown(stage: StageDetail): boolean {
  const clone = stage.steps.find((s) => s.kind === 'clone');
  // A later segment of a split stage starts from the first one's workspace: its clone is that one's.
  return clone !== undefined && !isStepDone(clone.status) && (stage.segment ?? 1) === 1 && stepLogTask(stage, clone) === stage.taskArn;
}
