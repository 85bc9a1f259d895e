// Small network helpers shared by the local stand-ins.
import { createServer } from 'node:net';

/** A TCP port that was free a moment ago (for programs that cannot take port 0). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when something accepts TCP connections on host:port. */
export async function isListening(port: number, host = '127.0.0.1'): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Ports the kernel never hands out for port 0 or outgoing connections (Linux: ip_local_port_range). */
async function ephemeralRange(): Promise<{ low: number; high: number }> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '32768 60999'; // not Linux: IANA's dynamic range is what other systems use
    throw error;
  });
  const [low = 32768, high = 60999] = text.trim().split(/\s+/).map(Number);
  return { low, high };
}

/** Lowest port servicePort() picks from: above the well-known services local mode runs (5000, 5432, 6379, 8080). */
const SERVICE_PORTS_FROM = 20_000;

/**
 * A port, free a moment ago, for a program that binds it itself (DynamoDB Local, docker-registry),
 * taken outside the kernel's ephemeral range. A port from freePort() is in that range: in the
 * time such a program takes to start (DynamoDB Local's JVM: over 30 s on a loaded machine),
 * any server listening on port 0 or any outgoing connection may be given it, and the program
 * then fails to bind while probes of the port reach the other owner. Outside the range only
 * another explicit pick can collide; listenerOwnedBy() tells that apart.
 */
export async function servicePort(host = '127.0.0.1'): Promise<number> {
  const { low } = await ephemeralRange();
  if (low - SERVICE_PORTS_FROM < 1000) return freePort(host);
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const port = SERVICE_PORTS_FROM + Math.floor(Math.random() * (low - SERVICE_PORTS_FROM));
    if (await canBind(port, host)) return port;
  }
  return freePort(host);
}

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' || error.code === 'EACCES' ? resolve(false) : reject(error)));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * Whether process `pid` holds the socket listening on TCP `port` (read from /proc/net/tcp{,6}
 * and /proc/<pid>/fd). `undefined` where /proc cannot say (not Linux): then only isListening() is known.
 */
export async function listenerOwnedBy(pid: number, port: number): Promise<boolean | undefined> {
  const { readFile, readdir, readlink } = await import('node:fs/promises');
  const tables = await Promise.all(
    ['/proc/net/tcp', '/proc/net/tcp6'].map((path) =>
      readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      }),
    ),
  );
  if (tables.every((t) => t === undefined)) return undefined;
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const line of tables.flatMap((t) => (t ?? '').split('\n').slice(1))) {
    const fields = line.trim().split(/\s+/);
    // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the 10th field.
    if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '0A' && fields[9]) inodes.add(fields[9]);
  }
  if (inodes.size === 0) return false;
  const fds = await readdir(`/proc/${pid}/fd`).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return []; // the process is gone
    throw error;
  });
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return ''; // closed while we looked
      throw error;
    });
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode && inodes.has(inode)) return true;
  }
  return false;
}
