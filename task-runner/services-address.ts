// The service task's address for a first segment started in the same pass as its service task
// (docs/design/split-pipelines.md, "Starting the service task and segment 1 together"): the
// address exists only once the service task has its network interface, after both RunTasks.
// The agents hold no AWS rights; the control plane signs one URL for each side, in the snapshot
// bucket (core/pipeline/segments.ts servicesAddressKey):
// - the service task's agent reads its task's private IP from the task metadata endpoint and
//   PUTs it once (`If-None-Match: *`: written once, never replaced);
// - the segment's agent clones meanwhile, then GETs it (403 until it is there) before its
//   steps' gate, which then asks the service task's agent whether the services are ready.
// What is read is checked as any input from the network: size, shape, an IP address.

import { isIP } from 'node:net';

import type { ServicesAddress } from '../core/pipeline/contract.js';
import { MAX_ADDRESS_CHARS } from '../core/pipeline/override-budget.js';
import { METADATA_ERROR_BACKOFF, PROBE_BACKOFF, backoffDelay, sleep, type Backoff } from './backoff.js';
import { fetchTaskMetadata } from './metadata.js';
import { redact } from './snapshot.js';

/** One request's bound: S3 answers a small object in well under a second. */
const REQUEST_TIMEOUT_MS = 10_000;
/** An answer longer than this is no address of ours. */
const MAX_ANSWER_CHARS = 1024;
/** Between two reads of an address not written yet: the service task's start takes tens of seconds. */
export const ADDRESS_POLL_BACKOFF: Backoff = { initialMs: 500, maxMs: 2000, factor: 2 };

export type AddressResult = { ok: true; address: string } | { ok: false; message: string } | { ok: false; aborted: true };

/** The address in an answer, or why it is not one. */
export function parseServicesAddress(text: string): { address: string } | { why: string } {
  if (text.length > MAX_ANSWER_CHARS) return { why: `an answer of ${text.length} characters` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    return { why: 'an answer that is not JSON' };
  }
  const address = (value as Partial<ServicesAddress> | null)?.address;
  if (typeof address !== 'string' || address.length > MAX_ADDRESS_CHARS || isIP(address) === 0) {
    return { why: `expected {"address": "<IP address>"}, got ${JSON.stringify(text.slice(0, 80))}` };
  }
  return { address };
}

/** An S3 403 that is its answer for a missing object (AccessDenied "Access Denied"), not an expired or wrongly signed URL. */
function isMissingObject(body: string): boolean {
  return /<Code>AccessDenied<\/Code>/.test(body) && !/expired/i.test(body);
}

async function request(url: string, init: RequestInit, signal: AbortSignal): Promise<{ status: number; body: string } | { error: string }> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]) });
    const body = (await res.text()).slice(0, MAX_ANSWER_CHARS + 1);
    return { status: res.status, body };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/**
 * The service task's side: its private IP from the task metadata endpoint, PUT once at `url`.
 * Tried until `timeoutMs` (the metadata endpoint answers once the task runs; S3 may fail for
 * a moment); a 412 means an earlier try of this agent already wrote it.
 */
export async function publishServicesAddress(options: { url: string; metadataUri: string | undefined; signal: AbortSignal; log: (line: string) => void; timeoutMs: number }): Promise<AddressResult> {
  const { url, metadataUri, signal, log } = options;
  const started = Date.now();
  let last = '';
  for (let attempt = 0; ; attempt += 1) {
    if (signal.aborted) return { ok: false, aborted: true };
    let why: string;
    if (metadataUri === undefined) return { ok: false, message: 'services address: ECS_CONTAINER_METADATA_URI_V4 is not set, so the task cannot learn its own address' };
    const metadata = await fetchTaskMetadata(metadataUri);
    if (!metadata.ok) why = metadata.error;
    else if (metadata.task.address === undefined || isIP(metadata.task.address) === 0) why = 'the task metadata shows no IPv4 address of the task yet';
    else {
      const address = metadata.task.address;
      const body = `${JSON.stringify({ address } satisfies ServicesAddress)}\n`;
      const res = await request(url, { method: 'PUT', body, headers: { 'content-type': 'application/json', 'if-none-match': '*' } }, signal);
      if ('status' in res && (res.status === 200 || res.status === 412)) {
        log(`services address: ${address} left for the segments at ${redact(url)}`);
        return { ok: true, address };
      }
      why = 'error' in res ? `PUT ${redact(url)}: ${res.error}` : `PUT ${redact(url)} answered HTTP ${res.status}`;
    }
    if (why !== last) log(`services address: not left yet: ${why}`);
    last = why;
    const left = started + options.timeoutMs - Date.now();
    if (left <= 0) return { ok: false, message: `services address: could not leave it for the segments within ${Math.round(options.timeoutMs / 1000)} s: ${why}` };
    await sleep(Math.min(backoffDelay(attempt, metadata.ok ? PROBE_BACKOFF : METADATA_ERROR_BACKOFF), left), signal);
  }
}

/**
 * The segment's side: the service task's address, read at `url` until it is there (403 until
 * the service task's agent has written it) or `timeoutMs` has passed. The control plane stops
 * this segment if the service task stops first (lambdas/autoscaler/service-task.ts).
 */
export async function readServicesAddress(options: { url: string; signal: AbortSignal; log: (line: string) => void; timeoutMs: number }): Promise<AddressResult> {
  const { url, signal, log } = options;
  const started = Date.now();
  let last = '';
  for (let attempt = 0; ; attempt += 1) {
    if (signal.aborted) return { ok: false, aborted: true };
    const res = await request(url, { method: 'GET' }, signal);
    let why: string;
    if ('status' in res && res.status === 200) {
      const parsed = parseServicesAddress(res.body.trim());
      if ('address' in parsed) {
        log(`gate: the service task is at ${parsed.address} (known after ${((Date.now() - started) / 1000).toFixed(1)} s)`);
        return { ok: true, address: parsed.address };
      }
      // Written once and never replaced: a bad answer stays bad.
      return { ok: false, message: `the service task's address at ${redact(url)}: ${parsed.why}` };
    }
    // Not written yet: S3 answers 403 AccessDenied for a missing object to a signer that may not
    // list the bucket, as the snapshot signer may not (404 only to one that may; API_GetObject.html).
    if ('status' in res && (res.status === 404 || (res.status === 403 && isMissingObject(res.body)))) why = 'the service task has not started yet';
    else why = 'error' in res ? `GET ${redact(url)}: ${res.error}` : `GET ${redact(url)} answered HTTP ${res.status}`;
    if (why !== last) log(`gate: waiting for the service task's address: ${why}`);
    last = why;
    const left = started + options.timeoutMs - Date.now();
    if (left <= 0) return { ok: false, message: `the service task's address was not known after ${Math.round(options.timeoutMs / 1000)} s: ${why}` };
    await sleep(Math.min(backoffDelay(attempt, ADDRESS_POLL_BACKOFF), left), signal);
  }
}
