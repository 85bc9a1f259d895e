// The prices a build's usage is multiplied by, per AWS Region, and how a user's override or
// the scheduled Price List refresh (lambdas/prices) replaces parts of them. Pure data.
//
// Sources, as read on 2026-12-02 (USD, before taxes, no free tier counted):
// - Fargate: https://aws.amazon.com/fargate/pricing/ (per vCPU-hour and GB-hour by OS/architecture,
//   "rounded up to the nearest second", one-minute minimum; 20 GB of ephemeral storage included, more
//   billed per GB-hour). That page renders the per-Region figures in the browser; the figures are
//   the Price List's usage types AmazonECS `<prefix>-Fargate-vCPU-Hours:perCPU`, `-Fargate-GB-Hours`,
//   `-Fargate-ARM-…`, `-Fargate-EphemeralStorage-GB-Hours`, `-SpotUsage-Fargate-…`.
//   us-east-1 Spot: 0.01334384 per vCPU-hour, 0.00146489 per GB-hour (x86). Spot prices move with
//   supply; where no figure was at hand the default is "up to 70 % off" applied to on-demand
//   (SPOT_SHARE) and the scheduled refresh replaces it with the Price List's own.
// - Public IPv4: https://aws.amazon.com/vpc/pricing/ ("Public IPv4 Address" tab): $0.005 per
//   address-hour, in use or idle, since 2024-02-01.
// - Lambda: https://aws.amazon.com/lambda/pricing/: $0.20 per million requests; per GB-second
//   $0.0000166667 (x86) and $0.0000133334 (Arm, which the stack uses: lib/bundling.ts).
// - SQS: https://aws.amazon.com/sqs/pricing/: $0.40 per million standard-queue requests.
// - DynamoDB on-demand: https://aws.amazon.com/dynamodb/pricing/on-demand/ (after the
//   2024-11-01 reduction): us-east-1 $0.625 per million write request units, $0.125 per million
//   read request units; eu-west-1 $0.7063 / $0.1413; eu-central-1 $0.7625 / $0.1525.
// - CloudWatch Logs: https://aws.amazon.com/cloudwatch/pricing/: ingestion (standard class)
//   us-east-1 $0.50 per GB, eu-west-1 $0.57, eu-central-1 $0.63.

import type { CpuArchitecture } from './types.js';

export interface FargateRates {
  vcpuHour: number;
  gbHour: number;
}

export interface RegionPrices {
  fargate: Record<CpuArchitecture, { onDemand: FargateRates; spot: FargateRates }>;
  /** Per GB-hour above the 20 GB every task gets. */
  ephemeralStorageGbHour: number;
  publicIpv4Hour: number;
  lambda: { requestsPerMillion: number; gbSecondX86: number; gbSecondArm: number };
  sqs: { requestsPerMillion: number };
  dynamodb: { writeUnitsPerMillion: number; readUnitsPerMillion: number };
  logs: { ingestionGb: number };
}

export interface PriceTable {
  currency: 'USD';
  /** ISO date the figures were current. */
  asOf: string;
  /** Where they came from: `defaults`, `price-list`, `override`, or a combination. */
  source: string;
  regions: Record<string, RegionPrices>;
}

/** Fargate Spot's price as a share of on-demand where no Spot figure is known ("up to a 70% discount"). */
export const SPOT_SHARE = 0.3;

const spotOf = (rates: FargateRates): FargateRates => ({ vcpuHour: round(rates.vcpuHour * SPOT_SHARE), gbHour: round(rates.gbHour * SPOT_SHARE) });
const round = (n: number): number => Math.round(n * 1e10) / 1e10;

function region(input: {
  x86: FargateRates;
  arm: FargateRates;
  x86Spot?: FargateRates;
  storage: number;
  dynamodb: RegionPrices['dynamodb'];
  logsGb: number;
}): RegionPrices {
  return {
    fargate: {
      X86_64: { onDemand: input.x86, spot: input.x86Spot ?? spotOf(input.x86) },
      ARM64: { onDemand: input.arm, spot: spotOf(input.arm) },
    },
    ephemeralStorageGbHour: input.storage,
    publicIpv4Hour: 0.005,
    lambda: { requestsPerMillion: 0.2, gbSecondX86: 0.0000166667, gbSecondArm: 0.0000133334 },
    sqs: { requestsPerMillion: 0.4 },
    dynamodb: input.dynamodb,
    logs: { ingestionGb: input.logsGb },
  };
}

/** The table a deployment starts with, before its first Price List refresh. */
export const DEFAULT_PRICES: PriceTable = {
  currency: 'USD',
  asOf: '2026-12-02',
  source: 'defaults',
  regions: {
    'us-east-1': region({
      x86: { vcpuHour: 0.04048, gbHour: 0.004445 },
      arm: { vcpuHour: 0.03238, gbHour: 0.00356 },
      x86Spot: { vcpuHour: 0.01334384, gbHour: 0.00146489 },
      storage: 0.000111,
      dynamodb: { writeUnitsPerMillion: 0.625, readUnitsPerMillion: 0.125 },
      logsGb: 0.5,
    }),
    'eu-west-1': region({
      x86: { vcpuHour: 0.04048, gbHour: 0.004445 },
      arm: { vcpuHour: 0.03238, gbHour: 0.00356 },
      storage: 0.000111,
      dynamodb: { writeUnitsPerMillion: 0.7063, readUnitsPerMillion: 0.1413 },
      logsGb: 0.57,
    }),
    'eu-central-1': region({
      x86: { vcpuHour: 0.04656, gbHour: 0.00511 },
      arm: { vcpuHour: 0.03725, gbHour: 0.00409 },
      storage: 0.000129,
      dynamodb: { writeUnitsPerMillion: 0.7625, readUnitsPerMillion: 0.1525 },
      logsGb: 0.63,
    }),
  },
};

/** Part of a table: any price of any Region (a user's override, or what one Price List read found). */
export type PriceOverride = {
  asOf?: string;
  regions?: Record<string, DeepPartial<RegionPrices>>;
};
type DeepPartial<T> = { [K in keyof T]?: T[K] extends number ? number : DeepPartial<T[K]> };

/** An override that is not a table of prices: what is wrong and where. */
export class PriceOverrideError extends Error {
  override readonly name = 'PriceOverrideError';
}

/**
 * Checks a parsed override (a stack setting, a stored refresh) against the table's shape:
 * every leaf a finite price ≥ 0 at a path the table has. A new Region must be complete, or
 * take the rest from `fallbackRegion`'s prices (merge below).
 */
export function checkPriceOverride(value: unknown, where: string): PriceOverride {
  if (!isObject(value)) throw new PriceOverrideError(`${where}: expected an object like {"regions":{"us-east-1":{"publicIpv4Hour":0.005}}}, got ${describe(value)}`);
  for (const key of Object.keys(value)) {
    if (key !== 'asOf' && key !== 'regions') throw new PriceOverrideError(`${where}: unknown key ${JSON.stringify(key)} (expected asOf, regions)`);
  }
  if (value.asOf !== undefined && (typeof value.asOf !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(value.asOf))) {
    throw new PriceOverrideError(`${where}.asOf: expected an ISO date (2026-12-02), got ${describe(value.asOf)}`);
  }
  if (value.regions !== undefined) {
    if (!isObject(value.regions)) throw new PriceOverrideError(`${where}.regions: expected an object keyed by Region, got ${describe(value.regions)}`);
    const shape = DEFAULT_PRICES.regions['us-east-1'] as unknown as Record<string, unknown>;
    for (const [name, prices] of Object.entries(value.regions)) {
      if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(name)) throw new PriceOverrideError(`${where}.regions: ${JSON.stringify(name)} is not an AWS Region code (us-east-1)`);
      checkLeaves(prices, shape, `${where}.regions.${name}`);
    }
  }
  return value as PriceOverride;
}

function checkLeaves(value: unknown, shape: Record<string, unknown>, path: string): void {
  if (!isObject(value)) throw new PriceOverrideError(`${path}: expected an object, got ${describe(value)}`);
  for (const [key, v] of Object.entries(value)) {
    const expected = shape[key];
    if (expected === undefined) throw new PriceOverrideError(`${path}: unknown key ${JSON.stringify(key)} (expected one of ${Object.keys(shape).join(', ')})`);
    if (typeof expected === 'number') {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new PriceOverrideError(`${path}.${key}: expected a price in USD (a number ≥ 0), got ${describe(v)}`);
    } else {
      checkLeaves(v, expected as Record<string, unknown>, `${path}.${key}`);
    }
  }
}

/**
 * `base` with `override`'s prices in their places. A Region the base lacks starts from
 * `fallbackRegion`'s prices (us-east-1's by default) so that a partial override still prices
 * every dimension. `source` names what was merged.
 */
export function mergePrices(base: PriceTable, override: PriceOverride, source: string, fallbackRegion = 'us-east-1'): PriceTable {
  const regions: Record<string, RegionPrices> = { ...base.regions };
  for (const [name, partial] of Object.entries(override.regions ?? {})) {
    const start = regions[name] ?? regions[fallbackRegion] ?? DEFAULT_PRICES.regions['us-east-1']!;
    regions[name] = deepMerge(start, partial) as RegionPrices;
  }
  const sources = base.source.split('+').filter((s) => s !== source);
  return { currency: 'USD', asOf: override.asOf ?? base.asOf, source: [...sources, source].join('+'), regions };
}

function deepMerge(base: unknown, patch: unknown): unknown {
  if (!isObject(base) || !isObject(patch)) return patch === undefined ? base : patch;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = deepMerge(base[k], v);
  return out;
}

/** The prices of one Region; null when the table has none (the cost is then not computed, and says so). */
export function pricesFor(table: PriceTable, regionName: string): RegionPrices | null {
  return table.regions[regionName] ?? null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return JSON.stringify(value);
}
