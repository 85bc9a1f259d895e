// Reading the AWS Price List Query API's GetProducts answers into the price table's shape. Pure:
// the scheduled refresh (lambdas/prices) makes the calls, this turns their pages into prices.
//
// GetProducts (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html)
// returns `PriceList`, a list of JSON *strings*, each one product: `product.attributes` (regionCode,
// usagetype, …) and `terms.OnDemand.<offer>.priceDimensions.<rate>` with `unit`, `beginRange` and
// `pricePerUnit.USD` (a decimal string). The offer file's fields are defined at
// https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html.
// A usagetype starts with a Region prefix that is not the Region code (`USE1-`, `EU-` for
// eu-west-1, `EUC1-`, or none), so products are matched by regionCode and the usagetype's end.

import type { PriceOverride } from './price-table.js';

type PriceOverrideRegion = NonNullable<PriceOverride['regions']>[string];

/** The services one Region's prices come from (GetProducts' ServiceCode, filtered by regionCode). */
export const PRICE_LIST_SERVICES = ['AmazonECS', 'AmazonVPC', 'AWSLambda', 'AWSQueueService', 'AmazonDynamoDB', 'AmazonCloudWatch'] as const;

/** `service` + a pattern on the usagetype (after its Region prefix) → where its price goes. */
interface Rule {
  service: string;
  usagetype: RegExp;
  path: string[];
  /** The Price List's unit → the table's (per million requests, per unit). */
  scale?: number;
}

const PREFIX = '^(?:[A-Z]{2,4}[0-9]?-)?';
const rule = (service: string, suffix: string, path: string[], scale?: number): Rule => ({
  service,
  usagetype: new RegExp(`${PREFIX}${suffix}$`),
  path,
  ...(scale ? { scale } : {}),
});

const RULES: Rule[] = [
  rule('AmazonECS', 'Fargate-vCPU-Hours:perCPU', ['fargate', 'X86_64', 'onDemand', 'vcpuHour']),
  rule('AmazonECS', 'Fargate-GB-Hours', ['fargate', 'X86_64', 'onDemand', 'gbHour']),
  rule('AmazonECS', 'Fargate-ARM-vCPU-Hours:perCPU', ['fargate', 'ARM64', 'onDemand', 'vcpuHour']),
  rule('AmazonECS', 'Fargate-ARM-GB-Hours', ['fargate', 'ARM64', 'onDemand', 'gbHour']),
  rule('AmazonECS', 'SpotUsage-Fargate-vCPU-Hours:perCPU', ['fargate', 'X86_64', 'spot', 'vcpuHour']),
  rule('AmazonECS', 'SpotUsage-Fargate-GB-Hours', ['fargate', 'X86_64', 'spot', 'gbHour']),
  rule('AmazonECS', 'SpotUsage-Fargate-ARM-vCPU-Hours:perCPU', ['fargate', 'ARM64', 'spot', 'vcpuHour']),
  rule('AmazonECS', 'SpotUsage-Fargate-ARM-GB-Hours', ['fargate', 'ARM64', 'spot', 'gbHour']),
  rule('AmazonECS', 'Fargate-EphemeralStorage-GB-Hours', ['ephemeralStorageGbHour']),
  rule('AmazonVPC', 'PublicIPv4:InUseAddress', ['publicIpv4Hour']),
  rule('AWSLambda', 'Request-ARM', ['lambda', 'requestsPerMillion'], 1e6),
  rule('AWSLambda', 'Lambda-GB-Second', ['lambda', 'gbSecondX86']),
  rule('AWSLambda', 'Lambda-GB-Second-ARM', ['lambda', 'gbSecondArm']),
  rule('AWSQueueService', 'Requests-Tier1', ['sqs', 'requestsPerMillion'], 1e6),
  rule('AmazonDynamoDB', 'WriteRequestUnits', ['dynamodb', 'writeUnitsPerMillion'], 1e6),
  rule('AmazonDynamoDB', 'ReadRequestUnits', ['dynamodb', 'readUnitsPerMillion'], 1e6),
  rule('AmazonCloudWatch', 'DataProcessing-Bytes', ['logs', 'ingestionGb']),
];

/** Every price the table keeps, by its path: what a complete refresh finds. */
export const PRICED_PATHS = RULES.map((r) => r.path.join('.'));

export interface PriceListReading {
  /** The prices found, in the table's shape (merge with mergePrices). */
  override: PriceOverride;
  /** Paths found, and those no product matched (they keep their previous price). */
  found: string[];
  missing: string[];
  /** Entries that could not be read, with why (never fatal: the others still count). */
  problems: string[];
  /** The newest publicationDate among the products used (ISO), if any. */
  publishedAt?: string;
}

interface Product {
  product?: { attributes?: Record<string, unknown> };
  serviceCode?: string;
  terms?: { OnDemand?: Record<string, { priceDimensions?: Record<string, { unit?: string; beginRange?: string; pricePerUnit?: Record<string, string> }> }> };
  publicationDate?: string;
}

/**
 * The first paid On-Demand rate of a product: the dimension with the lowest beginRange whose
 * price is not zero (a free first tier, as Lambda's or ECS Anywhere's, does not hide the paid
 * one). Null when it has none in USD.
 */
export function onDemandUsd(product: Product): number | null {
  const dimensions = Object.values(product.terms?.OnDemand ?? {}).flatMap((term) => Object.values(term.priceDimensions ?? {}));
  const paid = dimensions
    .map((d) => ({ begin: Number(d.beginRange ?? 0), usd: Number(d.pricePerUnit?.USD) }))
    .filter((d) => Number.isFinite(d.usd) && d.usd > 0)
    .sort((a, b) => a.begin - b.begin);
  return paid[0]?.usd ?? null;
}

/** Reads the pages of GetProducts answers for one Region into the table's prices. */
export function readPriceList(regionCode: string, priceLists: readonly string[], asOf: string): PriceListReading {
  const prices: Record<string, unknown> = {};
  const found = new Set<string>();
  const problems: string[] = [];
  let publishedAt: string | undefined;
  for (const [index, text] of priceLists.entries()) {
    let product: Product;
    try {
      product = JSON.parse(text) as Product;
    } catch (err) {
      problems.push(`PriceList[${index}]: not JSON (${(err as Error).message})`);
      continue;
    }
    const attributes = product.product?.attributes ?? {};
    if (attributes.regionCode !== regionCode) continue;
    const usagetype = String(attributes.usagetype ?? '');
    const service = product.serviceCode ?? String(attributes.servicecode ?? '');
    const matched = RULES.find((r) => r.service === service && r.usagetype.test(usagetype));
    if (!matched) continue;
    const usd = onDemandUsd(product);
    if (usd === null) {
      problems.push(`${service} ${usagetype}: no On-Demand price in USD`);
      continue;
    }
    setPath(prices, matched.path, Math.round(usd * (matched.scale ?? 1) * 1e10) / 1e10);
    found.add(matched.path.join('.'));
    if (product.publicationDate && (!publishedAt || product.publicationDate > publishedAt)) publishedAt = product.publicationDate;
  }
  return {
    override: { asOf, regions: found.size ? { [regionCode]: prices as PriceOverrideRegion } : {} },
    found: [...found].sort(),
    missing: PRICED_PATHS.filter((p) => !found.has(p)),
    problems,
    ...(publishedAt ? { publishedAt } : {}),
  };
}

function setPath(target: Record<string, unknown>, path: string[], value: number): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    node[key] = (node[key] as Record<string, unknown> | undefined) ?? {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}
