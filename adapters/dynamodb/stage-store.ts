// Stage writes of the execution half (autoscaler, task-events) whose conditions the
// generic BuildStore.updateStage cannot express: they also depend on which task the
// stage runs and on its attempt count. Plus the stored StageJob of every stage (item
// BUILD#<id> / STAGE#<nnn>#JOB, type `job`), from which dependent stages and Spot
// retries are enqueued. Keys from keys.ts; the client is injected.

import { type DynamoDBDocumentClient, BatchGetCommand, BatchWriteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { StageJob } from '../../core/scaling/job.js';
import { backoffMs } from '../../core/util/retry.js';
import { activeStagePk, activeStageSk, buildPk, stageSk } from './keys.js';
import { FINAL_RANK, statusRank } from '../../core/builds/status.js';
import { isConditionFailure, strip } from './store.js';
import type { Stage, StageOutcomeReason, StageStatus } from '../../core/builds/types.js';
import { stageKey } from '../../core/builds/types.js';
import type { UpstreamState } from '../../core/pipeline/contract.js';

const jobSk = (stageNumber: number): string => `${stageSk(stageNumber)}#JOB`;

export interface RunningMark {
  /** Stage.attempts before this start (the attempt the RunTask tokens were made for). */
  attempt: number;
  taskArn: string;
  capacity: 'FARGATE' | 'FARGATE_SPOT';
  startedAt: number;
  cpu: number;
}

export interface EventApply {
  taskArn: string;
  version: number;
  /** Stage.attempts the caller expected (a pending stage is claimed by the event's task). */
  attempt: number;
  status?: StageStatus;
  reason?: StageOutcomeReason;
  message?: string;
  exitCode?: number;
  startedAt?: number;
  finishedAt?: number;
  firstStepAt?: number;
}

export class StageStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  /** Stores the job of every stage of a build (the planner, beside createBuild). */
  async putStageJobs(jobs: StageJob[]): Promise<void> {
    for (let i = 0; i < jobs.length; i += 25) {
      let pending: unknown[] = jobs.slice(i, i + 25).map((job) => ({
        PutRequest: { Item: { PK: buildPk(job.buildId), SK: jobSk(job.stageNumber), type: 'job', ...stripUndefined(job) } },
      }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 8) throw new Error(`stage-store: ${pending.length} jobs unprocessed after retries`);
        const res = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending as never } }));
        pending = res.UnprocessedItems?.[this.tableName] ?? [];
        if (pending.length) await new Promise((r) => setTimeout(r, 2 ** attempt * 10));
      }
    }
  }

  async getStageJob(buildId: string, stageNumber: number): Promise<StageJob | null> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { PK: buildPk(buildId), SK: jobSk(stageNumber) }, ConsistentRead: true }));
    return strip<StageJob>(res.Item);
  }

  /**
   * The stored jobs of these stages, by stage key (absent: none stored). BatchGetItem, 100
   * keys a call; unprocessed keys are asked again with back-off.
   */
  async getStageJobs(stages: { buildId: string; stageNumber: number }[]): Promise<Map<string, StageJob>> {
    const out = new Map<string, StageJob>();
    for (let i = 0; i < stages.length; i += 100) {
      let keys: Record<string, unknown>[] = stages.slice(i, i + 100).map((s) => ({ PK: buildPk(s.buildId), SK: jobSk(s.stageNumber) }));
      for (let attempt = 1; keys.length > 0; attempt++) {
        if (attempt > 8) throw new Error(`stage-store: ${keys.length} stage jobs still unprocessed by BatchGetItem after ${attempt - 1} calls; the table is throttled`);
        const res = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys } } }));
        for (const item of res.Responses?.[this.tableName] ?? []) {
          const job = strip<StageJob>(item);
          if (job) out.set(job.stageKey, job);
        }
        keys = (res.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Record<string, unknown>[];
        if (keys.length) await new Promise((r) => setTimeout(r, backoffMs(attempt, 50, 2_000)));
      }
    }
    return out;
  }

  /** The stage as last written (a strongly consistent read: the index may lag behind). */
  async getStageConsistent(buildId: string, stageNumber: number): Promise<Stage | null> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { PK: buildPk(buildId), SK: stageSk(stageNumber) }, ConsistentRead: true }));
    return strip<Stage>(res.Item);
  }

  /**
   * A start of a waiting stage failed (not a wait): counts it, says why, and sets when to try
   * again. Only while the stage still waits at `attempt` with no task. Returns the stage.
   */
  async noteStartFailure(buildId: string, stageNumber: number, input: { attempt: number; message: string; retryAfter: number }): Promise<Stage | null> {
    return this.update(buildId, stageNumber, {
      update: 'SET message = :message, #retryAfter = :retryAfter ADD #startFailures :one',
      condition: 'attribute_exists(PK) AND #status = :pending AND attribute_not_exists(taskArn) AND attempts = :attempt',
      values: { ':message': input.message, ':retryAfter': input.retryAfter, ':one': 1, ':pending': 'pending', ':attempt': input.attempt },
      names: { '#retryAfter': 'retryAfter', '#startFailures': 'startFailures' },
    });
  }

  /**
   * RunTask succeeded: the stage runs `taskArn`. Applies if the stage is still pending at
   * that attempt, or if a task event already claimed it for the same task; never moves a
   * finished stage. Returns the stage, or null when refused.
   */
  async markRunning(buildId: string, stageNumber: number, mark: RunningMark): Promise<Stage | null> {
    return this.update(buildId, stageNumber, {
      update:
        'SET #status = :running, statusRank = :rank1, taskArn = :arn, capacity = :cap, attempts = :next, cpu = :cpu, ' +
        'startedAt = if_not_exists(startedAt, :startedAt), GSI2PK = :gsi2pk, GSI2SK = :gsi2sk',
      // Claimed first by the task's own event: attempts is already :next (the claim counted it).
      condition:
        'attribute_exists(PK) AND ((#status = :pending AND attempts = :attempt AND attribute_not_exists(taskArn)) OR (taskArn = :arn AND statusRank <= :rank1))',
      values: {
        ':running': 'running',
        ':pending': 'pending',
        ':rank1': statusRank('running'),
        ':arn': mark.taskArn,
        ':cap': mark.capacity,
        ':attempt': mark.attempt,
        ':next': mark.attempt + 1,
        ':cpu': mark.cpu,
        ':startedAt': mark.startedAt,
        ':gsi2pk': activeStagePk('running'),
        ':gsi2sk': activeStageSk(mark.startedAt, stageKey(buildId, stageNumber)),
      },
    });
  }

  /**
   * An ECS event of the stage's task: applies only if its version is newer than the last
   * applied one, the stage is not finished, and the task is the stage's — or the stage
   * has no task yet and is pending at `attempt`: then this first event claims the task
   * and counts the attempt, once. Later events of the claimed task match by taskArn and
   * count nothing, whether the stage is still pending or already running.
   */
  async applyEvent(buildId: string, stageNumber: number, apply: EventApply): Promise<Stage | null> {
    const sets = ['eventVersion = :version', 'taskArn = :arn'];
    const values: Record<string, unknown> = {
      ':version': apply.version,
      ':arn': apply.taskArn,
      ':final': FINAL_RANK,
    };
    const names: Record<string, string> = { '#status': 'status' };
    let removeIndex = false;
    if (apply.status !== undefined) {
      const rank = statusRank(apply.status);
      sets.push('#status = :status', 'statusRank = :rank');
      values[':status'] = apply.status;
      values[':rank'] = rank;
      if (apply.status === 'running') {
        sets.push('GSI2PK = :gsi2pk', 'GSI2SK = if_not_exists(GSI2SK, :gsi2sk)');
        values[':gsi2pk'] = activeStagePk('running');
        values[':gsi2sk'] = activeStageSk(apply.startedAt ?? Date.now(), stageKey(buildId, stageNumber));
      } else if (rank >= FINAL_RANK) {
        removeIndex = true;
      }
    }
    const optional: [string, unknown][] = [
      ['reason', apply.reason],
      ['message', apply.message],
      ['exitCode', apply.exitCode],
      ['finishedAt', apply.finishedAt],
    ];
    for (const [attr, value] of optional) {
      if (value === undefined) continue;
      sets.push(`#${attr} = :${attr}`);
      names[`#${attr}`] = attr;
      values[`:${attr}`] = value;
    }
    if (apply.startedAt !== undefined) {
      sets.push('startedAt = if_not_exists(startedAt, :startedAt)');
      values[':startedAt'] = apply.startedAt;
    }
    if (apply.firstStepAt !== undefined) {
      sets.push('firstStepAt = if_not_exists(firstStepAt, :firstStepAt)');
      values[':firstStepAt'] = apply.firstStepAt;
    }
    const base = 'attribute_exists(PK) AND statusRank < :final AND (attribute_not_exists(eventVersion) OR eventVersion < :version)';
    const remove = removeIndex ? ' REMOVE GSI2PK, GSI2SK' : '';
    // DynamoDB cannot branch in one expression: the stage's own task first (counts nothing),
    // then the claim (counts the attempt: attempts becomes :next, as markRunning sets it).
    const own = await this.update(buildId, stageNumber, {
      update: `SET ${sets.join(', ')}${remove}`,
      condition: `${base} AND taskArn = :arn`,
      values,
      names,
    });
    if (own) return own;
    return this.update(buildId, stageNumber, {
      update: `SET ${[...sets, 'attempts = :next'].join(', ')}${remove}`,
      condition: `${base} AND attribute_not_exists(taskArn) AND #status = :pending AND attempts = :attempt`,
      values: { ...values, ':pending': 'pending', ':attempt': apply.attempt, ':next': apply.attempt + 1 },
      names,
    });
  }

  /**
   * Spot interruption of the first attempt: the stage goes back to the queue, on-demand.
   * Applies once: only while the stage runs (or has claimed) the interrupted task, or has
   * no task yet at `attempt` (the stop was its task's first event). The interrupted
   * task is forgotten, so its late events (earlier startedBy) are refused, and the
   * attempt it used is counted, so the next RunTask gets new tokens.
   */
  async requeue(
    buildId: string,
    stageNumber: number,
    input: { taskArn: string; version: number; queuedAt: number; message: string; attempt: number },
  ): Promise<Stage | null> {
    return this.update(buildId, stageNumber, {
      update:
        'SET #status = :pending, statusRank = :rank0, queuedAt = :queuedAt, capacity = :fargate, reason = :reason, message = :message, ' +
        'attempts = :next, GSI2PK = :gsi2pk, GSI2SK = :gsi2sk REMOVE eventVersion, startedAt, firstStepAt, taskArn',
      condition:
        'attribute_exists(PK) AND statusRank < :final AND (attribute_not_exists(eventVersion) OR eventVersion < :version) AND ' +
        '(taskArn = :arn OR (attribute_not_exists(taskArn) AND #status = :pending AND attempts = :attempt))',
      values: {
        ':pending': 'pending',
        ':rank0': statusRank('pending'),
        ':final': FINAL_RANK,
        ':queuedAt': input.queuedAt,
        ':fargate': 'FARGATE',
        ':reason': 'spot-interrupted',
        ':message': input.message,
        ':arn': input.taskArn,
        ':version': input.version,
        ':attempt': input.attempt,
        ':next': input.attempt + 1,
        ':gsi2pk': activeStagePk('pending'),
        ':gsi2sk': activeStageSk(input.queuedAt, stageKey(buildId, stageNumber)),
      },
    });
  }

  /** Ends a stage that is not finished (rejected, task lost, skipped): with the reason people see. */
  async finish(
    buildId: string,
    stageNumber: number,
    input: { status: StageStatus; reason?: StageOutcomeReason; message: string; finishedAt: number; onlyIfTaskArn?: string },
  ): Promise<Stage | null> {
    const values: Record<string, unknown> = {
      ':status': input.status,
      ':rank': statusRank(input.status),
      ':message': input.message,
      ':finishedAt': input.finishedAt,
      ':final': FINAL_RANK,
    };
    let update = 'SET #status = :status, statusRank = :rank, message = :message, finishedAt = :finishedAt';
    if (input.reason) {
      update += ', reason = :reason';
      values[':reason'] = input.reason;
    }
    let condition = 'attribute_exists(PK) AND statusRank < :final';
    if (input.onlyIfTaskArn !== undefined) {
      condition += ' AND taskArn = :arn';
      values[':arn'] = input.onlyIfTaskArn;
    }
    return this.update(buildId, stageNumber, { update: `${update} REMOVE GSI2PK, GSI2SK`, condition, values });
  }

  /** A stage waiting for its dependencies goes on the queue now. Once only. */
  /** `upstream`: what the build had done when the stage was released (Stage.upstream). */
  async markQueued(buildId: string, stageNumber: number, queuedAt: number, upstream?: UpstreamState): Promise<Stage | null> {
    return this.update(buildId, stageNumber, {
      update: `SET queuedAt = :queuedAt, GSI2PK = :gsi2pk, GSI2SK = :gsi2sk${upstream ? ', upstream = :upstream' : ''}`,
      condition: 'attribute_exists(PK) AND #status = :pending AND attribute_not_exists(queuedAt)',
      values: {
        ...(upstream ? { ':upstream': upstream } : {}),
        ':queuedAt': queuedAt,
        ':pending': 'pending',
        ':gsi2pk': activeStagePk('pending'),
        ':gsi2sk': activeStageSk(queuedAt, stageKey(buildId, stageNumber)),
      },
    });
  }

  /** The people-readable "why it waits" of a queued stage (only written when it changes). */
  async noteWaiting(buildId: string, stageNumber: number, message: string): Promise<void> {
    await this.update(buildId, stageNumber, {
      update: 'SET message = :message',
      condition: 'attribute_exists(PK) AND #status = :pending AND (attribute_not_exists(message) OR message <> :message)',
      values: { ':message': message, ':pending': 'pending' },
    });
  }

  private async update(
    buildId: string,
    stageNumber: number,
    input: { update: string; condition: string; values: Record<string, unknown>; names?: Record<string, string> },
  ): Promise<Stage | null> {
    const { expressions: [update, condition], names } = aliasAttributes([input.update, input.condition], input.names);
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: buildPk(buildId), SK: stageSk(stageNumber) },
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: Object.keys(names).length ? names : undefined,
          ExpressionAttributeValues: input.values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return strip<Stage>(res.Attributes);
    } catch (err) {
      if (isConditionFailure(err)) return null;
      throw err;
    }
  }
}

const ATTRIBUTE_WORDS =
  /(?<![:#\w])(status|statusRank|message|reason|capacity|attempts|cpu|queuedAt|taskArn|startedAt|finishedAt|firstStepAt|eventVersion|exitCode)(?!\w)/g;

/**
 * The name placeholders of update and condition expressions. Every attribute goes through
 * one (several are DynamoDB reserved words): the names a caller gives are used as given
 * (`#st` → `status`); a bare attribute word becomes `#word`; any other `#word` names the
 * attribute `word`. A placeholder given for another attribute than the word it would
 * alias is refused, rather than silently pointing an expression at the wrong attribute;
 * one the expressions do not use is left out.
 */
export function aliasAttributes(expressions: string[], given: Record<string, string> = {}): { expressions: string[]; names: Record<string, string> } {
  const names: Record<string, string> = { ...given };
  const claim = (placeholder: string, attr: string): void => {
    const current = names[placeholder];
    if (current !== undefined && current !== attr) {
      throw new Error(`stage-store: placeholder ${placeholder} is given for attribute ${current}, but the expression uses it for ${attr}`);
    }
    names[placeholder] = attr;
  };
  const out = expressions.map((expression) =>
    expression
      .replace(ATTRIBUTE_WORDS, (word) => {
        claim(`#${word}`, word);
        return `#${word}`;
      })
      .replace(/#(\w+)/g, (whole, word: string) => {
        if (names[whole] === undefined) names[whole] = word;
        return whole;
      }),
  );
  // DynamoDB refuses a name the expressions do not use.
  const used = new Set(out.flatMap((e) => e.match(/#\w+/g) ?? []));
  return { expressions: out, names: Object.fromEntries(Object.entries(names).filter(([placeholder]) => used.has(placeholder))) };
}

function stripUndefined<T extends object>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
