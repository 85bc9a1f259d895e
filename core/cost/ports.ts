// Where the price table lives between refreshes: the port (adapters/dynamodb/price-store.ts
// on the build table), and the one rule that makes the table a build is priced with.

import { DEFAULT_PRICES, mergePrices, type PriceOverride, type PriceTable } from './price-table.js';

/** What one Price List refresh of a Region found (lambdas/prices). */
export interface StoredPrices {
  region: string;
  override: PriceOverride;
  /** Epoch ms of the refresh. */
  refreshedAt: number;
  /** The newest publicationDate of the products read (ISO), when the answers had one. */
  publishedAt?: string;
  found: string[];
  missing: string[];
}

export interface PriceStore {
  getRefreshed(region: string): Promise<StoredPrices | null>;
  putRefreshed(prices: StoredPrices): Promise<void>;
}

/**
 * The table a build is priced with: the defaults, then what the last Price List refresh found,
 * then the stack's `prices` setting, which wins (a negotiated rate, a Region the defaults lack).
 */
export function effectivePrices(refreshed: StoredPrices | null, userOverride?: PriceOverride): PriceTable {
  let table = DEFAULT_PRICES;
  if (refreshed) table = mergePrices(table, refreshed.override, 'price-list');
  if (userOverride) table = mergePrices(table, userOverride, 'override');
  return table;
}
