// The S3 presigned URLs of workspace snapshots, signed offline with fixed credentials: what
// the URL carries decides what S3 lets the agent do with it.
import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { s3SnapshotUrls } from '../../adapters/s3/snapshot-urls.js';
import { snapshotKey } from '../../core/pipeline/segments.js';

const client = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token' } });
const urls = s3SnapshotUrls(client, 'slipway-snapshots');
const key = snapshotKey('b-42', 2, 1);

describe('S3 snapshot URLs', () => {
  it('a PUT URL signs If-None-Match as a header, so S3 refuses to replace a snapshot and a PUT without it does not match the signature', async () => {
    const url = new URL(await urls.url(key, 'PUT', 3600));
    expect(url.hostname).toBe('slipway-snapshots.s3.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe('/builds/b-42/2/1.tar.zst');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('3600');
    expect(url.searchParams.get('X-Amz-SignedHeaders')!.split(';')).toEqual(['host', 'if-none-match']);
    expect(url.searchParams.has('If-None-Match')).toBe(false);
    expect(url.searchParams.get('x-id')).toBe('PutObject');
  });

  it('a GET URL signs the host only', async () => {
    const url = new URL(await urls.url(key, 'GET', 600));
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host');
    expect(url.searchParams.get('x-id')).toBe('GetObject');
  });

  it('refuses an expiry SigV4 does not allow (over 7 days)', async () => {
    await expect(urls.url(key, 'GET', 604_801)).rejects.toThrow(/1 to 604800 seconds/);
    await expect(urls.url(key, 'GET', 0)).rejects.toThrow(/1 to 604800 seconds/);
  });
});
