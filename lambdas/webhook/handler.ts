// The webhook Lambda behind a Function URL or an API Gateway HTTP API (payload v2):
// `POST …/github`, `…/gitea`, `…/gitlab` (the last path segment names the host).

import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { ENV } from '../../core/config/lambda-env.js';
import { isKeepWarmEvent, type KeepWarmEvent } from '../../core/config/keep-warm.js';
import { allowedRepositories, requireEnv, type Env } from '../shared/config.js';
// Not through shared/clients.ts, which also names the SSM and SQS clients this file loads on first use.
import { documentClient } from '../../adapters/dynamodb/client.js';
import { lambdaLogger, logTo, startInvocation } from '../shared/observability/logger.js';
import { handleWebhook, type WebhookDeps } from './handle-webhook.js';

const logger = lambdaLogger('webhook');
let deps: (WebhookDeps & { prefetch(): Promise<void> }) | undefined;

/**
 * A module imported on first use, once: a failed import is tried again by the next caller.
 * (lib/bundling.ts puts such a module, and what only it imports, in a chunk of its own.)
 */
function onFirstUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () =>
    (loading ??= load().catch((err: unknown) => {
      loading = undefined;
      throw err;
    }));
}

/**
 * The SSM client (a webhook secret, needed only for an activated repository) and the SQS
 * client (only for an accepted event) are imported on first use: index.mjs, which Lambda
 * loads at init, holds neither (bench/lambdas.bench.ts measures both parts). `prefetch`
 * starts both imports without waiting, so that they load while the first request waits for
 * DynamoDB; the handler calls it before each request (a no-op once they are loaded). It
 * resolves once both are loaded or failed (a keep-warm ping waits for it).
 */
export function webhookDepsFromEnv(env: Env = process.env): WebhookDeps & { prefetch(): Promise<void> } {
  const tableName = requireEnv(env, ENV.tableName, 'the build table');
  const queueUrl = requireEnv(env, ENV.eventsQueueUrl, 'the planner queue');
  const prefix = requireEnv(env, ENV.webhookSecretsPrefix, "the SSM path of the repositories' webhook secrets");
  const store = new DynamoBuildStore(documentClient(), tableName);
  const secrets = onFirstUse(async () => (await import('./secret-reader.js')).webhookSecretReader(prefix));
  const sender = onFirstUse(async () => (await import('./event-sender.js')).eventSender(queueUrl));
  return {
    repositories: store,
    secrets: { get: async (host, slug, options) => (await secrets()).get(host, slug, options) },
    deliveries: store,
    enqueue: async (message) => (await sender())(message),
    allowedRepositories: allowedRepositories(env),
    log: logTo(lambdaLogger('webhook', env)),
    // A failed prefetch is reported by the request that needs the module (its import is tried again).
    prefetch: async () => {
      await Promise.allSettled([secrets(), sender()]);
    },
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

export async function handler(event: APIGatewayProxyEventV2 | KeepWarmEvent, context?: Context): Promise<APIGatewayProxyStructuredResultV2> {
  startInvocation(logger, context);
  if (isKeepWarmEvent(event)) {
    // The stack's keepWarm schedule (core/config/keep-warm.ts): initialize, load the lazy
    // chunks, answer nothing. A Function URL request is never of this shape (its body is a string).
    deps ??= webhookDepsFromEnv();
    await deps.prefetch();
    return { statusCode: 204 };
  }
  const method = event.requestContext?.http?.method ?? 'POST';
  if (method !== 'POST') {
    return { statusCode: 405, headers: { allow: 'POST', 'content-type': 'application/json' }, body: JSON.stringify({ error: `webhook: ${method} is not allowed; Git hosts POST` }) };
  }
  deps ??= webhookDepsFromEnv();
  void deps.prefetch();
  return handleWebhook(hostOf(event.rawPath), event.headers ?? {}, rawBodyOf(event), deps);
}
