// Page cursors of the store's queries: DynamoDB's LastEvaluatedKey, opaque to callers.

import { InvalidCursorError } from '../../core/builds/ports.js';
import { classifyAwsError } from '../../core/util/aws-errors.js';

export { InvalidCursorError };

export function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;
}

/** A cursor is a key this store encoded: a small map of key attributes to strings or numbers. */
export function decodeCursor(cursor: string | undefined): Record<string, unknown> | undefined {
  if (!cursor) return undefined;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (err) {
    throw new InvalidCursorError(cursor, (err as Error).message);
  }
  const entries = key !== null && typeof key === 'object' && !Array.isArray(key) ? Object.entries(key) : [];
  if (entries.length === 0 || entries.length > 4 || !entries.every(([, v]) => typeof v === 'string' || typeof v === 'number')) {
    throw new InvalidCursorError(cursor, 'not a key this store returned');
  }
  return key as Record<string, unknown>;
}

/**
 * DynamoDB refuses an ExclusiveStartKey that is not a key of the queried table, index or
 * partition with a ValidationException: with a cursor given, that is the cursor's fault.
 */
export async function withCursor<T>(cursor: string | undefined, query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (err) {
    if (cursor && classifyAwsError(err).name === 'ValidationException') throw new InvalidCursorError(cursor, (err as Error).message);
    throw err;
  }
}
