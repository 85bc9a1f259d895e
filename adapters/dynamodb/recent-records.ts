// The RecentRecordsReader port (core/builds/ports.ts) on the build table. What the metrics read: the builds, and the stages of the builds, created since a time —
// two paged Queries of GSI1 (keys.ts, access pattern 12), newest first, each
// bounded, instead of one query per build.

import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { GSI_RECENT, RECENT_BUILDS_PARTITION, RECENT_STAGES_PARTITION, recentSkFrom } from './keys.js';
import { strip } from './records.js';
import type { RecentRecordsReader } from '../../core/builds/ports.js';
import type { Build, Stage } from '../../core/builds/types.js';

export type { RecentBudget, RecentRecords, RecentRecordsReader } from '../../core/builds/ports.js';

/** Items per Query page (each page is also cut at 1 MB by DynamoDB). */
const PAGE = 1000;

export function recentRecordsReader(doc: DynamoDBDocumentClient, tableName: string): RecentRecordsReader {
  async function newestFirst<T>(partition: string, since: number, max: number): Promise<{ items: T[]; full: boolean }> {
    const items: T[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await doc.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: GSI_RECENT,
          KeyConditionExpression: 'GSI1PK = :pk AND GSI1SK >= :from',
          ExpressionAttributeValues: { ':pk': partition, ':from': recentSkFrom(since) },
          ScanIndexForward: false,
          Limit: Math.min(PAGE, max - items.length),
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(res.Items ?? []).map((i) => strip<T>(i)!));
      start = res.LastEvaluatedKey;
    } while (start && items.length < max);
    return { items, full: start !== undefined };
  }

  return async (since, budget = {}) => {
    const builds = await newestFirst<Build>(RECENT_BUILDS_PARTITION, since, budget.builds ?? 10_000);
    // Out of budget: count from the oldest build read, and read stages from there only.
    let countedFrom = builds.full ? builds.items[builds.items.length - 1]!.createdAt : undefined;
    const stages = await newestFirst<Stage>(RECENT_STAGES_PARTITION, countedFrom ?? since, budget.stages ?? 30_000);
    if (stages.full) {
      const ids = new Set(stages.items.map((s) => s.buildId));
      // The oldest build whose stages may be incomplete: count only builds after it.
      const oldest = builds.items.filter((b) => ids.has(b.id)).at(-1)?.createdAt;
      countedFrom = Math.max(countedFrom ?? since, (oldest ?? since) + 1);
    }
    const keep = (b: Build) => countedFrom === undefined || b.createdAt >= countedFrom;
    return { builds: builds.items.filter(keep), stages: stages.items, ...(countedFrom !== undefined ? { countedFrom } : {}) };
  };
}
