// The execution Lambdas' dependencies built from the environment (AWS and local mode alike:
// `new XClient({})` follows AWS_ENDPOINT_URL_*).

import { documentClient } from '../../../adapters/dynamodb/client.js';
import { DynamoBuildStore } from '../../../adapters/dynamodb/store.js';
import { DynamoStageStore } from '../../../adapters/dynamodb/stage-store.js';
import { SqsJobQueue } from '../../../adapters/sqs/job-queue.js';
import { sqsClient } from '../clients.js';
import { ENV } from '../../../core/config/lambda-env.js';
import { jsonEnv, requireEnv, type Env } from '../config.js';
import { buildFinishedSender } from './commit-status.js';
import type { CostDeps, ExecutionDeps } from './deps.js';
import { DynamoPriceStore } from '../../../adapters/dynamodb/price-store.js';
import { effectivePrices } from '../../../core/cost/ports.js';
import { checkPriceOverride, type PriceOverride, type PriceTable } from '../../../core/cost/price-table.js';
import { lambdaLogger, logTo } from '../observability/logger.js';
import { lambdaMetrics, slipwayMetrics } from '../observability/metrics.js';

/**
 * `nudge` asks the autoscaler for a pass: the task-events Lambda passes an async invoke
 * (lambdas/shared/nudge.ts); the autoscaler itself passes nothing (it is the pass).
 */
export function executionDepsFromEnv(
  source: string,
  env: Env = process.env,
  nudge: (log: ExecutionDeps['log']) => () => Promise<void> = () => async () => undefined,
): ExecutionDeps {
  const doc = documentClient();
  const tableName = requireEnv(env, ENV.tableName, 'the build table');
  const store = new DynamoBuildStore(doc, tableName);
  const log = logTo(lambdaLogger(source, env));
  // Queue URLs are not endpoints (see clients.ts): local stand-ins name unresolvable hosts.
  const sqs = sqsClient();
  const eventsQueueUrl = requireEnv(env, ENV.eventsQueueUrl, "a finished build's commit status goes to the planner through it");
  return {
    store,
    stages: new DynamoStageStore(doc, tableName),
    jobs: new SqsJobQueue(sqs, requireEnv(env, ENV.jobsQueueUrl, 'where ready stages go')),
    postBuildStatus: buildFinishedSender(sqs, eventsQueueUrl),
    nudge: nudge(log),
    now: Date.now,
    log,
    metrics: slipwayMetrics(lambdaMetrics(env)),
    cost: costDepsFromEnv(env, new DynamoPriceStore(doc, tableName)),
  };
}

/** How long a read price table serves: prices change a few times a year, a refresh once a day. */
const PRICES_TTL_MS = 10 * 60_000;

/** Pricing from the environment: the Region, public addresses, the stored refresh and the stack's override. */
export function costDepsFromEnv(env: Env, store: DynamoPriceStore, now: () => number = Date.now): CostDeps {
  const region = env[ENV.awsRegion] ?? 'us-east-1';
  const parsed = jsonEnv(env, ENV.pricesOverride, "it is the stack's prices setting");
  const override: PriceOverride | undefined = parsed === undefined ? undefined : checkPriceOverride(parsed, ENV.pricesOverride);
  let cached: { table: PriceTable; at: number } | undefined;
  return {
    region,
    publicIpv4: env[ENV.assignPublicIp] === 'ENABLED',
    prices: async () => {
      if (cached && now() - cached.at < PRICES_TTL_MS) return cached.table;
      const table = effectivePrices(await store.getRefreshed(region), override);
      cached = { table, at: now() };
      return table;
    },
  };
}
