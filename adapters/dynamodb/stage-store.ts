// Stage writes of the execution half (autoscaler, task-events) whose conditions the
// generic BuildStore.updateStage cannot express: they also depend on which task the
// stage runs and on its attempt count. Plus the stored StageJob of every stage (item
// BUILD#<id> / STAGE#<nnn>#JOB, type `job`), from which dependent stages and Spot
// retries are enqueued. Keys from keys.ts; the client is injected.

import { type DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { StageJob } from '../../core/scaling/job.js';
import { activeStagePk, activeStageSk, buildPk, stageSk, stepSk } from './keys.js';
import { FINAL_RANK, statusRank } from '../../core/builds/status.js';
import { batchGet, batchWrite } from './batch.js';
import { Expression } from './expression.js';
import type { EventApply, RequeueInput, RunningMark, SegmentAdvance, StageStore, StepPatch } from '../../core/builds/ports.js';
import { conditionalUpdate, strip, type Table } from './records.js';
import { getStage } from './stages-steps.js';
import type { Stage, StageOutcomeReason, StageStatus, StepStatus } from '../../core/builds/types.js';
import type { StageTimeline } from '../../core/builds/stage-timeline.js';
import { stageKey } from '../../core/builds/types.js';
import type { UpstreamState } from '../../core/pipeline/contract.js';
import type { TaskUsage } from '../../core/cost/types.js';
import { taskUsageKey } from '../../core/cost/task-usage.js';
import { isTransactionRefusedByConditions } from '../../core/util/aws-errors.js';

const jobSk = (stageNumber: number): string => `${stageSk(stageNumber)}#JOB`;

export class DynamoStageStore implements StageStore {
  private readonly table: Table;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {
    this.table = { doc, tableName, now: Date.now };
  }

  /** Stores the job of every stage of a build (the planner, beside createBuild). */
  async putStageJobs(jobs: StageJob[]): Promise<void> {
    await batchWrite(
      this.doc,
      this.tableName,
      jobs.map((job) => ({ PutRequest: { Item: { PK: buildPk(job.buildId), SK: jobSk(job.stageNumber), type: 'job', ...stripUndefined(job) } } })),
    );
  }

  async getStageJob(buildId: string, stageNumber: number): Promise<StageJob | null> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { PK: buildPk(buildId), SK: jobSk(stageNumber) }, ConsistentRead: true }));
    return strip<StageJob>(res.Item);
  }

  /** The stored jobs of these stages, by stage key (absent: none stored). */
  async getStageJobs(stages: { buildId: string; stageNumber: number }[]): Promise<Map<string, StageJob>> {
    const items = await batchGet(this.doc, this.tableName, stages.map((s) => ({ PK: buildPk(s.buildId), SK: jobSk(s.stageNumber) })));
    const out = new Map<string, StageJob>();
    for (const item of items) {
      const job = strip<StageJob>(item);
      if (job) out.set(job.stageKey, job);
    }
    return out;
  }

  /** The stage as last written (a strongly consistent read: the index may lag behind). */
  getStageConsistent(buildId: string, stageNumber: number): Promise<Stage | null> {
    return getStage(this.table, buildId, stageNumber);
  }

  /**
   * A start of a waiting stage failed (not a wait): counts it, says why, and sets when to try
   * again. Only while the stage still waits at `attempt` with no task. Returns the stage.
   */
  async noteStartFailure(buildId: string, stageNumber: number, input: { attempt: number; message: string; retryAfter: number }): Promise<Stage | null> {
    const e = new Expression();
    e.set('message', input.message);
    e.set('retryAfter', input.retryAfter);
    e.add('startFailures', 1);
    e.when(waitingAt(e, input.attempt));
    return this.update(buildId, stageNumber, e);
  }

  /**
   * RunTask succeeded: the stage runs `taskArn`. Applies if the stage is still pending at
   * that attempt, or if a task event already claimed it for the same task; never moves a
   * finished stage. Its waiting message becomes its timeline's queuedBecause. Returns the
   * stage, or null when refused.
   */
  async markRunning(buildId: string, stageNumber: number, mark: RunningMark): Promise<Stage | null> {
    const e = new Expression();
    e.set('status', 'running');
    e.set('statusRank', statusRank('running'));
    e.set('taskArn', mark.taskArn);
    e.set('capacity', mark.capacity);
    e.set('attempts', mark.attempt + 1);
    e.set('cpu', mark.cpu);
    e.keep('startedAt', mark.startedAt);
    // Why it waited stays with its timeline; a running stage says nothing of a wait that is over.
    if (mark.queuedBecause !== undefined) e.set('timeline', { queuedBecause: mark.queuedBecause } satisfies StageTimeline);
    e.remove('message');
    e.set('GSI2PK', activeStagePk('running'));
    e.set('GSI2SK', activeStageSk(mark.startedAt, stageKey(buildId, stageNumber)));
    // Claimed first by the task's own event: attempts is already attempt + 1 (the claim counted it).
    e.when(`(${waitingAt(e, mark.attempt)}) OR (${e.name('taskArn')} = ${e.value(mark.taskArn)} AND ${e.name('statusRank')} <= ${e.value(statusRank('running'))})`);
    return this.update(buildId, stageNumber, e);
  }

  /**
   * An ECS event of the stage's task: applies only if its version is newer than the last
   * applied one, the stage is not finished, and the task is the stage's — or the stage
   * has no task yet and is pending at `attempt`: then this first event claims the task
   * and counts the attempt, once. Later events of the claimed task match by taskArn and
   * count nothing, whether the stage is still pending or already running.
   */
  async applyEvent(buildId: string, stageNumber: number, apply: EventApply): Promise<Stage | null> {
    const expression = (claim: boolean): Expression => {
      const e = new Expression();
      e.when(`${e.name('statusRank')} < ${e.value(FINAL_RANK)}`);
      e.guardVersion(apply.version);
      e.set('taskArn', apply.taskArn);
      if (apply.status !== undefined) {
        const rank = statusRank(apply.status);
        e.set('status', apply.status);
        e.set('statusRank', rank);
        if (apply.status === 'running') {
          e.set('GSI2PK', activeStagePk('running'));
          e.keep('GSI2SK', activeStageSk(apply.startedAt ?? Date.now(), stageKey(buildId, stageNumber)));
        } else if (rank >= FINAL_RANK) {
          e.remove('GSI2PK');
          e.remove('GSI2SK');
        }
      }
      e.set('reason', apply.reason);
      e.set('message', apply.message);
      e.set('exitCode', apply.exitCode);
      e.set('finishedAt', apply.finishedAt);
      if (apply.startedAt !== undefined) e.keep('startedAt', apply.startedAt);
      if (apply.firstStepAt !== undefined) e.keep('firstStepAt', apply.firstStepAt);
      if (apply.timeline !== undefined) e.set('timeline', apply.timeline);
      else if (apply.queuedBecause !== undefined && apply.message === undefined) {
        e.set('timeline', { queuedBecause: apply.queuedBecause } satisfies StageTimeline);
        e.remove('message');
      }
      if (claim) {
        e.set('attempts', apply.attempt + 1);
        e.when(waitingAt(e, apply.attempt));
      } else {
        e.when(`${e.name('taskArn')} = ${e.value(apply.taskArn)}`);
      }
      return e;
    };
    // DynamoDB cannot branch in one expression: the stage's own task first (counts nothing),
    // then the claim (counts the attempt: attempts becomes attempt + 1, as markRunning sets it).
    const applied = (await this.update(buildId, stageNumber, expression(false))) ?? (await this.update(buildId, stageNumber, expression(true)));
    // An update expression has no minimum: `keep` set the first start where none was; an
    // earlier one than the recorded start is a write of its own (noteFirstStepAt).
    if (applied?.firstStepAt !== undefined && apply.firstStepAt !== undefined && apply.firstStepAt < applied.firstStepAt) {
      return (await this.earlierFirstStep(buildId, stageNumber, apply.taskArn, apply.firstStepAt)) ?? applied;
    }
    return applied;
  }

  /**
   * A step's progress read from the agent's log of `taskArn`, in one TransactWriteItems call: a
   * ConditionCheck that the stage still runs that task (a requeue removes it, the next start sets
   * another) beside the step's update, whose own condition is its status guard and no other
   * task's record. "DynamoDB cancels a TransactWriteItems request [when] a condition in one of
   * the condition expressions is not met", all of it
   * (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html,
   * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ConditionCheck.html): no
   * read-then-write, so a requeue between the read of the log and this write refuses it.
   */
  async updateStepOfTask(buildId: string, stageNumber: number, stepNumber: number, taskArn: string, patch: StepPatch, fromStatuses: StepStatus[]): Promise<boolean> {
    const check = new Expression();
    check.when(`${check.name('taskArn')} = ${check.value(taskArn)}`);
    const step = new Expression();
    step.setAll(patch);
    step.guardStatus(patch.status, fromStatuses);
    step.when(`attribute_not_exists(${step.name('taskArn')}) OR ${step.name('taskArn')} = ${step.value(taskArn)}`);
    const { ExpressionAttributeNames, ExpressionAttributeValues } = check.input();
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { ConditionCheck: { TableName: this.tableName, Key: { PK: buildPk(buildId), SK: stageSk(stageNumber) }, ConditionExpression: check.condition, ExpressionAttributeNames, ExpressionAttributeValues } },
            { Update: { TableName: this.tableName, Key: { PK: buildPk(buildId), SK: stepSk(stageNumber, stepNumber) }, ...step.input() } },
          ],
        }),
      );
      return true;
    } catch (err) {
      if (isTransactionRefusedByConditions(err)) return false;
      throw err;
    }
  }

  /**
   * The stage's first step start, earliest known: `SET firstStepAt = :at` on the condition that
   * none is recorded or a later one is, and the stage runs `taskArn` (a failed condition is
   * ConditionalCheckFailedException and writes nothing:
   * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html).
   */
  async noteFirstStepAt(buildId: string, stageNumber: number, taskArn: string, at: number): Promise<boolean> {
    return (await this.earlierFirstStep(buildId, stageNumber, taskArn, at)) !== null;
  }

  /** When the API read the agent's log of the stage's task: only while the stage runs it. */
  async noteAgentRead(buildId: string, stageNumber: number, taskArn: string, at: number): Promise<boolean> {
    const e = new Expression();
    e.set('agentReadAt', at);
    e.when(`${e.name('taskArn')} = ${e.value(taskArn)}`);
    return (await this.update(buildId, stageNumber, e)) !== null;
  }

  private earlierFirstStep(buildId: string, stageNumber: number, taskArn: string, at: number): Promise<Stage | null> {
    const e = new Expression();
    e.set('firstStepAt', at);
    const first = e.name('firstStepAt');
    e.when(`${e.name('taskArn')} = ${e.value(taskArn)}`);
    e.when(`attribute_not_exists(${first}) OR ${first} > ${e.value(at)}`);
    return this.update(buildId, stageNumber, e);
  }

  /**
   * Spot interruption of the first attempt: the stage goes back to the queue, on-demand.
   * Applies once: only while the stage runs (or has claimed) the interrupted task, or has
   * no task yet at `attempt` (the stop was its task's first event). The interrupted
   * task is forgotten, so its late events (earlier startedBy) are refused, and the
   * attempt it used is counted, so the next RunTask gets new tokens.
   * Segment 1 (or a stage that is not split) starts over, its times with it; a later
   * segment of a split stage keeps the stage's startedAt and firstStepAt: the pipeline's
   * timeout counts from the first segment's start (core/builds/segment-run.ts), and a
   * requeue must not give the stage a new one. Only while the stage is at `segment`.
   */
  async requeue(buildId: string, stageNumber: number, input: RequeueInput): Promise<Stage | null> {
    const e = new Expression();
    e.set('status', 'pending');
    e.set('statusRank', statusRank('pending'));
    e.set('queuedAt', input.queuedAt);
    e.set('capacity', 'FARGATE');
    e.set('reason', 'spot-interrupted');
    e.set('message', input.message);
    e.set('attempts', input.attempt + 1);
    e.set('GSI2PK', activeStagePk('pending'));
    e.set('GSI2SK', activeStageSk(input.queuedAt, stageKey(buildId, stageNumber)));
    const segment = input.segment ?? 1;
    for (const attr of ['eventVersion', 'taskArn', 'timeline', ...(segment > 1 ? [] : ['startedAt', 'firstStepAt'])]) e.remove(attr);
    e.when(`${e.name('statusRank')} < ${e.value(FINAL_RANK)}`);
    e.when(`attribute_not_exists(${e.name('eventVersion')}) OR ${e.name('eventVersion')} < ${e.value(input.version)}`);
    e.when(`${e.name('taskArn')} = ${e.value(input.taskArn)} OR (${waitingAt(e, input.attempt)})`);
    e.when(segment > 1 ? `${e.name('segment')} = ${e.value(segment)}` : `attribute_not_exists(${e.name('segment')}) OR ${e.name('segment')} = ${e.value(1)}`);
    return this.update(buildId, stageNumber, e);
  }

  /**
   * The task of segment `segment - 1` of a split stage stopped and the next one runs: the
   * stage goes back to the queue for `segment`. Applies once: only while the stage runs (or
   * has claimed) that task at the segment before, and for an event newer than the last
   * applied. The stopped task is forgotten (its late events are refused); startedAt stays
   * the first segment's, from which the pipeline timeout counts. Attempts start again at 0:
   * they are the segment's (Stage.attempts), so the next segment's first Spot interruption
   * is requeued as the first segment's is; its RunTask tokens differ by the segment
   * (segmentRunKey), not by the count.
   */
  async advanceSegment(buildId: string, stageNumber: number, input: SegmentAdvance): Promise<Stage | null> {
    const e = new Expression();
    e.set('status', 'pending');
    e.set('statusRank', statusRank('pending'));
    e.set('queuedAt', input.queuedAt);
    e.set('segment', input.segment);
    e.set('attempts', 0);
    e.set('snapshotAttempt', input.attempt);
    e.set('message', input.message);
    e.set('GSI2PK', activeStagePk('pending'));
    e.set('GSI2SK', activeStageSk(input.queuedAt, stageKey(buildId, stageNumber)));
    if (input.timeline !== undefined) e.append('segmentTimelines', [input.timeline]);
    for (const attr of ['eventVersion', 'taskArn', 'retryAfter', 'startFailures', 'timeline']) e.remove(attr);
    e.when(`${e.name('statusRank')} < ${e.value(FINAL_RANK)}`);
    e.when(`${e.name('taskArn')} = ${e.value(input.taskArn)}`);
    e.when(`attribute_not_exists(${e.name('eventVersion')}) OR ${e.name('eventVersion')} < ${e.value(input.version)}`);
    const previous = input.segment - 1;
    e.when(previous === 1 ? `attribute_not_exists(${e.name('segment')}) OR ${e.name('segment')} = ${e.value(1)}` : `${e.name('segment')} = ${e.value(previous)}`);
    return this.update(buildId, stageNumber, e);
  }

  /**
   * The service task of a split stage, recorded once while the stage waits for its first
   * segment: a retried start finds it and does not start another.
   */
  async noteServiceTask(buildId: string, stageNumber: number, task: { taskArn: string; cpu: number }): Promise<Stage | null> {
    const e = new Expression();
    e.set('serviceTaskArn', task.taskArn);
    e.set('serviceTaskCpu', task.cpu);
    e.when(`${e.name('status')} = ${e.value('pending')}`);
    e.when(`attribute_not_exists(${e.name('serviceTaskArn')}) OR ${e.name('serviceTaskArn')} = ${e.value(task.taskArn)}`);
    return this.update(buildId, stageNumber, e);
  }

  /** Ends a stage that is not finished (rejected, task lost, skipped): with the reason people see. */
  async finish(
    buildId: string,
    stageNumber: number,
    input: { status: StageStatus; reason?: StageOutcomeReason; message: string; finishedAt: number; onlyIfTaskArn?: string },
  ): Promise<Stage | null> {
    const e = new Expression();
    e.set('status', input.status);
    e.set('statusRank', statusRank(input.status));
    e.set('message', input.message);
    e.set('finishedAt', input.finishedAt);
    e.set('reason', input.reason || undefined);
    e.remove('GSI2PK');
    e.remove('GSI2SK');
    e.when(`${e.name('statusRank')} < ${e.value(FINAL_RANK)}`);
    if (input.onlyIfTaskArn !== undefined) e.when(`${e.name('taskArn')} = ${e.value(input.onlyIfTaskArn)}`);
    return this.update(buildId, stageNumber, e);
  }

  /** A stage waiting for its dependencies goes on the queue now. Once only. */
  /** `upstream`: what the build had done when the stage was released (Stage.upstream). */
  async markQueued(buildId: string, stageNumber: number, queuedAt: number, upstream?: UpstreamState): Promise<Stage | null> {
    const e = new Expression();
    e.set('queuedAt', queuedAt);
    e.set('GSI2PK', activeStagePk('pending'));
    e.set('GSI2SK', activeStageSk(queuedAt, stageKey(buildId, stageNumber)));
    if (upstream) e.set('upstream', upstream);
    e.when(`${e.name('status')} = ${e.value('pending')} AND attribute_not_exists(${e.name('queuedAt')})`);
    return this.update(buildId, stageNumber, e);
  }

  /** The people-readable "why it waits" of a queued stage (only written when it changes). */
  async noteWaiting(buildId: string, stageNumber: number, message: string): Promise<void> {
    const e = new Expression();
    e.set('message', message);
    const name = e.name('message');
    e.when(`${e.name('status')} = ${e.value('pending')} AND (attribute_not_exists(${name}) OR ${name} <> ${e.value(message)})`);
    await this.update(buildId, stageNumber, e);
  }

  /**
   * What a stopped task used, under `usage.<task id>`: written only where no usage of that task
   * is (a duplicate or retried stop event records nothing twice). DynamoDB cannot create the
   * map and set one of its keys in one update (overlapping paths), so the map is made first.
   */
  async recordTaskUsage(buildId: string, stageNumber: number, usage: TaskUsage): Promise<boolean> {
    const init = new Expression();
    init.keep('usage', {});
    if (!(await this.update(buildId, stageNumber, init))) return false;
    const e = new Expression();
    const path = e.mapKey('usage', taskUsageKey(usage.taskArn));
    e.setPath(path, usage);
    e.when(`attribute_not_exists(${path})`);
    return (await this.update(buildId, stageNumber, e)) !== null;
  }

  /** The stage after a conditional update; null when the condition refused it. */
  private update(buildId: string, stageNumber: number, e: Expression): Promise<Stage | null> {
    return conditionalUpdate<Stage>(this.table, { PK: buildPk(buildId), SK: stageSk(stageNumber) }, e);
  }
}

/** The condition "pending at `attempt`, with no task yet": a stage a start or a first event may claim. */
function waitingAt(e: Expression, attempt: number): string {
  return `${e.name('status')} = ${e.value('pending')} AND attribute_not_exists(${e.name('taskArn')}) AND ${e.name('attempts')} = ${e.value(attempt)}`;
}

function stripUndefined<T extends object>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
