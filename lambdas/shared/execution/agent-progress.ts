// A build as read while its stages run, with what each running stage's agent log shows that
// ECS's events cannot: the clone's end (core/builds/clone-end.ts), when the commands of the
// steps that wait in their containers started (core/builds/step-starts.ts), and when and how
// they ended (core/builds/step-ends.ts). The API's build route and local mode's follow of a
// build use it, so that the clone shows passed (or failed) when it ended, not when a step that
// started with the task first passes, and such a step shows running from its commands' start,
// not pending until its container ends, and ended at its commands' end, not running while its
// container stays up for a later step's START (core/pipeline/script.ts, lingerLines).
//
// What is seen is recorded forward only (a clone passed or failed, a step from pending to
// running or from running to its end, a finished step's start, the stage's earliest first
// step), so the log is read only
// while something its current task's log can still tell is unknown, and at most once per
// AGENT_READ_INTERVAL_MS; the stage's end adds a failed clone's git exit code from
// the agent's result (apply-event.ts). Every write holds only while the stage runs the task
// whose log was read (StageStore.updateStepOfTask): a Spot requeue gives it another.

import type { StageStore, StepPatch } from '../../../core/builds/ports.js';
import { cloneEndFromAgentLog, withCloneEnd, type TimedText } from '../../../core/builds/clone-end.js';
import { isStepDone } from '../../../core/builds/status.js';
import { commandEndsFromAgentLog, endReadable, withCommandEnd } from '../../../core/builds/step-ends.js';
import { commandStartsFromAgentLog, withCommandStart } from '../../../core/builds/step-starts.js';
import { startsAtCommands } from '../../../core/builds/step-times.js';
import { stepLogTask, type BuildDetail, type StepRecord, type StepStatus } from '../../../core/builds/types.js';
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
 * How often one stage's agent log is read at most (Stage.agentReadAt, written on every read):
 * whatever its log can or cannot still say (a start beyond the head, a step that skipped itself,
 * a later segment's step), a build page open for an hour costs at most 360 reads of it.
 */
export const AGENT_READ_INTERVAL_MS = 10_000;
/**
 * Stages whose agent's log one read of a build reads at most (one GetLogEvents call each): the
 * dashboard reads a running build every second, and CloudWatch Logs' GetLogEvents quota is the
 * account's, per Region, and low (https://docs.aws.amazon.com/general/latest/gr/cwl_region.html;
 * lambdas/shared/clients.ts): the step logs read beside it share it. When more stages could say
 * more, the least recently read go first (Stage.agentReadAt), so none that is due waits more
 * than ceil(stages / 4) reads of the build for its turn.
 */
export const MAX_AGENT_READS = 4;

export interface AgentProgressDeps {
  stages: Pick<StageStore, 'updateStepOfTask' | 'noteFirstStepAt' | 'noteAgentRead'>;
  logs: LogReader;
  now(): number;
  log(message: string, fields?: Record<string, unknown>): void;
}

type StageDetail = BuildDetail['stages'][number];

export async function withAgentProgress<T extends BuildDetail>(deps: AgentProgressDeps, detail: T): Promise<T> {
  const at = deps.now();
  const due = (stage: StageDetail) => stage.agentReadAt === undefined || at - stage.agentReadAt >= AGENT_READ_INTERVAL_MS;
  const waiting = detail.stages.filter((stage) => agentLogTells(stage) && due(stage));
  const toRead = new Set(leastRecentlyRead(waiting).slice(0, MAX_AGENT_READS));
  // The read time gives the stages left out the next turn, and holds this one's next read back.
  const turns = [...toRead].map((stage) => recorded(deps, detail.id, stage, 'the time its agent log was read', () => deps.stages.noteAgentRead(detail.id, stage.number, stage.taskArn!, at)));
  const [stages] = await Promise.all([Promise.all(detail.stages.map((stage) => (toRead.has(stage) ? withStageProgress(deps, detail.id, stage, stage.taskArn!) : stage))), ...turns]);
  return { ...detail, stages };
}

/** One running stage with what the agent's log of its current task shows, recorded. */
async function withStageProgress(deps: AgentProgressDeps, buildId: string, stage: StageDetail, taskArn: string): Promise<StageDetail> {
  let lines: TimedText[];
  try {
    // One GetLogEvents call: the head read sends no token, so a second call would only find the end of a short log.
    const page = await deps.logs.read(logStreamName(AGENT_CONTAINER, taskArn), headPosition(0), AGENT_HEAD_LINES, { maxCalls: 1 });
    lines = page.events.map((e) => ({ time: e.timestamp, text: e.message }));
  } catch (err) {
    // The build is still worth showing: its records stand until a later read.
    deps.log("agent log could not be read; the stage's steps are shown as stored", { buildId, stage: stage.number, taskArn, error: (err as Error).message });
    return stage;
  }
  const clone = cloneUnknown(stage) ? stage.steps.find((s) => s.kind === 'clone') : undefined;
  const cloneEnd = clone ? cloneEndFromAgentLog(lines) : undefined;
  const starts = commandStartsFromAgentLog(lines);
  const ends = commandEndsFromAgentLog(lines);
  const steps: StepRecord[] = [];
  for (const step of stage.steps) {
    const shown = step === clone ? withCloneEnd(step, cloneEnd, lines[0]?.time) : inCurrentTask(stage, step) ? withCommandEnd(withCommandStart(step, starts.get(step.container)), stage.steps, ends, taskArn) : step;
    const write = shown !== step ? progressWrite(step, shown, taskArn) : undefined;
    if (write) await recorded(deps, buildId, stage, `step ${step.name}`, () => deps.stages.updateStepOfTask(buildId, stage.number, step.number, taskArn, write.patch, write.fromStatuses));
    steps.push(shown);
  }
  // The stage's first step: a start read now may be earlier than the one an event gave it.
  const learned = steps.filter((s, i) => s !== stage.steps[i] && s.kind === 'step' && s.startedAt !== undefined).map((s) => s.startedAt!);
  const first = learned.length > 0 ? Math.min(...learned) : undefined;
  if (first === undefined || (stage.firstStepAt !== undefined && stage.firstStepAt <= first)) return { ...stage, steps };
  await recorded(deps, buildId, stage, 'its first step start', () => deps.stages.noteFirstStepAt(buildId, stage.number, taskArn, first));
  return { ...stage, steps, firstStepAt: first };
}

/** What to write of a step the agent's log showed further on, forward only; nothing when it shows no start. */
function progressWrite(step: StepRecord, shown: StepRecord, taskArn: string): { patch: StepPatch; fromStatuses: StepStatus[] } | undefined {
  if (step.kind === 'clone') {
    // A failed clone's git exit code comes with the agent's result, at the stage's end (apply-event.ts).
    const patch: StepPatch = { status: shown.status, startedAt: shown.startedAt, finishedAt: shown.finishedAt, taskArn, ...(shown.status === 'failure' ? { reason: shown.reason } : {}) };
    return { patch, fromStatuses: ['pending', 'running'] };
  }
  if (isStepDone(shown.status) && !isStepDone(step.status)) {
    // Its end, as the stage's end decides it for that exit code (step-ends.ts): with its start when read now.
    const patch: StepPatch = { status: shown.status, finishedAt: shown.finishedAt, taskArn, ...pick(shown, 'startedAt', 'exitCode', 'reason') };
    return { patch, fromStatuses: [step.status] };
  }
  if (shown.startedAt === undefined) return undefined;
  const patch: StepPatch = step.status === 'pending' ? { status: 'running', startedAt: shown.startedAt, taskArn } : { status: step.status, startedAt: shown.startedAt };
  return { patch, fromStatuses: [step.status] };
}

/**
 * Runs one write of what was read; a write that fails (throttled, a conflicting transaction) is
 * logged and the build shown all the same: the next read writes it again. A write a condition
 * refused (the stage runs another task now, the step moved on) is no failure.
 */
async function recorded(deps: AgentProgressDeps, buildId: string, stage: StageDetail, what: string, write: () => Promise<boolean>): Promise<void> {
  try {
    await write();
  } catch (err) {
    deps.log('agent progress not recorded; a later read records it', { buildId, stage: stage.number, taskArn: stage.taskArn, what, error: (err as Error).message });
  }
}

/** Never read first, then the least recently read; in stage order otherwise. */
function leastRecentlyRead(stages: readonly StageDetail[]): StageDetail[] {
  return [...stages].sort((a, b) => (a.agentReadAt ?? -Infinity) - (b.agentReadAt ?? -Infinity) || a.number - b.number);
}

/**
 * The step's container belongs to the stage's current task, whose agent's log is the one read (a
 * split stage's segments and its service task each have theirs).
 */
function inCurrentTask(stage: StageDetail, step: StepRecord): boolean {
  return stepLogTask(stage, step) === stage.taskArn;
}

/** The fields of `step` among `keys` that it has. */
function pick<K extends keyof StepRecord>(step: StepRecord, ...keys: K[]): Partial<Pick<StepRecord, K>> {
  return Object.fromEntries(keys.filter((k) => step[k] !== undefined).map((k) => [k, step[k]])) as Partial<Pick<StepRecord, K>>;
}

/** A running stage whose agent's log may say more than its records: its clone's end, a waiting step's start, or a running step's end. */
export function agentLogTells(stage: StageDetail): boolean {
  if (stage.status !== 'running' || stage.taskArn === undefined) return false;
  return cloneUnknown(stage) || stage.steps.some((s) => startMayShow(stage, s) || endMayShow(stage, s));
}

/**
 * A running step of the stage's current task whose end the agent's log may show before ECS's
 * events do (its container may stay up after its commands: script.ts, lingerLines), and whose
 * status the stage end's rule decides from its exit code alone (step-ends.ts, endReadable).
 */
function endMayShow(stage: StageDetail, step: StepRecord): boolean {
  return step.status === 'running' && endReadable(step) && inCurrentTask(stage, step);
}

/**
 * A step of the stage's current task that starts with it and waits in its wrapper, whose start
 * the agent's log of that task may still show. Not a step that runs only on failure while
 * nothing of the stage failed: on a passing build its gate never opens, and it ends with the
 * agent's result. Not one whose log is another task's (a detached step in a split stage's
 * service task, a step recorded by another segment's task). Not, after a failed clone, one that
 * runs on success: it skips itself.
 */
function startMayShow(stage: StageDetail, step: StepRecord): boolean {
  if (!startsAtCommands(step)) return false;
  if (!inCurrentTask(stage, step)) return false;
  const clone = stage.steps.find((s) => s.kind === 'clone');
  if (step.whenStatus === 'failure' && !stage.steps.some((s) => s.status === 'failure')) return false;
  if (clone?.status === 'failure' && step.afterSetup === true) return false;
  return step.status === 'pending' || (step.status !== 'skipped' && step.startedAt === undefined);
}

/** The clone's record is not final yet, and its agent's log may say more. */
function cloneUnknown(stage: StageDetail): boolean {
  const clone = stage.steps.find((s) => s.kind === 'clone');
  // A later segment of a split stage starts from the first one's workspace: its clone is that one's.
  return clone !== undefined && !isStepDone(clone.status) && (stage.segment ?? 1) === 1 && inCurrentTask(stage, clone);
}
