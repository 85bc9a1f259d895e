// The snapshot signer's access key (lib/snapshot-bucket.ts): long-term keys of an IAM user
// that may only read and write workspace snapshots, kept in Secrets Manager for the
// autoscaler alone. Why not the autoscaler's role: a presigned URL stops working when the
// session that signed it ends, and a segment's PUT URL is used at its end, up to the
// pipeline's timeout (24 hours) later; a Lambda's credentials are a role session, and a
// role assumed from it is limited to one hour by role chaining
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html, DurationSeconds).
// An IAM user's keys sign URLs valid up to 7 days
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html#PresignedUrl-Expiration).

import type { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { MAX_AGE_SECONDS, secretText, secretsManagerSecrets } from '../shared/parameters.js';

export interface SignerKeys {
  accessKeyId: string;
  secretAccessKey: string;
}

/** The signer's keys from its secret's JSON; an error naming what is missing otherwise. */
export function parseSignerKeys(text: string, arn: string): SignerKeys {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`config: the snapshot signer secret (${arn}) is not JSON: ${(err as Error).message}`);
  }
  const { accessKeyId, secretAccessKey } = (value ?? {}) as Partial<Record<keyof SignerKeys, unknown>>;
  if (typeof accessKeyId !== 'string' || accessKeyId === '' || typeof secretAccessKey !== 'string' || secretAccessKey === '') {
    throw new Error(`config: the snapshot signer secret (${arn}) must be {"accessKeyId":"…","secretAccessKey":"…"}`);
  }
  return { accessKeyId, secretAccessKey };
}

/** The keys, read again after MAX_AGE_SECONDS.snapshotSigner: a rotated key signs within 5 minutes. */
export async function snapshotSignerKeys(arn: string, secrets: () => Pick<SecretsProvider, 'get'> = secretsManagerSecrets): Promise<SignerKeys> {
  return parseSignerKeys(await secretText(secrets(), arn, MAX_AGE_SECONDS.snapshotSigner, 'the snapshot signer secret'), arn);
}
