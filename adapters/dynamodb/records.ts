// What every module of the build table's store shares: the table it writes (client, name,
// clock), the step from an item to the record the rest of the code sees, the one
// conditional update, and the strongly consistent read of a whole partition.

import { type DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionalCheckFailure } from '../../core/util/aws-errors.js';
import { withRetry } from '../../core/util/retry.js';
import type { Expression } from './expression.js';
import { TTL_ATTRIBUTE } from './keys.js';

/** The build table as the store's modules use it: the client is injected (DynamoDB or DynamoDB Local). */
export interface Table {
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Epoch milliseconds; injected by tests. */
  readonly now: () => number;
}

export type Item = Record<string, unknown>;
const KEY_ATTRIBUTES = ['PK', 'SK', 'type', 'statusRank', 'GSI1PK', 'GSI1SK', 'GSI2PK', 'GSI2SK', TTL_ATTRIBUTE];

/** An item without its key attributes: the record the rest of the code sees. */
export function strip<T>(item: Item | undefined): T | null {
  if (!item) return null;
  const out: Item = { ...item };
  for (const k of KEY_ATTRIBUTES) delete out[k];
  return out as T;
}

/** Drops undefined fields, so the store works with any document-client marshalling options. */
export function defined(item: Item): Item {
  return Object.fromEntries(Object.entries(item).filter(([, v]) => v !== undefined));
}

export function isConditionFailure(err: unknown): boolean {
  return isConditionalCheckFailure(err);
}

/**
 * One item write, sent again when it met a transaction on the item (TransactionConflictException:
 * nothing was written, and the SDK does not retry it): the API's TransactWriteItems of a stage and
 * its step (stage-store.ts), the SOCI claim with its budget (soci-store.ts). The item's own
 * condition still decides the retried write.
 */
export function retryingTransactionConflicts<T>(send: () => Promise<T>): Promise<T> {
  return withRetry(send, { attempts: 5, baseMs: 20, maxMs: 400, retryable: (_err, info) => info.name === 'TransactionConflictException' });
}

/** One conditional update of a record: the new record, or null when its condition refused it. */
export async function conditionalUpdate<T>(t: Table, key: Item, e: Expression): Promise<T | null> {
  if (e.empty) throw new Error('store: empty update');
  try {
    const res = await retryingTransactionConflicts(() =>
      t.doc.send(
        new UpdateCommand({
          TableName: t.tableName,
          Key: key,
          ...e.input(),
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return strip<T>(res.Attributes);
  } catch (err) {
    if (isConditionFailure(err)) return null;
    throw err;
  }
}

/** Every item a key condition matches, page after page, strongly consistent. */
export async function queryAll(t: Table, input: { KeyConditionExpression: string; ExpressionAttributeValues: Item }): Promise<Item[]> {
  const out: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const res = await t.doc.send(new QueryCommand({ TableName: t.tableName, ...input, ConsistentRead: true, ExclusiveStartKey: start }));
    out.push(...((res.Items ?? []) as Item[]));
    start = res.LastEvaluatedKey;
  } while (start);
  return out;
}
