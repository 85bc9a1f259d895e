// Host services that tasks use (the local image registry) listen on loopback only, so that
// nothing else that reaches this machine reaches them. A task in its own network namespace
// cannot reach the host's loopback: for as long as it runs, each such port is relayed from
// the task's host-side address (HOST_ALIAS in its /etc/hosts, sandbox.ts) to 127.0.0.1, as
// the metadata endpoint listens there (metadata.ts). Plain TCP: the service sees the bytes
// the task sent, and checks its own logins.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface HostRelays {
  close(): Promise<void>;
}

/** Relays `address:port` → `127.0.0.1:port` for each port; closing ends open connections too. */
export async function relayHostPorts(address: string, ports: readonly number[]): Promise<HostRelays> {
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  };
  try {
    for (const port of ports) {
      const server = createServer((inbound) => {
        const outbound = connect({ port, host: '127.0.0.1' });
        track(inbound);
        track(outbound);
        // Either side ending abruptly (a task killed mid-push) ends the other; never an unhandled error.
        inbound.on('error', () => outbound.destroy());
        outbound.on('error', () => inbound.destroy());
        inbound.pipe(outbound).pipe(inbound);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, address, () => {
          server.off('error', reject);
          resolve();
        });
      });
      // After listening (an accept failing for lack of file descriptors): said, not a crash of the whole stand-in.
      server.on('error', (error) => console.error(`local-ecs: the relay of host port ${port} for the task at ${address}: ${error.message}`));
      servers.push(server);
    }
  } catch (error) {
    await close();
    throw new Error(`local-ecs: cannot relay host port(s) ${ports.join(', ')} to the task at ${address}: ${(error as Error).message}`);
  }
  return { close };
}
