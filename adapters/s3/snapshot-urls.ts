// The snapshot bucket's presigned URLs (docs/design/split-pipelines.md): the control plane
// signs, per run, a GET URL of the previous segment's workspace snapshot and a PUT URL for
// the segment's own, so the agent needs no S3 rights (its task role would be every step's).
// The PUT is signed with `If-None-Match: *`: S3 then refuses (412) to replace an existing
// snapshot (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html),
// and a request without that header does not match the signature. A URL signed with a
// role's temporary credentials stops working when they expire, whatever its expiry says
// (https://repost.aws/knowledge-center/presigned-url-s3-bucket-expiration); SigV4 allows at
// most 7 days (604800 s).

import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { SnapshotUrls } from '../../core/builds/segment-run.js';

export const MAX_PRESIGN_SECONDS = 604_800;

export function s3SnapshotUrls(client: S3Client, bucket: string): SnapshotUrls {
  return {
    async url(key, method, expiresInSeconds) {
      if (!(Number.isInteger(expiresInSeconds) && expiresInSeconds >= 1 && expiresInSeconds <= MAX_PRESIGN_SECONDS)) {
        throw new RangeError(`snapshot URL for ${key}: expiry must be 1 to ${MAX_PRESIGN_SECONDS} seconds (SigV4's limit), got ${expiresInSeconds}`);
      }
      if (method === 'GET') return getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: expiresInSeconds });
      // The presigner signs If-None-Match as a header (X-Amz-SignedHeaders host;if-none-match,
      // test/adapters/s3-snapshot-urls.test.ts): the agent must send it and cannot leave it out.
      return getSignedUrl(client, new PutObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: '*' }), { expiresIn: expiresInSeconds });
    },
  };
}
