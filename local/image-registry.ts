// The local image registry: Debian's `docker-registry` (the CNCF distribution registry,
// OCI Distribution API), started by local mode so that image build steps have somewhere to
// push (local/image-builder.sh) and anything that reads images (adapters/registry) can read
// them back. Plain HTTP on 127.0.0.1 only: tasks in their own network namespace reach it
// through the ECS stand-in's relay on their host-side address (LocalEcsOptions.hostPorts),
// nothing else that reaches this machine does. Optionally with htpasswd logins (bcrypt
// hashes), so a push without credentials is refused as a real registry refuses it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isListening, listenerOwnedBy, servicePort, sleep } from './ports.js';
import { findBinary } from './require-binary.js';

export interface ImageRegistryOptions {
  /** Where its configuration and storage go. */
  dir: string;
  /** This port, or fail. Default: a free port. */
  port?: number;
  /** This port while it is free, else a free one (`port` wins). */
  preferredPort?: number;
  /** `user:bcrypt-hash` lines: pushes and pulls then need a login. */
  htpasswd?: string;
  /** How long to wait for it to listen (a hang guard, not a deadline): default 20 s. */
  startTimeoutMs?: number;
}

export interface ImageRegistry {
  /** `127.0.0.1:PORT`, as image names write it. */
  host: string;
  port: number;
  url: string;
  stop(): Promise<void>;
}

export class ImageRegistryError extends Error {
  override name = 'ImageRegistryError';
}

/** Where Debian installs it. */
export function imageRegistryBinary(): string | undefined {
  return findBinary('docker-registry', ['/usr/bin']);
}

export async function startImageRegistry(options: ImageRegistryOptions): Promise<ImageRegistry> {
  const binary = imageRegistryBinary();
  if (!binary) throw new ImageRegistryError('local image registry: docker-registry is not installed (apt-get install docker-registry, or npm run setup)');
  // A port free when looked at can be taken before the registry binds it: by another program
  // that picks ports itself (servicePort), or by another local mode that also wanted the
  // preferred port. The registry then exits (address already in use) and starts again on
  // another port. A port the caller chose is not ours to change.
  for (let attempt = 1; ; attempt += 1) {
    const wanted = options.port ?? (attempt === 1 ? options.preferredPort : undefined);
    // Outside the ephemeral range: no port-0 server can be given it while the registry starts (ports.ts).
    const started = await launch(binary, options, wanted ?? (await servicePort()));
    if ('stop' in started) return started;
    if (!started.portTaken || options.port !== undefined || attempt === 3) throw new ImageRegistryError(started.error);
  }
}

/** docker-registry on `port`, once it is the one listening there; or why not, and whether another program had the port. */
async function launch(binary: string, options: ImageRegistryOptions, port: number): Promise<ImageRegistry | { error: string; portTaken: boolean }> {
  mkdirSync(join(options.dir, 'storage'), { recursive: true });
  const auth = options.htpasswd ? join(options.dir, 'htpasswd') : undefined;
  if (auth) writeFileSync(auth, `${options.htpasswd!.trim()}\n`, { mode: 0o600 });
  const config = join(options.dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${JSON.stringify(join(options.dir, 'storage'))}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      ...(auth ? ['auth:', '  htpasswd:', '    realm: slipway-local', `    path: ${JSON.stringify(auth)}`] : []),
      '',
    ].join('\n'),
  );
  const output: string[] = [];
  const child: ChildProcess = spawn(binary, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 50) output.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });
  const limit = options.startTimeoutMs ?? 20_000;
  const started = Date.now();
  // The registry's own listener, not another program's on the same port (it then exits: bind: address already in use).
  const ours = async (): Promise<boolean> => (await isListening(port)) && (await listenerOwnedBy(child.pid!, port)) !== false;
  while (!(await ours())) {
    if (exited !== undefined) {
      const said = output.join('').trim();
      const portTaken = /address already in use/i.test(said);
      return { error: `local image registry: docker-registry did not listen on 127.0.0.1:${port} (it exited with ${exited}${portTaken ? ': another program holds that port' : ''}): ${said.slice(-500)}`, portTaken };
    }
    if (Date.now() - started > limit) {
      child.kill('SIGKILL');
      throw new ImageRegistryError(`local image registry: docker-registry did not listen on 127.0.0.1:${port} (not within ${limit} ms): ${output.join('').trim().slice(-500)}`);
    }
    await sleep(50);
  }
  const host = `127.0.0.1:${port}`;
  return {
    host,
    port,
    url: `http://${host}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited !== undefined) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
