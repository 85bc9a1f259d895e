// The API's view of an HTTP exchange, independent of where it arrives from (a Lambda
// function URL deployed, the local server in local mode): both adapt to these shapes.

export interface ApiRequest {
  method: string;
  /** Path without the query string, e.g. `/api/builds`. */
  path: string;
  query: URLSearchParams;
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  /** The request body as text (only the routes that take one read it). */
  body?: string;
}

export interface ApiResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export function json(statusCode: number, value: unknown): ApiResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify(value),
  };
}

/** Every error answer: `{ "error": "api: …" }` with a message a user can act on. */
export function apiError(statusCode: number, message: string, headers: Record<string, string> = {}): ApiResponse {
  const response = json(statusCode, { error: `api: ${message}` });
  Object.assign(response.headers, headers);
  return response;
}

export function lowerCaseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

/** An error the API answers with its own status (not a 500). */
export class ApiFailure extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}
