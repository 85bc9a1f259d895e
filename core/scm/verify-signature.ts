// Webhook authentication, in constant time, before the body is looked at.
//   GitHub: X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>
//   Gitea:  X-Gitea-Signature:   <hex HMAC-SHA256 of the raw body>
//   GitLab: X-Gitlab-Token:      <the secret itself>

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { HookHost } from './types.js';

export function hmacSha256Hex(secret: string, body: Uint8Array | string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** Compares without leaking where the first difference is; lengths equalised by hashing. */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** The header that carries the signature (lower-case, as headers are normalised). */
export function signatureHeader(host: HookHost): string {
  switch (host) {
    case 'github':
      return 'x-hub-signature-256';
    case 'gitea':
      return 'x-gitea-signature';
    case 'gitlab':
      return 'x-gitlab-token';
  }
}

/** True when the request was signed with `secret`. Missing header → false. */
export function verifySignature(
  host: HookHost,
  headers: Record<string, string | undefined>,
  rawBody: Uint8Array | string,
  secret: string,
): boolean {
  const given = headers[signatureHeader(host)];
  if (!given || !secret) return false;
  switch (host) {
    case 'github':
      return constantTimeEqual(given.trim().toLowerCase(), `sha256=${hmacSha256Hex(secret, rawBody)}`);
    case 'gitea':
      return constantTimeEqual(given.trim().toLowerCase(), hmacSha256Hex(secret, rawBody));
    case 'gitlab':
      return constantTimeEqual(given, secret);
  }
}
