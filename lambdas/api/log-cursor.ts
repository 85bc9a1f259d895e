// The log API's cursor: where the next read of one step's stream resumes (core/logs/log-reader.ts,
// LogPosition), handed to the client opaque and checked when it comes back. It names its
// stream by a digest, so a cursor of one step cannot read another step's stream from the
// wrong place.

import { createHash } from 'node:crypto';
import type { LogPosition } from '../../core/logs/log-reader.js';

export class InvalidLogCursor extends Error {
  constructor(reason: string) {
    super(`cursor: ${reason}; ask again with offset=N (the line number to start from) instead`);
    this.name = 'InvalidLogCursor';
  }
}

const streamDigest = (stream: string): string => createHash('sha256').update(stream).digest('base64url').slice(0, 12);

/**
 * `stream` undefined: the step has no stream yet (its task has not started); the cursor then
 * holds a plain offset, good for whichever stream the step gets.
 */
export function encodeLogCursor(stream: string | undefined, position: LogPosition): string {
  if (stream === undefined && position.token !== undefined) throw new Error('log cursor: a token position needs its stream');
  const body = { v: 1, ...(stream !== undefined ? { s: streamDigest(stream) } : {}), o: position.offset, k: position.skip, ...(position.token ? { t: position.token } : {}) };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

export function decodeLogCursor(stream: string, cursor: string): LogPosition {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) throw new InvalidLogCursor('not a cursor this API returned');
    throw err;
  }
  const b = body as { v?: unknown; s?: unknown; o?: unknown; k?: unknown; t?: unknown };
  if (typeof body !== 'object' || body === null || b.v !== 1) throw new InvalidLogCursor('not a cursor this API returned');
  if (b.s !== undefined && b.s !== streamDigest(stream)) throw new InvalidLogCursor("it belongs to another step's log (or an earlier run of this one)");
  const offset = b.o;
  const skip = b.k;
  if (!Number.isSafeInteger(offset) || (offset as number) < 0 || !Number.isSafeInteger(skip) || (skip as number) < 0 || (skip as number) > (offset as number)) {
    throw new InvalidLogCursor('its position is malformed');
  }
  if (b.t !== undefined && (typeof b.t !== 'string' || b.t.length === 0)) throw new InvalidLogCursor('its token is malformed');
  if ((b.t === undefined || b.s === undefined) && skip !== offset) throw new InvalidLogCursor('its position is malformed');
  if (b.s === undefined && b.t !== undefined) throw new InvalidLogCursor('its token has no stream');
  return { offset: offset as number, skip: skip as number, ...(b.t !== undefined ? { token: b.t as string } : {}) };
}
