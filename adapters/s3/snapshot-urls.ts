// The snapshot bucket's presigned URLs (docs/design/split-pipelines.md): the control plane
// signs, per run, a GET URL of the previous segment's workspace snapshot and a PUT URL for
// the segment's own, so the agent needs no S3 rights (its task role would be every step's).
// The PUT is signed with `If-None-Match: *`: S3 then refuses (412) to replace an existing
// snapshot (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html),
// and a request without that header does not match the signature.
//
// A URL lives only as long as the credentials that signed it: one signed with temporary
// credentials (a role's session, such as a Lambda's) stops working when they expire, even if
// it was given a later expiry; one signed with an IAM user's keys and SigV4 may live up to
// 7 days (604800 s)
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html#PresignedUrl-Expiration).
// The PUT URL is used at the END of its segment, up to a whole pipeline timeout (24 hours)
// after it was signed, so the deployed autoscaler signs with the snapshot signer's long-term
// keys (lib/snapshot-bucket.ts), not its role's session. Signing with credentials that
// expire before the URL should is refused here, at start, rather than discovered at the
// upload hours later.

import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { SnapshotUrlError, type SnapshotUrls } from '../../core/builds/segment-run.js';
import { SNAPSHOT_URL_MAX_CHARS } from '../../core/pipeline/override-budget.js';

export const MAX_PRESIGN_SECONDS = 604_800;

export function s3SnapshotUrls(client: S3Client, bucket: string, now: () => number = Date.now): SnapshotUrls {
  return {
    async url(key, method, expiresInSeconds) {
      if (!(Number.isInteger(expiresInSeconds) && expiresInSeconds >= 1 && expiresInSeconds <= MAX_PRESIGN_SECONDS)) {
        throw new RangeError(`snapshot URL for ${key}: expiry must be 1 to ${MAX_PRESIGN_SECONDS} seconds (SigV4's limit), got ${expiresInSeconds}`);
      }
      const credentials = await client.config.credentials();
      const until = now() + expiresInSeconds * 1000;
      if (credentials.expiration && credentials.expiration.getTime() < until) {
        throw new SnapshotUrlError(
          `snapshot URL for ${key}: it must work until ${new Date(until).toISOString()} but the credentials signing it expire at ${credentials.expiration.toISOString()}, ` +
            'and S3 refuses a presigned URL once they have: sign with the snapshot signer\'s long-term keys (SNAPSHOT_SIGNER_SECRET_ARN)',
        );
      }
      const url =
        method === 'GET'
          ? await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: expiresInSeconds })
          : // The presigner signs If-None-Match as a header (X-Amz-SignedHeaders host;if-none-match,
            // test/adapters/s3-snapshot-urls.test.ts): the agent must send it and cannot leave it out.
            await getSignedUrl(client, new PutObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: '*' }), { expiresIn: expiresInSeconds });
      // The compiler kept this much room in RunTask's overrides for each URL.
      if (url.length > SNAPSHOT_URL_MAX_CHARS) {
        throw new SnapshotUrlError(`snapshot URL for ${key} is ${url.length} characters, more than the ${SNAPSHOT_URL_MAX_CHARS} RunTask's overrides keep for it (a bucket name or credentials with a session token make it longer)`);
      }
      return url;
    },
  };
}
