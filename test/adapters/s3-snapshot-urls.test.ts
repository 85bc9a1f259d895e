// The S3 presigned URLs of workspace snapshots, signed offline with fixed credentials: what
// the URL carries decides what S3 lets the agent do with it.
import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { s3SnapshotUrls } from '../../adapters/s3/snapshot-urls.js';
import { SnapshotUrlError } from '../../core/builds/segment-run.js';
import { MAX_TIMEOUT_MINUTES } from '../../core/pipeline/lint.js';
import { SNAPSHOT_URL_MAX_CHARS } from '../../core/pipeline/override-budget.js';
import { snapshotKey } from '../../core/pipeline/segments.js';

const client = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token' } });
const urls = s3SnapshotUrls(client, 'slipway-snapshots');
const key = snapshotKey('b-42', 2, 1, 0);

describe('S3 snapshot URLs', () => {
  it('a PUT URL signs If-None-Match as a header, so S3 refuses to replace a snapshot and a PUT without it does not match the signature', async () => {
    const url = new URL(await urls.url(key, 'PUT', 3600));
    expect(url.hostname).toBe('slipway-snapshots.s3.eu-west-1.amazonaws.com');
    expect(url.pathname).toMatch(/^\/builds\/[0-9a-f]{32}\/2\/1-0\.tar\.zst$/);
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

  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html#PresignedUrl-Expiration:
  // a URL signed with temporary credentials stops working when they expire, whatever its own expiry.
  describe('a URL outlives the segment that uses it: presigned URL expiry with temporary credentials', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    const longest = MAX_TIMEOUT_MINUTES * 60 + 3600;

    it("refuses to sign with a role session that ends before the upload at the end of the longest pipeline timeout (a Lambda's own credentials)", async () => {
      const session = new S3Client({
        region: 'eu-west-1',
        credentials: { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 's', sessionToken: 't', expiration: new Date(now + 12 * 3600_000) },
      });
      const signer = s3SnapshotUrls(session, 'slipway-snapshots', () => now);
      await expect(signer.url(key, 'PUT', longest)).rejects.toThrow(SnapshotUrlError);
      await expect(signer.url(key, 'PUT', longest)).rejects.toThrow(/credentials signing it expire at 2030-01-01T12:00:00.000Z/);
      // Within the session: signed.
      expect(new URL(await signer.url(key, 'GET', 3600)).searchParams.get('X-Amz-Expires')).toBe('3600');
    });

    it("signs with an IAM user's keys (no expiry) for the longest pipeline timeout plus the upload's margin", async () => {
      const user = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 's' } });
      const url = new URL(await s3SnapshotUrls(user, 'slipway-snapshots', () => now).url(key, 'PUT', longest));
      expect(Number(url.searchParams.get('X-Amz-Expires'))).toBe(longest);
      expect(url.searchParams.has('X-Amz-Security-Token')).toBe(false);
      expect(url.toString().length).toBeLessThanOrEqual(SNAPSHOT_URL_MAX_CHARS);
    });

    it("refuses a URL longer than the room RunTask's overrides keep for it (a session token's URL)", async () => {
      const long = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 's', sessionToken: 'x'.repeat(900) } });
      await expect(s3SnapshotUrls(long, 'slipway-snapshots').url(key, 'GET', 60)).rejects.toThrow(/characters, more than the 1024/);
    });
  });
});
