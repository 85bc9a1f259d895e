// DynamoDB Local's port under load: the JVM binds its port seconds after the port was
// picked, and under load another program may hold it by then. Before, the start returned
// as soon as anything answered on the port: an endpoint that was another program's, which
// refused every request (ECONNREFUSED) once that program went away.

import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { waitFor } from '../support/wait.js';
import { startDynamoDb } from '../../local/dynamodb.js';
import { listenerOwnedBy, servicePort } from '../../local/ports.js';

const listen = (server: Server, port = 0): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
const close = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

describe('ports of programs that bind their own', () => {
  it('servicePort picks outside the kernel ephemeral range, where port-0 servers and outgoing connections never land', async () => {
    const [low = 0, high = 0] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    for (let i = 0; i < 20; i += 1) {
      const port = await servicePort();
      expect(port < low || port > high, `port ${port} in ${low}-${high}`).toBe(true);
    }
  });

  it('listenerOwnedBy tells this process listener from another process on the same port', async () => {
    const server = createServer();
    const port = await listen(server);
    try {
      expect(await listenerOwnedBy(process.pid, port)).toBe(true);
      const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      try {
        expect(await listenerOwnedBy(other.pid!, port)).toBe(false);
      } finally {
        other.kill('SIGKILL');
      }
    } finally {
      await close(server);
    }
    expect(await listenerOwnedBy(process.pid, port)).toBe(false);
  });

  it('startDynamoDb is not fooled by another program listening on its port: it fails, saying so', async () => {
    const impostor = createServer((socket) => socket.destroy());
    const port = await listen(impostor, await servicePort());
    try {
      await expect(startDynamoDb({ port })).rejects.toThrow(/exited .* before listening on port \d+ \(another program holds that port\)/);
    } finally {
      await close(impostor);
    }
  });

  it('DynamoDB Local dying while in use (killed for memory, say) is said, with its pid and port; a stop is not', async () => {
    const said = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const db = await startDynamoDb();
      process.kill(-db.pid, 'SIGKILL');
      const line = await waitFor('the exit to be said', async () => said.mock.calls.map((c) => String(c[0])).find((l) => l.startsWith('local-dynamodb:')));
      expect(line).toMatch(new RegExp(`^local-dynamodb: DynamoDB Local \\(pid ${db.pid}, port ${db.port}\\) exited while in use \\(SIGKILL\\)`));
      await db.stop();
      said.mockClear();
      const other = await startDynamoDb();
      await other.stop();
      expect(said).not.toHaveBeenCalled();
    } finally {
      said.mockRestore();
    }
  });
});
