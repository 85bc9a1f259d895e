// When a webhook's event happened, as the host signed it, and whether it is too old to run.
//
// Deliveries are deduplicated on a hash of what the host signed (parse-event.ts), and that
// record expires (DELIVERY_TTL_SECONDS): a body captured and replayed after it has gone would
// run again. An event whose signed time is older than the record certainly lives is refused
// instead. Only fields that the host sets at the very event count; a commit's own timestamp
// does not (pushing a tag on a month-old commit is an ordinary push).
//
//   GitHub push           repository.pushed_at (epoch seconds), the push's time
//   GitHub pull_request   pull_request.updated_at, moved by open, push (synchronize), reopen
//   Gitea pull_request    pull_request.created_at, for `opened` only
//   GitLab merge_request  object_attributes.updated_at, for `open` and `reopen` only
//
// Events with no such field carry no signed time (Gitea and GitLab pushes and tags, Gitea
// synchronize/reopen, GitLab merge-request updates): the dedupe record is all they have.

import type { PayloadReader } from './payload.js';

/**
 * How long a webhook delivery id is remembered (the table's TTL on it): 8 days, so that
 * events signed up to 7 days ago (GitHub Enterprise Server redelivers that far back) are
 * still told from replays, with a day for the host's clock; older ones are refused below.
 */
export const DELIVERY_TTL_SECONDS = 8 * 24 * 3600;

/** A time read from a signed field of the payload. */
export interface SignedTime {
  epochMs: number;
  /** Where it was read, for the answer to the host (`repository.pushed_at`). */
  field: string;
}

/** Allowance for the host's clock against ours, taken off the dedupe record's lifetime. */
export const CLOCK_SKEW_MS = 24 * 3600_000;

/**
 * Events signed longer ago than this run nothing: the dedupe record of their first delivery
 * (kept DELIVERY_TTL_SECONDS from when it arrived, which is after the signed time) is then
 * surely still there for any younger one. 7 days: GitHub Enterprise Server lets an admin
 * redeliver up to 7 days back, github.com 3 days
 * (https://docs.github.com/en/enterprise-server@3.17/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks).
 */
export const MAX_EVENT_AGE_MS = DELIVERY_TTL_SECONDS * 1000 - CLOCK_SKEW_MS;

const GITLAB_TIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) UTC$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * The time at `path`: epoch seconds (GitHub's push `pushed_at`), ISO 8601 with a zone, or
 * GitLab's `2017-12-10 17:01:11 UTC`. Undefined when absent; a MalformedHookError (through
 * the reader) when present but none of those.
 */
export function readSignedTime(read: PayloadReader, root: unknown, path: string): SignedTime | undefined {
  let v: unknown = root;
  for (const key of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
  if (v === undefined || v === null) return undefined;
  let ms = NaN;
  if (typeof v === 'number') ms = v * 1000;
  else if (typeof v === 'string') {
    const gitlab = GITLAB_TIME.exec(v);
    if (gitlab) ms = Date.parse(`${gitlab[1]}T${gitlab[2]}Z`);
    else if (ISO_TIME.test(v)) ms = Date.parse(v);
  }
  if (!Number.isFinite(ms)) read.fail(path, 'a time (epoch seconds or ISO 8601 with a zone)');
  return { epochMs: ms, field: path };
}

/**
 * Why an event must not run given its signed time, or undefined when it may. Too old: past
 * the dedupe window. Too far ahead: a host clock that far off would let a replay outlive it.
 */
export function replayRefusal(signed: SignedTime | undefined, now: number): string | undefined {
  if (!signed) return undefined;
  const age = now - signed.epochMs;
  const at = new Date(signed.epochMs).toISOString();
  const days = (ms: number) => `${Math.round((ms / 86_400_000) * 10) / 10} days`;
  if (age > MAX_EVENT_AGE_MS) {
    return `the event is ${days(age)} old by its signed ${signed.field} (${at}), older than the ${days(MAX_EVENT_AGE_MS)} a delivery is remembered for; a replay runs nothing (push again to build)`;
  }
  if (-age > CLOCK_SKEW_MS) {
    return `the event's signed ${signed.field} (${at}) is ${days(-age)} ahead of this server's clock; check the Git host's clock`;
  }
  return undefined;
}
