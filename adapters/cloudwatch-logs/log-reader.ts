// The LogReader port (core/logs/log-reader.ts) on CloudWatch Logs, deployed: a step's log (GetLogEvents on the container's stream of
// BUILD_LOG_GROUP), paged the way the API reference says it must be
// (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html):
// - a page may be partly full or empty before the end: only the token tells. The end is
//   reached when the token that comes back is the one that was sent;
// - a read resumes from the forward token it stopped at (which needs startFromHead: true),
//   so a poll of a long log costs one call, not a walk from the head;
// - tokens expire after 24 hours: a refused token falls back to the offset, from the head;
// - every read makes a bounded number of calls (maxCalls, or the read's own, lower); the caller
//   polls again for the rest. A first call from the head sends no token, so it cannot tell the
//   end of a short log: a read that must cost one call says so (ReadOptions.maxCalls: 1);
// - ThrottlingException: the SDK's retries back off first (adaptive mode, the caller's client:
//   lambdas/shared/clients.ts);
//   past them a read returns what it has, or throws LogsThrottledError when it has nothing.
// `tail` reads the last events of a stream backwards, page after page, for the same reasons
// (the task-events handler's agent result line).

import { type CloudWatchLogsClient, GetLogEventsCommand, type GetLogEventsCommandOutput } from '@aws-sdk/client-cloudwatch-logs';
import { classifyAwsError, isNotFound } from '../../core/util/aws-errors.js';
import { type LogEventRecord, type LogPage, type LogPosition, type LogReader, type LogTailReader, LogsThrottledError } from '../../core/logs/log-reader.js';

/** GetLogEvents' largest `limit`. */
const PAGE_MAX = 10_000;

export interface CloudWatchReaderOptions {
  /** GetLogEvents calls one read or tail may make (default 4). */
  maxCalls?: number;
  /** Seconds a caller is told to wait when reads are throttled (default 2). */
  retryAfterSeconds?: number;
  /**
   * A read stops making calls once its lines hold this many bytes (default 1 MB, one
   * GetLogEvents page; a read then holds at most two pages), so an API answer stays far
   * below Lambda's 6 MB response limit.
   */
  maxBytes?: number;
}

const isThrottling = (err: unknown): boolean => classifyAwsError(err).kind === 'throttling';

function record(event: { timestamp?: number; message?: string }): LogEventRecord {
  return { timestamp: event.timestamp ?? 0, message: (event.message ?? '').replace(/\n$/, '') };
}

export function cloudWatchLogReader(client: CloudWatchLogsClient, logGroupName: string, options: CloudWatchReaderOptions = {}): LogReader & LogTailReader {
  const maxCalls = options.maxCalls ?? 4;
  const retryAfter = options.retryAfterSeconds ?? 2;
  const maxBytes = options.maxBytes ?? 1_048_576;

  return {
    async tail(stream, limit) {
      // Backwards from the end; the start of the stream is where the same token comes back.
      const out: LogEventRecord[] = [];
      let token: string | undefined;
      for (let call = 0; call < maxCalls && out.length < limit; call++) {
        let res: GetLogEventsCommandOutput;
        try {
          res = await client.send(
            new GetLogEventsCommand({ logGroupName, logStreamName: stream, startFromHead: false, limit: limit - out.length, ...(token ? { nextToken: token } : {}) }),
          );
        } catch (err) {
          if (isNotFound(err)) return out;
          if (isThrottling(err) && out.length > 0) return out;
          if (isThrottling(err)) throw new LogsThrottledError(stream, retryAfter);
          throw err;
        }
        out.unshift(...(res.events ?? []).map(record));
        if (!res.nextBackwardToken || res.nextBackwardToken === token) break;
        token = res.nextBackwardToken;
      }
      return out.slice(-limit);
    },

    async read(stream, from, limit, readOptions = {}): Promise<LogPage> {
      const calls = Math.min(maxCalls, Math.max(1, readOptions.maxCalls ?? maxCalls));
      const events: LogEventRecord[] = [];
      let position: LogPosition = { ...from };
      let atEnd = false;
      let bytes = 0;
      for (let call = 0; call < calls && events.length < limit && bytes < maxBytes; call++) {
        const want = Math.min(PAGE_MAX, position.skip + (limit - events.length));
        let res: GetLogEventsCommandOutput;
        try {
          res = await client.send(
            new GetLogEventsCommand({
              logGroupName,
              logStreamName: stream,
              startFromHead: true,
              limit: want,
              ...(position.token ? { nextToken: position.token } : {}),
            }),
          );
        } catch (err) {
          // The stream appears with the container's first line: until then the log is empty.
          if (isNotFound(err)) {
            atEnd = true;
            break;
          }
          if (isThrottling(err)) {
            if (events.length > 0 || call > 0) break;
            throw new LogsThrottledError(stream, retryAfter);
          }
          // An expired (24 h) or foreign token: start again from the head at the same offset.
          if (classifyAwsError(err).name === 'InvalidParameterException' && position.token !== undefined && position.token === from.token) {
            position = { offset: position.offset, skip: position.offset };
            continue;
          }
          throw err;
        }
        const page = res.events ?? [];
        const dropped = Math.min(position.skip, page.length);
        const kept = page.slice(dropped).map(record);
        events.push(...kept);
        for (const e of kept) bytes += Buffer.byteLength(e.message, 'utf8');
        const sent = position.token;
        position = { offset: position.offset + kept.length, skip: position.skip - dropped, ...(res.nextForwardToken ? { token: res.nextForwardToken } : sent ? { token: sent } : {}) };
        // The end of what the stream holds now: the token sent comes back.
        if (sent !== undefined && res.nextForwardToken === sent) {
          atEnd = true;
          break;
        }
        if (!res.nextForwardToken) throw new Error(`logs: GetLogEvents on ${logGroupName} ${stream} returned no nextForwardToken (the API reference says it never is null)`);
      }
      return { events, next: position, atEnd };
    },
  };
}
