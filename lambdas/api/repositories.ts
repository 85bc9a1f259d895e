// The repository list. The key design (core/builds/keys.ts) has no index of repositories
// (none of the flow needs one), so this reads them with a filtered Scan: repositories are
// few, and the dashboard lists builds through the recent-builds index instead.

import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { REPO_SK } from '../../core/builds/keys.js';
import type { Repository } from '../../core/builds/types.js';

const KEY_ATTRIBUTES = ['PK', 'SK', 'type', 'statusRank', 'GSI1PK', 'GSI1SK', 'GSI2PK', 'GSI2SK'];

export async function listRepositories(doc: DynamoDBDocumentClient, tableName: string): Promise<Repository[]> {
  const repos: Repository[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const res = await doc.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'SK = :repo',
        ExpressionAttributeValues: { ':repo': REPO_SK },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of res.Items ?? []) {
      const repo = { ...item };
      for (const k of KEY_ATTRIBUTES) delete repo[k];
      repos.push(repo as Repository);
    }
    start = res.LastEvaluatedKey;
  } while (start);
  return repos.sort((a, b) => a.slug.localeCompare(b.slug));
}
