// Local mode: a step's log from the ECS stand-in's captured output. The stand-in keeps each
// container's stream as JSON lines under its logs directory, named like awslogs streams,
// so the same stream name finds the same lines here as in CloudWatch deployed.

import { LogStore } from '../../local/ecs/logs.js';
import type { LogReader, LogTailReader } from './log-stream.js';

export function localLogReader(logsDir: string, logGroupName: string): LogReader & LogTailReader {
  const store = new LogStore(logsDir);
  return {
    async tail(stream, limit) {
      return store
        .read(logGroupName, stream)
        .slice(-limit)
        .map((e) => ({ timestamp: e.timestamp, message: e.message }));
    },
    async read(stream, offset, limit) {
      return store
        .read(logGroupName, stream)
        .slice(offset, offset + limit)
        .map((e) => ({ timestamp: e.timestamp, message: e.message }));
    },
  };
}
