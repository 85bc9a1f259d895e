// The one local HTTP server of `slipway up` (PORT, default 8080, loopback only): the
// dashboard from web/dist, the builds API at /api/* through the same router as the API
// Lambda, and the Git hosts' webhooks at POST /hooks/github|gitea|gitlab through the same
// handler as the webhook Lambda. While the API is open (no token), request-guard.ts keeps
// other web pages out of it; webhooks are signed and need no such guard.

import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { apiError, lowerCaseHeaders, type ApiResponse } from '../lambdas/api/http.js';
import { handleApiRequest, type ApiDeps } from '../lambdas/api/router.js';
import { handleWebhook, MAX_BODY_BYTES, type WebhookDeps } from '../lambdas/webhook/handle-webhook.js';
import { openApiRefusal } from './request-guard.js';
import { LOCAL_RUNS_PATH } from './local-runs.js';

export interface LocalServerOptions {
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1: the API is open locally, so it must not be reachable from elsewhere. */
  host?: string;
  /** Directory of the built dashboard (web/dist). */
  webDir: string;
  api: ApiDeps;
  webhook: WebhookDeps;
  /**
   * Functions that answer Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`),
   * as a deployed function answers `slipway doctor` (the planner: core/doctor/planner-probe.ts).
   */
  invoke?: Record<string, (payload: unknown) => Promise<unknown>>;
  /** POST /api/local/runs (local-runs.ts): `slipway run` submitting a working copy; absent: 404. */
  localRuns?: (body: string) => Promise<ApiResponse>;
  log?: (message: string) => void;
}

export interface LocalServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

function send(res: ServerResponse, response: ApiResponse): void {
  res.writeHead(response.statusCode, response.headers);
  res.end(response.body);
}

/** API requests carry small JSON bodies at most (a secret). */
const MAX_API_BODY_BYTES = 64 * 1024;

/** The body, or null once it passes `limit` bytes (the rest is not read). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function serveStatic(webDir: string, path: string, res: ServerResponse): void {
  const relative = path === '/' ? 'index.html' : decodeURIComponent(path).replace(/^\/+/, '');
  const file = normalize(join(webDir, relative));
  if (!file.startsWith(normalize(webDir) + sep) || !existsSync(file) || !statSync(file).isFile()) {
    send(res, { statusCode: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: `not found: ${path}\n` });
    return;
  }
  res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
  createReadStream(file).pipe(res);
}

/**
 * Lambda's Invoke as the SDK speaks it (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html):
 * the function's result as the body; its error as 200 with X-Amz-Function-Error; an unknown
 * function as 404 ResourceNotFoundException. Only signed requests (SigV4's Authorization,
 * which the SDK always sends and no web page can) are answered, as the open API is kept from
 * other web pages.
 */
async function invokeLocally(name: string, req: IncomingMessage, functions: Record<string, (payload: unknown) => Promise<unknown>>): Promise<ApiResponse> {
  const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResponse => ({
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const failure = (statusCode: number, type: string, message: string) => json(statusCode, { Type: 'User', message }, { 'x-amzn-errortype': type });
  if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
    return failure(403, 'AccessDeniedException', 'local Lambda: the request is not signed (AWS Signature Version 4)');
  }
  const fn = Object.hasOwn(functions, name) ? functions[name] : undefined;
  if (!fn) return failure(404, 'ResourceNotFoundException', `Function not found: ${name} (local functions: ${Object.keys(functions).join(', ') || 'none'})`);
  const bytes = await readBody(req, MAX_API_BODY_BYTES);
  if (bytes === null) return failure(413, 'RequestTooLargeException', `local Lambda: the payload is over ${MAX_API_BODY_BYTES} bytes`);
  let payload: unknown;
  try {
    payload = bytes.length === 0 ? {} : JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    return failure(400, 'InvalidRequestContentException', `Could not parse request body into json: ${(err as Error).message}`);
  }
  try {
    return json(200, (await fn(payload)) ?? null, { 'x-amz-executed-version': '$LATEST' });
  } catch (err) {
    return json(200, { errorType: (err as Error).name || 'Error', errorMessage: (err as Error).message }, { 'x-amz-executed-version': '$LATEST', 'x-amz-function-error': 'Unhandled' });
  }
}

export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const log = options.log ?? (() => undefined);
  if (!existsSync(join(options.webDir, 'index.html'))) {
    throw new Error(`local-server: the dashboard is not built: ${join(options.webDir, 'index.html')} is missing (run: npx tsx web/build.ts)`);
  }

  // Without a token check, only requests that this machine's own tools sent may pass.
  const open = options.api.authorize === undefined;
  let port = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    if (url.pathname === '/api' || url.pathname.startsWith('/api/')) {
      const headers = lowerCaseHeaders(req.headers);
      const refusal = open ? openApiRefusal(method, headers, port) : undefined;
      if (refusal) {
        log(`local-server: refused ${method} ${url.pathname}: ${refusal}`);
        send(res, apiError(403, refusal));
        return;
      }
      let body: string | undefined;
      if (method === 'POST') {
        const bytes = await readBody(req, MAX_API_BODY_BYTES);
        if (bytes === null) {
          send(res, apiError(413, `the request body is over ${MAX_API_BODY_BYTES} bytes`));
          return;
        }
        body = bytes.toString('utf8');
      }
      // Past the guard above: loopback Host, and the X-Slipway-Request header of a POST.
      if (url.pathname === LOCAL_RUNS_PATH && options.localRuns) {
        send(res, method === 'POST' ? await options.localRuns(body ?? '') : apiError(405, `${LOCAL_RUNS_PATH} takes POST`));
        return;
      }
      send(res, await handleApiRequest({ method, path: url.pathname, query: url.searchParams, headers, ...(body !== undefined ? { body } : {}) }, options.api));
      return;
    }
    const invocation = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
    if (invocation && method === 'POST') {
      send(res, await invokeLocally(decodeURIComponent(invocation[1]!), req, options.invoke ?? {}));
      return;
    }
    const hook = /^\/hooks\/([a-z]+)\/?$/.exec(url.pathname);
    if (hook) {
      if (method !== 'POST') {
        send(res, { statusCode: 405, headers: { allow: 'POST', 'content-type': 'application/json' }, body: JSON.stringify({ error: `webhook: ${method} is not allowed; Git hosts POST` }) });
        return;
      }
      const body = await readBody(req, MAX_BODY_BYTES);
      // One byte over the limit is enough for the handler to answer 413.
      const response = await handleWebhook(hook[1]!, req.headers, body ?? Buffer.alloc(MAX_BODY_BYTES + 1), options.webhook);
      log(`webhook ${hook[1]}: ${response.statusCode}`);
      send(res, response);
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      send(res, { statusCode: 405, headers: { allow: 'GET', 'content-type': 'text/plain' }, body: `${method} is not allowed here\n` });
      return;
    }
    serveStatic(options.webDir, url.pathname, res);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`local-server: ${req.method} ${req.url} failed: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) send(res, apiError(500, `internal error: ${(err as Error).message}`));
      else res.end();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`local-server: port ${options.port ?? 8080} on ${host} is in use (another \`slipway up\`?); set PORT to use another`)
          : err,
      ),
    );
    server.listen(options.port ?? 8080, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://localhost:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
