// The webhook Lambda behind a Function URL or an API Gateway HTTP API (payload v2):
// `POST …/github`, `…/gitea`, `…/gitlab` (the last path segment names the host).

import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { ENV } from '../../core/config/lambda-env.js';
import { allowedRepositories, requireEnv, type Env } from '../shared/config.js';
import { dynamoDocument, sqsClient } from '../shared/clients.js';
import { sendEventMessage } from '../shared/events-queue.js';
import { lambdaLogger, logTo, startInvocation } from '../shared/observability/logger.js';
import { ssmParameters } from '../shared/parameters.js';
import { cachedWebhookSecrets } from '../shared/webhook-secrets.js';
import { handleWebhook, type WebhookDeps } from './handle-webhook.js';

const logger = lambdaLogger('webhook');
let deps: WebhookDeps | undefined;

export function webhookDepsFromEnv(env: Env = process.env): WebhookDeps {
  const tableName = requireEnv(env, ENV.tableName, 'the build table');
  const queueUrl = requireEnv(env, ENV.eventsQueueUrl, 'the planner queue');
  const prefix = requireEnv(env, ENV.webhookSecretsPrefix, "the SSM path of the repositories' webhook secrets");
  const store = new DynamoBuildStore(dynamoDocument(), tableName);
  return {
    repositories: store,
    secrets: cachedWebhookSecrets(ssmParameters(), prefix),
    deliveries: store,
    enqueue: (message) => sendEventMessage(sqsClient(), queueUrl, message),
    allowedRepositories: allowedRepositories(env),
    log: logTo(lambdaLogger('webhook', env)),
  };
}

/** The raw bytes the host signed: API Gateway base64-encodes bodies it deems binary. */
export function rawBodyOf(event: Pick<APIGatewayProxyEventV2, 'body' | 'isBase64Encoded'>): Buffer {
  if (event.body === undefined || event.body === null) return Buffer.alloc(0);
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}

export function hostOf(rawPath: string | undefined): string {
  return (rawPath ?? '').split('/').filter(Boolean).at(-1) ?? '';
}

export async function handler(event: APIGatewayProxyEventV2, context?: Context): Promise<APIGatewayProxyStructuredResultV2> {
  startInvocation(logger, context);
  const method = event.requestContext?.http?.method ?? 'POST';
  if (method !== 'POST') {
    return { statusCode: 405, headers: { allow: 'POST', 'content-type': 'application/json' }, body: JSON.stringify({ error: `webhook: ${method} is not allowed; Git hosts POST` }) };
  }
  deps ??= webhookDepsFromEnv();
  return handleWebhook(hostOf(event.rawPath), event.headers ?? {}, rawBodyOf(event), deps);
}
