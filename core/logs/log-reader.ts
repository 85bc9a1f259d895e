// The LogReader port: what the API and the task-events handler need to read a step's log
// (a stream of the build log group, named by logStreamName in core/pipeline/log-configuration.ts).
// A read returns a page and the position to resume from, which may carry the log service's
// own token; `atEnd` says whether the stream held nothing more at the time, so a caller
// following a running step asks again from `next` until the step is over. Implemented by
// adapters/cloudwatch-logs/log-reader.ts (deployed) and local/log-reader.ts (the ECS
// stand-in's captured output). Pure types: core does no I/O.

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

/** How much one read may cost. */
export interface ReadOptions {
  /**
   * At most this many calls to the store (CloudWatch: GetLogEvents); the reader's own bound
   * otherwise. A read that stops at it says `atEnd: false` unless its one call showed the end.
   */
  maxCalls?: number;
}

/** Reads a stream of the build log group: up to `limit` events from a position. */
export interface LogReader {
  read(stream: string, from: LogPosition, limit: number, options?: ReadOptions): Promise<LogPage>;
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
