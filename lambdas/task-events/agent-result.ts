// The agent's SLIPWAY_RESULT line, read from the end of its log stream when its task has
// stopped, so the stage says what the agent said (core/builds/status.ts, stageOutcome).
// Deployed: CloudWatch Logs; local: the ECS stand-in's log store — the same readers the
// API uses (the LogReader port, core/logs/log-reader.ts: adapters/cloudwatch-logs/log-reader.ts, local/log-reader.ts). Bounded: a few short tries, then the generic text;
// a read that fails never fails the event.

import { lastAgentResult } from '../../core/builds/agent-result.js';
import { AGENT_CONTAINER } from '../../core/pipeline/contract.js';
import type { AgentResultSource } from '../shared/execution/deps.js';
import { withRetry } from '../../core/util/retry.js';
import { logStreamName } from '../../core/pipeline/log-configuration.js';
import type { LogTailReader } from '../../core/logs/log-reader.js';

export interface AgentResultOptions {
  /** Events read from the end of the agent's stream; the result is the last line it writes. */
  tailEvents?: number;
  /**
   * Delays before a further try when the line is not there yet: CloudWatch Logs may show
   * the last lines of a container a moment after ECS reports it stopped.
   */
  retryDelaysMs?: readonly number[];
  /** Time allowed for one read; past it, that try counts as failed. */
  readTimeoutMs?: number;
}

const DEFAULTS = { tailEvents: 50, retryDelaysMs: [300, 1000], readTimeoutMs: 2000 } as const;

export function agentResultSource(logs: LogTailReader, options: AgentResultOptions = {}): AgentResultSource {
  const tailEvents = options.tailEvents ?? DEFAULTS.tailEvents;
  const delays = options.retryDelaysMs ?? DEFAULTS.retryDelaysMs;
  const readTimeoutMs = options.readTimeoutMs ?? DEFAULTS.readTimeoutMs;
  return async (taskArn) => {
    const stream = logStreamName(AGENT_CONTAINER, taskArn);
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
          const result = lastAgentResult(events.map((e) => e.message));
          if (result) return { result };
          throw new NotYet(events.length === 0 ? `the agent's log stream ${stream} is empty or absent` : `no SLIPWAY_RESULT line in the last ${events.length} lines of ${stream}`);
        },
        { attempts: delays.length + 1, baseMs: 0, maxMs: 0, delayMs: (retry) => delays[retry - 1] ?? 0, retryable: (err) => err instanceof NotYet },
      );
    } catch (err) {
      if (err instanceof NotYet) return { missing: err.message };
      throw err;
    }
  };
}

/** The result line is not (yet) readable; the message says why. */
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
