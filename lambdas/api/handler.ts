// The API Lambda behind its function URL (payload v2; CloudFront serves it at /api/*).
// Thin: adapt the event, answer through the router (router.ts) that local mode uses too.

import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { apiError, lowerCaseHeaders } from './http.js';
import { handleApiRequest, type ApiDeps } from './router.js';
import { apiDepsFromEnv } from './wiring.js';

let deps: ApiDeps | undefined;

export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  deps ??= apiDepsFromEnv();
  try {
    return await handleApiRequest(
      {
        method: event.requestContext?.http?.method ?? 'GET',
        path: event.rawPath ?? '/',
        query: new URLSearchParams(event.rawQueryString ?? ''),
        headers: lowerCaseHeaders(event.headers ?? {}),
      },
      deps,
    );
  } catch (err) {
    console.error(JSON.stringify({ source: 'api', message: 'request failed', path: event.rawPath, error: (err as Error).stack ?? String(err) }));
    return apiError(500, 'internal error; the request id is in the API log', { 'x-request-id': event.requestContext?.requestId ?? '' });
  }
}
