// The one batch write and batch get of the stores: requests in calls of the most DynamoDB
// accepts, and what DynamoDB leaves unprocessed sent again with back-off (core/util/retry.ts).
//
// BatchWriteItem takes up to 25 put or delete requests a call; those it could not process
// (throughput exceeded, an internal failure) come back in UnprocessedItems, to be re-sent
// "with an exponential backoff algorithm" (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html).
// BatchGetItem takes up to 100 keys a call and returns the rest in UnprocessedKeys, the
// same way (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html).

import { BatchGetCommand, BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { withRetry, type RetryOptions } from '../../core/util/retry.js';

export const BATCH_WRITE_LIMIT = 25;
export const BATCH_GET_LIMIT = 100;

type Item = Record<string, unknown>;
export type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } };

/** Requests DynamoDB still left unprocessed after every attempt: the table is throttled. */
export class UnprocessedItemsError extends Error {
  override readonly name = 'UnprocessedItemsError';
  constructor(
    readonly operation: 'BatchWriteItem' | 'BatchGetItem',
    readonly tableName: string,
    readonly unprocessed: number,
    readonly attempts: number,
  ) {
    super(`dynamodb: ${unprocessed} requests to table ${tableName} still unprocessed by ${operation} after ${attempts} calls; the table is throttled (retry later, or raise its capacity)`);
  }
}

export type BatchRetry = Pick<RetryOptions, 'attempts' | 'baseMs' | 'maxMs' | 'random' | 'sleep'>;

/** Nine calls, back-off from 50 ms up to 2 s: about eight seconds of throttling before giving up. */
export const BATCH_RETRY: BatchRetry = { attempts: 9, baseMs: 50, maxMs: 2_000 };

type Send = Pick<DynamoDBDocumentClient, 'send'>;

/**
 * Sends `requests` in calls of 25 and re-sends what comes back unprocessed until none is
 * left. Throws UnprocessedItemsError when `retry.attempts` calls for one chunk leave some;
 * errors of a call are retried only when the AWS error classifier calls them retryable.
 */
export async function batchWrite(doc: Send, tableName: string, requests: readonly WriteRequest[], retry: BatchRetry = BATCH_RETRY): Promise<void> {
  for (let i = 0; i < requests.length; i += BATCH_WRITE_LIMIT) {
    let pending: WriteRequest[] = requests.slice(i, i + BATCH_WRITE_LIMIT);
    await resend(retry, 'BatchWriteItem', tableName, () => pending.length, async () => {
      const res = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
      pending = (res.UnprocessedItems?.[tableName] ?? []) as WriteRequest[];
    });
  }
}

/** Gets the items of `keys` (absent items are left out), 100 keys a call, re-asking unprocessed keys. */
export async function batchGet(doc: Send, tableName: string, keys: readonly Item[], retry: BatchRetry = BATCH_RETRY): Promise<Item[]> {
  const out: Item[] = [];
  for (let i = 0; i < keys.length; i += BATCH_GET_LIMIT) {
    let pending: Item[] = keys.slice(i, i + BATCH_GET_LIMIT);
    await resend(retry, 'BatchGetItem', tableName, () => pending.length, async () => {
      const res = await doc.send(new BatchGetCommand({ RequestItems: { [tableName]: { Keys: pending } } }));
      out.push(...((res.Responses?.[tableName] ?? []) as Item[]));
      pending = (res.UnprocessedKeys?.[tableName]?.Keys ?? []) as Item[];
    });
  }
  return out;
}

/** Calls `send` until `left()` is 0, through the one retry helper. */
async function resend(retry: BatchRetry, operation: UnprocessedItemsError['operation'], tableName: string, left: () => number, send: () => Promise<void>): Promise<void> {
  await withRetry(
    async (attempt) => {
      await send();
      if (left() > 0) throw new UnprocessedItemsError(operation, tableName, left(), attempt);
    },
    { ...retry, retryable: (err, info) => err instanceof UnprocessedItemsError || info.retryable },
  );
}
