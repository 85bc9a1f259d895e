// Where a step's output is: the awslogs stream `<prefix>/<container>/<task id>` of the
// build log group. The prefix is the compiler's `awslogs-stream-prefix` (a test compiles
// a pipeline and checks that the two agree).

export const LOG_STREAM_PREFIX = 'slipway';

export function taskIdOf(taskArn: string): string {
  return taskArn.slice(taskArn.lastIndexOf('/') + 1);
}

export function logStreamName(container: string, taskArn: string): string {
  return `${LOG_STREAM_PREFIX}/${container}/${taskIdOf(taskArn)}`;
}

/** One line of a container's stream. */
export interface LogEventRecord {
  /** Epoch milliseconds. */
  timestamp: number;
  message: string;
}

/** Reads a stream of the build log group: up to `limit` events after the first `offset`. */
export interface LogReader {
  read(stream: string, offset: number, limit: number): Promise<LogEventRecord[]>;
}

/** Reads the last `limit` events of a stream of the build log group, oldest first. */
export interface LogTailReader {
  tail(stream: string, limit: number): Promise<LogEventRecord[]>;
}
