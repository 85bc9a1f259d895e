// The LogReader port (core/logs/log-reader.ts) in local mode without the CloudWatch Logs
// stand-in: a step's log from the ECS stand-in's captured output. The stand-in keeps each container's stream as JSON lines under its logs
// directory, named like awslogs streams, so the same stream name finds the same lines here
// as in CloudWatch deployed. Positions are plain offsets: the file is read whole.

import { LogStore } from './ecs/logs.js';
import type { LogReader, LogTailReader } from '../core/logs/log-reader.js';

export function localLogReader(logsDir: string, logGroupName: string): LogReader & LogTailReader {
  const store = new LogStore(logsDir);
  return {
    async tail(stream, limit) {
      return store
        .read(logGroupName, stream)
        .slice(-limit)
        .map((e) => ({ timestamp: e.timestamp, message: e.message }));
    },
    async read(stream, from, limit) {
      const all = store.read(logGroupName, stream);
      const events = all.slice(from.offset, from.offset + limit).map((e) => ({ timestamp: e.timestamp, message: e.message }));
      const offset = from.offset + events.length;
      return { events, next: { offset, skip: offset }, atEnd: offset >= all.length };
    },
  };
}
