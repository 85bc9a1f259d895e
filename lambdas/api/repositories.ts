// The repository list: one Query of the repositories' partition of GSI1 (adapters/dynamodb/keys.ts,
// access pattern 11), by name, a page at a time.

import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { GSI_RECENT, REPOSITORIES_PARTITION } from '../../adapters/dynamodb/keys.js';
import { strip, type Page, type PageOptions } from '../../adapters/dynamodb/store.js';
import type { Repository } from '../../core/builds/types.js';
import { decodePageCursor, encodePageCursor } from './page-cursor.js';

export async function listRepositories(doc: DynamoDBDocumentClient, tableName: string, page: PageOptions = {}): Promise<Page<Repository>> {
  const res = await doc.send(
    new QueryCommand({
      TableName: tableName,
      IndexName: GSI_RECENT,
      KeyConditionExpression: 'GSI1PK = :pk',
      ExpressionAttributeValues: { ':pk': REPOSITORIES_PARTITION },
      Limit: page.limit ?? 100,
      ExclusiveStartKey: decodePageCursor(page.cursor),
    }),
  );
  const items = (res.Items ?? []).map((item) => strip<Repository>(item)!);
  const cursor = encodePageCursor(res.LastEvaluatedKey);
  return cursor ? { items, cursor } : { items };
}
