// Deployed: a step's log from CloudWatch Logs (GetLogEvents on the container's stream of
// BUILD_LOG_GROUP). Offsets count events from the start of the stream; GetLogEvents pages
// by opaque tokens, so the reader walks forward from the head, skipping `offset` events.
// One call returns up to 10,000 events, which covers most step logs in a single round trip.
// `tail` reads the last events of a stream (the task-events handler's agent result line).

import { type CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { isNotFound } from '../../core/util/aws-errors.js';
import type { LogEventRecord, LogReader, LogTailReader } from './log-stream.js';

const PAGE = 10_000;

export function cloudWatchLogReader(client: CloudWatchLogsClient, logGroupName: string): LogReader & LogTailReader {
  return {
    // The last events in one call: GetLogEvents without startFromHead starts from the end.
    async tail(stream, limit) {
      let res;
      try {
        res = await client.send(new GetLogEventsCommand({ logGroupName, logStreamName: stream, startFromHead: false, limit }));
      } catch (err) {
        if (isNotFound(err)) return [];
        throw err;
      }
      return (res.events ?? []).map((event) => ({ timestamp: event.timestamp ?? 0, message: (event.message ?? '').replace(/\n$/, '') }));
    },
    async read(stream, offset, limit) {
      const out: LogEventRecord[] = [];
      let skipped = 0;
      let token: string | undefined;
      for (;;) {
        let res;
        try {
          res = await client.send(
            new GetLogEventsCommand({ logGroupName, logStreamName: stream, startFromHead: true, limit: PAGE, ...(token ? { nextToken: token } : {}) }),
          );
        } catch (err) {
          // The stream appears with the container's first line: until then the log is empty.
          if (isNotFound(err)) return [];
          throw err;
        }
        for (const event of res.events ?? []) {
          if (skipped < offset) {
            skipped++;
            continue;
          }
          out.push({ timestamp: event.timestamp ?? 0, message: (event.message ?? '').replace(/\n$/, '') });
          if (out.length >= limit) return out;
        }
        // The end of the stream: the same forward token comes back.
        if (!res.nextForwardToken || res.nextForwardToken === token || (res.events ?? []).length === 0) return out;
        token = res.nextForwardToken;
      }
    },
  };
}
