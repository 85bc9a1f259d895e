// The execution Lambdas' dependencies built from the environment (AWS and local mode alike:
// `new XClient({})` follows AWS_ENDPOINT_URL_*).

import { documentClient } from '../../../adapters/dynamodb/client.js';
import { DynamoBuildStore } from '../../../adapters/dynamodb/store.js';
import { DynamoStageStore } from '../../../adapters/dynamodb/stage-store.js';
import { SqsJobQueue } from '../../../adapters/sqs/job-queue.js';
import { sqsClient } from '../clients.js';
import { ENV } from '../../../core/config/lambda-env.js';
import { requireEnv, type Env } from '../config.js';
import { buildFinishedSender } from './commit-status.js';
import type { ExecutionDeps } from './deps.js';
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
  };
}
