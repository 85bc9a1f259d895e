// Eventually consistent reads in front of DynamoDB Local, which always answers with the
// latest data. On AWS, GetItem, Query, Scan and BatchGetItem are eventually consistent
// unless the request sets ConsistentRead, and a read from a global secondary index is
// always eventually consistent ("the responses may not reflect the results of a recently
// completed write operation"): https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html
//
// How: every table has a lagging copy (`<name>--stale`, hidden from ListTables). Writes go
// to the table at once and are replayed on the copy, in the same order, `lagMs` later.
// Reads without ConsistentRead — and every index read — are answered from the copy, so
// they see the table as it was up to `lagMs` ago: stale, deterministically, for that long.
// Reads with ConsistentRead on a table, TransactGetItems, and every write see the latest.

import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const TARGET_PREFIX = 'DynamoDB_20120810.';
export const STALE_SUFFIX = '--stale';

const EVENTUAL_READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem']);
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);
/** Table-level changes the copy must follow at once (its indexes, its existence). */
const MIRRORED_ADMIN = new Set(['CreateTable', 'DeleteTable', 'UpdateTable', 'UpdateTimeToLive']);

export interface EventualConsistencyOptions {
  /** How far (ms) eventually consistent reads lag behind writes. */
  lagMs: number;
}

export interface EventualProxy {
  port: number;
  /** Applies every write still waiting to reach the lagging copy (reads are then up to date). */
  catchUp(): Promise<void>;
  /** Replays the copy refused (should stay empty: the copy sees the same writes in the same order). */
  readonly replayErrors: string[];
  close(): Promise<void>;
}

interface Upstream {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

type Json = Record<string, unknown>;

function send(port: number, headers: IncomingHttpHeaders, body: Buffer): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    const out = { ...headers, host: `127.0.0.1:${port}`, 'content-length': String(body.length) };
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: out }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 500, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const stale = (name: string): string => `${name}${STALE_SUFFIX}`;
const fresh = (name: string): string => (name.endsWith(STALE_SUFFIX) ? name.slice(0, -STALE_SUFFIX.length) : name);

/** The request with every table name it names turned into its copy's. */
function onCopy(op: string, input: Json): Json {
  const out: Json = structuredClone(input);
  if (typeof out.TableName === 'string') out.TableName = stale(out.TableName);
  if ((op === 'BatchGetItem' || op === 'BatchWriteItem') && out.RequestItems && typeof out.RequestItems === 'object') {
    out.RequestItems = Object.fromEntries(Object.entries(out.RequestItems as Json).map(([t, v]) => [stale(t), v]));
  }
  // The SDK gives every transaction an idempotency token: the copy's replay is another request.
  delete out.ClientRequestToken;
  if (op === 'TransactWriteItems' && Array.isArray(out.TransactItems)) {
    for (const item of out.TransactItems as Json[]) {
      for (const action of Object.values(item) as Json[]) {
        if (action && typeof action.TableName === 'string') action.TableName = stale(action.TableName);
      }
    }
  }
  return out;
}

/** An answer from the copy, named as the table the caller asked for. */
function fromCopy(output: Json): Json {
  const out: Json = { ...output };
  for (const field of ['Responses', 'UnprocessedKeys']) {
    if (out[field] && typeof out[field] === 'object') {
      out[field] = Object.fromEntries(Object.entries(out[field] as Json).map(([t, v]) => [fresh(t), v]));
    }
  }
  const capacity = out.ConsumedCapacity;
  const rename = (c: Json) => (typeof c.TableName === 'string' ? { ...c, TableName: fresh(c.TableName) } : c);
  if (Array.isArray(capacity)) out.ConsumedCapacity = (capacity as Json[]).map(rename);
  else if (capacity && typeof capacity === 'object') out.ConsumedCapacity = rename(capacity as Json);
  return out;
}

function parseJson(raw: Buffer): Json | undefined {
  if (raw.length === 0) return {};
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'));
    return value && typeof value === 'object' ? (value as Json) : undefined;
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

function isEventualRead(op: string, input: Json): boolean {
  if (!EVENTUAL_READS.has(op)) return false;
  if (op === 'BatchGetItem') {
    // One table's ConsistentRead applies to that table; a batch mixing both is served by
    // the copy only when no table asked for consistency (Slipway never mixes).
    const tables = Object.values((input.RequestItems ?? {}) as Record<string, Json>);
    return !tables.some((t) => t.ConsistentRead === true);
  }
  // An index read is eventually consistent whatever the request says (DynamoDB refuses
  // ConsistentRead on a global secondary index: DynamoDB Local says so itself).
  if (input.IndexName !== undefined && input.ConsistentRead !== true) return true;
  return input.ConsistentRead !== true;
}

export async function startEventualProxy(upstreamPort: number, options: EventualConsistencyOptions, listenPort = 0): Promise<EventualProxy> {
  const replayErrors: string[] = [];
  const pending: { due: number; headers: IncomingHttpHeaders; op: string; input: Json }[] = [];
  let replaying: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  // One write at a time, so the copy replays them in the order the table applied them.
  let writeChain: Promise<unknown> = Promise.resolve();

  let closed = false;
  // A replay that cannot reach DynamoDB Local (it reset the connection, or it is being
  // stopped) is a replay error like a refused one: recorded, never a rejection that nobody
  // awaits (the timer's drain has no caller), and the next replays still run.
  const replayOne = async (entry: (typeof pending)[number]): Promise<void> => {
    const body = Buffer.from(JSON.stringify(onCopy(entry.op, entry.input)));
    const res = await send(upstreamPort, entry.headers, body).catch((error: NodeJS.ErrnoException): Upstream | undefined => {
      replayErrors.push(`${entry.op}: not replayed on the lagging copy: DynamoDB Local on port ${upstreamPort}: ${error.code ?? error.message}`);
      return undefined;
    });
    if (res && res.status !== 200) replayErrors.push(`${entry.op}: ${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
  };
  const drain = (all: boolean): Promise<void> => {
    replaying = replaying.then(async () => {
      while (!closed && pending.length > 0 && (all || pending[0]!.due <= Date.now())) await replayOne(pending.shift()!);
      schedule();
    });
    return replaying;
  };
  const schedule = (): void => {
    clearTimeout(timer);
    if (closed || pending.length === 0) return;
    timer = setTimeout(() => void drain(false), Math.max(0, pending[0]!.due - Date.now()));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const op = String(req.headers['x-amz-target'] ?? '').replace(TARGET_PREFIX, '');
    const headers = { ...req.headers };
    delete headers['content-length'];
    const input = parseJson(raw);
    let answer: Upstream;
    if (input === undefined) {
      // Not JSON: DynamoDB Local answers it with its own error.
      answer = await send(upstreamPort, headers, raw);
    } else if (isEventualRead(op, input)) {
      const copyInput = onCopy(op, input);
      answer = await send(upstreamPort, headers, Buffer.from(JSON.stringify(copyInput)));
      if (answer.status === 200) answer = { ...answer, body: Buffer.from(JSON.stringify(fromCopy(JSON.parse(answer.body.toString('utf8')) as Json))) };
      else answer = { ...answer, body: Buffer.from(answer.body.toString('utf8').split(STALE_SUFFIX).join('')) };
    } else if (WRITES.has(op)) {
      const result = writeChain.then(() => send(upstreamPort, headers, raw));
      writeChain = result.catch(() => undefined);
      answer = await result;
      if (answer.status === 200) {
        pending.push({ due: Date.now() + options.lagMs, headers, op, input });
        if (pending.length === 1) schedule();
      }
    } else {
      answer = await send(upstreamPort, headers, raw);
      if (answer.status === 200 && MIRRORED_ADMIN.has(op)) {
        // The copy follows at once (after the writes already queued for it).
        await drain(true);
        const copy = await send(upstreamPort, headers, Buffer.from(JSON.stringify(onCopy(op, input))));
        if (copy.status !== 200) replayErrors.push(`${op}: ${copy.status} ${copy.body.toString('utf8').slice(0, 300)}`);
      }
      if (answer.status === 200 && op === 'ListTables') {
        const out = JSON.parse(answer.body.toString('utf8')) as { TableNames?: string[] };
        out.TableNames = (out.TableNames ?? []).filter((t) => !t.endsWith(STALE_SUFFIX));
        answer = { ...answer, body: Buffer.from(JSON.stringify(out)) };
      }
    }
    const outHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(answer.headers)) {
      // The body may have been rewritten: its length and checksum are recomputed by Node / dropped.
      if (v === undefined || k === 'content-length' || k === 'x-amz-crc32' || k === 'transfer-encoding' || k === 'connection') continue;
      outHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    res.writeHead(answer.status, outHeaders);
    res.end(answer.body);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: NodeJS.ErrnoException) => {
      // The caller went away mid-answer: nothing is left to tell it.
      if (res.headersSent || res.destroyed) return void res.destroy();
      res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: `local-dynamodb proxy: ${err.message}` }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    catchUp: () => drain(true),
    replayErrors,
    close: async () => {
      // No replay may be in flight once this returns: the caller stops DynamoDB Local next,
      // and a request it is answering would end in a reset (socket hang up).
      closed = true;
      clearTimeout(timer);
      await replaying;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
