// The host relay (local/ecs/host-relay.ts) when the host service resets a connection
// mid-answer while the task is still sending (a registry stopped during a push): the relay's
// write to the service fails (ECONNRESET), the task's side ends, and the relay raises no
// error of its own (vitest would report it against this file).

import { request } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { relayHostPorts } from '../../local/ecs/host-relay.js';

/** Another loopback address (all of 127.0.0.0/8 is local on Linux): the relay's side, as a task's host address. */
const TASK_SIDE = '127.0.0.2';

describe('host relay: the host service resets mid-answer', () => {
  it("ends the task's upload with the reset, and nothing goes unhandled", async () => {
    const sockets = new Set<Socket>();
    let resets = 0;
    const service: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n{"half":');
        resets += 1;
        socket.resetAndDestroy();
      });
    });
    await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
    const port = (service.address() as AddressInfo).port;
    const relays = await relayHostPorts(TASK_SIDE, [port]);
    try {
      for (let i = 0; i < 3; i += 1) {
        const outcome = await new Promise<string>((resolve) => {
          const body = Buffer.alloc(4 * 1024 * 1024, 1);
          const req = request({ host: TASK_SIDE, port, method: 'PUT', path: '/v2/acme/blobs/uploads/1', headers: { 'content-length': String(body.length) } }, (res) => {
            res.on('data', () => undefined);
            res.on('error', (error: NodeJS.ErrnoException) => resolve(`response: ${error.code ?? error.message}`));
            res.on('end', () => resolve('complete'));
          });
          req.on('error', (error: NodeJS.ErrnoException) => resolve(`request: ${error.code ?? error.message}`));
          req.end(body);
        });
        expect(outcome).toMatch(/^(response|request): (ECONNRESET|EPIPE|aborted|socket hang up)/);
      }
      expect(resets).toBe(3);
    } finally {
      await relays.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => service.close(() => resolve()));
    }
  });
});
