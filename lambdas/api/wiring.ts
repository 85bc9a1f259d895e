// The API's dependencies from the environment: TABLE_NAME, CLUSTER, BUILD_LOG_GROUP,
// EVENTS_QUEUE_URL, API_TOKEN_SECRET_ARN, WEBHOOK_SECRETS_PREFIX and WEBHOOK_URL deployed; local mode passes its own log reader
// and no authorizer. The API holds no Git host credentials: restarts and the final status
// of a build cancelled before anything ran go to the planner through the events queue.

import { ECSClient, StopTaskCommand } from '@aws-sdk/client-ecs';
import { documentClient } from '../../adapters/dynamodb/client.js';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { DynamoStageStore } from '../../adapters/dynamodb/stage-store.js';
import { ENV } from '../../core/config/lambda-env.js';
import { requireEnv, type Env } from '../shared/config.js';
import { tokenAuthorizer } from './auth.js';
import type { LogReader } from '../../core/logs/log-reader.js';
import { cloudWatchLogReader } from '../../adapters/cloudwatch-logs/log-reader.js';
import { recentRecordsReader } from '../../adapters/dynamodb/recent-records.js';
import { restartBuild, type SubmitResult } from './restart.js';
import { logsClient, sqsClient } from '../shared/clients.js';
import { sendBuildFinished, sendEventMessage } from '../shared/events-queue.js';
import type { EventMessage } from '../../core/scm/types.js';
import type { ApiDeps } from './router.js';
import { ssmWebhookSecrets, type WebhookSecrets } from '../shared/webhook-secrets.js';
import { lambdaLogger, logTo } from '../shared/observability/logger.js';
import { lambdaMetrics, slipwayMetrics } from '../shared/observability/metrics.js';
import { MAX_AGE_SECONDS, secretText, secretsManagerSecrets } from '../shared/parameters.js';

/** CloudWatch Logs makes a line readable within seconds of its write. */
export const CLOUDWATCH_GRACE_MS = 10_000;

export interface ApiWiringOptions {
  /** Local mode: the ECS stand-in's captured output instead of CloudWatch Logs. */
  logs?: LogReader;
  logGraceMs?: number;
  /** Local mode on loopback: no token. Deployed: always a token. */
  open?: boolean;
  /** Local mode: plans a restart in-process. Deployed: the events queue (EVENTS_QUEUE_URL). */
  submit?: (message: EventMessage) => Promise<SubmitResult>;
  /** Local mode: its webhook secrets file. Deployed: SSM under WEBHOOK_SECRETS_PREFIX. */
  webhookSecrets?: WebhookSecrets;
  /** Local mode: `http://localhost:PORT/hooks`. Deployed: WEBHOOK_URL. */
  webhookUrl?: string;
}

export function apiDepsFromEnv(env: Env = process.env, options: ApiWiringOptions = {}): ApiDeps {
  const tableName = requireEnv(env, ENV.tableName, 'the build table');
  const cluster = requireEnv(env, ENV.cluster, 'StopTask of cancelled builds');
  const doc = documentClient();
  const store = new DynamoBuildStore(doc, tableName);
  const ecs = new ECSClient({});
  const log = logTo(lambdaLogger('api', env));
  // Deployed it is always set; a caller that plans restarts itself may leave it out, and
  // then cancelled builds' final statuses cannot be handed on (cancel logs that).
  const eventsQueue = (): string => requireEnv(env, ENV.eventsQueueUrl, 'restarts and the final status of cancelled builds go to the planner through it');
  if (!options.submit) eventsQueue();
  // The shared client: queue URLs are not endpoints (local stand-ins name unresolvable hosts).
  const sqs = sqsClient();
  const submit =
    options.submit ??
    (async (message: EventMessage): Promise<SubmitResult> => {
      await sendEventMessage(sqs, eventsQueue(), message);
      return 'queued';
    });
  let authorize: ApiDeps['authorize'];
  if (!options.open) {
    const arn = requireEnv(env, ENV.apiTokenSecretArn, 'the hashed API tokens: without them the API would be open');
    authorize = tokenAuthorizer(() => secretText(secretsManagerSecrets(), arn, MAX_AGE_SECONDS.apiTokens, 'the API token secret'));
  }
  const webhookSecrets =
    options.webhookSecrets ?? (env[ENV.webhookSecretsPrefix] ? ssmWebhookSecrets(() => new SSMClient({}), env[ENV.webhookSecretsPrefix]!) : undefined);
  const webhookUrl = options.webhookUrl ?? env[ENV.webhookUrl];
  return {
    store,
    stages: new DynamoStageStore(doc, tableName),
    listRepositories: (page) => store.listRepositories(page),
    recentRecords: recentRecordsReader(doc, tableName),
    logs: options.logs ?? cloudWatchLogReader(logsClient(), requireEnv(env, ENV.buildLogGroup, 'where step logs are')),
    ...(webhookSecrets ? { activation: { store, secrets: webhookSecrets, now: Date.now, ...(webhookUrl ? { webhookUrl } : {}) } } : {}),
    logGraceMs: options.logGraceMs ?? CLOUDWATCH_GRACE_MS,
    stopTask: async (taskArn, reason) => {
      await ecs.send(new StopTaskCommand({ cluster, task: taskArn, reason }));
    },
    buildFinished: async (build) => {
      await sendBuildFinished(sqs, eventsQueue(), build.id, Date.now());
    },
    restart: (build) => restartBuild({ store, submit, now: Date.now }, build),
    ...(authorize ? { authorize } : {}),
    now: Date.now,
    log,
    metrics: slipwayMetrics(lambdaMetrics(env)),
  };
}
