// One lookup's conversation with a registry: the image it is about, the authorization
// earned on the first 401 (auth.ts), the HTTP limits (http.ts) and the deadline that stops
// every request of it. Shared by the lookup (registry-client.ts), auth.ts and http.ts.

import type { Fetch, ImageRef, RegistryCredentials, RegistryCredentialsByRegistry } from '../../core/images/types.js';

/** Where credentials come from: a fixed map, or a function called with the registry asking. */
export type CredentialSource = RegistryCredentialsByRegistry | ((registry: string) => Promise<RegistryCredentialsByRegistry>);

/** The limits of every request of a lookup (http.ts). */
export interface HttpLimits {
  fetch: Fetch;
  /** Per request. */
  timeoutMs: number;
  /** Extra attempts after a transient failure (network, timeout, 429, 5xx). */
  retries: number;
  /** First back-off, doubled on each retry. */
  backoffMs: number;
  /** Largest response body read. */
  maxResponseBytes: number;
}

/** A lookup that cannot finish; becomes the `{ ok: false }` result. */
export class LookupFailure extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'LookupFailure';
  }
}

export interface Fetched {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** One lookup's connection state: the Authorization earned once is reused for every later request. */
export interface Session {
  ref: ImageRef;
  base: string;
  credentialSource?: CredentialSource;
  /** Set by `authenticate` from `credentialSource`, for this image's registry. */
  credentials?: RegistryCredentials;
  authorization?: string;
  authenticated: boolean;
  /** Aborts when the lookup's deadline passes: every request and back-off of it stops. */
  deadline: AbortSignal;
  opts: HttpLimits;
}

export type Method = 'GET' | 'HEAD';

export function deadlineFailure(ref: ImageRef, deadlineMs: number): LookupFailure {
  const within = deadlineMs % 1000 === 0 ? `${deadlineMs / 1000} s` : `${deadlineMs} ms`;
  return new LookupFailure(`image "${ref.original}": the registry did not answer within ${within} (${ref.host}, all requests and retries of one lookup); try again later`, true);
}

/** The deadline's failure once it has passed: whatever a request was doing, this is the answer. */
export function checkDeadline(session: Session): void {
  if (session.deadline.aborted) throw session.deadline.reason as LookupFailure;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
