// The local CloudWatch Logs stand-in: an HTTP server speaking the AWS JSON 1.1 protocol
// (`X-Amz-Target: Logs_20140328.<Operation>`) that the real @aws-sdk/client-cloudwatch-logs
// talks to. It answers GetLogEvents as AWS does (get-log-events.ts): pages cut short or
// empty before the end, forward and backward tokens, the same token back at the end, at
// most 10,000 events and 1 MB a page; and it throttles like AWS (ThrottlingException
// "Rate exceeded") past a request rate, or on demand.

import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import type { LogStore } from '../ecs/logs.js';
import { LogsApiError, throttled } from './errors.js';
import { createAwsJsonServer } from '../aws-json.js';
import { getLogEvents, type LogSource, type StoredEvent } from './get-log-events.js';

export { type LogSource, type StoredEvent } from './get-log-events.js';

/**
 * GetLogEvents' quota: 25 requests per second per account and Region, not adjustable
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html;
 * older versions of that page said 10).
 */
export const GET_LOG_EVENTS_TPS = 25;

export interface LocalCloudWatchLogsOptions {
  port?: number;
  /** Where events come from (default: in memory, filled with `put`). */
  source?: LogSource;
  /** Event time one GetLogEvents page scans before it is cut (default 5 minutes). */
  scanWindowMs?: number;
  /** Requests per second before ThrottlingException (default 25, AWS's quota); 0: no limit. */
  requestsPerSecond?: number;
  now?: () => number;
}

export interface LogsRequest {
  operation: string;
  input: Record<string, unknown>;
  /** The error type when the call failed. */
  error?: string;
}

export interface LocalCloudWatchLogs {
  endpoint: string;
  port: number;
  /** Appends events to a stream of the in-memory source (creating group and stream). */
  put(group: string, stream: string, events: { timestamp: number; message: string }[]): void;
  /** Creates an empty log group (a stream that does not exist yet is then ResourceNotFound). */
  createGroup(group: string): void;
  /** The next `count` requests fail with ThrottlingException (after letting `after` through). */
  throttleNext(count: number, options?: { after?: number }): void;
  /** Every request so far, in order. */
  readonly requests: LogsRequest[];
  stop(): Promise<void>;
}

/** Streams kept in memory: the default source. */
export class MemoryLogSource implements LogSource {
  private readonly groups = new Map<string, Map<string, StoredEvent[]>>();

  hasGroup(group: string): boolean {
    return this.groups.has(group);
  }
  events(group: string, stream: string): readonly StoredEvent[] | undefined {
    return this.groups.get(group)?.get(stream);
  }
  createGroup(group: string): void {
    if (!this.groups.has(group)) this.groups.set(group, new Map());
  }
  put(group: string, stream: string, events: { timestamp: number; message: string }[], now = Date.now()): void {
    this.createGroup(group);
    const streams = this.groups.get(group)!;
    const list = streams.get(stream) ?? [];
    list.push(...events.map((e) => ({ ...e, ingestionTime: now })));
    // CloudWatch Logs returns a stream's events in timestamp order.
    list.sort((a, b) => a.timestamp - b.timestamp);
    streams.set(stream, list);
  }
}

/** The ECS stand-in's captured container output (local mode) as CloudWatch Logs streams. */
export function logStoreSource(store: LogStore): LogSource {
  return {
    hasGroup: (group) => existsSync(dirname(store.file(group, 'x'))),
    events: (group, stream) =>
      existsSync(store.file(group, stream))
        ? store.read(group, stream).map((e) => ({ timestamp: e.timestamp, message: e.message, ingestionTime: e.timestamp }))
        : undefined,
  };
}

const TARGET_PREFIX = 'Logs_20140328.';

export async function startLocalCloudWatchLogs(options: LocalCloudWatchLogsOptions = {}): Promise<LocalCloudWatchLogs> {
  const memory = new MemoryLogSource();
  const source = options.source ?? memory;
  const now = options.now ?? Date.now;
  const scanWindowMs = options.scanWindowMs ?? 5 * 60_000;
  const rate = options.requestsPerSecond ?? GET_LOG_EVENTS_TPS;
  const requests: LogsRequest[] = [];
  const recent: number[] = [];
  let throttleNext = 0;
  let throttleAfter = 0;

  const handle = (operation: string, input: Record<string, unknown>): Record<string, unknown> => {
    if (throttleNext > 0 && throttleAfter > 0) throttleAfter--;
    else if (throttleNext > 0) {
      throttleNext--;
      throw throttled();
    }
    if (rate > 0) {
      const t = Date.now();
      while (recent.length && recent[0]! <= t - 1000) recent.shift();
      if (recent.length >= rate) throw throttled();
      recent.push(t);
    }
    switch (operation) {
      case 'GetLogEvents':
        return getLogEvents(source, input, { scanWindowMs, now });
      default:
        throw new LogsApiError('UnknownOperationException', `The local CloudWatch Logs stand-in does not implement ${operation}`);
    }
  };

  const server = createAwsJsonServer({
    name: 'local-logs',
    targetPrefix: TARGET_PREFIX,
    notJsonType: 'InvalidParameterException',
    internalErrorType: 'ServiceUnavailableException',
    // Every call that names an operation is recorded, with the error it was answered.
    handle: (operation, input) => {
      const record: LogsRequest = { operation, input };
      requests.push(record);
      try {
        return handle(operation, input);
      } catch (error) {
        record.error = error instanceof LogsApiError ? error.type : 'ServiceUnavailableException';
        throw error;
      }
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    put: (group, stream, events) => {
      if (options.source) throw new Error('local-logs: put() writes the in-memory source; this stand-in reads another one');
      memory.put(group, stream, events, now());
    },
    createGroup: (group) => memory.createGroup(group),
    throttleNext: (count, opts = {}) => {
      throttleNext = count;
      throttleAfter = opts.after ?? 0;
    },
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
