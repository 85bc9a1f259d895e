// The webhook, as a plain function of (host, headers, raw body): find the repository the
// body names, check that it is activated on this host and that the request is signed with
// that repository's own secret, parse, record the delivery once, enqueue for the planner,
// answer. Nothing slow happens here: the Git host gets its answer in milliseconds.
//
//   413  body over 1 MiB (by Content-Length or by the bytes received)
//   400  not JSON, or a repository name that is not a string       — nothing recorded
//   200  repository not activated on this host ({"ignored": why})   — nothing recorded
//   503  activated, but its webhook secret is missing (says how to make one) — nothing recorded
//   401  signature or token missing or wrong                        — nothing recorded
//   400  signed, but not the event it claims to be                 — nothing recorded
//   403  repository not in ALLOWED_REPOSITORIES                     — nothing recorded
//   200  signed too long ago, or too far ahead, to be told from a replay ({"ignored": why}) — nothing recorded
//   200  ping, an event that builds nothing, or a redelivery ({"duplicate":true})
//   202  accepted and queued
//   500  the event could not be queued (the delivery stays retryable)
//
// Unactivated repositories get a 2xx so that the host does not mark the hook as failing
// (Drone answers them the same way); the body says why nothing runs.

import type { DeliveryStore, RepositoryStore } from '../../core/builds/ports.js';
import { deliveryId, eventName, hookRepository, hostDeliveryHeader, normalizeHeaders, parseEvent } from '../../core/scm/parse-event.js';
import { HOOK_HOSTS, MalformedHookError, type EventMessage, type HookHost } from '../../core/scm/types.js';
import { verifySignature } from '../../core/scm/verify-signature.js';
import { replayRefusal } from '../../core/scm/event-time.js';
import { isRepositoryAllowed } from '../shared/config.js';
import { GITHUB_APP_SECRET_SLUG } from '../shared/webhook-secret-names.js';

export const MAX_BODY_BYTES = 1024 * 1024;

export interface WebhookDeps {
  /** The activation record of a repository (the table's repository item). */
  repositories: Pick<RepositoryStore, 'getRepository'>;
  /** The repository's own webhook secret; `fresh` skips any cache (after a mismatch). */
  secrets: { get(host: HookHost, slug: string, options?: { fresh?: boolean }): Promise<string | undefined> };
  deliveries: Pick<DeliveryStore, 'recordDelivery' | 'markDelivery'>;
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
  const log = deps.log ?? (() => undefined);
  if (!isHookHost(host)) return reply(404, { error: `webhook: unknown Git host ${JSON.stringify(host)}; use one of ${HOOK_HOSTS.join(', ')}` });
  const headers = normalizeHeaders(rawHeaders);

  const declared = Number(headers['content-length'] ?? 0);
  const received = typeof rawBody === 'string' ? Buffer.byteLength(rawBody) : rawBody.byteLength;
  if (declared > MAX_BODY_BYTES || received > MAX_BODY_BYTES) {
    return reply(413, { error: `webhook: body of ${Math.max(declared, received)} bytes is over the limit of ${MAX_BODY_BYTES} bytes` });
  }

  // Which secret to check the signature with: the one of the repository the body names,
  // and only if that repository is activated on this very host.
  let slug: string | undefined;
  try {
    slug = hookRepository(host, rawBody);
  } catch (err) {
    if (err instanceof MalformedHookError) return reply(400, { error: err.message });
    throw err;
  }
  if (slug === undefined) return reply(200, { ok: true, ignored: `the ${eventName(host, headers) || 'event'} names no repository; nothing to build` });
  const repository = await deps.repositories.getRepository(slug);
  if (!repository || !repository.active || repository.scm !== host) {
    log('ignored: repository not activated', { host, repo: slug });
    return reply(200, { ok: true, ignored: `repository ${slug} is not activated on ${host}; activate it with: slipway repo add ${slug} --host ${host}` });
  }
  let secret = await deps.secrets.get(host, slug);
  if (secret === undefined) {
    log('rejected: activated repository without a webhook secret', { host, repo: slug });
    return reply(503, { error: `webhook: ${host} repository ${slug} is activated but has no webhook secret; make one with: slipway repo rotate-secret ${slug}, paste it into the hook, then redeliver` });
  }
  let signed = verifySignature(host, headers, rawBody, secret);
  if (!signed) {
    // A secret rotated since it was cached: read it once more before refusing.
    const fresh = await deps.secrets.get(host, slug, { fresh: true });
    if (fresh !== undefined && fresh !== secret) signed = verifySignature(host, headers, rawBody, (secret = fresh));
  }
  if (!signed && host === 'github') {
    // A GitHub App signs every installation's deliveries with the App's own secret; the
    // repository still has to be activated (checked above).
    const appSecret = await deps.secrets.get('github', GITHUB_APP_SECRET_SLUG);
    if (appSecret !== undefined) signed = verifySignature(host, headers, rawBody, appSecret);
  }
  if (!signed) {
    log('rejected: bad signature', { host, repo: slug, event: eventName(host, headers) });
    return reply(401, { error: `webhook: missing or invalid ${host} signature for ${slug}` });
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
  if (event.repo.slug !== slug) {
    // Both are read from the same field; a difference would be a parser bug, never a build.
    return reply(400, { error: `webhook: malformed ${host} event: names ${slug} and ${event.repo.slug}` });
  }
  if (!isRepositoryAllowed(deps.allowedRepositories ?? [], slug)) {
    return reply(403, { error: `webhook: repository ${slug} is not in ALLOWED_REPOSITORIES` });
  }

  const receivedAt = (deps.now ?? Date.now)();
  // Past the dedupe record's lifetime a replay would look new: what the host signed decides.
  const tooOld = replayRefusal(event.signedAt, receivedAt);
  if (tooOld) {
    log('ignored: outside the replay window', { host, repo: slug, event: eventName(host, headers), signedAt: event.signedAt?.epochMs });
    return reply(200, { ok: true, ignored: tooOld });
  }
  const id = deliveryId(host, slug, rawBody);
  const hostDelivery = hostDeliveryHeader(host, headers);
  const first = await deps.deliveries.recordDelivery({ id, host, event: eventName(host, headers), receivedAt, ...(hostDelivery ? { hostDelivery } : {}) });
  if (!first) {
    log('duplicate delivery', { host, deliveryId: id, hostDelivery });
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
  log('accepted', { host, deliveryId: id, hostDelivery });
  return reply(202, { ok: true, accepted: true, deliveryId: id });
}
