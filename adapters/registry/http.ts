// HTTP with limits for the registry lookup: every request has a timeout and stops at the
// lookup's deadline, transient failures (network, timeout, 429, 5xx) are retried with
// back-off, and a body is refused as soon as it passes the size limit.

import type { ImageRef } from '../../core/images/types.js';
import { LookupFailure, checkDeadline, type Fetched, type Method, type Session } from './session.js';

/**
 * One request with the transient failures retried: network errors, timeouts, 429 and 5xx.
 * `authorization` overrides the session's (the token request carries Basic, or null: nothing).
 * A HEAD's answer has an empty body.
 */
export async function send(
  session: Session,
  url: string,
  accept: string,
  { method = 'GET', authorization }: { method?: Method; authorization?: string | null } = {},
): Promise<Fetched> {
  const { opts, ref } = session;
  const headers: Record<string, string> = { accept };
  const sent = authorization === undefined ? session.authorization : authorization;
  if (sent) headers.authorization = sent;
  let problem = '';
  for (let attempt = 0; attempt <= opts.retries; attempt++) {
    if (attempt > 0) await sleep(opts.backoffMs * 2 ** (attempt - 1), session.deadline);
    checkDeadline(session);
    const signal = AbortSignal.any([AbortSignal.timeout(opts.timeoutMs), session.deadline]);
    let res: Response;
    try {
      res = await opts.fetch(url, { method, headers, redirect: 'follow', signal });
    } catch (err) {
      checkDeadline(session);
      problem = describeNetworkError(err, opts.timeoutMs);
      continue;
    }
    if (res.status === 429 || res.status >= 500) {
      problem = `answered ${res.status}`;
      await res.body?.cancel();
      continue;
    }
    if (method === 'HEAD') {
      await res.body?.cancel();
      return { status: res.status, headers: res.headers, body: Buffer.alloc(0) };
    }
    try {
      return { status: res.status, headers: res.headers, body: await readLimited(res, opts.maxResponseBytes, ref, url) };
    } catch (err) {
      if (err instanceof LookupFailure) throw err;
      checkDeadline(session);
      problem = describeNetworkError(err, opts.timeoutMs);
    }
  }
  const attempts = opts.retries + 1;
  throw new LookupFailure(`image "${ref.original}": registry ${new URL(url).host} ${problem} (${attempts} attempt${attempts > 1 ? 's' : ''}); try again later`, true);
}

/** The body, refused as soon as it passes `max` bytes, whatever Content-Length claims. */
async function readLimited(res: Response, max: number, ref: ImageRef, url: string): Promise<Buffer> {
  const tooLarge = (): LookupFailure =>
    new LookupFailure(`image "${ref.original}": registry ${ref.host} sent more than ${max} bytes for ${new URL(url).pathname}; refused`, false);
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel();
    throw tooLarge();
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `did not answer within ${timeoutMs} ms`;
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : '';
  return `could not be reached (${err instanceof Error ? err.message : String(err)}${cause ? `: ${cause}` : ''})`;
}

/** Resolves after `ms`, or as soon as `signal` aborts (the caller then checks why). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
