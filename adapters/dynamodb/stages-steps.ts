// Stage and step records of a build (BUILD#<id> / STAGE#<nnn>, STAGE#<nnn>#STEP#<nnn>): their
// items, reads of a build's partition, the status-guarded updates, and the active-stages
// index (GSI2), which is kept in step with a stage's status. The writes that also depend on
// a stage's task and attempt are stage-store.ts.

import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Stage, StageStatus, StepRecord, StepStatus } from '../../core/builds/types.js';
import { stageKey } from '../../core/builds/types.js';
import { statusRank } from '../../core/builds/status.js';
import { STEP_TIME_FIELDS } from '../../core/builds/step-times.js';
import type { Page, PageOptions, StagePatch, StepPatch, UpdateGuard } from '../../core/builds/ports.js';
import { Expression } from './expression.js';
import {
  ACTIVE_STAGE_STATUSES,
  GSI_ACTIVE_STAGES,
  STAGE_SK_PREFIX,
  activeStagePk,
  activeStageSk,
  buildPk,
  stageIndexKeys,
  stageSk,
  stepSk,
  stepSkPrefix,
} from './keys.js';
import { decodeCursor, encodeCursor, withCursor } from './paging.js';
import { conditionalUpdate, defined, type Item, queryAll, strip, type Table } from './records.js';

export function stageItem(t: Table, stage: Stage, buildCreatedAt: number): Item {
  const key = stageKey(stage.buildId, stage.number);
  const active = ACTIVE_STAGE_STATUSES.includes(stage.status);
  return defined({
    PK: buildPk(stage.buildId),
    SK: stageSk(stage.number),
    type: 'stage',
    statusRank: statusRank(stage.status),
    ...stageIndexKeys(buildCreatedAt, key),
    ...(active
      ? { GSI2PK: activeStagePk(stage.status), GSI2SK: activeStageSk(stage.queuedAt ?? t.now(), key) }
      : {}),
    ...stage,
  });
}

export function stepItem(step: StepRecord): Item {
  return defined({
    PK: buildPk(step.buildId),
    SK: stepSk(step.stageNumber, step.number),
    type: 'step',
    statusRank: statusRank(step.status),
    ...step,
  });
}

export async function getStage(t: Table, buildIdValue: string, stageNumber: number): Promise<Stage | null> {
  const res = await t.doc.send(
    new GetCommand({ TableName: t.tableName, Key: { PK: buildPk(buildIdValue), SK: stageSk(stageNumber) }, ConsistentRead: true }),
  );
  return strip<Stage>(res.Item);
}

/** Stages and steps of a build in one query (they share the partition). */
export async function listStagesAndSteps(t: Table, buildIdValue: string): Promise<{ stages: Stage[]; steps: StepRecord[] }> {
  const items = await queryAll(t, {
    KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
    ExpressionAttributeValues: { ':pk': buildPk(buildIdValue), ':prefix': STAGE_SK_PREFIX },
  });
  const stages: Stage[] = [];
  const steps: StepRecord[] = [];
  for (const item of items) {
    if (item.type === 'stage') stages.push(strip<Stage>(item)!);
    else if (item.type === 'step') steps.push(strip<StepRecord>(item)!);
  }
  return { stages, steps };
}

export async function listSteps(t: Table, buildIdValue: string, stageNumber?: number): Promise<StepRecord[]> {
  if (stageNumber === undefined) return (await listStagesAndSteps(t, buildIdValue)).steps;
  const items = await queryAll(t, {
    KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
    ExpressionAttributeValues: { ':pk': buildPk(buildIdValue), ':prefix': stepSkPrefix(stageNumber) },
  });
  return items.map((i) => strip<StepRecord>(i)!);
}

/**
 * Updates a stage under the status-order rule (or `fromStatuses`) and, for ECS-driven
 * updates, the event-version rule. Keeps the active-stages index in step with the status.
 * Returns the new stage, or null when a guard refused.
 */
export async function updateStage(
  t: Table,
  buildIdValue: string,
  stageNumber: number,
  patch: StagePatch,
  guard: UpdateGuard<StageStatus> = {},
): Promise<Stage | null> {
  const e = new Expression();
  e.setAll(patch);
  e.guardStatus(patch.status, guard.fromStatuses);
  e.guardVersion(guard.eventVersion);
  if (patch.status !== undefined) {
    if (ACTIVE_STAGE_STATUSES.includes(patch.status)) {
      const since = patch.status === 'running' ? patch.startedAt : patch.queuedAt;
      e.set('GSI2PK', activeStagePk(patch.status));
      e.set('GSI2SK', activeStageSk(since ?? t.now(), stageKey(buildIdValue, stageNumber)));
    } else {
      e.remove('GSI2PK');
      e.remove('GSI2SK');
    }
  }
  return conditionalUpdate<Stage>(t, { PK: buildPk(buildIdValue), SK: stageSk(stageNumber) }, e);
}

export async function updateStep(
  t: Table,
  buildIdValue: string,
  stageNumber: number,
  stepNumber: number,
  patch: StepPatch,
  guard: UpdateGuard<StepStatus> = {},
): Promise<StepRecord | null> {
  const e = new Expression();
  e.setAll(patch);
  // A skipped step keeps no times: what its container did is not a run of the step (step-times.ts).
  if (patch.status === 'skipped') for (const attr of STEP_TIME_FIELDS) if (patch[attr] === undefined) e.remove(attr);
  e.guardStatus(patch.status, guard.fromStatuses);
  e.guardVersion(guard.eventVersion);
  return conditionalUpdate<StepRecord>(t, { PK: buildPk(buildIdValue), SK: stepSk(stageNumber, stepNumber) }, e);
}

/**
 * A step back to `pending` for a new attempt of its stage (a Spot requeue): whatever the
 * interrupted attempt recorded — exit code, times, reason, its task — goes with it.
 */
export async function resetStep(t: Table, buildIdValue: string, stageNumber: number, stepNumber: number): Promise<StepRecord | null> {
  const e = new Expression();
  e.set('status', 'pending');
  e.set('statusRank', statusRank('pending'));
  for (const attr of ['exitCode', 'startedAt', 'finishedAt', 'reason', 'taskArn']) e.remove(attr);
  return conditionalUpdate<StepRecord>(t, { PK: buildPk(buildIdValue), SK: stepSk(stageNumber, stepNumber) }, e);
}

/**
 * Stages in flight, oldest first: pending ones in queue order, running ones by start.
 * From an index, so eventually consistent (it may still list a stage that just ended,
 * or miss one that just started): re-read a stage with getStage before acting on it.
 */
export async function listActiveStages(t: Table, status: 'pending' | 'running', page: PageOptions = {}): Promise<Page<Stage>> {
  const res = await withCursor(page.cursor, () => t.doc.send(
    new QueryCommand({
      TableName: t.tableName,
      IndexName: GSI_ACTIVE_STAGES,
      KeyConditionExpression: 'GSI2PK = :pk',
      ExpressionAttributeValues: { ':pk': activeStagePk(status) },
      Limit: page.limit ?? 100,
      ExclusiveStartKey: decodeCursor(page.cursor),
    }),
  ));
  return { items: (res.Items ?? []).map((i) => strip<Stage>(i)!), cursor: encodeCursor(res.LastEvaluatedKey) };
}
