// The eventual-consistency proxy (local/dynamodb-eventual.ts) when DynamoDB Local drops a
// connection mid-answer (as it does when it is stopped, or under memory pressure): the
// replay on the lagging copy runs from a timer that nobody awaits, so a reset there must
// become a recorded replay error, not an unhandled rejection (vitest fails the whole run
// on one, and reports it against this file).

import { createServer, type Server, type Socket } from 'node:net';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startEventualProxy, STALE_SUFFIX, type EventualProxy } from '../../local/dynamodb-eventual.js';

/** A DynamoDB Local stand-in: answers writes on a table, resets each request on its lagging copy mid-answer. */
async function resettingUpstream(): Promise<{ port: number; resets: Promise<void>; copyWrites: () => number; close(): Promise<void> }> {
  let copyWrites = 0;
  let reset!: () => void;
  const resets = new Promise<void>((resolve) => (reset = resolve));
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const [head = '', body = ''] = text.split('\r\n\r\n');
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (Buffer.byteLength(body) < length) return;
      text = '';
      if (body.includes(STALE_SUFFIX) && copyWrites++ === 0) {
        // Headers and half a body, then a reset: the client sees ECONNRESET mid-response.
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 100\r\n\r\n{"Attri');
        socket.resetAndDestroy();
        reset();
        return;
      }
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 2\r\n\r\n{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    resets,
    copyWrites: () => copyWrites,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function putItem(port: number): Promise<number> {
  const body = JSON.stringify({ TableName: 'builds', Item: { pk: { S: 'a' } } });
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/', headers: { 'x-amz-target': 'DynamoDB_20120810.PutItem', 'content-type': 'application/x-amz-json-1.0' } },
      (res) => {
        res.resume();
        res.on('error', reject);
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('eventual proxy: DynamoDB Local resets a replay mid-answer', () => {
  let proxy: EventualProxy | undefined;
  let upstream: Awaited<ReturnType<typeof resettingUpstream>> | undefined;
  afterEach(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('records the timer-driven replay that was reset as a replay error, with no unhandled rejection, and replays the next writes', async () => {
    upstream = await resettingUpstream();
    const front = await startEventualProxy(upstream.port, { lagMs: 1 });
    proxy = front;
    expect(await putItem(front.port)).toBe(200);
    // The replay runs from the proxy's timer (no caller awaits it); the reset happens there.
    await upstream.resets;
    // The chain of replays survives it: a later write still reaches the copy.
    expect(await putItem(front.port)).toBe(200);
    await front.catchUp();
    expect(upstream.copyWrites()).toBe(2);
    expect(front.replayErrors).toHaveLength(1);
    expect(front.replayErrors[0]).toMatch(new RegExp(`^PutItem: not replayed on the lagging copy: DynamoDB Local on port ${upstream.port}: ECONNRESET`));
  });

  it('close() waits for a replay in flight, so DynamoDB Local is never stopped under one', async () => {
    upstream = await resettingUpstream();
    const front = await startEventualProxy(upstream.port, { lagMs: 1 });
    proxy = undefined;
    expect(await putItem(front.port)).toBe(200);
    await upstream.resets;
    await front.close();
    expect(front.replayErrors).toHaveLength(1);
  });
});
