// GetLogEvents as CloudWatch Logs answers it, over a source of stored events (pure: no I/O).
//
// What AWS documents, and what this models (API reference, GetLogEvents:
// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html):
// - A page holds at most 10,000 events and 1 MB; `limit` (1..10,000) lowers the count.
// - "A returned page might only be partially full, or even empty … Partially full or empty
//   pages don't necessarily mean that pagination is finished. As long as the
//   nextBackwardToken or nextForwardToken returned is NOT equal to the nextToken that you
//   passed into the API call, there might be more log events available." At the end of the
//   stream the same token comes back.
// - "If you are using a previous nextForwardToken value as the nextToken in this operation,
//   you must specify true for startFromHead." Without it, the latest events come first.
// How AWS decides to cut a page short is not documented. The model: a page scans one
// window of event time (`scanWindowMs`) from its token's scan position; events past the
// window wait for the next page, so a pause in a log longer than the window gives empty
// pages with a new token, as a reader of AWS must expect.

import { LogsApiError, invalidParameter, resourceNotFound } from './errors.js';

export interface StoredEvent {
  timestamp: number;
  message: string;
  ingestionTime: number;
}

export interface LogSource {
  /** Whether the log group exists. */
  hasGroup(group: string): boolean;
  /** The stream's events in timestamp order; undefined when the stream does not exist. */
  events(group: string, stream: string): readonly StoredEvent[] | undefined;
}

export interface GetLogEventsOptions {
  /** Event time one page scans (default 5 minutes). */
  scanWindowMs: number;
  /** Where a backward read without a token starts scanning: "now". */
  now: () => number;
}

/** A page holds at most this many events (API reference: limit, maximum 10,000). */
export const MAX_EVENTS_PER_PAGE = 10_000;
/** And at most this many bytes (API reference: "up to 1 MB of log events"). */
export const MAX_PAGE_BYTES = 1_048_576;
/** Bytes an event counts for: its UTF-8 message plus 26 (PutLogEvents' accounting, used for pages too). */
export const eventBytes = (message: string): number => Buffer.byteLength(message, 'utf8') + 26;

interface Position {
  direction: 'f' | 'b';
  /** Forward: index of the next event to return. Backward: index one past the next event to return. */
  index: number;
  /** Forward: start of the time window scanned next. Backward: its end. */
  scan: number;
}

const TOKEN_DIGITS = 28;

export function encodeToken(p: Position): string {
  return `${p.direction}/${String(p.index).padStart(TOKEN_DIGITS, '0')}${String(Math.max(0, p.scan)).padStart(TOKEN_DIGITS, '0')}`;
}

function decodeToken(token: string): Position {
  const m = /^([fb])\/(\d{28})(\d{28})$/.exec(token);
  if (!m) throw invalidParameter('The specified nextToken is invalid.');
  return { direction: m[1] as 'f' | 'b', index: Number(m[2]), scan: Number(m[3]) };
}

type Json = Record<string, unknown>;

function validate(input: Json): { group: string; stream: string; limit: number; startTime?: number; endTime?: number; token?: string; startFromHead: boolean } {
  const errors: string[] = [];
  const group = input.logGroupName ?? input.logGroupIdentifier;
  if ((input.logGroupName === undefined) === (input.logGroupIdentifier === undefined)) {
    throw invalidParameter('You must specify either logGroupName or logGroupIdentifier, but not both.');
  }
  if (typeof group !== 'string' || group.length < 1 || group.length > 512) errors.push(`Value at 'logGroupName' failed to satisfy constraint: Member must have length between 1 and 512`);
  const stream = input.logStreamName;
  if (typeof stream !== 'string' || stream.length < 1 || stream.length > 512) errors.push(`Value at 'logStreamName' failed to satisfy constraint: Member must have length between 1 and 512`);
  else if (/[:*]/.test(stream)) errors.push(`Value '${stream}' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*`);
  const limit = input.limit;
  if (limit !== undefined && (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > MAX_EVENTS_PER_PAGE)) {
    errors.push(`Value '${String(limit)}' at 'limit' failed to satisfy constraint: Member must have value between 1 and ${MAX_EVENTS_PER_PAGE}`);
  }
  const token = input.nextToken;
  if (token !== undefined && (typeof token !== 'string' || token.length < 1)) {
    errors.push(`Value '${String(token)}' at 'nextToken' failed to satisfy constraint: Member must have length greater than or equal to 1`);
  }
  if (errors.length) throw invalidParameter(`${errors.length} validation error${errors.length > 1 ? 's' : ''} detected: ${errors.join('; ')}`);
  return {
    group: group as string,
    stream: stream as string,
    limit: (limit as number | undefined) ?? MAX_EVENTS_PER_PAGE,
    ...(typeof input.startTime === 'number' ? { startTime: input.startTime } : {}),
    ...(typeof input.endTime === 'number' ? { endTime: input.endTime } : {}),
    ...(token !== undefined ? { token: token as string } : {}),
    startFromHead: input.startFromHead === true,
  };
}

export function getLogEvents(source: LogSource, input: Json, options: GetLogEventsOptions): Json {
  const req = validate(input);
  if (!source.hasGroup(req.group)) throw resourceNotFound('The specified log group does not exist.');
  const stored = source.events(req.group, req.stream);
  if (!stored) throw resourceNotFound('The specified log stream does not exist.');
  const events = stored.filter((e) => (req.startTime === undefined || e.timestamp >= req.startTime) && (req.endTime === undefined || e.timestamp < req.endTime));
  const window = options.scanWindowMs;

  const given = req.token === undefined ? undefined : decodeToken(req.token);
  if (given?.direction === 'f' && !req.startFromHead) {
    throw invalidParameter('A nextForwardToken can be used as nextToken only with startFromHead set to true.');
  }
  if (given && given.index > events.length) throw invalidParameter('The specified nextToken is invalid.');
  const forward = given ? given.direction === 'f' : req.startFromHead;

  if (forward) {
    const from: Position = given ?? { direction: 'f', index: 0, scan: req.startTime ?? events[0]?.timestamp ?? 0 };
    const out: StoredEvent[] = [];
    let bytes = 0;
    let j = from.index;
    while (j < events.length && out.length < req.limit && events[j]!.timestamp < from.scan + window) {
      const size = eventBytes(events[j]!.message);
      if (bytes + size > MAX_PAGE_BYTES) break;
      bytes += size;
      out.push(events[j]!);
      j++;
    }
    // Stopped by the window (the next event is later): the next page scans the next window.
    const windowEnded = j < events.length && events[j]!.timestamp >= from.scan + window;
    let next: Position;
    if (out.length === 0 && j >= events.length) next = from; // the end: the same token back
    else next = { direction: 'f', index: j, scan: windowEnded ? from.scan + window : from.scan };
    const forwardToken = given && next.index === given.index && next.scan === given.scan ? req.token! : encodeToken(next);
    return {
      events: out.map(shape),
      nextForwardToken: forwardToken,
      nextBackwardToken: encodeToken({ direction: 'b', index: from.index, scan: (events[from.index] ?? events[from.index - 1])?.timestamp ?? from.scan }),
    };
  }

  const from: Position = given ?? { direction: 'b', index: events.length, scan: req.endTime ?? options.now() };
  const taken: StoredEvent[] = [];
  let bytes = 0;
  let j = from.index - 1;
  while (j >= 0 && taken.length < req.limit && events[j]!.timestamp >= from.scan - window) {
    const size = eventBytes(events[j]!.message);
    if (bytes + size > MAX_PAGE_BYTES) break;
    bytes += size;
    taken.push(events[j]!);
    j--;
  }
  const windowEnded = j >= 0 && events[j]!.timestamp < from.scan - window;
  let next: Position;
  if (taken.length === 0 && j < 0) next = from;
  else next = { direction: 'b', index: j + 1, scan: windowEnded ? from.scan - window : from.scan };
  const backwardToken = given && next.index === given.index && next.scan === given.scan ? req.token! : encodeToken(next);
  return {
    events: taken.reverse().map(shape),
    nextForwardToken: encodeToken({ direction: 'f', index: from.index, scan: events[from.index - 1]?.timestamp ?? 0 }),
    nextBackwardToken: backwardToken,
  };
}

function shape(e: StoredEvent): Json {
  return { timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime };
}

export { LogsApiError };
