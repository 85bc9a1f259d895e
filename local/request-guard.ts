// The local API is open (no token) because only this machine can reach it. A web page in
// any browser on this machine can, though: a simple POST needs no CORS preflight (cross-site
// request forgery), and a hostile name re-pointed at 127.0.0.1 makes its page same-origin
// with us (DNS rebinding), which would let it read builds and logs. So, while the API is
// open: the Host must name the loopback interface, and a request that changes something
// must carry a header a page cannot send cross-origin without a preflight we never allow,
// or an Origin that is our own.

/** Header the dashboard and the CLI send with every API request. */
export const REQUEST_HEADER = 'x-slipway-request';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Why the request is refused, or undefined when it may go on. Header names are lower case. */
export function openApiRefusal(method: string, headers: Record<string, string | undefined>, port: number): string | undefined {
  const host = (headers.host ?? '').toLowerCase();
  if (!isLoopbackHost(host, port)) {
    return `the Host header is '${host}', but the open local API only answers to localhost:${port}, 127.0.0.1:${port} or [::1]:${port}`;
  }
  if (method === 'GET' || method === 'HEAD') return undefined;
  if (headers[REQUEST_HEADER] === '1') return undefined;
  const origin = headers.origin?.toLowerCase();
  if (origin !== undefined && origin === `http://${host}`) return undefined;
  return `${method} needs the header '${REQUEST_HEADER}: 1' (or an Origin of this server's own), so that other web pages cannot send it`;
}

function isLoopbackHost(host: string, port: number): boolean {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(host);
  if (!match || !LOOPBACK_NAMES.has(match[1]!)) return false;
  const given = match[2] === undefined ? 80 : Number(match[2]);
  return given === port;
}
