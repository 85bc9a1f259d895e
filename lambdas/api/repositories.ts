// The repository list: one Query of the repositories' partition of GSI1 (adapters/dynamodb/keys.ts,
// access pattern 11), by name, a page at a time.

import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { GSI_RECENT, REPOSITORIES_PARTITION } from '../../adapters/dynamodb/keys.js';
import { strip, type Page, type PageOptions } from '../../adapters/dynamodb/store.js';
import type { Repository } from '../../core/builds/types.js';
import { decodeCursor, encodeCursor, withCursor } from '../../adapters/dynamodb/paging.js';

export async function listRepositories(doc: DynamoDBDocumentClient, tableName: string, page: PageOptions = {}): Promise<Page<Repository>> {
  // A cursor is the store's (adapters/dynamodb/paging.ts): one that is not answers InvalidCursorError, a 400.
  const res = await withCursor(page.cursor, () =>
    doc.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: GSI_RECENT,
        KeyConditionExpression: 'GSI1PK = :pk',
        ExpressionAttributeValues: { ':pk': REPOSITORIES_PARTITION },
        Limit: page.limit ?? 100,
        ExclusiveStartKey: decodeCursor(page.cursor),
      }),
    ),
  );
  const items = (res.Items ?? []).map((item) => strip<Repository>(item)!);
  const cursor = encodeCursor(res.LastEvaluatedKey);
  return cursor ? { items, cursor } : { items };
}
