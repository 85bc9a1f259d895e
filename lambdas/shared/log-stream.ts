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

/**
 * Where a read of a stream resumes. `offset` counts the events already returned from the
 * head of the stream; `token` (CloudWatch's nextForwardToken) stands `skip` events before
 * that point, so a read resumes from the token instead of walking the stream from its
 * head. Without a token, `skip` equals `offset`: the read starts at the head.
 */
export interface LogPosition {
  offset: number;
  token?: string;
  skip: number;
}

/** The position of line `offset` when nothing else is known: from the head. */
export const headPosition = (offset: number): LogPosition => ({ offset, skip: offset });

export interface LogPage {
  events: LogEventRecord[];
  next: LogPosition;
  /** The read reached the end of what the stream holds now; false: more may be there at once. */
  atEnd: boolean;
}

/** Reads a stream of the build log group: up to `limit` events from a position. */
export interface LogReader {
  read(stream: string, from: LogPosition, limit: number): Promise<LogPage>;
}

/** Reads the last `limit` events of a stream of the build log group, oldest first. */
export interface LogTailReader {
  tail(stream: string, limit: number): Promise<LogEventRecord[]>;
}

/** The log service refused reads for now (CloudWatch Logs' ThrottlingException) and nothing was read. */
export class LogsThrottledError extends Error {
  constructor(
    readonly stream: string,
    readonly retryAfterSeconds: number,
  ) {
    super(`CloudWatch Logs is throttling reads of ${stream} (GetLogEvents request quota); retry in ${retryAfterSeconds} s`);
    this.name = 'LogsThrottledError';
  }
}
