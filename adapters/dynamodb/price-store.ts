// The price table's refreshes (core/cost/ports.ts) on the build table: one item per Region
// (keys.ts, access pattern 13), replaced by each refresh.

import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { PriceStore, StoredPrices } from '../../core/cost/ports.js';
import { checkPriceOverride } from '../../core/cost/price-table.js';
import { PRICES_SK, pricesPk } from './keys.js';

const ITEM_TYPE = 'prices';

export class DynamoPriceStore implements PriceStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getRefreshed(region: string): Promise<StoredPrices | null> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { PK: pricesPk(region), SK: PRICES_SK } }));
    if (!res.Item) return null;
    const item = res.Item;
    // A malformed item is an error with its place, never prices made up from it.
    const override = checkPriceOverride(item.override, `price store: item ${pricesPk(region)} / ${PRICES_SK}: override`);
    return {
      region,
      override,
      refreshedAt: Number(item.refreshedAt),
      ...(typeof item.publishedAt === 'string' ? { publishedAt: item.publishedAt } : {}),
      found: Array.isArray(item.found) ? item.found.map(String) : [],
      missing: Array.isArray(item.missing) ? item.missing.map(String) : [],
    };
  }

  async putRefreshed(prices: StoredPrices): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { PK: pricesPk(prices.region), SK: PRICES_SK, type: ITEM_TYPE, ...JSON.parse(JSON.stringify(prices)) },
      }),
    );
  }
}
