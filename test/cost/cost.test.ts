// The pricing core (core/cost): a task's usage from its ECS event, a build's cost from its
// tasks, the price table's overrides, and the reading of a recorded Price List answer.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { billedSeconds, buildCost, formatLineUsd, formatRate, formatUsd, type PriceContext } from '../../core/cost/build-cost.js';
import { PRICED_PATHS, onDemandUsd, readPriceList } from '../../core/cost/price-list.js';
import { DEFAULT_PRICES, PriceOverrideError, checkPriceOverride, mergePrices, pricesFor } from '../../core/cost/price-table.js';
import { taskUsage, taskUsageKey } from '../../core/cost/task-usage.js';
import type { TaskUsage } from '../../core/cost/types.js';
import type { TaskStateChangeDetail } from '../../core/builds/task-event.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/aws/${name}`, import.meta.url), 'utf8'));

const usEast = (): PriceContext => ({ region: 'us-east-1', prices: pricesFor(DEFAULT_PRICES, 'us-east-1')!, asOf: DEFAULT_PRICES.asOf, source: DEFAULT_PRICES.source });

function task(extra: Partial<TaskUsage> = {}): TaskUsage {
  return {
    taskArn: 'arn:aws:ecs:us-east-1:111122223333:task/slipway/0123abcd',
    cpu: 1024,
    memory: 2048,
    storageGiB: 20,
    architecture: 'X86_64',
    capacity: 'FARGATE',
    billedFrom: 0,
    billedTo: 3_600_000,
    publicIpv4: false,
    containers: 3,
    events: 6,
    ...extra,
  };
}

describe('a task usage from its stop event', () => {
  // The example event of ecs_task_events.html, stopped, with what a stop event carries.
  const example = (fixture('ecs-TaskStateChange-event.json') as { detail: TaskStateChangeDetail }).detail;
  const stopped: TaskStateChangeDetail = { ...example, lastStatus: 'STOPPED', stoppedAt: '2020-01-23T17:59:58.103Z', capacityProviderName: 'FARGATE_SPOT' };

  it('bills from the image pull to the stop, at the size ECS ran, on the capacity ECS reports', () => {
    const usage = taskUsage(stopped, { shape: null, publicIpv4: true });
    expect(usage).toMatchObject({
      cpu: 256,
      memory: 512,
      storageGiB: 20,
      architecture: 'X86_64',
      capacity: 'FARGATE_SPOT',
      billedFrom: Date.parse('2020-01-23T17:57:52.103Z'),
      billedTo: Date.parse('2020-01-23T17:59:58.103Z'),
      publicIpv4: true,
      containers: 1,
      events: 4,
    });
  });

  it("takes the architecture and storage from the event's attributes, else from the task definition", () => {
    const shape = { cpu: 2048, memory: 4096, taskDefinition: { family: 'f', runtimePlatform: { cpuArchitecture: 'ARM64' }, ephemeralStorage: { sizeInGiB: 50 } } };
    expect(taskUsage(stopped, { shape, publicIpv4: false })).toMatchObject({ architecture: 'ARM64', storageGiB: 50 });
    const withAttributes = { ...stopped, attributes: [{ name: 'ecs.cpu-architecture', value: 'x86_64' }], ephemeralStorage: { sizeInGiB: 30 } };
    expect(taskUsage(withAttributes, { shape, publicIpv4: false })).toMatchObject({ architecture: 'X86_64', storageGiB: 30 });
    const noSize = { ...stopped, cpu: undefined, memory: undefined };
    expect(taskUsage(noSize, { shape, publicIpv4: false })).toMatchObject({ cpu: 2048, memory: 4096 });
  });

  it('a task that stopped before pulling anything used nothing, and had no address to bill', () => {
    const refused = { ...stopped, pullStartedAt: undefined, startedAt: undefined };
    const usage = taskUsage(refused, { shape: null, publicIpv4: true });
    expect(usage.billedTo - usage.billedFrom).toBe(0);
    expect(usage.publicIpv4).toBe(false);
    expect(billedSeconds(usage)).toBe(0);
  });

  it('keys a usage by the task id', () => {
    expect(taskUsageKey('arn:aws:ecs:us-east-1:1:task/slipway/c13b4cb40f1f4fe4a2971f76ae5a47ad')).toBe('c13b4cb40f1f4fe4a2971f76ae5a47ad');
  });
});

describe('a build cost', () => {
  it('Fargate per second, rounded up, with a one-minute minimum', () => {
    expect(billedSeconds({ billedFrom: 0, billedTo: 1_500 })).toBe(60);
    expect(billedSeconds({ billedFrom: 0, billedTo: 61_001 })).toBe(62);
  });

  it('one hour of 1 vCPU / 2 GB on-demand x86 in us-east-1 is 0.04048 + 2 × 0.004445', () => {
    const cost = buildCost({ tasks: [task()], stages: 1, steps: 2, logBytes: 0 }, usEast());
    expect(cost.fargate).toBeCloseTo(0.04048 + 2 * 0.004445, 8);
    expect(cost.lines.find((l) => l.item === 'Fargate vCPU (x86_64, on-demand)')).toMatchObject({ quantity: 1, unit: 'vCPU-hours', rate: 0.04048 });
    expect(cost.storage).toBe(0);
    expect(cost.publicIpv4).toBe(0);
    expect(cost.total).toBeCloseTo(cost.fargate + cost.controlPlane + cost.logs, 8);
  });

  it('prices each architecture and capacity at its own rates, storage over 20 GB, and the public address', () => {
    const tasks = [
      task({ architecture: 'ARM64', capacity: 'FARGATE_SPOT', storageGiB: 50, publicIpv4: true }),
      task({ taskArn: 'arn:aws:ecs:us-east-1:1:task/slipway/other' }),
    ];
    const cost = buildCost({ tasks, stages: 1, steps: 2, logBytes: 0 }, usEast());
    const arm = DEFAULT_PRICES.regions['us-east-1']!.fargate.ARM64.spot;
    expect(cost.lines.find((l) => l.item === 'Fargate vCPU (ARM64, Spot)')?.rate).toBe(arm.vcpuHour);
    expect(cost.fargate).toBeCloseTo(arm.vcpuHour + 2 * arm.gbHour + 0.04048 + 2 * 0.004445, 8);
    expect(cost.storage).toBeCloseTo(30 * 0.000111, 8);
    expect(cost.publicIpv4).toBeCloseTo(0.005, 8);
  });

  it('says what it estimated: the control plane always, the logs when their bytes are unknown', () => {
    const known = buildCost({ tasks: [task()], stages: 1, steps: 2, logBytes: 1024 ** 3 }, usEast());
    expect(known.logs).toBeCloseTo(0.5, 8);
    expect(known.estimates).toHaveLength(1);
    expect(known.lines.filter((l) => l.estimated).map((l) => l.item)).toEqual(expect.arrayContaining(['Lambda requests', 'SQS requests', 'DynamoDB write request units']));
    const guessed = buildCost({ tasks: [task()], stages: 1, steps: 2 }, usEast());
    expect(guessed.estimates.some((e) => e.startsWith('logs: 3 container(s)'))).toBe(true);
    expect(guessed.logs).toBeGreaterThan(0);
    expect(guessed.controlPlane).toBeGreaterThan(0);
    expect(guessed.controlPlane).toBeLessThan(0.001);
  });

  it('leaves a task on a capacity it cannot price out of the total, and names it', () => {
    const cost = buildCost({ tasks: [task({ capacity: 'slipway-ec2' })], stages: 1, steps: 1, logBytes: 0 }, usEast());
    expect(cost.fargate).toBe(0);
    expect(cost.unpriced?.[0]).toContain('slipway-ec2');
  });

  it('writes amounts for people', () => {
    expect(formatUsd(0.00123)).toBe('$0.0012');
    expect(formatUsd(0.0456)).toBe('$0.0456');
    expect(formatUsd(12.3)).toBe('$12.30');
    expect(formatLineUsd(0.0000028123)).toBe('$0.0000028');
    expect(formatLineUsd(0)).toBe('$0.0000');
    expect(formatRate(0.04048)).toBe('$0.04048');
    expect(formatRate(0.0000002)).toBe('$0.2 per million');
  });
});

describe('the price table', () => {
  it('covers us-east-1, eu-west-1 and eu-central-1 in every dimension', () => {
    for (const region of ['us-east-1', 'eu-west-1', 'eu-central-1']) {
      const prices = pricesFor(DEFAULT_PRICES, region)!;
      for (const path of PRICED_PATHS) {
        const value = path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], prices);
        expect(typeof value === 'number' && value > 0, `${region} ${path}`).toBe(true);
      }
    }
    expect(pricesFor(DEFAULT_PRICES, 'ap-south-2')).toBeNull();
  });

  it('an override replaces the prices it names and keeps the others; a new Region starts from us-east-1', () => {
    const override = checkPriceOverride({ asOf: '2027-01-01', regions: { 'eu-west-1': { publicIpv4Hour: 0.006 }, 'ap-south-1': { fargate: { X86_64: { onDemand: { vcpuHour: 0.05 } } } } } }, 'pricesOverride');
    const table = mergePrices(DEFAULT_PRICES, override, 'override');
    expect(table.regions['eu-west-1']!.publicIpv4Hour).toBe(0.006);
    expect(table.regions['eu-west-1']!.logs).toEqual(DEFAULT_PRICES.regions['eu-west-1']!.logs);
    expect(table.regions['ap-south-1']!.fargate.X86_64.onDemand).toEqual({ vcpuHour: 0.05, gbHour: 0.004445 });
    expect(table).toMatchObject({ asOf: '2027-01-01', source: 'defaults+override' });
    expect(DEFAULT_PRICES.regions['eu-west-1']!.publicIpv4Hour).toBe(0.005);
  });

  it('refuses an override that is not prices, saying where', () => {
    expect(() => checkPriceOverride({ regions: { 'us-east-1': { fargate: { X86_64: { onDemand: { vcpuHour: -1 } } } } } }, 'p')).toThrow(
      'p.regions.us-east-1.fargate.X86_64.onDemand.vcpuHour: expected a price in USD (a number ≥ 0), got -1',
    );
    expect(() => checkPriceOverride({ regions: { 'us-east-1': { fargte: {} } } }, 'p')).toThrow(/p.regions.us-east-1: unknown key "fargte"/);
    expect(() => checkPriceOverride({ regions: { Ireland: {} } }, 'p')).toThrow(/not an AWS Region code/);
    expect(() => checkPriceOverride([], 'p')).toThrow(PriceOverrideError);
  });
});

describe('reading a Price List answer (recorded GetProducts, AmazonECS, us-east-1)', () => {
  const recorded = fixture('pricing-GetProducts-AmazonECS.json') as { PriceList: string[] };

  it("finds Fargate's on-demand prices by usagetype, and not Windows', EC2's or ECS Anywhere's", () => {
    const reading = readPriceList('us-east-1', recorded.PriceList, '2026-12-02');
    expect(reading.override.regions?.['us-east-1']).toEqual({
      fargate: { X86_64: { onDemand: { vcpuHour: 0.04048, gbHour: 0.004445 } }, ARM64: { onDemand: { vcpuHour: 0.03238, gbHour: 0.00356 } } },
      ephemeralStorageGbHour: 0.000111,
    });
    expect(reading.publishedAt).toBe('2022-11-21T18:21:30Z');
    expect(reading.missing).toContain('publicIpv4Hour');
    expect(reading.problems).toEqual([]);
    // What it found is a valid override of the table.
    expect(() => checkPriceOverride(reading.override, 'refresh')).not.toThrow();
  });

  it("reads another Region's prefix (EU- is eu-west-1's), Spot and per-request units, and skips other Regions", () => {
    const entry = (region: string, service: string, usagetype: string, usd: string, begin = '0') =>
      JSON.stringify({
        product: { attributes: { regionCode: region, usagetype } },
        serviceCode: service,
        terms: { OnDemand: { T: { priceDimensions: { R: { unit: 'x', beginRange: begin, pricePerUnit: { USD: usd } } } } } },
      });
    const reading = readPriceList(
      'eu-west-1',
      [
        entry('eu-west-1', 'AmazonECS', 'EU-SpotUsage-Fargate-ARM-vCPU-Hours:perCPU', '0.0101'),
        entry('eu-west-1', 'AmazonDynamoDB', 'EU-WriteRequestUnits', '0.0000007063'),
        entry('us-east-1', 'AmazonECS', 'USE1-Fargate-vCPU-Hours:perCPU', '0.04048'),
        'not json',
      ],
      '2026-12-02',
    );
    expect(reading.override.regions?.['eu-west-1']).toEqual({ fargate: { ARM64: { spot: { vcpuHour: 0.0101 } } }, dynamodb: { writeUnitsPerMillion: 0.7063 } });
    expect(reading.problems[0]).toMatch(/^PriceList\[3\]: not JSON/);
  });

  it('takes the first paid tier, not a free first tier', () => {
    const tiered = JSON.parse(recorded.PriceList.find((p) => p.includes('Anywhere-Instance-hours-WithFree'))!);
    expect(onDemandUsd(tiered)).toBe(0.01025);
  });
});
