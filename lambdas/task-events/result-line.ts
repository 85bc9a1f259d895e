// A report line a task's container writes last (the agent's SLIPWAY_RESULT, the SOCI
// converter's SLIPWAY_SOCI), read from the end of its log stream once its task has stopped.
// CloudWatch Logs may show a container's last lines a moment after ECS reports it stopped, so a
// line not there yet is read again after a few short delays; a read that fails or hangs counts
// as a try. Deployed: CloudWatch Logs; local: the ECS stand-in's log store (the LogTailReader
// port, core/logs/log-reader.ts).

import type { LogTailReader } from '../../core/logs/log-reader.js';
import { withRetry } from '../../core/util/retry.js';

export interface ResultLineOptions {
  /** Events read from the end of the stream; the report is the last line its container writes. */
  tailEvents?: number;
  /** Delays before a further try when the line is not there yet. */
  retryDelaysMs?: readonly number[];
  /** Time allowed for one read; past it, that try counts as failed. */
  readTimeoutMs?: number;
}

export const RESULT_LINE_DEFAULTS = { tailEvents: 50, retryDelaysMs: [300, 1000], readTimeoutMs: 2000 } as const;

/**
 * The report `find` reads in the last lines of `stream`, or why it is missing after every try
 * (`lines`: those read last, for a message). `what` names the line and the stream in that message.
 */
export async function readResultLine<T>(
  logs: LogTailReader,
  stream: string,
  find: (lines: readonly string[]) => T | undefined,
  what: { line: string; stream: string },
  options: ResultLineOptions = {},
): Promise<{ result: T; lines: string[] } | { missing: string; lines: string[] }> {
  const tailEvents = options.tailEvents ?? RESULT_LINE_DEFAULTS.tailEvents;
  const delays = options.retryDelaysMs ?? RESULT_LINE_DEFAULTS.retryDelaysMs;
  const readTimeoutMs = options.readTimeoutMs ?? RESULT_LINE_DEFAULTS.readTimeoutMs;
  let lines: string[] = [];
  // A missing line is an error here only so that withRetry reads again after the next delay.
  try {
    return await withRetry(
      async () => {
        let events: Awaited<ReturnType<LogTailReader['tail']>>;
        try {
          events = await withTimeout(logs.tail(stream, tailEvents), readTimeoutMs, `reading ${stream} took over ${readTimeoutMs} ms`);
        } catch (err) {
          throw new NotYet(`reading ${stream} failed: ${(err as Error).message}`);
        }
        lines = events.map((e) => e.message);
        const result = find(lines);
        if (result !== undefined) return { result, lines };
        throw new NotYet(events.length === 0 ? `${what.stream} ${stream} is empty or absent` : `no ${what.line} line in the last ${events.length} lines of ${stream}`);
      },
      { attempts: delays.length + 1, baseMs: 0, maxMs: 0, delayMs: (retry) => delays[retry - 1] ?? 0, retryable: (err) => err instanceof NotYet },
    );
  } catch (err) {
    if (err instanceof NotYet) return { missing: err.message, lines };
    throw err;
  }
}

/** The line is not (yet) readable; the message says why. */
class NotYet extends Error {
  override readonly name = 'NotYet';
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
