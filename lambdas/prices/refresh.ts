// The daily price refresh: for each Region the deployment prices, read its products from the
// AWS Price List Query API and store what was found (core/cost/price-list.ts reads them). A
// Region whose answers priced nothing keeps its last refresh: a bad day never zeroes a price.

import type { PriceStore } from '../../core/cost/ports.js';
import { PRICE_LIST_SERVICES, readPriceList } from '../../core/cost/price-list.js';
import type { Log } from '../shared/observability/logger.js';

/** One GetProducts page: `PriceList` entries (JSON strings) and the token of the next page. */
export type GetProductsPage = (input: { serviceCode: string; regionCode: string; nextToken?: string }) => Promise<{ priceList: string[]; nextToken?: string }>;

export interface RefreshDeps {
  getProducts: GetProductsPage;
  store: PriceStore;
  regions: string[];
  now: () => number;
  log: Log;
}

/** Pages read per service and Region at most: a runaway pagination ends with what it had. */
export const MAX_PAGES = 50;

export interface RefreshResult {
  region: string;
  stored: boolean;
  found: string[];
  missing: string[];
}

export async function refreshPrices(deps: RefreshDeps): Promise<RefreshResult[]> {
  const results: RefreshResult[] = [];
  for (const region of deps.regions) {
    const entries: string[] = [];
    for (const serviceCode of PRICE_LIST_SERVICES) {
      let nextToken: string | undefined;
      let pages = 0;
      do {
        const page = await deps.getProducts({ serviceCode, regionCode: region, ...(nextToken ? { nextToken } : {}) });
        entries.push(...page.priceList);
        nextToken = page.nextToken;
        pages++;
      } while (nextToken && pages < MAX_PAGES);
      if (nextToken) deps.log(`prices: ${serviceCode} in ${region} has more than ${MAX_PAGES} pages; the rest was not read`, { region, serviceCode });
    }
    const now = deps.now();
    const reading = readPriceList(region, entries, new Date(now).toISOString().slice(0, 10));
    for (const problem of reading.problems) deps.log(`prices: ${problem}`, { region });
    const stored = reading.found.length > 0;
    if (stored) {
      await deps.store.putRefreshed({
        region,
        override: reading.override,
        refreshedAt: now,
        ...(reading.publishedAt ? { publishedAt: reading.publishedAt } : {}),
        found: reading.found,
        missing: reading.missing,
      });
    }
    deps.log(stored ? 'prices refreshed' : 'prices not refreshed: the Price List priced nothing here; the last refresh stays', {
      region,
      found: reading.found.length,
      missing: reading.missing,
    });
    results.push({ region, stored, found: reading.found, missing: reading.missing });
  }
  return results;
}
