// HTTP with limits for the registry lookup: every request has a timeout and stops at the
// lookup's deadline, transient failures (network, timeout, 429, 5xx) are retried with
// back-off, and a body is refused as soon as it passes the size limit.

import type { ImageRef } from '../../core/images/types.js';
import { withRetry } from '../../core/util/retry.js';
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
  const attempts = opts.retries + 1;
  const once = async (): Promise<Fetched> => {
    checkDeadline(session);
    const signal = AbortSignal.any([AbortSignal.timeout(opts.timeoutMs), session.deadline]);
    let res: Response;
    try {
      res = await opts.fetch(url, { method, headers, redirect: 'follow', signal });
    } catch (err) {
      checkDeadline(session);
      throw new Transient(describeNetworkError(err, opts.timeoutMs));
    }
    if (res.status === 429 || res.status >= 500) {
      await res.body?.cancel();
      throw new Transient(`answered ${res.status}`);
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
      throw new Transient(describeNetworkError(err, opts.timeoutMs));
    }
  };
  try {
    // No jitter: one lookup's back-offs are part of its time budget (opts.backoffMs · 2^n).
    return await withRetry(once, {
      attempts,
      baseMs: opts.backoffMs,
      maxMs: Number.MAX_SAFE_INTEGER,
      jitter: false,
      retryable: (err) => err instanceof Transient,
      signal: session.deadline,
    });
  } catch (err) {
    if (!(err instanceof Transient)) throw err;
    checkDeadline(session);
    throw new LookupFailure(`image "${ref.original}": registry ${new URL(url).host} ${err.message} (${attempts} attempt${attempts > 1 ? 's' : ''}); try again later`, true);
  }
}

/** A failure worth another request: network, timeout, 429, 5xx. */
class Transient extends Error {
  override readonly name = 'Transient';
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
