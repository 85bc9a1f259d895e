// The deployed autoscaler signs snapshot URLs with the snapshot signer's long-term keys
// (lambdas/autoscaler/snapshot-signer.ts, lib/snapshot-bucket.ts), never with its own role
// session: a presigned URL stops working when the credentials that signed it expire
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html#PresignedUrl-Expiration),
// and a segment's PUT URL is used when the segment ends, up to 24 hours later.
import { describe, expect, it } from 'vitest';
import { ENV } from '../../core/config/lambda-env.js';
import { snapshotKey } from '../../core/pipeline/segments.js';
import { snapshotUrlsFromEnv } from '../../lambdas/autoscaler/handler.js';
import { parseSignerKeys } from '../../lambdas/autoscaler/snapshot-signer.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:signer';
const env = { [ENV.snapshotBucket]: 'slipway-snapshots', [ENV.snapshotSignerSecretArn]: ARN, [ENV.awsRegion]: 'eu-west-1' };

/** A Secrets Manager stand-in holding `values[0]`, then the next value after each rotate(). */
function secrets(...values: string[]) {
  let i = 0;
  const asked: string[] = [];
  return {
    asked,
    rotate: () => void (i += 1),
    provider: () => ({ get: async (name: string) => (asked.push(name), values[i]) }) as never,
  };
}

const keys = (id: string) => JSON.stringify({ accessKeyId: id, secretAccessKey: `secret-of-${id}` });

describe("the autoscaler's snapshot URLs when deployed", () => {
  it("signs with the signer's access key (no session token), for the whole of the longest pipeline timeout", async () => {
    const store = secrets(keys('AKIASIGNER1'));
    const urls = snapshotUrlsFromEnv(env, store.provider)!;
    const url = new URL(await urls.url(snapshotKey('acme/app#1', 1, 1, 0), 'PUT', 24 * 3600 + 3600));
    expect(url.hostname).toBe('slipway-snapshots.s3.eu-west-1.amazonaws.com');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^AKIASIGNER1\//);
    expect(url.searchParams.has('X-Amz-Security-Token')).toBe(false);
    expect(url.searchParams.get('X-Amz-Expires')).toBe(String(25 * 3600));
    expect(store.asked).toEqual([ARN]);
  });

  it('a rotated key signs the next URL', async () => {
    const store = secrets(keys('AKIASIGNER1'), keys('AKIASIGNER2'));
    const urls = snapshotUrlsFromEnv(env, store.provider)!;
    expect(new URL(await urls.url(snapshotKey('a/b#1', 1, 1, 0), 'GET', 60)).searchParams.get('X-Amz-Credential')).toMatch(/^AKIASIGNER1\//);
    store.rotate();
    expect(new URL(await urls.url(snapshotKey('a/b#1', 1, 1, 0), 'GET', 60)).searchParams.get('X-Amz-Credential')).toMatch(/^AKIASIGNER2\//);
  });

  it('has no snapshot URLs without a bucket, and names the missing secret when there is one', () => {
    expect(snapshotUrlsFromEnv({}, secrets().provider)).toBeUndefined();
    expect(() => snapshotUrlsFromEnv({ [ENV.snapshotBucket]: 'b' }, secrets().provider)).toThrow(/SNAPSHOT_SIGNER_SECRET_ARN/);
  });

  it('refuses a secret that is not the key JSON, saying what it must hold', () => {
    expect(() => parseSignerKeys('{"accessKeyId":"AKIA"}', ARN)).toThrow(/must be \{"accessKeyId":"…","secretAccessKey":"…"\}/);
    expect(() => parseSignerKeys('not json', ARN)).toThrow(/is not JSON/);
    expect(parseSignerKeys(keys('AKIA1'), ARN)).toEqual({ accessKeyId: 'AKIA1', secretAccessKey: 'secret-of-AKIA1' });
  });
});
