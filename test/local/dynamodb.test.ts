// DynamoDB Local behaviours the control plane relies on, through the real SDK client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
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

/** The table both suites use: a key and one index on `status`. */
function createTestTable(ddb: DynamoDBClient, name: string) {
  return ddb.send(
    new CreateTableCommand({
      TableName: name,
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
}

beforeAll(async () => {
  db = await startDynamoDb();
  client = new DynamoDBClient({ endpoint: db.endpoint, region: 'us-east-1', credentials });
  await createTestTable(client, table);
});

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

// DynamoDB's reads are eventually consistent unless ConsistentRead is set, and always so on
// a global secondary index: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html
// DynamoDB Local is always up to date; the eventual-consistency proxy makes it as loose as AWS.
describe('DynamoDB Local with eventually consistent reads (HowItWorks.ReadConsistency)', () => {
  let eventual: LocalDynamoDb;
  let c: DynamoDBClient;
  const t = 'eventual-test';
  const key = (pk: string) => ({ pk: { S: pk }, sk: { S: 'x' } });

  beforeAll(async () => {
    eventual = await startDynamoDb({ eventualConsistency: { lagMs: 60_000 } });
    c = new DynamoDBClient({ endpoint: eventual.endpoint, region: 'us-east-1', credentials });
    await createTestTable(c, t);
  });

  afterAll(async () => {
    c?.destroy();
    await eventual?.stop();
  });

  it('an eventually consistent GetItem may miss a write that ConsistentRead sees', async () => {
    await c.send(new PutItemCommand({ TableName: t, Item: { ...key('a'), status: { S: 'running' } } }));
    const loose = await c.send(new GetItemCommand({ TableName: t, Key: key('a') }));
    const strict = await c.send(new GetItemCommand({ TableName: t, Key: key('a'), ConsistentRead: true }));
    expect(loose.Item).toBeUndefined();
    expect(strict.Item?.status?.S).toBe('running');
    await eventual.catchUp();
    expect((await c.send(new GetItemCommand({ TableName: t, Key: key('a') }))).Item?.status?.S).toBe('running');
  });

  it('an eventually consistent Query and BatchGetItem return the earlier state of an updated item', async () => {
    await c.send(new UpdateItemCommand({ TableName: t, Key: key('a'), UpdateExpression: 'SET #s = :s', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': { S: 'success' } } }));
    const query = (consistent: boolean) =>
      c.send(new QueryCommand({ TableName: t, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: 'a' } }, ConsistentRead: consistent }));
    expect((await query(false)).Items?.[0]?.status?.S).toBe('running');
    expect((await query(true)).Items?.[0]?.status?.S).toBe('success');
    const batch = (consistent: boolean) => c.send(new BatchGetItemCommand({ RequestItems: { [t]: { Keys: [key('a')], ConsistentRead: consistent } } }));
    expect((await batch(false)).Responses?.[t]?.[0]?.status?.S).toBe('running');
    expect((await batch(true)).Responses?.[t]?.[0]?.status?.S).toBe('success');
    await eventual.catchUp();
    expect((await query(false)).Items?.[0]?.status?.S).toBe('success');
  });

  it('a global secondary index is always eventually consistent, and refuses ConsistentRead', async () => {
    await c.send(new PutItemCommand({ TableName: t, Item: { ...key('b'), status: { S: 'queued' } } }));
    const byStatus = { TableName: t, IndexName: 'byStatus', KeyConditionExpression: '#s = :q', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':q': { S: 'queued' } } };
    expect((await c.send(new QueryCommand(byStatus))).Items).toEqual([]);
    await expect(c.send(new QueryCommand({ ...byStatus, ConsistentRead: true }))).rejects.toThrow(/[Cc]onsistent read/);
    await eventual.catchUp();
    expect((await c.send(new QueryCommand(byStatus))).Items?.map((i) => i.pk?.S)).toEqual(['b']);
  });

  it('keeps its lagging copy out of ListTables and replays every write without error', async () => {
    expect((await c.send(new ListTablesCommand({}))).TableNames).toEqual([t]);
    expect(eventual.replayErrors()).toEqual([]);
  });
});
