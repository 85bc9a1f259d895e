// Local mode's stand-in for the S3 bucket of workspace snapshots (task-runner/snapshot.ts):
// objects are files under a directory, reached through presigned URLs that this server
// signs and checks. As strict as S3 with the URLs the control plane signs:
// - a URL is good for its method and key until it expires (403 AccessDenied "Request has
//   expired", as S3 answers: https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html);
// - a PUT URL is signed with `If-None-Match: *` (S3 conditional writes:
//   https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html), so a PUT
//   without that header does not match its signature (403 SignatureDoesNotMatch) and one
//   onto an existing key is refused (412 PreconditionFailed): an object is never replaced;
// - a PUT needs Content-Length (411 MissingContentLength) and holds at most 5 GB
//   (400 EntityTooLarge: https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html);
// - a GET of a missing key is 403 AccessDenied, not 404: S3 answers 404 only to a requester
//   that may list the bucket, and the snapshot signer may not (it has s3:GetObject and
//   s3:PutObject under builds/ only, lib/snapshot-bucket.ts; "If you don't have the
//   s3:ListBucket permission, Amazon S3 returns an HTTP status code 403",
//   https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { SnapshotUrls } from '../core/builds/segment-run.js';

const MAX_PUT_BYTES = 5 * 1000 ** 3;

export type SnapshotMethod = 'GET' | 'PUT';

export interface SnapshotBucket {
  /** http://127.0.0.1:PORT */
  origin: string;
  dir: string;
  /** A URL good for `method` on `key` for `expiresInSeconds` (S3 presigned URLs: at most 7 days). */
  presign(key: string, method: SnapshotMethod, expiresInSeconds: number): string;
  close(): Promise<void>;
}

export class SnapshotBucketError extends Error {
  override readonly name = 'SnapshotBucketError';
}

/**
 * Listens on `host` (127.0.0.1 unless a task in another network namespace must reach it: then
 * every address, with URLs naming `advertisedHost`). Only signed URLs are answered.
 */
export async function startSnapshotBucket(dir: string, options: { host?: string; advertisedHost?: string; now?: () => number } = {}): Promise<SnapshotBucket> {
  const root = resolve(dir);
  await mkdir(root, { recursive: true });
  const secret = randomBytes(32);
  const now = options.now ?? (() => Date.now());
  const sign = (method: string, key: string, expires: string) => createHmac('sha256', secret).update(`${method}\n${key}\n${expires}`).digest('hex');

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => answer(res, 500, 'InternalError', (error as Error).message));
  });
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://bucket');
    const key = decodeURIComponent(url.pathname.slice(1));
    const expires = url.searchParams.get('X-Slipway-Expires') ?? '';
    const signature = url.searchParams.get('X-Slipway-Signature') ?? '';
    const method = req.method ?? '';
    const path = resolve(root, key);
    if (key === '' || !path.startsWith(root + sep)) return answer(res, 400, 'InvalidArgument', `bad key "${key}"`);
    const expected = Buffer.from(sign(method, key, expires), 'hex');
    const given = Buffer.from(/^[0-9a-f]{64}$/.test(signature) ? signature : '', 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return answer(res, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided');
    }
    if (!(Number(expires) * 1000 > now())) return answer(res, 403, 'AccessDenied', 'Request has expired');
    if (method === 'GET') {
      const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (!info?.isFile()) return answer(res, 403, 'AccessDenied', 'Access Denied');
      res.writeHead(200, { 'content-length': String(info.size), 'content-type': 'application/octet-stream' });
      await pipeline(createReadStream(path), res);
      return;
    }
    if (method !== 'PUT') return answer(res, 405, 'MethodNotAllowed', `${method} is not allowed`);
    // Signed with If-None-Match: * (the control plane's presign): without it the signature differs.
    if (req.headers['if-none-match'] !== '*') return answer(res, 403, 'SignatureDoesNotMatch', 'the URL was signed with If-None-Match: *');
    const length = req.headers['content-length'];
    if (length === undefined) return answer(res, 411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
    if (Number(length) > MAX_PUT_BYTES) return answer(res, 400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
    await mkdir(dirname(path), { recursive: true });
    const partial = `${path}.${randomBytes(6).toString('hex')}.partial`;
    try {
      await pipeline(req, createWriteStream(partial, { flags: 'wx' }));
      const written = (await stat(partial)).size;
      if (written !== Number(length)) return answer(res, 400, 'IncompleteBody', `got ${written} of ${length} bytes`);
      // link() fails when the key exists: create-if-absent, atomically.
      const created = await link(partial, path).then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          if (error.code === 'EEXIST') return false;
          throw error;
        },
      );
      if (!created) return answer(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
      res.writeHead(200, { etag: `"${written}"` }).end();
    } finally {
      await rm(partial, { force: true });
    }
  };

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, options.host ?? '127.0.0.1', () => ok());
  });
  const { address, port } = server.address() as AddressInfo;
  // Tasks in their own network namespace reach the host by name (local/ecs/sandbox.ts HOST_ALIAS).
  const origin = `http://${options.advertisedHost ?? address}:${port}`;
  return {
    origin,
    dir: root,
    presign(key, method, expiresInSeconds) {
      if (!(expiresInSeconds >= 1 && expiresInSeconds <= 604_800)) {
        throw new SnapshotBucketError(`presign: expiresIn must be 1 to 604800 seconds (S3's limit for a presigned URL), got ${expiresInSeconds}`);
      }
      const expires = String(Math.floor(now() / 1000) + expiresInSeconds);
      const encoded = key.split('/').map(encodeURIComponent).join('/');
      return `${origin}/${encoded}?X-Slipway-Expires=${expires}&X-Slipway-Signature=${sign(method, key, expires)}`;
    },
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}

function answer(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message.replace(/[<&]/g, '')}</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)) }).end(body);
}


/** The control plane's port (core/builds/segment-run.ts) over this bucket. */
export function localSnapshotUrls(bucket: Pick<SnapshotBucket, 'presign'>): SnapshotUrls {
  return { url: async (key, method, expiresInSeconds) => bucket.presign(key, method, expiresInSeconds) };
}
