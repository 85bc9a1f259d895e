// The webhook, as a plain function of (host, headers, raw body): authenticate, parse,
// record the delivery once, enqueue for the planner, answer. Nothing slow happens here:
// the Git host gets its answer in milliseconds.
//
//   413  body over 1 MiB (by Content-Length or by the bytes received)
//   401  signature or token missing or wrong          — nothing recorded
//   503  no webhook secret configured (says which variable to set) — nothing recorded
//   400  signed, but not the event it claims to be     — nothing recorded
//   403  repository not in ALLOWED_REPOSITORIES        — nothing recorded
//   200  ping, an event that builds nothing, or a redelivery ({"duplicate":true})
//   202  accepted and queued
//   500  the event could not be queued (the delivery stays retryable)

import type { BuildStore } from '../../core/builds/store.js';
import { deliveryId, eventName, normalizeHeaders, parseEvent } from '../../core/scm/parse-event.js';
import { HOOK_HOSTS, MalformedHookError, type EventMessage, type HookHost } from '../../core/scm/types.js';
import { verifySignature } from '../../core/scm/verify-signature.js';
import { isRepositoryAllowed } from '../shared/config.js';
import { WebhookSecretMissingError } from '../shared/secrets.js';

export const MAX_BODY_BYTES = 1024 * 1024;

export interface WebhookDeps {
  secret: () => Promise<string>;
  deliveries: Pick<BuildStore, 'recordDelivery' | 'markDelivery'>;
  enqueue: (message: EventMessage) => Promise<void>;
  allowedRepositories?: readonly string[];
  now?: () => number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface WebhookResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const reply = (statusCode: number, body: Record<string, unknown>): WebhookResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

export function isHookHost(host: string): host is HookHost {
  return (HOOK_HOSTS as readonly string[]).includes(host);
}

export async function handleWebhook(
  host: string,
  rawHeaders: Record<string, string | string[] | undefined>,
  rawBody: Uint8Array | string,
  deps: WebhookDeps,
): Promise<WebhookResponse> {
  const log = deps.log ?? (() => {});
  if (!isHookHost(host)) return reply(404, { error: `webhook: unknown Git host ${JSON.stringify(host)}; use one of ${HOOK_HOSTS.join(', ')}` });
  const headers = normalizeHeaders(rawHeaders);

  const declared = Number(headers['content-length'] ?? 0);
  const received = typeof rawBody === 'string' ? Buffer.byteLength(rawBody) : rawBody.byteLength;
  if (declared > MAX_BODY_BYTES || received > MAX_BODY_BYTES) {
    return reply(413, { error: `webhook: body of ${Math.max(declared, received)} bytes is over the limit of ${MAX_BODY_BYTES} bytes` });
  }

  // Authentication before the body is read in any other way. Without a secret nothing can be
  // verified: that is this deployment's fault (503, with the fix), not a bad signature (401).
  let secret: string;
  try {
    secret = await deps.secret();
  } catch (err) {
    if (!(err instanceof WebhookSecretMissingError)) throw err;
    log('rejected: no webhook secret configured', { host });
    return reply(503, { error: err.message });
  }
  if (!verifySignature(host, headers, rawBody, secret)) {
    log('rejected: bad signature', { host, event: eventName(host, headers) });
    return reply(401, { error: `webhook: missing or invalid ${host} signature` });
  }

  let event;
  try {
    event = parseEvent(host, headers, rawBody);
  } catch (err) {
    if (err instanceof MalformedHookError) return reply(400, { error: err.message });
    throw err;
  }
  if (event.kind === 'ping') return reply(200, { ok: true, ping: true });
  if (event.kind === 'ignored') return reply(200, { ok: true, ignored: event.reason });
  if (!isRepositoryAllowed(deps.allowedRepositories ?? [], event.repo.slug)) {
    return reply(403, { error: `webhook: repository ${event.repo.slug} is not in ALLOWED_REPOSITORIES` });
  }

  const id = deliveryId(host, headers, rawBody);
  const receivedAt = (deps.now ?? Date.now)();
  const first = await deps.deliveries.recordDelivery({ id, host, event: eventName(host, headers), receivedAt });
  if (!first) {
    log('duplicate delivery', { host, deliveryId: id });
    return reply(200, { ok: true, duplicate: true, deliveryId: id });
  }
  try {
    await deps.enqueue({ version: 1, deliveryId: id, host, receivedAt, hook: event });
  } catch (err) {
    log('enqueue failed', { host, deliveryId: id, error: (err as Error).message });
    await deps.deliveries.markDelivery(id, 'failed');
    return reply(500, { error: `webhook: could not queue delivery ${id}; the Git host may redeliver it` });
  }
  await deps.deliveries.markDelivery(id, 'enqueued');
  return reply(202, { ok: true, accepted: true, deliveryId: id });
}
