// Secrets and parameters the Lambdas read at run time, through Powertools Parameters: one
// SSM and one Secrets Manager provider per container, over the shared SDK clients (so the
// AWS_ENDPOINT_URL_* variables point them at local stand-ins too). A value is kept for its
// max age, then read again: a rotated secret applies within that time, without a deploy.

import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { secretsClient, ssmClient } from './clients.js';

/** How long each value is kept, in seconds (Powertools' `maxAge`). */
export const MAX_AGE_SECONDS = {
  /** The Git host credentials (planner): rotating a token applies within 5 minutes. */
  scmCredentials: 300,
  /** The API's token digests: a revoked token stops working within 5 minutes. */
  apiTokens: 300,
  /** A repository's webhook secret; read again at once when a signature does not match. */
  webhookSecret: 60,
  /** The snapshot signer's access key (autoscaler): a rotated key signs within 5 minutes. */
  snapshotSigner: 300,
} as const;

let ssm: SSMProvider | undefined;
let secrets: SecretsProvider | undefined;

export function ssmParameters(): SSMProvider {
  ssm ??= new SSMProvider({ awsSdkV3Client: ssmClient() });
  return ssm;
}

export function secretsManagerSecrets(): SecretsProvider {
  secrets ??= new SecretsProvider({ awsSdkV3Client: secretsClient() });
  return secrets;
}

/** A secret's text, kept `maxAgeSeconds`; a binary or empty secret is an error that names it. */
export async function secretText(provider: Pick<SecretsProvider, 'get'>, arn: string, maxAgeSeconds: number, what: string): Promise<string> {
  const value = await provider.get(arn, { maxAge: maxAgeSeconds });
  if (typeof value !== 'string') throw new SecretValueError(`secrets: ${what} (${arn}) has no string value; put its text in SecretString`);
  return value;
}

export class SecretValueError extends Error {
  override readonly name = 'SecretValueError';
}
