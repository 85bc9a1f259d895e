// The status state machine: ECS task state changes → step, stage and build statuses.
// Pure: the task-events Lambda (and the reconciler, for a stop event that was lost)
// feed it events and stored records, and write what it returns.
//
// - Steps: container states and exit codes.
// - Stages: the agent's exit code (contract AGENT_EXIT) and the task's stopCode.
// - Builds: the stages' statuses.
// - Order: an event is applied only if it belongs to the stage's current task and its
//   detail.version is newer than the last applied one; a status never goes backwards.
// - Dependencies: Drone's pipeline `depends_on` with trigger `status` (onSuccess/onFailure).

import { AGENT_CONTAINER, AGENT_EXIT, EARLY_EXIT_CODE, SETUP_SKIPPED_EXIT_CODE, type AgentResult } from '../pipeline/contract.js';
import { agentMessageForRecord } from './agent-result.js';
import type { TaskStateChangeContainer, TaskStateChangeDetail } from './task-event.js';
import type { BuildStatus, Stage, StageOutcomeReason, StageStatus, StepRecord, StepStatus } from './types.js';
import { FINAL_RANK, statusRank } from './status-rank.js';
import { startsAtCommands } from './step-times.js';

export { FINAL_RANK, hasRun, isFinished, statusRank } from './status-rank.js';

const FINAL_STAGE: readonly StageStatus[] = ['success', 'failure', 'killed', 'error', 'skipped'];
const FINAL_STEP: readonly StepStatus[] = ['success', 'failure', 'skipped', 'killed', 'error'];

export function isStageDone(status: StageStatus): boolean {
  return FINAL_STAGE.includes(status);
}

export function isStepDone(status: StepStatus): boolean {
  return FINAL_STEP.includes(status);
}

/** Whether moving from `from` to `to` goes forward (finished is final; running may repeat). */
export function movesForward(from: StageStatus | StepStatus | BuildStatus, to: StageStatus | StepStatus | BuildStatus): boolean {
  const a = statusRank(from);
  const b = statusRank(to);
  return a < FINAL_RANK && b >= a;
}

/** Where the task is, in the three phases that matter to a stage. */
export function taskPhase(lastStatus: string): 'pending' | 'running' | 'stopped' {
  if (lastStatus === 'STOPPED') return 'stopped';
  if (lastStatus === 'RUNNING' || lastStatus === 'DEACTIVATING' || lastStatus === 'STOPPING' || lastStatus === 'DEPROVISIONING') return 'running';
  return 'pending';
}

/** A container that ran: it is running, or it stopped with an exit code (one that never started has none). */
export function containerRan(container: TaskStateChangeContainer | undefined): boolean {
  if (!container) return false;
  if (container.lastStatus === 'RUNNING') return true;
  return container.lastStatus === 'STOPPED' && container.exitCode !== undefined && !/CannotStartContainer|dependency/i.test(container.reason ?? '');
}

/**
 * Where the stage is. A task's lastStatus is the minimum of its containers' (aws/amazon-ecs-agent
 * agent/api/task/task.go, updateTaskKnownStatus), so it stays PENDING until its last
 * container has started — a pipeline of steps waiting on each other keeps its task PENDING
 * while they run. The stage runs as soon as any of its containers does.
 */
export function stagePhase(detail: Pick<TaskStateChangeDetail, 'lastStatus' | 'containers'>): 'pending' | 'running' | 'stopped' {
  const phase = taskPhase(detail.lastStatus);
  if (phase !== 'pending') return phase;
  return detail.containers.some((c) => containerRan(c)) ? 'running' : 'pending';
}

/**
 * When ECS says the change happened (epoch ms): the event's `updatedAt`, else the one given
 * (the time the event was received or the task described).
 */
export function changedAt(detail: Pick<TaskStateChangeDetail, 'updatedAt'>, fallback: number): number {
  return isoMillis(detail.updatedAt) ?? fallback;
}

/** An ECS ISO time (events) as epoch ms; undefined when absent or unreadable. */
export function isoMillis(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

export type EventDecision = { apply: true } | { apply: false; reason: string };

/**
 * Whether an event concerns the stage's current run and is new. A stage that knows its
 * task (recorded by RunTask's answer or by that task's first event) takes that task's
 * events only. A stage that does not know it yet takes the task RunTask started for its
 * current attempt, recognised by `startedBy` (runTaskTokens(stageKey, attempts)): that
 * first event claims it. Events of an earlier attempt's task are refused.
 */
export function acceptTaskEvent(stage: Stage, detail: TaskStateChangeDetail, expectedStartedBy: string): EventDecision {
  if (isStageDone(stage.status)) return { apply: false, reason: `stage already ${stage.status}` };
  if (stage.taskArn !== undefined) {
    if (stage.taskArn !== detail.taskArn) return { apply: false, reason: `event of task ${detail.taskArn}, the stage runs ${stage.taskArn}` };
  } else if (stage.status === 'pending' && detail.startedBy !== expectedStartedBy) {
    return { apply: false, reason: `event of an earlier attempt (startedBy ${detail.startedBy ?? 'none'})` };
  }
  if (stage.eventVersion !== undefined && detail.version <= stage.eventVersion) {
    return { apply: false, reason: `version ${detail.version} ≤ applied ${stage.eventVersion}` };
  }
  return { apply: true };
}

/**
 * The attempt a RunTask for this stage belongs to, or null when the stage already has
 * its task (a pending stage claimed by its task's first event: that RunTask went
 * through). Derived only from what is stored, so every RunTask of one attempt gets the
 * same clientToken whatever order events and markRunning land in.
 */
export function startAttempt(stage: Pick<Stage, 'status' | 'taskArn' | 'attempts'>): number | null {
  if (stage.status !== 'pending' || stage.taskArn !== undefined) return null;
  return stage.attempts;
}

export interface StageOutcome {
  status: StageStatus;
  reason: StageOutcomeReason;
  message: string;
  /** The agent's exit code, when it has one. */
  exitCode?: number;
  /** Spot interruption of the first attempt: put the stage back in the queue, on-demand. */
  requeueOnDemand?: boolean;
  /** service-not-ready with the agent's result: the container of the service that failed the gate. */
  failedService?: string;
  /** The step containers the agent left running when it ended the stage (AgentResult.stopped). */
  stoppedSteps?: string[];
  /**
   * The step containers the agent reports skipped, with why (AgentResult.skipped): present
   * once its result line was read. Containers that ran without running the step's commands
   * (a gate or the early exit skipped them, a status step still waiting) look passed or
   * killed to ECS; this says what they were.
   */
  skippedSteps?: Readonly<Record<string, string>>;
  /** clone-failed: the exit code of the git command that failed (AgentResult.cloneExitCode). */
  cloneExitCode?: number;
  /** When the commands of the steps that wait in their container started (AgentResult.started), epoch ms. */
  startedSteps?: Readonly<Record<string, number>>;
  /** When they ended (AgentResult.ended: their exit records; a container may stay up after them), epoch ms. */
  endedSteps?: Readonly<Record<string, number>>;
}

const SIGNAL_EXITS = new Set([130, 137, 143]);

function agentOf(detail: TaskStateChangeDetail): TaskStateChangeContainer | undefined {
  return detail.containers.find((c) => c.name === AGENT_CONTAINER);
}

/** Endings whose agent wrote a message worth more than the generic text (see agentResultWanted). */
const AGENT_WORDED: ReadonlySet<StageOutcomeReason> = new Set(['step-failed', 'service-not-ready', 'timed-out', 'clone-failed', 'agent-error']);
/** …and the exit codes the agent itself chose (not a signal or an out-of-memory kill). */
const AGENT_WORDED_EXITS: ReadonlySet<number> = new Set([AGENT_EXIT.stepFailed, AGENT_EXIT.serviceNotReady, AGENT_EXIT.timedOut, AGENT_EXIT.cloneFailed, AGENT_EXIT.internalError]);

/**
 * Whether the agent's own result line (its log stream) would say more than this outcome
 * does: the agent ended the stage itself, with an exit code it reports on. The task-events
 * handler reads that line only then, and passes it to stageOutcome.
 */
export function agentResultWanted(outcome: Pick<StageOutcome, 'reason' | 'exitCode'>): boolean {
  return outcome.exitCode !== undefined && AGENT_WORDED_EXITS.has(outcome.exitCode) && AGENT_WORDED.has(outcome.reason);
}

/**
 * The stage's outcome once its task has STOPPED. `agentResult`, the agent's SLIPWAY_RESULT
 * line when it could be read, gives the message in the agent's words (which service and
 * port, git's reason, what timed out) — only when its exit code is the one ECS reports, so
 * a line that does not belong to this ending never replaces the generic text.
 */
export function stageOutcome(detail: TaskStateChangeDetail, stage: Pick<Stage, 'attempts' | 'capacity'>, agentResult?: AgentResult): StageOutcome {
  const outcome = outcomeFromExit(detail, stage);
  if (!agentResult || agentResult.exitCode !== outcome.exitCode) return outcome;
  // What the agent knows of the steps counts whenever the line is this ending's.
  const steps: Pick<StageOutcome, 'stoppedSteps' | 'skippedSteps' | 'cloneExitCode' | 'startedSteps' | 'endedSteps'> = {
    skippedSteps: Object.fromEntries((agentResult.skipped ?? []).map((s) => [s.container, s.reason])),
    startedSteps: Object.fromEntries((agentResult.started ?? []).map((s) => [s.container, Date.parse(s.at)])),
    endedSteps: Object.fromEntries((agentResult.ended ?? []).map((s) => [s.container, Date.parse(s.at)])),
    ...(agentResult.stopped ? { stoppedSteps: agentResult.stopped } : {}),
    ...(outcome.reason === 'clone-failed' && agentResult.cloneExitCode !== undefined ? { cloneExitCode: agentResult.cloneExitCode } : {}),
  };
  if (!agentResultWanted(outcome)) return { ...outcome, ...steps };
  const message = withStartFailures(agentMessageForRecord(agentResult.message), detail);
  if (message === '') return { ...outcome, ...steps };
  const failedService = outcome.reason === 'service-not-ready' ? agentResult.service?.container : undefined;
  return { ...outcome, message, ...(failedService ? { failedService } : {}), ...steps };
}

/**
 * Whether the steps' records need the agent's result line once the task has stopped: a step
 * that runs on a status and whose container ran (its gate may have skipped it, or it was
 * still waiting when the stage ended), or a step that exited 0 after an exit 78 in its stage
 * (the early-exit check may have skipped it), or one ECS never started after an exit 78, or
 * one with commands that started with the task and ended its wait without running them.
 * ECS's exit codes cannot tell these apart from a pass, a kill or an end of the task; the
 * agent can (AgentResult.skipped).
 */
export function stepsNeedAgentResult(detail: Pick<TaskStateChangeDetail, 'containers'>, steps: readonly StepRecord[]): boolean {
  const byName = new Map(detail.containers.map((c) => [c.name, c]));
  const earlyExit = earlyExitSeen(detail, steps);
  return steps.some((step) => {
    if (step.kind !== 'step' || isStepDone(step.status)) return false;
    const container = byName.get(step.container);
    // A step with commands that starts with the task and left its wrapper's wait without running
    // a command: it skipped itself (SETUP_SKIPPED_EXIT_CODE) behind a step that did not pass, or
    // the task's stop ended its wait (a signal). Detached ones too: they start with the task alike.
    if (step.afterSetup && container?.lastStatus === 'STOPPED' && container.exitCode !== undefined && (container.exitCode === SETUP_SKIPPED_EXIT_CODE || SIGNAL_EXITS.has(container.exitCode))) return true;
    if (step.detached) return false;
    // One ECS never started behind the exit 78 (its SUCCESS dependency never succeeded) was
    // skipped by Drone's early exit, which only the agent names (task-runner/decide-steps.ts).
    if (!containerRan(container)) return earlyExit;
    return step.whenStatus !== undefined || (earlyExit && container?.exitCode === 0);
  });
}

/** A step of the stage (not a detached one: Drone never reads its exit) exited 78: the steps pending then were skipped. */
function earlyExitSeen(detail: Pick<TaskStateChangeDetail, 'containers'>, steps: readonly StepRecord[]): boolean {
  const plain = new Set(steps.filter((s) => s.kind === 'step' && !s.detached).map((s) => s.container));
  return detail.containers.some((c) => plain.has(c.name) && c.lastStatus === 'STOPPED' && c.exitCode === EARLY_EXIT_CODE);
}

/**
 * ECS's reasons for a container it could not start or pull, as the task event carries them
 * (`containers[].reason`; the ECS agent's CannotPullContainerError, CannotCreateContainerError,
 * CannotStartContainerError, and Fargate's ResourceInitializationError for secrets and logs:
 * "Amazon ECS stopped task error messages", developer guide).
 */
const START_FAILURE = /^(CannotPullContainerError|CannotCreateContainerError|CannotStartContainerError|CannotInspectContainerError|ResourceInitializationError)\b/;

/**
 * Why ECS could not start this container itself — its image, its command, its secrets —, or
 * undefined when it ran, or when it never started only because a dependency could not
 * reach its condition (then the dependency is the cause, and the step was skipped).
 */
export function containerStartFailure(container: Pick<TaskStateChangeContainer, 'reason' | 'exitCode'>): string | undefined {
  const reason = container.reason;
  if (!reason || !START_FAILURE.test(reason) || /\bdependency\b/i.test(reason)) return undefined;
  return reason;
}

/**
 * The agent sees only that a step container stopped without starting; the event says why.
 * Each such step is named with ECS's reason in the stage's message, in place of the agent's
 * "did not run (…)" for it, so the build says "test could not start: CannotStartContainerError:
 * image alpine cannot run locally: …" where it said "test did not run".
 */
function withStartFailures(message: string, detail: TaskStateChangeDetail): string {
  let out = message;
  for (const container of detail.containers) {
    const reason = containerStartFailure(container);
    if (reason === undefined) continue;
    const named = `${container.name} could not start: ${reason}`;
    const generic = new RegExp(`\\b${escapeRegExp(container.name)} did not run \\([^)]*\\)`);
    out = generic.test(out) ? out.replace(generic, () => named) : out ? `${out}; ${named}` : named;
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function outcomeFromExit(detail: TaskStateChangeDetail, stage: Pick<Stage, 'attempts' | 'capacity'>): StageOutcome {
  const agent = agentOf(detail);
  const code = agent?.exitCode;
  const why = detail.stoppedReason ? `: ${detail.stoppedReason}` : '';
  const exit = code === undefined ? {} : { exitCode: code };
  switch (detail.stopCode) {
    case 'TaskFailedToStart':
      return { status: 'error', reason: 'could-not-start', message: `the task could not start${why || (agent?.reason ? `: ${agent.reason}` : '')}`, ...exit };
    case 'SpotInterruption':
    case 'TerminationNotice': {
      const onSpot = stage.capacity !== 'FARGATE';
      // attempts counts starts, this interrupted one included.
      if (onSpot && stage.attempts <= 1) {
        const message = stage.capacity === 'EC2' ? 'the EC2 Spot instance was reclaimed; the stage runs again on another instance' : 'Fargate Spot reclaimed the task; the stage runs again on on-demand capacity';
        return { status: 'pending', reason: 'spot-interrupted', message, requeueOnDemand: true, ...exit };
      }
      return { status: 'error', reason: 'spot-interrupted', message: `the task was interrupted by AWS (${detail.stopCode}) after ${stage.attempts} attempts`, ...exit };
    }
    case 'UserInitiated':
    case 'ServiceSchedulerInitiated':
      if (code === AGENT_EXIT.timedOut) return { status: 'failure', reason: 'timed-out', message: 'the pipeline ran past its timeout', ...exit };
      return { status: 'killed', reason: 'cancelled', message: `the task was stopped${why}`, ...exit };
  }
  // On EC2 capacity a task whose agent never exited lost its instance: a Spot reclaim, or an
  // instance terminated under it. ECS stops the task when the instance is gone, with a stop code
  // that is not always SpotInterruption (standalone tasks are not drained), so the missing
  // agent exit code is what tells. Started once, it runs again on another instance; after
  // that the stage errs, as an interrupted Fargate Spot stage does.
  if (code === undefined && stage.capacity === 'EC2' && stage.attempts >= 1) {
    if (stage.attempts <= 1) {
      return { status: 'pending', reason: 'spot-interrupted', message: `the EC2 instance running the task went away${why}; the stage runs again on another instance`, requeueOnDemand: true };
    }
    return { status: 'error', reason: 'spot-interrupted', message: `the EC2 instance running the task went away again after ${stage.attempts} attempts${why}` };
  }
  switch (code) {
    case AGENT_EXIT.success:
      return { status: 'success', reason: 'steps-passed', message: 'every step passed', exitCode: code };
    case AGENT_EXIT.stepFailed:
      return { status: 'failure', reason: 'step-failed', message: 'a step failed', exitCode: code };
    case AGENT_EXIT.serviceNotReady:
      return { status: 'failure', reason: 'service-not-ready', message: 'a service did not become ready in time', exitCode: code };
    case AGENT_EXIT.timedOut:
      return { status: 'failure', reason: 'timed-out', message: 'the pipeline ran past its timeout', exitCode: code };
    case AGENT_EXIT.interrupted:
      return { status: 'killed', reason: 'cancelled', message: `the agent was stopped before the steps finished${why}`, exitCode: code };
    case AGENT_EXIT.cloneFailed:
      return { status: 'failure', reason: 'clone-failed', message: 'the clone failed', exitCode: code };
    case AGENT_EXIT.internalError:
      return { status: 'error', reason: 'agent-error', message: `the agent failed${why}`, exitCode: code };
    case undefined:
      return { status: 'error', reason: 'task-lost', message: `the task stopped without an agent exit code${why || (agent?.reason ? `: ${agent.reason}` : '')}` };
    default:
      return {
        status: 'error',
        reason: 'agent-error',
        message: `the agent exited with ${code}${SIGNAL_EXITS.has(code) ? ' (killed by a signal; out of memory?)' : ''}${agent?.reason ? `: ${agent.reason}` : why}`,
        exitCode: code,
      };
  }
}

export interface StepChange {
  number: number;
  status: StepStatus;
  exitCode?: number;
  reason?: string;
  /** When the step started, when the event's time is not it (a step that waited in its container), epoch ms. */
  startedAt?: number;
  /** Its start is not the event's time and is not known yet (step-times.ts, startsAtCommands). */
  startUnknown?: boolean;
  /** When it ended, when the event's time is not it (its commands' end, before its container stopped), epoch ms. */
  finishedAt?: number;
}

/** The steps whose status this event moves forward. */
export function stepChanges(detail: TaskStateChangeDetail, steps: StepRecord[], outcome?: StageOutcome): StepChange[] {
  const byName = new Map(detail.containers.map((c) => [c.name, c]));
  const stopped = taskPhase(detail.lastStatus) === 'stopped';
  // A plugin step that runs on success waits, directly or through its predecessors, for the
  // agent to turn HEALTHY, which it does once the clone is done (core/pipeline/step-order.ts):
  // such a step that ran proves the clone passed. Events carry no health, so this is how they
  // tell it. A step that runs on a status starts with the agent, before the clone ends.
  // A step that starts with the task (afterSetup) proves it only by passing: its wrapper waits
  // for the agent's setup record, and after a failed setup it exits SETUP_SKIPPED_EXIT_CODE.
  const stepsRan = steps.some((s) => s.kind === 'step' && s.whenStatus === undefined && (s.afterSetup ? passed(byName.get(s.container)) : containerRan(byName.get(s.container))));
  const earlyExit = earlyExitSeen(detail, steps);
  const changes: StepChange[] = [];
  for (const step of steps) {
    if (isStepDone(step.status)) continue;
    const container = byName.get(step.container);
    const next = container ? containerStepStatus(container, step, detail, outcome, stepsRan, earlyExit) : stopped ? notRun(step, outcome) : undefined;
    if (!next || next.status === step.status) continue;
    if (!movesForward(step.status, next.status)) continue;
    // A step that waited in its container started when its commands did (the agent's result says
    // when); without that, its start is unknown rather than its container's or this event's.
    const waited = startsAtCommands(step) && next.status !== 'skipped';
    const startedAt = waited ? outcome?.startedSteps?.[step.container] : undefined;
    // And ended when they did: its container may have stayed up for a later step's START (script.ts, lingerLines).
    const endedAt = waited ? outcome?.endedSteps?.[step.container] : undefined;
    const finishedAt = endedAt !== undefined && (startedAt === undefined || endedAt >= startedAt) ? { finishedAt: endedAt } : {};
    changes.push({ number: step.number, ...next, ...(startedAt !== undefined ? { startedAt } : waited ? { startUnknown: true } : {}), ...finishedAt });
  }
  return changes;
}

/**
 * The clone's success as a running task's DescribeTasks shows it: its agent turns HEALTHY once
 * the clone is done. Events carry no health ("Task health is not provided in task state change
 * events; run describe-tasks", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html),
 * and steps that start with the task prove the clone only when one passes, so without this a
 * clone stays `running` until then. Only the clone's own record decides here (no other step).
 */
export function cloneSeenDone(detail: TaskStateChangeDetail, steps: readonly StepRecord[]): StepChange | undefined {
  const clone = steps.find((s) => s.kind === 'clone');
  if (!clone || isStepDone(clone.status) || taskPhase(detail.lastStatus) === 'stopped') return undefined;
  return stepChanges(detail, [clone]).find((c) => c.status === 'success');
}

function notRun(step: StepRecord, outcome?: StageOutcome): Omit<StepChange, 'number'> {
  if (outcome?.status === 'killed') return { status: 'skipped', reason: 'the stage was stopped first' };
  return { status: 'skipped', reason: 'the task ended before it ran' };
}

function containerStepStatus(
  container: TaskStateChangeContainer,
  step: StepRecord,
  detail: TaskStateChangeDetail,
  outcome: StageOutcome | undefined,
  stepsRan: boolean,
  earlyExit: boolean,
): Omit<StepChange, 'number'> | undefined {
  if (step.kind === 'clone') {
    // The agent clones, then turns HEALTHY, which lets the first steps start; a clone
    // failure is its exit code 5. Health itself is only in DescribeTasks (the reconciler's
    // detail), never in an event.
    if (container.lastStatus !== 'STOPPED' && (stepsRan || container.healthStatus === 'HEALTHY')) return { status: 'success' };
    if (container.lastStatus === 'RUNNING') return { status: 'running' };
    if (container.lastStatus !== 'STOPPED') return undefined;
    if (outcome?.reason === 'could-not-start') return { status: 'error', reason: outcome.message };
    // An agent that never ran (the task failed to start, or was stopped first: a stopping task's
    // events show it STOPPED before the task is) cloned nothing; the task's end says why.
    if (!containerRan(container)) return outcome ? notRun(step, outcome) : undefined;
    if (container.exitCode === AGENT_EXIT.cloneFailed) {
      // git's own exit code when the agent said it, as Drone's clone step (git in a container)
      // records it, and the agent's words: both come with the outcome (the task's STOPPED event).
      if (!outcome) return undefined;
      return { status: 'failure', exitCode: outcome.cloneExitCode ?? container.exitCode, reason: outcome.reason === 'clone-failed' ? outcome.message : 'the clone failed' };
    }
    if (outcome?.reason === 'task-lost' || outcome?.reason === 'agent-error') return { status: 'error', reason: outcome.message };
    return { status: 'success' };
  }
  // Its container runs while the step still waits for its turn (or runs): ECS's events cannot
  // tell which, so the step stays pending until the stage ends and the agent says (StepRecord.waitsInContainer).
  if (step.waitsInContainer && !outcome) return undefined;
  // A step that starts with the task waits in its wrapper for the clone and the services: its
  // container running says nothing of its commands, so it stays pending until they start (the
  // agent's log says when: step-starts.ts) or its container ends.
  if (step.afterSetup && container.lastStatus === 'RUNNING' && !outcome) return undefined;
  if (container.lastStatus === 'PENDING') return undefined;
  if (container.lastStatus === 'RUNNING') return { status: 'running' };
  if (container.lastStatus !== 'STOPPED') return undefined;
  const code = container.exitCode;
  const reason = container.reason;
  if (outcome?.reason === 'could-not-start') return { status: 'error', reason: outcome.message };
  // The service that failed the gate failed, whichever way its container ended (the task's
  // stop usually ends it by a signal, which for a service is otherwise the normal end).
  if (step.kind === 'service' && outcome?.failedService === step.container) {
    return { status: 'failure', ...(code !== undefined ? { exitCode: code } : {}), reason: outcome.message };
  }
  // ECS could not start it (its image, its command, its secrets): an error of this step, with ECS's reason.
  const startFailure = containerStartFailure(container);
  if (startFailure !== undefined) return { status: 'error', reason: startFailure };
  // The agent says the step's commands never ran, where ECS cannot tell: a step that runs on a
  // status (its wrapper waits, then may skip it: the agent follows its markers), or one that
  // exited 0 after an exit 78 (the early-exit check). Elsewhere ECS's exit code stands: the
  // agent's view is up to one poll old when a stop ends it.
  // A detached step with commands too (afterSetup): it starts with the task and waits in its
  // wrapper, so its exit (79 when it skipped itself, 143 when the task's stop ended its wait)
  // says nothing of its commands; the agent names it skipped only when they never started.
  const skippedWhy = step.kind === 'step' && (!step.detached || step.afterSetup) ? outcome?.skippedSteps?.[step.container] : undefined;
  // A step that starts with the task and was still in its wrapper's wait when the stage ended
  // (a cancel, a timeout) ran no command: skipped, as Drone skips the pending steps of a
  // cancelled stage (runner-go pipeline/state.go Cancel: skipall before killall).
  if (skippedWhy !== undefined && (step.whenStatus !== undefined || step.afterSetup || !containerRan(container) || (code === 0 && earlyExit))) return { status: 'skipped', reason: skippedWhy };
  if (code === undefined || /CannotStartContainer|dependency/i.test(reason ?? '')) {
    // Never ran: a SUCCESS dependency failed, or the task ended first. Behind an exit 78 it was
    // Drone's early exit, which the agent's result names once the task has stopped.
    if (earlyExit && !outcome) return undefined;
    // ECS held it back on a dependency (its reason names it; a START on a step that could not
    // start, say): why is the agent's to say, with the outcome that the task's end brings.
    if (!outcome && /\bdependency\b/i.test(reason ?? '') && taskPhase(detail.lastStatus) !== 'stopped') return undefined;
    return notRun(step, outcome);
  }
  if (step.afterSetup) {
    // Its commands run only after a passed setup: after a failed one it skipped itself, or the
    // task's stop ended its wait. Its own skip code waits for the outcome that tells which.
    if (outcome && SETUP_FAILURES.has(outcome.reason)) return { status: 'skipped', reason: outcome.message };
    if (code === SETUP_SKIPPED_EXIT_CODE && !outcome) return undefined;
  }
  if (step.kind === 'service') {
    // Not when the agent ended the task because a service was not ready: which service
    // failed is known only with the outcome (the STOPPED event), so its record waits for it.
    if (!outcome && agentStoppedOnService(detail) && (code === 0 || SIGNAL_EXITS.has(code))) return undefined;
    // Drone runs a service as a detached step (drone-runner-docker engine/compiler: services are steps with Detach).
    return backgroundStatus(step, code, reason, detail, outcome);
  }
  if (step.detached) return backgroundStatus(step, code, reason, detail, outcome);
  // A step that runs only on failure exits 0 whether it ran or its gate skipped it (nothing in
  // its stage had failed: Drone's RunOnFailure asks the stage, runner-go execer.go
  // state.Failed()). Its stage tells: one that passed had nothing failing, so the step was
  // skipped. Decided with the outcome, when the task has stopped.
  if (code === 0 && step.whenStatus === 'failure') {
    if (!outcome) return undefined;
    // Without the agent's word (its line was not read), a passed stage still tells.
    if (outcome.skippedSteps === undefined && outcome.status === 'success') return { status: 'skipped', reason: 'it runs only when the stage is failing, and no step failed' };
  }
  // After an exit 78 a step that exits 0 may have run or have been skipped by the early-exit
  // check (script.ts): the agent's result tells, once the task has stopped.
  if (code === 0 && earlyExit && !outcome) return undefined;
  // Drone's early exit passes the step (runner-go pipeline/state.go, finish: 0 and 78 pass).
  if (code === 0 || code === EARLY_EXIT_CODE) return { status: 'success', exitCode: code };
  if (SIGNAL_EXITS.has(code) && outcome && (outcome.status === 'killed' || outcome.reason === 'timed-out' || outcome.reason === 'spot-interrupted')) {
    return { status: 'killed', exitCode: code, reason: outcome.message };
  }
  // A step the agent left running when it ended the stage (a step with failure: fast failed):
  // the task's stop ended it. Before the STOPPED event says so (with the agent's result), a
  // signal exit after the agent's own exit is left undecided rather than called a failure.
  if (SIGNAL_EXITS.has(code) && outcome?.stoppedSteps?.includes(step.container)) return { status: 'killed', exitCode: code, reason: outcome.message };
  if (SIGNAL_EXITS.has(code) && !outcome && agentEnded(detail)) return undefined;
  // A step's container usually stops before its task does: the events of a task still
  // STOPPING carry no outcome yet, and the step's final status is written from them.
  const stop = outcome ? undefined : stopInProgress(detail);
  if (SIGNAL_EXITS.has(code) && stop !== undefined) return { status: 'killed', exitCode: code, reason: stop };
  return { status: 'failure', exitCode: code, ...(reason ? { reason } : {}) };
}

/**
 * A detached step or a service, as Drone records it: runner-go execer.go runs it in a
 * goroutine and never reads its exit, and state.go finishAll finishes a step still running at
 * the end with code 0 — so one stopped with the task at the pipeline's end passed, exit code
 * 0. A cancel (a stop, a timeout, a `failure: fast` step) kills it as any running step
 * (state.go killall). One that ended on its own keeps its exit code: 0 and 78 pass; any other
 * code fails the step (not the build), which Drone, never reading it, would not show.
 */
function backgroundStatus(
  step: StepRecord,
  code: number,
  reason: string | undefined,
  detail: TaskStateChangeDetail,
  outcome: StageOutcome | undefined,
): Omit<StepChange, 'number'> | undefined {
  if (code === 0 || code === EARLY_EXIT_CODE) return { status: 'success', exitCode: code };
  const what = step.kind === 'service' ? 'service' : 'detached step';
  if (!SIGNAL_EXITS.has(code)) return { status: 'failure', exitCode: code, reason: reason ?? `${what} failed; it does not fail the build` };
  if (outcome?.stoppedSteps?.includes(step.container)) return { status: 'killed', exitCode: code, reason: outcome.message };
  if (outcome && (outcome.status === 'killed' || outcome.reason === 'timed-out' || outcome.reason === 'spot-interrupted')) return { status: 'killed', exitCode: code, reason: outcome.message };
  const stop = outcome ? undefined : stopInProgress(detail);
  if (stop !== undefined) return { status: 'killed', exitCode: code, reason: stop };
  const agent = agentOf(detail);
  if (agent?.lastStatus !== 'STOPPED') {
    // Killed by a signal while the pipeline still ran (out of memory, a kill of its own): not the task's stop.
    return { status: 'failure', exitCode: code, reason: reason ?? `${what} ended by a signal (exit code ${code}) while the pipeline ran` };
  }
  // The agent ended the stage: how (a pass, a failure, or a cancel that kills it) is known with the outcome.
  if (!outcome && agent.exitCode !== AGENT_EXIT.success) return undefined;
  return { status: 'success', exitCode: 0, reason: 'stopped with the task at the end of the pipeline' };
}

/** The stage outcomes of a setup that failed: no step that runs on success ran its commands. */
const SETUP_FAILURES: ReadonlySet<StageOutcomeReason> = new Set(['clone-failed', 'service-not-ready']);

/** A container that exited 0. */
function passed(container: TaskStateChangeContainer | undefined): boolean {
  return container?.lastStatus === 'STOPPED' && container.exitCode === 0;
}

/** The agent has exited with a code of its own (not ended by a signal): it ended the stage. */
function agentEnded(detail: TaskStateChangeDetail): boolean {
  const agent = agentOf(detail);
  return agent?.lastStatus === 'STOPPED' && agent.exitCode !== undefined && AGENT_WORDED_EXITS.has(agent.exitCode);
}

function agentStoppedOnService(detail: TaskStateChangeDetail): boolean {
  const agent = agentOf(detail);
  return agent?.lastStatus === 'STOPPED' && agent.exitCode === AGENT_EXIT.serviceNotReady;
}

/**
 * Why a task that is not yet STOPPED is being stopped from outside (AWS taking it back,
 * StopTask), when it is: a step that exits by a signal meanwhile was killed by that stop.
 */
function stopInProgress(detail: TaskStateChangeDetail): string | undefined {
  if (detail.desiredStatus !== 'STOPPED') return undefined;
  switch (detail.stopCode) {
    case 'SpotInterruption':
    case 'TerminationNotice':
    case 'UserInitiated':
    case 'ServiceSchedulerInitiated':
      return `the task was stopped (${detail.stopCode}${detail.stoppedReason ? `: ${detail.stoppedReason}` : ''})`;
    default:
      return undefined;
  }
}

/** The build's status from its stages: finished only when every stage is. */
export function buildStatusOf(stages: Pick<Stage, 'status'>[]): BuildStatus {
  if (stages.length === 0) return 'success';
  if (!stages.every((s) => isStageDone(s.status))) {
    return stages.some((s) => s.status !== 'pending') ? 'running' : 'pending';
  }
  if (stages.some((s) => s.status === 'killed')) return 'killed';
  if (stages.some((s) => s.status === 'failure')) return 'failure';
  if (stages.some((s) => s.status === 'error')) return 'error';
  return 'success';
}

/**
 * Why a finished build did not pass, in one line for its commit status: the message of
 * the first stage that ended the way the build did (`test: service "cache" (port 6379)
 * not ready after 30 s: …`; the stage's name only when the build has several).
 */
export function buildFailureSummary(status: BuildStatus, stages: Pick<Stage, 'name' | 'status' | 'message'>[]): string | undefined {
  if (status === 'success' || status === 'pending' || status === 'running') return undefined;
  const stage = stages.find((s) => s.status === status && s.message);
  if (!stage) return undefined;
  return stages.length > 1 ? `${stage.name}: ${stage.message}` : stage.message;
}

/** Git host commit-status state for a build status. */
export function commitState(status: BuildStatus): 'pending' | 'success' | 'failure' | 'error' {
  if (status === 'pending' || status === 'running') return 'pending';
  if (status === 'success') return 'success';
  if (status === 'failure') return 'failure';
  return 'error';
}

export interface DependencyDecision {
  /** Stages whose dependencies are all done and that should run: enqueue them. */
  enqueue: Stage[];
  /** Stages that will not run, with why (cascades: a skipped stage's dependents are decided too). */
  skip: { stage: Stage; message: string; reason?: StageOutcomeReason }[];
}

/** A stage that makes the build fail (Drone's Stage.IsFailed: failing, killed, error). */
const FAILING_STAGE: ReadonlySet<StageStatus> = new Set(['failure', 'killed', 'error']);

/** What a waiting stage's dependencies decide for it. */
export type DependencyVerdict =
  | { kind: 'wait' }
  | { kind: 'run' }
  /** `dependencyFailed`: skipped because something before it failed (or the build was cancelled). */
  | { kind: 'skip'; message: string; dependencyFailed: boolean };

/**
 * The one "stage is ready" rule, Drone's for pipelines with `depends_on`
 * (drone/drone operator/manager/util.go areDepsComplete, teardown.go scheduleDownstream and
 * cancelDownstream, trigger/dag/dag.go dependencies):
 * - `dependsOn` is what the compiler wrote (core/pipeline/pipeline-graph.ts): a pipeline
 *   skipped when the build was created (its trigger, its runner, its platform) is already
 *   replaced by what it waited for, so only stages of the build are named. A name that no
 *   stage has is ignored all the same (areDepsComplete looks only at siblings that exist);
 * - a stage with nothing to wait for runs at once, unless it runs only on failure: then it is
 *   skipped (Drone would start it, harness/harness#2683; new-build.ts says why not);
 * - the stage waits while any dependency is not done;
 * - then it runs when its trigger status matches the build's status so far: the build is
 *   failing once a dependency failed (a skip after a failure counts: `failedUpstream`) or
 *   any stage of the build failed, errored or was killed; `onSuccess` (default true) runs it
 *   while nothing failed, `onFailure` (default false, `trigger: status: [failure]`) once
 *   something did; otherwise it is skipped. A cancelled build runs nothing more.
 */
/** Why a stage that runs only on failure and waits for no other pipeline is skipped. */
const ROOT_FAILURE_ONLY = 'runs only when the build is failing (trigger status: failure), and it waits for no pipeline that could fail';

export function dependencyVerdict(
  stage: Pick<Stage, 'dependsOn' | 'onSuccess' | 'onFailure'>,
  statusOf: ReadonlyMap<string, StageStatus>,
  failedUpstream: ReadonlySet<string>,
  buildKilled = false,
): DependencyVerdict {
  const deps = stage.dependsOn.flatMap((name) => {
    const status = statusOf.get(name);
    return status === undefined ? [] : [{ name, status }];
  });
  if (!deps.every((d) => isStageDone(d.status))) return { kind: 'wait' };
  const failed = deps.filter((d) => (d.status !== 'success' && d.status !== 'skipped') || failedUpstream.has(d.name));
  if (buildKilled || failed.some((d) => d.status === 'killed')) return { kind: 'skip', message: 'the build was cancelled', dependencyFailed: true };
  // Nothing to wait for: it starts with the build, or never when it runs only on failure.
  if (deps.length === 0) {
    return (stage.onSuccess ?? true) ? { kind: 'run' } : { kind: 'skip', message: ROOT_FAILURE_ONLY, dependencyFailed: false };
  }
  if (failed.length > 0 && !(stage.onFailure ?? false)) {
    const what = failed.map((d) => `${d.name} (${failedUpstream.has(d.name) ? 'skipped after a failure' : d.status})`).join(', ');
    return { kind: 'skip', message: `depends on ${what}, which did not pass`, dependencyFailed: true };
  }
  // Drone's "failed" is the whole build's so far (teardown.go cancelDownstream: any stage
  // failing, killed or errored), not only the dependencies'.
  // A stage without dependencies starts with the build (Drone creates it pending, not
  // waiting: trigger/trigger.go), so only a waiting stage looks at the others.
  const failedStages = stage.dependsOn.length === 0 ? [] : [...statusOf].filter(([, status]) => FAILING_STAGE.has(status)).map(([name]) => name);
  const failing = failed.length > 0 || failedStages.length > 0;
  if (failing && !(stage.onFailure ?? false)) {
    return { kind: 'skip', message: `the build is failing (${failedStages.join(', ')} did not pass) and it runs only while the build passes (trigger status)`, dependencyFailed: true };
  }
  if (!failing && !(stage.onSuccess ?? true)) {
    return { kind: 'skip', message: 'runs only when the build is failing (trigger status: failure), and nothing failed', dependencyFailed: false };
  }
  return { kind: 'run' };
}

/** Stages skipped because something before them failed: they count as failed for their own dependents. */
function failedUpstreamOf(stages: readonly Stage[]): Set<string> {
  return new Set(stages.filter((s) => s.status === 'skipped' && s.reason === 'dependency-failed').map((s) => s.name));
}

/** Pending stages that may start now by dependencyVerdict (those without dependencies at once). */
export function readyStages(stages: readonly Stage[]): Stage[] {
  const statusOf = new Map(stages.map((s) => [s.name, s.status]));
  const failedUpstream = failedUpstreamOf(stages);
  return stages.filter((s) => s.status === 'pending' && dependencyVerdict(s, statusOf, failedUpstream).kind === 'run');
}

/**
 * The stages waiting on their dependencies (pending with no queuedAt) that the last stage
 * end decided, by dependencyVerdict: those to enqueue, and those that will not run, with
 * why. Skips cascade: a skipped stage's dependents are decided in the same call.
 */
export function resolveDependents(stages: Stage[], buildKilled = false): DependencyDecision {
  const status = new Map(stages.map((s) => [s.name, s.status]));
  const enqueue: Stage[] = [];
  const skip: DependencyDecision['skip'] = [];
  let changed = true;
  const decided = new Set<string>();
  const failedUpstream = failedUpstreamOf(stages);
  while (changed) {
    changed = false;
    for (const stage of stages) {
      if (decided.has(stage.name) || stage.status !== 'pending' || stage.queuedAt !== undefined || stage.dependsOn.length === 0) continue;
      const verdict = dependencyVerdict(stage, status, failedUpstream, buildKilled);
      if (verdict.kind === 'wait') continue;
      decided.add(stage.name);
      changed = true;
      if (verdict.kind === 'run') {
        enqueue.push(stage);
      } else {
        skip.push({ stage, message: verdict.message, ...(verdict.dependencyFailed ? { reason: 'dependency-failed' as const } : {}) });
        status.set(stage.name, 'skipped');
        if (verdict.dependencyFailed) failedUpstream.add(stage.name);
      }
    }
  }
  return { enqueue, skip };
}
