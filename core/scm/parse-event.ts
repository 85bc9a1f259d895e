// From a verified request to a typed HookEvent: which header names the event, which one
// the delivery, and which host module reads the payload.

import { createHash } from 'node:crypto';
import { SCM_HOSTS } from './hosts.js';
import { PayloadReader } from './payload.js';
import { MalformedHookError, type HookEvent, type HookHost } from './types.js';

export type Headers = Record<string, string | undefined>;

/** Lower-cases header names (API Gateway v2 already does; other callers may not). */
export function normalizeHeaders(headers: Record<string, string | string[] | undefined>): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

export function eventName(host: HookHost, headers: Headers): string {
  switch (host) {
    case 'github':
      return headers['x-github-event'] ?? '';
    case 'gitea':
      return headers['x-gitea-event'] ?? headers['x-gogs-event'] ?? '';
    case 'gitlab':
      return headers['x-gitlab-event'] ?? '';
  }
}

/** The host's own delivery header (GitHub's X-GitHub-Delivery, …): unsigned, kept for logs only. */
export function hostDeliveryHeader(host: HookHost, headers: Headers): string | undefined {
  const given =
    host === 'github'
      ? headers['x-github-delivery']
      : host === 'gitea'
        ? (headers['x-gitea-delivery'] ?? headers['x-gogs-delivery'])
        : (headers['idempotency-key'] ?? headers['x-gitlab-event-uuid']);
  return given?.trim() || undefined;
}

/**
 * The id a delivery is deduplicated by: a hash of what the host signed (the body) and of
 * where it was accepted (host and repository), so a redelivery, or a replay of a captured
 * request under a new delivery header, is the same delivery. The delivery headers are not
 * signed (GitHub signs the payload only:
 * https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries), so
 * they cannot be what decides.
 */
export function deliveryId(host: HookHost, slug: string, rawBody: Uint8Array | string): string {
  const hash = createHash('sha256').update(`${host}\n${slug}\n`).update(rawBody).digest('hex');
  return `${host}:sha256:${hash}`;
}

function parseJson(host: HookHost, rawBody: Uint8Array | string): unknown {
  const text = typeof rawBody === 'string' ? rawBody : Buffer.from(rawBody).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new MalformedHookError(host, `body is not JSON (${(err as Error).message})`);
  }
}

/**
 * The repository a body names, read before the signature is checked, only to find the
 * secret to check it with (as Drone does). Undefined when the event names none (an
 * organisation's ping); MalformedHookError when the body is not JSON or the name not a string.
 */
export function hookRepository(host: HookHost, rawBody: Uint8Array | string): string | undefined {
  const payload = parseJson(host, rawBody);
  const read = new PayloadReader(host);
  const body = read.object(payload, '');
  const container = host === 'gitlab' ? 'project' : 'repository';
  if (body[container] === undefined || body[container] === null) return undefined;
  const repo = read.object(body, container);
  return read.string(repo, host === 'gitlab' ? 'path_with_namespace' : 'full_name');
}

/** Parses the JSON body and reads the event; throws MalformedHookError for a bad body. */
export function parseEvent(host: HookHost, headers: Headers, rawBody: Uint8Array | string): HookEvent {
  return SCM_HOSTS[host].parseEvent(eventName(host, headers), parseJson(host, rawBody));
}
