// The one batch write/get against a table that, as DynamoDB under throttling, processes
// only part of each call and returns the rest as UnprocessedItems / UnprocessedKeys
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html).
// The contract against DynamoDB Local is in test/control-plane/store.test.ts.

import { describe, expect, it } from 'vitest';
import { BatchGetCommand, BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { BATCH_GET_LIMIT, BATCH_WRITE_LIMIT, UnprocessedItemsError, batchGet, batchWrite, type WriteRequest } from '../../adapters/dynamodb/batch.js';

type Item = Record<string, unknown>;
const TABLE = 't';
const keyOf = (k: Item): string => `${String(k.PK)}|${String(k.SK)}`;

/** A table that takes at most `perCall` requests a call and refuses calls larger than DynamoDB's limits. */
class ThrottledTable {
  readonly items = new Map<string, Item>();
  calls = 0;
  constructor(private readonly perCall: number) {}

  async send(command: unknown): Promise<unknown> {
    this.calls++;
    if (command instanceof BatchWriteCommand) {
      const requests = (command.input.RequestItems?.[TABLE] ?? []) as WriteRequest[];
      if (requests.length > BATCH_WRITE_LIMIT) throw Object.assign(new Error('Too many items requested for the BatchWriteItem call'), { name: 'ValidationException' });
      for (const r of requests.slice(0, this.perCall)) {
        if ('PutRequest' in r) this.items.set(keyOf(r.PutRequest.Item), r.PutRequest.Item);
        else this.items.delete(keyOf(r.DeleteRequest.Key));
      }
      const rest = requests.slice(this.perCall);
      return { UnprocessedItems: rest.length ? { [TABLE]: rest } : {} };
    }
    if (command instanceof BatchGetCommand) {
      const keys = (command.input.RequestItems?.[TABLE]?.Keys ?? []) as Item[];
      if (keys.length > BATCH_GET_LIMIT) throw Object.assign(new Error('Too many items requested for the BatchGetItem call'), { name: 'ValidationException' });
      const served = keys.slice(0, this.perCall).flatMap((k) => this.items.get(keyOf(k)) ?? []);
      const rest = keys.slice(this.perCall);
      return { Responses: { [TABLE]: served }, UnprocessedKeys: rest.length ? { [TABLE]: { Keys: rest } } : {} };
    }
    throw new Error('unexpected command');
  }
}

const noSleep = { attempts: 9, baseMs: 50, maxMs: 2_000, sleep: async () => {} };
const puts = (n: number): WriteRequest[] => Array.from({ length: n }, (_, i) => ({ PutRequest: { Item: { PK: `P#${i}`, SK: 'S', n: i } } }));

describe('batchWrite / batchGet (adapters/dynamodb/batch.ts)', () => {
  it('writes every item, in calls of at most 25, re-sending what the table left unprocessed', async () => {
    const table = new ThrottledTable(10);
    await batchWrite(table, TABLE, puts(60), noSleep);
    expect(table.items.size).toBe(60);
    await batchWrite(table, TABLE, puts(30).map((r) => ({ DeleteRequest: { Key: { PK: (r as { PutRequest: { Item: Item } }).PutRequest.Item.PK, SK: 'S' } } })), noSleep);
    expect([...table.items.keys()].sort()).toEqual(Array.from({ length: 30 }, (_, i) => `P#${i + 30}|S`).sort());
  });

  it('gets every item, 100 keys a call, re-asking unprocessed keys; absent items are left out', async () => {
    const table = new ThrottledTable(40);
    await batchWrite(table, TABLE, puts(150), noSleep);
    const keys = Array.from({ length: 160 }, (_, i) => ({ PK: `P#${i}`, SK: 'S' }));
    const got = await batchGet(table, TABLE, keys, noSleep);
    expect(got.map((i) => i.n).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 150 }, (_, i) => i));
  });

  it('gives up with a typed error naming the table and what is left when the table never takes anything', async () => {
    const table = new ThrottledTable(0);
    const err = await batchWrite(table, TABLE, puts(3), { ...noSleep, attempts: 4 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnprocessedItemsError);
    expect((err as Error).message).toBe('dynamodb: 3 requests to table t still unprocessed by BatchWriteItem after 4 calls; the table is throttled (retry later, or raise its capacity)');
    expect(table.calls).toBe(4);
  });

  it('does not retry an error the AWS classifier calls permanent', async () => {
    const table = { calls: 0, async send() { this.calls++; throw Object.assign(new Error('bad key'), { name: 'ValidationException' }); } };
    await expect(batchWrite(table, TABLE, puts(1), noSleep)).rejects.toThrow('bad key');
    expect(table.calls).toBe(1);
  });
});
