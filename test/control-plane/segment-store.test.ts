// StageStore.advanceSegment on DynamoDB Local: a split stage's segment task stopped, the
// next segment goes back to the queue once, whatever duplicates and stale events arrive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoStageStore } from '../../adapters/dynamodb/stage-store.js';
import { buildPk, stageSk } from '../../adapters/dynamodb/keys.js';
import { statusRank } from '../../core/builds/status.js';
import { startDynamoLocal, type LocalDynamo } from '../support/dynamodb-local.js';

let db: LocalDynamo;
let stages: DynamoStageStore;

beforeAll(async () => {
  db = await startDynamoLocal('segment-store');
  stages = new DynamoStageStore(db.doc, db.tableName);
});
afterAll(async () => {
  await db?.stop();
});

async function runningStage(buildId: string, extra: Record<string, unknown> = {}): Promise<void> {
  await db.doc.send(
    new PutCommand({
      TableName: db.tableName,
      Item: {
        PK: buildPk(buildId),
        SK: stageSk(1),
        type: 'stage',
        buildId,
        repo: 'acme/app',
        buildNumber: 1,
        number: 1,
        name: 'default',
        status: 'running',
        statusRank: statusRank('running'),
        dependsOn: [],
        attempts: 1,
        taskArn: 'arn:task/one',
        eventVersion: 4,
        startedAt: 1_000,
        ...extra,
      },
    }),
  );
}

describe('StageStore.advanceSegment', () => {
  it('puts the stage back on the queue for the next segment, forgets the stopped task, keeps the first start', async () => {
    await runningStage('acme/app#1');
    const stage = await stages.advanceSegment('acme/app#1', 1, { taskArn: 'arn:task/one', version: 5, queuedAt: 9_000, segment: 2, message: 'segment 2 of 3 queued' });
    expect(stage).toMatchObject({ status: 'pending', segment: 2, queuedAt: 9_000, startedAt: 1_000, attempts: 1, message: 'segment 2 of 3 queued' });
    expect(stage?.taskArn).toBeUndefined();
    expect(stage?.eventVersion).toBeUndefined();
  });

  it('applies once: a duplicate of the stop event, an older event, or another task changes nothing', async () => {
    await runningStage('acme/app#2');
    const input = { taskArn: 'arn:task/one', version: 5, queuedAt: 9_000, segment: 2, message: 'next' };
    expect(await stages.advanceSegment('acme/app#2', 1, input)).not.toBeNull();
    expect(await stages.advanceSegment('acme/app#2', 1, input)).toBeNull();
    await runningStage('acme/app#3');
    expect(await stages.advanceSegment('acme/app#3', 1, { ...input, version: 4 })).toBeNull();
    expect(await stages.advanceSegment('acme/app#3', 1, { ...input, taskArn: 'arn:task/other' })).toBeNull();
  });

  it('moves one segment at a time, and never a finished stage', async () => {
    await runningStage('acme/app#4', { segment: 2 });
    expect(await stages.advanceSegment('acme/app#4', 1, { taskArn: 'arn:task/one', version: 5, queuedAt: 1, segment: 2, message: '' })).toBeNull();
    expect(await stages.advanceSegment('acme/app#4', 1, { taskArn: 'arn:task/one', version: 5, queuedAt: 1, segment: 3, message: '' })).toMatchObject({ segment: 3 });
    await runningStage('acme/app#5', { status: 'failure', statusRank: statusRank('failure') });
    expect(await stages.advanceSegment('acme/app#5', 1, { taskArn: 'arn:task/one', version: 5, queuedAt: 1, segment: 2, message: '' })).toBeNull();
  });
});
