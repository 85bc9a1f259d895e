// From a verified request to a typed HookEvent: which header names the event, which one
// the delivery, and which host module reads the payload.

import { createHash } from 'node:crypto';
import { parseGithubEvent } from './github.js';
import { parseGiteaEvent } from './gitea.js';
import { parseGitlabEvent } from './gitlab.js';
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

/**
 * The host's id of this delivery, stable across redeliveries. GitLab sends an
 * Idempotency-Key on retries (and X-Gitlab-Event-UUID per event); when a host sends none,
 * the body's hash is the id, which still makes a byte-identical redelivery a duplicate.
 */
export function deliveryId(host: HookHost, headers: Headers, rawBody: Uint8Array | string): string {
  const given =
    host === 'github'
      ? headers['x-github-delivery']
      : host === 'gitea'
        ? (headers['x-gitea-delivery'] ?? headers['x-gogs-delivery'])
        : (headers['idempotency-key'] ?? headers['x-gitlab-event-uuid']);
  if (given && given.trim()) return `${host}:${given.trim()}`;
  return `${host}:sha256:${createHash('sha256').update(rawBody).digest('hex')}`;
}

/** Parses the JSON body and reads the event; throws MalformedHookError for a bad body. */
export function parseEvent(host: HookHost, headers: Headers, rawBody: Uint8Array | string): HookEvent {
  const text = typeof rawBody === 'string' ? rawBody : Buffer.from(rawBody).toString('utf8');
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (err) {
    throw new MalformedHookError(host, `body is not JSON (${(err as Error).message})`);
  }
  const name = eventName(host, headers);
  switch (host) {
    case 'github':
      return parseGithubEvent(name, payload);
    case 'gitea':
      return parseGiteaEvent(name, payload);
    case 'gitlab':
      return parseGitlabEvent(name, payload);
  }
}
