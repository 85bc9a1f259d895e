// The CloudWatch Logs reader of the API and the task-events handler, through the real
// @aws-sdk/client-cloudwatch-logs against the CloudWatch Logs stand-in (local/cloudwatch-logs),
// which pages as the API reference says AWS does:
// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { headPosition, LogsThrottledError, type LogPosition } from '../../core/logs/log-reader.js';
import { cloudWatchLogReader } from '../../adapters/cloudwatch-logs/log-reader.js';
import { logStoreSource, startLocalCloudWatchLogs, type LocalCloudWatchLogs } from '../../local/cloudwatch-logs/index.js';
import { LogStore } from '../../local/ecs/logs.js';

const GROUP = '/slipway/builds';
const T0 = Date.UTC(2030, 0, 15, 12);
const MIN = 60_000;
const fixture = JSON.parse(readFileSync(new URL('../fixtures/aws/logs-GetLogEvents.json', import.meta.url), 'utf8')) as {
  response: Record<string, unknown> & { events: Record<string, unknown>[] };
  throttling: { status: number; body: Record<string, unknown> };
};

let logs: LocalCloudWatchLogs;
let now = T0;
let streamNo = 0;
const clients: CloudWatchLogsClient[] = [];

function client(maxAttempts = 1): CloudWatchLogsClient {
  const c = new CloudWatchLogsClient({ endpoint: logs.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts });
  clients.push(c);
  return c;
}

/** A new stream with `lines` events, one per `stepMs` from `start`. */
function stream(lines: number, start = T0, stepMs = 10, prefix = 'line'): string {
  const name = `slipway/step/task${++streamNo}`;
  logs.put(GROUP, name, Array.from({ length: lines }, (_, i) => ({ timestamp: start + i * stepMs, message: `${prefix} ${i}` })));
  return name;
}

const calls = (name: string) => logs.requests.filter((r) => r.input.logStreamName === name);

beforeAll(async () => {
  // No request-rate limit here: the tests that throttle do it on demand.
  logs = await startLocalCloudWatchLogs({ scanWindowMs: 5 * MIN, requestsPerSecond: 0, now: () => now });
  logs.createGroup(GROUP);
});

afterEach(() => {
  now = T0;
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await logs?.stop();
});

describe('the CloudWatch Logs stand-in', () => {
  it("answers GetLogEvents in the shape of AWS's recorded response (aws logs get-log-events example)", async () => {
    const name = stream(3);
    const res = await client().send(new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: name, startFromHead: true }));
    const raw = { events: res.events, nextForwardToken: res.nextForwardToken, nextBackwardToken: res.nextBackwardToken };
    expect(Object.keys(raw).sort()).toEqual(Object.keys(fixture.response).sort());
    expect(Object.keys(raw.events![0]!).sort()).toEqual(Object.keys(fixture.response.events[0]!).sort());
    // Tokens as AWS writes them: a direction, a slash, 56 digits.
    for (const [token, recorded] of [[raw.nextForwardToken, fixture.response.nextForwardToken], [raw.nextBackwardToken, fixture.response.nextBackwardToken]] as const) {
      expect(token).toMatch(/^[fb]\/\d{56}$/);
      expect(token!.slice(0, 2)).toBe((recorded as string).slice(0, 2));
      expect(token!.length).toBe((recorded as string).length);
    }
  });

  it('throttles with the status and body AWS sends', async () => {
    logs.throttleNext(1);
    const res = await fetch(logs.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Logs_20140328.GetLogEvents' },
      body: JSON.stringify({ logGroupName: GROUP, logStreamName: stream(1) }),
    });
    expect(res.status).toBe(fixture.throttling.status);
    expect(await res.json()).toEqual(fixture.throttling.body);
  });

  it('returns the same forward token at the end of the stream, and an empty page with a new token before a pause ends', async () => {
    const name = `slipway/step/gap${++streamNo}`;
    logs.put(GROUP, name, [
      { timestamp: T0, message: 'before' },
      { timestamp: T0 + 12 * MIN, message: 'after' },
    ]);
    const c = client();
    const get = (nextToken?: string) => c.send(new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: name, startFromHead: true, ...(nextToken ? { nextToken } : {}) }));
    const p1 = await get();
    expect(p1.events!.map((e) => e.message)).toEqual(['before']);
    const p2 = await get(p1.nextForwardToken);
    expect(p2.events).toEqual([]);
    expect(p2.nextForwardToken).not.toBe(p1.nextForwardToken);
    const p3 = await get(p2.nextForwardToken);
    expect(p3.events!.map((e) => e.message)).toEqual(['after']);
    const end = await get(p3.nextForwardToken);
    expect(end.events).toEqual([]);
    expect(end.nextForwardToken).toBe(p3.nextForwardToken);
  });

  it('refuses a forward token without startFromHead, a limit over 10,000 and an unknown stream, as AWS does', async () => {
    const name = stream(2);
    const c = client();
    const first = await c.send(new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: name, startFromHead: true, limit: 1 }));
    await expect(c.send(new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: name, nextToken: first.nextForwardToken }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(c.send(new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: name, limit: 10_001 }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(c.send(new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: 'slipway/none/x' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('cuts a page at 1 MB', async () => {
    const name = `slipway/step/big${++streamNo}`;
    const big = 'x'.repeat(200_000);
    logs.put(GROUP, name, Array.from({ length: 12 }, (_, i) => ({ timestamp: T0 + i, message: big })));
    const res = await client().send(new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: name, startFromHead: true }));
    expect(res.events).toHaveLength(5);
  });
});

describe('the CloudWatch Logs stand-in over the ECS stand-in\'s captured output', () => {
  it('serves a container\'s lines as its awslogs stream', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-cwl-'));
    const store = new LogStore(dir);
    const served = await startLocalCloudWatchLogs({ source: logStoreSource(store), requestsPerSecond: 0 });
    const c = new CloudWatchLogsClient({ endpoint: served.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
    try {
      const writer = store.writer({ group: GROUP, stream: 'slipway/unit/t1', taskArn: 'arn:aws:ecs:us-east-1:0:task/slipway/t1', container: 'unit' });
      writer.write('stdout', 'one\ntwo\n');
      const page = await cloudWatchLogReader(c, GROUP).read('slipway/unit/t1', headPosition(0), 1000);
      expect(page.events.map((e) => e.message)).toEqual(['one', 'two']);
      expect(page.atEnd).toBe(true);
      await expect(c.send(new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: 'slipway/unit/none' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
      await expect(c.send(new GetLogEventsCommand({ logGroupName: '/other', logStreamName: 'slipway/unit/t1' }))).rejects.toThrow('The specified log group does not exist.');
    } finally {
      c.destroy();
      await served.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reading a step log from CloudWatch Logs', () => {
  it('reads on past an empty page: a pause in the output is not the end of the log', async () => {
    const name = `slipway/step/pause${++streamNo}`;
    logs.put(GROUP, name, [
      ...Array.from({ length: 3 }, (_, i) => ({ timestamp: T0 + i, message: `compiling ${i}` })),
      { timestamp: T0 + 12 * MIN, message: 'tests passed' },
    ]);
    const page = await cloudWatchLogReader(client(), GROUP).read(name, headPosition(0), 1000);
    expect(page.events.map((e) => e.message)).toEqual(['compiling 0', 'compiling 1', 'compiling 2', 'tests passed']);
    expect(page.atEnd).toBe(true);
    expect(page.next.offset).toBe(4);
  });

  it('resumes from its forward token: a poll of a long log costs the same as one of a short log', async () => {
    const name = stream(25_000);
    const reader = cloudWatchLogReader(client(), GROUP);
    let position: LogPosition = headPosition(0);
    let lines = 0;
    const perPoll: number[] = [];
    for (;;) {
      const before = calls(name).length;
      const page = await reader.read(name, position, 1000);
      perPoll.push(calls(name).length - before);
      expect(page.events[0]?.message ?? `line ${lines}`).toBe(`line ${lines}`);
      lines += page.events.length;
      position = page.next;
      if (page.atEnd) break;
    }
    expect(lines).toBe(25_000);
    // Every poll after the first starts from the token the previous one stopped at.
    expect(perPoll.every((n) => n <= 2)).toBe(true);
    expect(calls(name).slice(1).every((r) => typeof r.input.nextToken === 'string' && r.input.startFromHead === true)).toBe(true);

    // Nothing new: one call, the same token back, no lines.
    const before = calls(name).length;
    const idle = await reader.read(name, position, 1000);
    expect(idle).toMatchObject({ events: [], atEnd: true, next: { offset: 25_000 } });
    expect(calls(name).length - before).toBe(1);

    // New lines at the end of a 25,000-line log: read from the token, not the head.
    logs.put(GROUP, name, [{ timestamp: T0 + 250_000, message: 'done' }]);
    const tail = await reader.read(name, idle.next, 1000);
    expect(tail.events.map((e) => e.message)).toEqual(['done']);
    expect(tail.next.offset).toBe(25_001);
    expect(calls(name).slice(-2).every((r) => r.input.nextToken !== undefined)).toBe(true);
  });

  it('a head read of a short log costs two calls (the first sends no token, so it cannot see the end); one when the caller allows one', async () => {
    const name = stream(30);
    const reader = cloudWatchLogReader(client(), GROUP);
    const whole = await reader.read(name, headPosition(0), 1000);
    expect(whole.events).toHaveLength(30);
    expect(whole.atEnd).toBe(true);
    expect(calls(name)).toHaveLength(2);
    const one = await reader.read(name, headPosition(0), 1000, { maxCalls: 1 });
    expect(one.events.map((e) => e.message)).toEqual(whole.events.map((e) => e.message));
    // One call cannot tell the end: the caller reads the head again later, from the head.
    expect(one.atEnd).toBe(false);
    expect(calls(name)).toHaveLength(3);
    // The reader's own bound stays the upper one.
    await cloudWatchLogReader(client(), GROUP, { maxCalls: 1 }).read(name, headPosition(0), 1000, { maxCalls: 5 });
    expect(calls(name)).toHaveLength(4);
  });

  it('an offset without a token is skipped from the head, within the call budget, and resumes from where it got to', async () => {
    const name = stream(30_000);
    const reader = cloudWatchLogReader(client(), GROUP, { maxCalls: 2 });
    const first = await reader.read(name, headPosition(25_000), 1000);
    // Two pages of 10,000 skipped events; 5,000 still to skip from the token it reached.
    expect(first.events).toEqual([]);
    expect(first.next).toMatchObject({ offset: 25_000, skip: 5_000 });
    expect(first.next.token).toMatch(/^f\//);
    const second = await reader.read(name, first.next, 1000);
    expect(second.events[0]!.message).toBe('line 25000');
    expect(second.events).toHaveLength(1000);
  });

  it('stops calling once a read holds a page of bytes, so an API answer stays small', async () => {
    const name = `slipway/step/wide${++streamNo}`;
    const wide = 'y'.repeat(200_000);
    logs.put(GROUP, name, Array.from({ length: 12 }, (_, i) => ({ timestamp: T0 + i, message: `${i} ${wide}` })));
    const reader = cloudWatchLogReader(client(), GROUP);
    const first = await reader.read(name, headPosition(0), 1000);
    // Pages of at most 1 MB (five of these lines); the call that passes 1 MB is the last.
    expect(first.events).toHaveLength(10);
    expect(first.atEnd).toBe(false);
    expect(calls(name)).toHaveLength(2);
    const second = await reader.read(name, first.next, 1000);
    expect(second.events.map((e) => e.message.slice(0, 3))).toEqual(['10 ', '11 ']);
  });

  it('falls back to the offset when CloudWatch refuses the token (tokens expire after 24 hours)', async () => {
    const name = stream(10);
    const page = await cloudWatchLogReader(client(), GROUP).read(name, { offset: 7, skip: 0, token: 'f/expired' }, 1000);
    expect(page.events.map((e) => e.message)).toEqual(['line 7', 'line 8', 'line 9']);
  });

  it('a stream not created yet reads as empty, at its end', async () => {
    const page = await cloudWatchLogReader(client(), GROUP).read('slipway/step/not-yet', headPosition(0), 1000);
    expect(page).toEqual({ events: [], next: { offset: 0, skip: 0 }, atEnd: true });
  });

  it('rides out brief throttling through the SDK retries, and says so when throttled past them', async () => {
    const name = stream(5);
    logs.throttleNext(2);
    const ok = await cloudWatchLogReader(client(3), GROUP).read(name, headPosition(0), 1000);
    expect(ok.events).toHaveLength(5);
    expect(calls(name).filter((r) => r.error === 'ThrottlingException')).toHaveLength(2);

    logs.throttleNext(10);
    const refused = cloudWatchLogReader(client(1), GROUP).read(name, headPosition(0), 1000);
    await expect(refused).rejects.toBeInstanceOf(LogsThrottledError);
    await expect(refused).rejects.toThrow(/throttling reads of slipway\/step\/task\d+.*retry in 2 s/);
    logs.throttleNext(0);
  });

  it('keeps what it read when throttled part way', async () => {
    const name = stream(12_000);
    // The first page arrives; the next call is throttled.
    logs.throttleNext(1, { after: 1 });
    const partial = await cloudWatchLogReader(client(1), GROUP).read(name, headPosition(0), 11_000);
    expect(partial.events).toHaveLength(10_000);
    expect(partial.atEnd).toBe(false);
    expect(partial.next).toMatchObject({ offset: 10_000, skip: 0 });
    expect(calls(name).map((r) => r.error)).toEqual([undefined, 'ThrottlingException']);
  });
});

describe('the tail of a stream (the agent result line)', () => {
  it('pages backwards past an empty page to the last lines', async () => {
    const name = stream(5, T0, 10, 'agent');
    // The task stopped a while ago: the newest window of time holds no event.
    now = T0 + 8 * MIN;
    const events = await cloudWatchLogReader(client(), GROUP).tail(name, 3);
    expect(events.map((e) => e.message)).toEqual(['agent 2', 'agent 3', 'agent 4']);
  });

  it('stops at the head of a short stream', async () => {
    const name = stream(2, T0, 10, 'agent');
    now = T0 + 1000;
    const events = await cloudWatchLogReader(client(), GROUP).tail(name, 50);
    expect(events.map((e) => e.message)).toEqual(['agent 0', 'agent 1']);
    expect(calls(name).length).toBeLessThanOrEqual(2);
  });
});
