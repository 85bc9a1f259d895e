// A build's usage × a Region's prices = what the build cost, line by line. Pure.
//
// Measured: each task's size, architecture, capacity, billed time and public address (from ECS's
// events, core/cost/task-usage.ts). Estimated, and said so in `estimates`: the control plane's
// share (its requests are not counted one by one) and, unless the caller knows them, log bytes.

import type { RegionPrices } from './price-table.js';
import { FREE_STORAGE_GIB } from './task-usage.js';
import type { BuildCost, CostLine, TaskUsage } from './types.js';

/** Fargate (Linux) bills per second, rounded up, with a one-minute minimum (https://aws.amazon.com/fargate/pricing/). */
export const FARGATE_MINIMUM_SECONDS = 60;

/**
 * The control plane's work per build, as the code does it (an estimate: retries, duplicates
 * and the autoscaler's scheduled passes, shared by all builds, are not in it):
 * - Lambda: the webhook and the planner once, the planner again for the final commit status,
 *   the autoscaler twice per task (the nudge that starts it, the one after it ends), and
 *   task-events once per ECS state change of each task.
 * - SQS: the event, the status message and each task's job: sent, received, deleted.
 * - DynamoDB: the build, stage and step items written at planning; per ECS event about
 *   three reads (stage, steps) and three writes (steps, stage); the finish writes.
 */
export const CONTROL_PLANE_MODEL = {
  lambdaGbSecondsPerInvocation: 0.5 * 0.3,
  fixedInvocations: 3,
  autoscalerInvocationsPerTask: 2,
  sqsRequestsPerMessage: 3,
  fixedMessages: 2,
  readUnitsPerEvent: 3,
  writeUnitsPerEvent: 3,
  fixedWriteUnits: 4,
} as const;

/** Log bytes assumed per container when the build's own are not known. */
export const ESTIMATED_LOG_BYTES_PER_CONTAINER = 64 * 1024;

export interface BuildUsageInput {
  /** Every task of every stage (a stage holds several after a Spot retry, or when split). */
  tasks: TaskUsage[];
  /** Stages and steps planned (the items the planner wrote). */
  stages: number;
  steps: number;
  /** Bytes the build's containers logged, when known. */
  logBytes?: number;
}

export interface PriceContext {
  region: string;
  prices: RegionPrices;
  asOf: string;
  source: string;
}

const GIB = 1024 ** 3;
const usd = (n: number): number => Math.round(n * 1e8) / 1e8;

/** Seconds Fargate bills for a task: whole seconds, rounded up, at least the minimum (none if it never started pulling). */
export function billedSeconds(task: Pick<TaskUsage, 'billedFrom' | 'billedTo'>): number {
  const span = task.billedTo - task.billedFrom;
  if (span <= 0) return 0;
  return Math.max(FARGATE_MINIMUM_SECONDS, Math.ceil(span / 1000));
}

function line(item: string, quantity: number, unit: string, rate: number, estimated?: boolean): CostLine {
  return { item, quantity: Math.round(quantity * 1e6) / 1e6, unit, rate, usd: usd(quantity * rate), ...(estimated ? { estimated } : {}) };
}

const isFargate = (capacity: string): capacity is 'FARGATE' | 'FARGATE_SPOT' => capacity === 'FARGATE' || capacity === 'FARGATE_SPOT';

/** What the build cost in `context.region`, from what it used. */
export function buildCost(input: BuildUsageInput, context: PriceContext): BuildCost {
  const { prices } = context;
  const lines: CostLine[] = [];
  const estimates: string[] = [];
  const unpriced: string[] = [];

  // Fargate: one line per architecture × capacity × dimension, summed over the tasks.
  const groups = new Map<string, { vcpuHours: number; gbHours: number; arch: TaskUsage['architecture']; spot: boolean }>();
  let storageGbHours = 0;
  let ipv4Hours = 0;
  for (const task of input.tasks) {
    if (!isFargate(task.capacity)) {
      unpriced.push(`${task.taskArn} ran on ${task.capacity}, which this price table does not price`);
      continue;
    }
    const hours = billedSeconds(task) / 3600;
    const spot = task.capacity === 'FARGATE_SPOT';
    const key = `${task.architecture}/${spot}`;
    const group = groups.get(key) ?? { vcpuHours: 0, gbHours: 0, arch: task.architecture, spot };
    group.vcpuHours += (task.cpu / 1024) * hours;
    group.gbHours += (task.memory / 1024) * hours;
    groups.set(key, group);
    storageGbHours += Math.max(0, task.storageGiB - FREE_STORAGE_GIB) * hours;
    if (task.publicIpv4) ipv4Hours += hours;
  }
  for (const g of [...groups.values()].sort((a, b) => a.arch.localeCompare(b.arch) || Number(a.spot) - Number(b.spot))) {
    const rates = prices.fargate[g.arch][g.spot ? 'spot' : 'onDemand'];
    const label = `${g.arch === 'ARM64' ? 'ARM64' : 'x86_64'}, ${g.spot ? 'Spot' : 'on-demand'}`;
    lines.push(line(`Fargate vCPU (${label})`, g.vcpuHours, 'vCPU-hours', rates.vcpuHour));
    lines.push(line(`Fargate memory (${label})`, g.gbHours, 'GB-hours', rates.gbHour));
  }
  const fargate = sum(lines);
  const storageLines = storageGbHours > 0 ? [line(`Fargate ephemeral storage over ${FREE_STORAGE_GIB} GB`, storageGbHours, 'GB-hours', prices.ephemeralStorageGbHour)] : [];
  const ipv4Lines = ipv4Hours > 0 ? [line('Public IPv4 address', ipv4Hours, 'address-hours', prices.publicIpv4Hour)] : [];

  // The control plane: estimated from the build's shape (CONTROL_PLANE_MODEL).
  const m = CONTROL_PLANE_MODEL;
  const taskCount = input.tasks.length;
  const events = input.tasks.reduce((n, t) => n + t.events, 0);
  const invocations = m.fixedInvocations + m.autoscalerInvocationsPerTask * taskCount + events;
  const sqsRequests = m.sqsRequestsPerMessage * (m.fixedMessages + taskCount);
  const writeUnits = m.fixedWriteUnits + 2 * (1 + input.stages + input.steps) + m.writeUnitsPerEvent * events;
  const readUnits = m.readUnitsPerEvent * events;
  const controlLines = [
    line('Lambda requests', invocations, 'requests', prices.lambda.requestsPerMillion / 1e6, true),
    line('Lambda duration (Arm)', invocations * m.lambdaGbSecondsPerInvocation, 'GB-seconds', prices.lambda.gbSecondArm, true),
    line('SQS requests', sqsRequests, 'requests', prices.sqs.requestsPerMillion / 1e6, true),
    line('DynamoDB write request units', writeUnits, 'WRU', prices.dynamodb.writeUnitsPerMillion / 1e6, true),
    line('DynamoDB read request units', readUnits, 'RRU', prices.dynamodb.readUnitsPerMillion / 1e6, true),
  ];
  estimates.push(
    `control plane: ${invocations} Lambda invocations of ~${m.lambdaGbSecondsPerInvocation} GB-s, ${sqsRequests} SQS requests, ${writeUnits} WRU and ${readUnits} RRU, from ${taskCount} task(s) and ${events} ECS event(s)`,
  );

  const containers = input.tasks.reduce((n, t) => n + t.containers, 0);
  const logBytes = input.logBytes ?? containers * ESTIMATED_LOG_BYTES_PER_CONTAINER;
  const logsEstimated = input.logBytes === undefined;
  if (logsEstimated) estimates.push(`logs: ${containers} container(s) × ${ESTIMATED_LOG_BYTES_PER_CONTAINER / 1024} KiB assumed (log bytes are not measured)`);
  const logLines = [line('CloudWatch Logs ingestion', logBytes / GIB, 'GB', prices.logs.ingestionGb, logsEstimated)];

  const all = [...lines, ...storageLines, ...ipv4Lines, ...controlLines, ...logLines];
  return {
    currency: 'USD',
    region: context.region,
    pricesAsOf: context.asOf,
    pricesSource: context.source,
    total: usd(sum(all)),
    fargate: usd(fargate),
    storage: usd(sum(storageLines)),
    publicIpv4: usd(sum(ipv4Lines)),
    controlPlane: usd(sum(controlLines)),
    logs: usd(sum(logLines)),
    lines: all,
    estimates,
    ...(unpriced.length ? { unpriced } : {}),
  };
}

function sum(lines: CostLine[]): number {
  return lines.reduce((n, l) => n + l.usd, 0);
}

/** `$0.0123` below a dollar (a build costs cents: a hundredth of a cent shows), `$12.30` above. */
export function formatUsd(amount: number): string {
  return amount >= 1 ? `$${amount.toFixed(2)}` : `$${amount.toFixed(4)}`;
}

/** One line's amount: as formatUsd, but a share below a hundredth of a cent keeps its first digits (`$0.0000028`), not `$0.0000`. */
export function formatLineUsd(amount: number): string {
  if (amount === 0 || amount >= 0.0001) return formatUsd(amount);
  return `$${amount.toFixed(10).replace(/(\.\d*?[1-9]\d)\d*$/, '$1')}`;
}

/** A rate as price pages write it: `$0.04048` per unit, or `$0.2 per million` for per-request prices. */
export function formatRate(rate: number): string {
  const digits = (n: number) => String(Number(n.toPrecision(6)));
  return rate > 0 && rate < 0.0001 ? `$${digits(rate * 1e6)} per million` : `$${digits(rate)}`;
}
