// One ECS task state change → step, stage and build records, through the state machine
// (core/builds/status.ts). Used by the task-events Lambda and by the autoscaler's
// reconciliation (a stop event that was lost is rebuilt from DescribeTasks).

import { parseStageKey } from '../../../core/builds/types.js';
import { acceptTaskEvent, agentResultWanted, changedAt, isoMillis, isStageDone, isStepDone, stageOutcome, stagePhase, stepChanges, stepsNeedAgentResult, type StageOutcome, type StepChange } from '../../../core/builds/status.js';
import type { StepRecord } from '../../../core/builds/types.js';
import type { TaskStateChangeDetail } from '../../../core/builds/task-event.js';
import { queuedReason, stageTimeline, stepMarks } from '../../../core/builds/stage-timeline.js';
import { stepTimes } from '../../../core/builds/step-times.js';
import { withCommandTimes, writeCommandTimes } from './command-times.js';
import { AGENT_CONTAINER, AGENT_ENV, type AgentSetupTimes } from '../../../core/pipeline/contract.js';
import { SERVICE_TASK_STARTED_BY_PREFIX, runTaskTokens, segmentJob } from '../../../core/scaling/job.js';
import { segmentRunKey } from '../../../core/builds/segment-run.js';
import { advanceSegment } from './segment-advance.js';
import type { ExecutionDeps } from './deps.js';
import { afterStageEnd } from './stage-end.js';
import { stageKeys } from '../observability/logger.js';
import { recordStoppedTask } from './cost.js';

export type ApplyResult =
  | { applied: true; stageKey: string; status: string }
  | { applied: false; stageKey?: string; reason: string };

/**
 * The records of what ran in a split stage's service task, once the stage ends: the service
 * a segment's agent found not ready failed, with its words; the others ran for the stage's
 * life, and ended with it (their task is stopped after the stage: service-task.ts).
 */
function serviceTaskSteps(steps: readonly StepRecord[], outcome: StageOutcome): StepChange[] {
  const out: StepChange[] = [];
  for (const step of steps) {
    if (isStepDone(step.status)) continue;
    if (outcome.failedService === step.container) out.push({ number: step.number, status: 'failure', reason: outcome.message });
    else if (outcome.reason === 'could-not-start') out.push({ number: step.number, status: 'error', reason: outcome.message });
    else out.push({ number: step.number, status: 'success', reason: 'ran in the task of the services, for the whole stage' });
  }
  return out;
}

/** The stage id the autoscaler gave the task (the agent's SLIPWAY_STAGE_ID override). */
export function stageKeyOf(detail: TaskStateChangeDetail): string | undefined {
  const overrides = detail.overrides?.containerOverrides ?? [];
  const agent = overrides.find((o) => o.name === AGENT_CONTAINER) ?? overrides.find((o) => o.environment?.some((e) => e.name === AGENT_ENV.stageId));
  return agent?.environment?.find((e) => e.name === AGENT_ENV.stageId)?.value;
}

export async function applyTaskEvent(deps: ExecutionDeps, detail: TaskStateChangeDetail): Promise<ApplyResult> {
  const key = stageKeyOf(detail);
  const parsed = key ? parseStageKey(key) : null;
  if (!key || !parsed) return { applied: false, reason: `task ${detail.taskArn} carries no Slipway stage id` };
  const { buildId, stageNumber } = parsed;
  const stage = await deps.store.getStage(buildId, stageNumber);
  if (!stage) return { applied: false, stageKey: key, reason: `stage ${key} does not exist` };
  // What the task used, whatever becomes of the event: a cancelled or superseded task bills too.
  await recordStoppedTask(deps, buildId, stage, detail);

  // A split stage's service task is not the stage's task: the autoscaler starts it with the first
  // segment, stops it once the stage is done, and, when it stops first, stops the stage's segment
  // and ends the stage (lambdas/autoscaler/service-task.ts). The pass reads DescribeTasks, not
  // this event (events come more than once and out of order): the event only asks for a pass now.
  if (detail.startedBy?.startsWith(SERVICE_TASK_STARTED_BY_PREFIX)) {
    if (detail.lastStatus === 'STOPPED') await deps.nudge();
    if (detail.lastStatus === 'STOPPED' && !isStageDone(stage.status)) {
      deps.log('service task stopped while its stage goes on: the autoscaler stops the stage\'s segment', { ...stageKeys(key), taskArn: detail.taskArn, stoppedReason: detail.stoppedReason });
    }
    return { applied: false, stageKey: key, reason: `event of the stage's service task ${detail.taskArn} (${detail.lastStatus})` };
  }

  // A split stage's tasks are started per segment (segment-advance.ts): their tokens say which.
  const decision = acceptTaskEvent(stage, detail, runTaskTokens(segmentRunKey(key, stage.segment ?? 1), stage.attempts).startedBy);
  if (!decision.apply) {
    // A retried delivery may find the stage done but the build not: finishing is idempotent.
    if (isStageDone(stage.status)) await afterStageEnd(deps, buildId);
    return { applied: false, stageKey: key, reason: decision.reason };
  }

  const now = deps.now();
  // Times are ECS's: when the change happened (updatedAt), when the task stopped
  // (stoppedAt), not when this event was processed (it may be retried much later).
  const at = changedAt(detail, now);
  const phase = stagePhase(detail);
  // The first event of the task RunTask started for this attempt claims the stage (see
  // StageStore.applyEvent); later ones find the task recorded. Either way `attempt` is
  // the number of starts before this task.
  const claiming = stage.taskArn === undefined;
  const attempt = claiming ? stage.attempts : Math.max(0, stage.attempts - 1);
  const run = {
    attempts: attempt + 1,
    capacity: stage.capacity ?? (detail.capacityProviderName === 'FARGATE' ? 'FARGATE' : detail.capacityProviderName === 'FARGATE_SPOT' ? 'FARGATE_SPOT' : undefined),
  } as const;
  let outcome: StageOutcome | undefined = phase === 'stopped' ? stageOutcome(detail, run) : undefined;
  // Steps are read before the outcome's words: some of them need the agent's (stepsNeedAgentResult).
  const all = await deps.store.listSteps(buildId, stageNumber);
  // A split stage's services (and first detached steps) ran in its service task, not in this
  // one: their records are decided with the stage's end (serviceTaskSteps), not from this task.
  const here = new Set(detail.containers.map((c) => c.name));
  const elsewhere = stage.serviceTaskArn !== undefined ? all.filter((s) => (s.kind === 'service' || s.detached) && !here.has(s.container)) : [];
  const steps = all.filter((s) => !elsewhere.includes(s));
  // The agent's result line: its own words (which service and port, git's reason, the steps it
  // skipped) when the stage or its steps need them, and its phase times for the stage's
  // timeline. Read once the task is over; without it the generic text stands, and the event is
  // applied all the same. Read whenever the agent exited with a code of its own (it then wrote
  // the line), it is used whole: what it says of the steps (when the commands of those that
  // waited in their wrappers started, AgentResult.started) counts in every ending.
  let setup: AgentSetupTimes | undefined;
  const wantsWords = outcome !== undefined && (agentResultWanted(outcome) || stepsNeedAgentResult(detail, steps));
  if (outcome && deps.agentResults && (wantsWords || detail.containers.some((c) => c.name === AGENT_CONTAINER && c.exitCode !== undefined))) {
    const read = await deps.agentResults(detail.taskArn);
    if ('result' in read) {
      setup = read.result.setup;
      outcome = stageOutcome(detail, run, read.result);
    } else if (wantsWords) {
      deps.log('agent result not read: the stage keeps the generic message', { ...stageKeys(key), taskArn: detail.taskArn, why: read.missing });
    }
  }

  if (outcome?.requeueOnDemand) {
    // A later segment of a split stage keeps the stage's start: the pipeline timeout counts from the first segment's.
    const requeued = await deps.stages.requeue(buildId, stageNumber, { taskArn: detail.taskArn, version: detail.version, queuedAt: now, message: outcome.message, attempt, segment: stage.segment ?? 1 });
    if (!requeued) return { applied: false, stageKey: key, reason: 'requeue refused (already requeued or not running this task)' };
    const stored = await deps.stages.getStageJob(buildId, stageNumber);
    if (!stored) throw new Error(`task-events: no stored job for ${key}: cannot requeue after the Spot interruption`);
    const job = segmentJob(stored, stage.segment ?? 1);
    // The steps run again: what the interrupted attempt recorded (exit codes, times, reasons)
    // goes. Steps the compiler left out (`when:`) have no container and stay skipped.
    const definitions = job.taskDefinition.containerDefinitions;
    const containers = new Set(Array.isArray(definitions) ? definitions.map((c: { name?: unknown }) => String(c.name)) : []);
    // A later segment of a split stage starts from the snapshot, not a clone: the clone's record stays.
    const later = (stage.segment ?? 1) > 1;
    for (const step of await deps.store.listSteps(buildId, stageNumber)) {
      if (containers.has(step.container) && !(later && step.kind === 'clone')) await deps.store.resetStep(buildId, stageNumber, step.number);
    }
    await deps.jobs.enqueue({ ...job, queuedAt: now, onDemand: true });
    await deps.nudge();
    deps.log('stage requeued on on-demand after a Spot interruption', { ...stageKeys(key), taskArn: detail.taskArn });
    return { applied: true, stageKey: key, status: 'pending' };
  }

  // A split stage whose segment ended and whose next segment runs: back to the queue.
  if (outcome && (stage.segments ?? 1) > 1) {
    const advanced = await advanceSegment(deps, { key, stage, detail, outcome, at, now, attempt, ...(setup ? { setup } : {}) });
    if (advanced) return advanced;
  }

  // Steps first: their writes only move forward, so a retry after a crash repeats them harmlessly.
  const changes = [...stepChanges(detail, steps, outcome), ...(outcome ? serviceTaskSteps(elsewhere, outcome) : [])];
  // The clone's own end, by the agent (a later segment's "clone" is the restore of the workspace).
  const clonedAt = (stage.segment ?? 1) === 1 ? isoMillis(setup?.clonedAt) : undefined;
  // The step records as this event leaves them, for the stage's timeline.
  const written = new Map(all.map((s) => [s.number, s]));
  for (const change of changes) {
    const step = all.find((s) => s.number === change.number)!;
    const cloneEnd = step.kind === 'clone' && change.status === 'success' ? clonedAt : undefined;
    const times = cloneEnd !== undefined ? stepTimes(step, { ...change, startedAt: Math.min(step.startedAt ?? at, cloneEnd) }, at, cloneEnd) : stepTimes(step, change, at);
    written.set(step.number, change.status === 'skipped' ? { ...step, status: 'skipped', startedAt: undefined, finishedAt: undefined } : { ...step, status: change.status, ...times });
    const ranIn = here.has(step.container) ? detail.taskArn : elsewhere.includes(step) ? stage.serviceTaskArn : undefined;
    await deps.store.updateStep(buildId, stageNumber, change.number, {
      status: change.status,
      ...(change.exitCode !== undefined ? { exitCode: change.exitCode } : {}),
      ...(change.reason !== undefined ? { reason: change.reason } : {}),
      ...(ranIn !== undefined ? { taskArn: ranIn } : {}),
      ...times,
    });
  }
  // A clone recorded passed before its end was known (a step passed, the scheduled pass saw the
  // agent HEALTHY) takes the agent's own end once the stage is over.
  const passedClone = all.find((s) => s.kind === 'clone' && s.status === 'success' && !changes.some((c) => c.number === s.number));
  if (passedClone && clonedAt !== undefined && passedClone.finishedAt !== clonedAt) {
    await deps.store.updateStep(buildId, stageNumber, passedClone.number, { status: 'success', finishedAt: clonedAt, ...(passedClone.startedAt !== undefined && passedClone.startedAt > clonedAt ? { startedAt: clonedAt } : {}) }, { fromStatuses: ['success'] });
  }
  // A clone recorded failed from its agent's log while the stage ran (agent-progress.ts) takes
  // git's exit code, and the agent's words for it, once the stage is over, as one failed now would.
  const failedClone = (stage.segment ?? 1) === 1 ? all.find((s) => s.kind === 'clone' && s.status === 'failure' && s.exitCode === undefined && !changes.some((c) => c.number === s.number)) : undefined;
  const cloneExit = failedClone && outcome ? stepChanges(detail, [{ ...failedClone, status: 'running' }], outcome).find((c) => c.status === 'failure' && c.exitCode !== undefined) : undefined;
  if (failedClone && cloneExit) {
    await deps.store.updateStep(buildId, stageNumber, failedClone.number, { status: 'failure', exitCode: cloneExit.exitCode, ...(cloneExit.reason !== undefined ? { reason: cloneExit.reason } : {}) }, { fromStatuses: ['failure'] });
  }
  // Steps that finished while the stage ran take their commands' start and end from the agent's result.
  const fixed = outcome ? await writeCommandTimes(deps, buildId, stageNumber, all, outcome, changes) : [];
  withCommandTimes(written, fixed);
  // The first step's start, where known (a step that waited in its container: its commands').
  const starts = [
    ...changes.filter((c) => all.find((s) => s.number === c.number)?.kind === 'step' && c.status !== 'skipped' && !c.startUnknown).map((c) => c.startedAt ?? at),
    ...fixed.flatMap((f) => (f.startedAt !== undefined ? [f.startedAt] : [])),
  ];
  const firstStepAt = starts.length > 0 ? Math.min(...starts) : undefined;
  // Why it waited in the queue (the event was accepted: the stage is not finished, its message is no outcome's).
  const queuedBecause = queuedReason(stage);
  // A split stage's timeline is its segment's: that segment's start, queue time and steps (segment-advance.ts keeps the ones before).
  const split = (stage.segments ?? 1) > 1;
  const segmentOf = split ? { segment: stage.segment ?? 1, attempt, ...(stage.queuedAt !== undefined ? { queuedAt: stage.queuedAt } : {}) } : {};
  const marked = [...written.values()].filter((s) => !split || here.has(s.container));

  const applied = await deps.stages.applyEvent(buildId, stageNumber, {
    taskArn: detail.taskArn,
    version: detail.version,
    attempt,
    ...(phase === 'running' ? { status: 'running' as const, startedAt: at } : {}),
    ...(outcome
      ? {
          status: outcome.status,
          reason: outcome.reason,
          message: outcome.message,
          finishedAt: isoMillis(detail.stoppedAt) ?? at,
          ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
        }
      : {}),
    ...(firstStepAt !== undefined ? { firstStepAt } : {}),
    ...(outcome ? { timeline: { ...segmentOf, ...(queuedBecause !== undefined ? { queuedBecause } : {}), ...stageTimeline(detail, setup), ...stepMarks(marked) } } : {}),
    ...(!outcome && phase === 'running' && stage.message !== undefined && queuedBecause !== undefined ? { queuedBecause } : {}),
  });
  if (!applied) return { applied: false, stageKey: key, reason: 'a newer event was applied meanwhile' };

  if (phase === 'running' || phase === 'stopped') {
    await deps.store.updateBuild(buildId, { status: 'running', startedAt: applied.startedAt ?? at }, { fromStatuses: ['pending'] });
  }
  if (outcome) {
    deps.log('stage finished', { ...stageKeys(key), status: outcome.status, reason: outcome.reason, exitCode: outcome.exitCode });
    await afterStageEnd(deps, buildId, { freedCapacity: true });
  }
  return { applied: true, stageKey: key, status: applied.status };
}
