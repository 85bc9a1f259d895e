// The API Lambda behind its function URL (payload v2; CloudFront serves it at /api/*).
// Thin: adapt the event, answer through the router (router.ts) that local mode uses too.

import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { lambdaLogger, startInvocation } from '../shared/observability/logger.js';
import { lambdaMetrics, withMetricsFlushed } from '../shared/observability/metrics.js';
import { apiError, lowerCaseHeaders } from './http.js';
import { handleApiRequest, type ApiDeps } from './router.js';
import { apiDepsFromEnv } from './wiring.js';

const logger = lambdaLogger('api');
let deps: ApiDeps | undefined;

export async function handler(event: APIGatewayProxyEventV2, context?: Context): Promise<APIGatewayProxyStructuredResultV2> {
  startInvocation(logger, context);
  deps ??= apiDepsFromEnv();
  return withMetricsFlushed(lambdaMetrics(), () => answer(event, deps!));
}

async function answer(event: APIGatewayProxyEventV2, deps: ApiDeps): Promise<APIGatewayProxyStructuredResultV2> {
  try {
    return await handleApiRequest(
      {
        method: event.requestContext?.http?.method ?? 'GET',
        path: event.rawPath ?? '/',
        query: new URLSearchParams(event.rawQueryString ?? ''),
        headers: lowerCaseHeaders(event.headers ?? {}),
        ...(event.body !== undefined ? { body: event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body } : {}),
      },
      deps,
    );
  } catch (err) {
    logger.error('request failed', { path: event.rawPath, error: err as Error });
    return apiError(500, 'internal error; the request id is in the API log', { 'x-request-id': event.requestContext?.requestId ?? '' });
  }
}
