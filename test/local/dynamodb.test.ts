// DynamoDB Local behaviours the control plane relies on, through the real SDK client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { startDynamoDb, type LocalDynamoDb } from '../../local/dynamodb.js';
import { credentials } from './helpers.js';

let db: LocalDynamoDb;
let client: DynamoDBClient;
const table = 'slipway-test';

beforeAll(async () => {
  db = await startDynamoDb();
  client = new DynamoDBClient({ endpoint: db.endpoint, region: 'us-east-1', credentials });
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'status', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        { IndexName: 'byStatus', KeySchema: [{ AttributeName: 'status', KeyType: 'HASH' }, { AttributeName: 'pk', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } },
      ],
    }),
  );
}, 60_000);

afterAll(async () => {
  client?.destroy();
  await db?.stop();
});

describe('DynamoDB Local', () => {
  it('refuses a conditional write whose condition fails', async () => {
    const put = () =>
      client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'delivery#1' }, sk: { S: 'x' } }, ConditionExpression: 'attribute_not_exists(pk)' }));
    await put();
    await expect(put()).rejects.toBeInstanceOf(ConditionalCheckFailedException);
  });

  it('increments an atomic counter with ADD', async () => {
    const bump = () =>
      client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: { pk: { S: 'repo#1' }, sk: { S: 'counter' } },
          UpdateExpression: 'ADD buildNumber :one',
          ExpressionAttributeValues: { ':one': { N: '1' } },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
    await Promise.all([bump(), bump(), bump()]);
    const last = await bump();
    expect(last.Attributes?.buildNumber?.N).toBe('4');
  });

  it('queries a global secondary index', async () => {
    for (const [pk, status] of [['stage#1', 'queued'], ['stage#2', 'running'], ['stage#3', 'queued']]) {
      await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: pk! }, sk: { S: 'stage' }, status: { S: status! } } }));
    }
    const out = await client.send(
      new QueryCommand({ TableName: table, IndexName: 'byStatus', KeyConditionExpression: '#s = :q', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':q': { S: 'queued' } } }),
    );
    expect(out.Items?.map((i) => i.pk?.S).sort()).toEqual(['stage#1', 'stage#3']);
  });

  it('commits a transaction all together, or nothing when one condition fails', async () => {
    await client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { pk: { S: 'build#7' }, sk: { S: 'build' } } } },
          { Put: { TableName: table, Item: { pk: { S: 'build#7' }, sk: { S: 'stage#1' } } } },
        ],
      }),
    );
    const failing = client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { pk: { S: 'build#8' }, sk: { S: 'build' } } } },
          { Put: { TableName: table, Item: { pk: { S: 'build#7' }, sk: { S: 'build' } }, ConditionExpression: 'attribute_not_exists(pk)' } },
        ],
      }),
    );
    await expect(failing).rejects.toBeInstanceOf(TransactionCanceledException);
    const first = await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'build#7' }, sk: { S: 'stage#1' } } }));
    const rolledBack = await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'build#8' }, sk: { S: 'build' } } }));
    expect(first.Item).toBeDefined();
    expect(rolledBack.Item).toBeUndefined();
  });

  it('accepts a TTL attribute', async () => {
    await client.send(new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } }));
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: table }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe('expiresAt');
    expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('ENABLED');
  });
});
