// Bearer-token authentication of the deployed API. The Secrets Manager secret
// (API_TOKEN_SECRET_ARN) holds SHA-256 digests of the accepted tokens, one per line, each
// written `sha256:<64 hex>`; a line without that prefix is taken as a token itself and
// hashed on load (the stack generates one plain token so a fresh deployment is usable;
// docs/api.md says how to replace it by its digest). The presented token is hashed and
// compared with every digest in constant time, so neither the token nor the position of
// a mismatch leaks through timing.

import { createHash, timingSafeEqual } from 'node:crypto';

const DIGEST_LINE = /^sha256:([0-9a-fA-F]{64})$/;

export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The accepted digests in a secret's text; throws when it holds none. */
export function parseTokenSecret(text: string): Buffer[] {
  const digests: Buffer[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = DIGEST_LINE.exec(line);
    digests.push(m ? Buffer.from(m[1]!, 'hex') : tokenDigest(line));
  }
  if (digests.length === 0) throw new Error('api: the API token secret holds no token digest (expected lines `sha256:<64 hex digits>`)');
  return digests;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return m?.[1];
}

/** True when the token's digest equals one of `digests`; every digest is compared. */
export function tokenMatches(token: string, digests: readonly Buffer[]): boolean {
  const presented = tokenDigest(token);
  let ok = false;
  for (const digest of digests) ok = timingSafeEqual(presented, digest) || ok;
  return ok;
}

/**
 * An authorizer over the secret's text. `loadSecret` keeps it for its max age (deployed:
 * Powertools Parameters, MAX_AGE_SECONDS.apiTokens, so a rotated secret applies within
 * that); the digests are worked out again only when the text changed.
 */
export function tokenAuthorizer(loadSecret: () => Promise<string>) {
  let parsed: { text: string; digests: Buffer[] } | undefined;
  return async (authorization: string | undefined): Promise<boolean> => {
    const token = bearerToken(authorization);
    if (!token) return false;
    const text = await loadSecret();
    if (parsed?.text !== text) parsed = { text, digests: parseTokenSecret(text) };
    return tokenMatches(token, parsed.digests);
  };
}
