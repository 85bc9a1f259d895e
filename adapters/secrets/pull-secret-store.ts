// The planner's PullSecretStore on AWS (core/pipeline/pull-logins.ts): a repository secret is
// read from SSM Parameter Store (GetParameter, decrypted), a `kind: secret` document's from
// Secrets Manager (GetSecretValue, then the JSON key, as ECS resolves `ARN:KEY::`); a derived
// secret is written to Secrets Manager, tagged, and only ever changed when it carries the tag.
//
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html (tags need
// secretsmanager:TagResource too), API_PutSecretValue.html, API_DescribeSecret.html,
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html.

import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { DERIVED_TAG } from '../../core/pipeline/docker-config.js';
import { DerivedSecretConflict, SecretValueError, type PullSecretStore } from '../../core/pipeline/pull-logins.js';
import { secretReference } from '../../core/pipeline/secret-refs.js';
import { classifyAwsError } from '../../core/util/aws-errors.js';

const notFound = (error: unknown) => classifyAwsError(error).kind === 'not-found';

/** `arn:…:secret:NAME:KEY::` → `arn:…:secret:NAME` (GetSecretValue takes the secret, not the key). */
function secretIdOf(valueFrom: string): string {
  return valueFrom.replace(/^(arn:aws[\w-]*:secretsmanager:[^:]*:[^:]*:secret:[^:]+)(?::[^:]*:[^:]*:[^:]*)?$/, '$1');
}

export function awsPullSecretStore(ssm: () => SSMClient, secrets: () => SecretsManagerClient): PullSecretStore {
  const secretString = async (secretId: string): Promise<string | undefined> => {
    try {
      const out = await secrets().send(new GetSecretValueCommand({ SecretId: secretId }));
      if (out.SecretString === undefined) throw new SecretValueError(`the secret ${secretId} holds binary data, not text`);
      return out.SecretString;
    } catch (error) {
      if (notFound(error)) return undefined;
      throw error;
    }
  };
  return {
    async read(valueFrom) {
      const ref = secretReference(valueFrom);
      if (ref.source === 'ssm') {
        try {
          const out = await ssm().send(new GetParameterCommand({ Name: ref.name, WithDecryption: true }));
          return out.Parameter?.Value;
        } catch (error) {
          if (notFound(error)) return undefined;
          throw error;
        }
      }
      const text = await secretString(secretIdOf(valueFrom));
      if (text === undefined || ref.key === undefined) return text;
      return jsonKey(text, ref.name, ref.key);
    },

    async ensure(name, value) {
      for (let attempt = 0; ; attempt += 1) {
        let tags: { Key?: string; Value?: string }[] | undefined;
        try {
          tags = (await secrets().send(new DescribeSecretCommand({ SecretId: name }))).Tags ?? [];
        } catch (error) {
          if (!notFound(error)) throw error;
        }
        if (tags === undefined) {
          try {
            await secrets().send(
              new CreateSecretCommand({
                Name: name,
                SecretString: value,
                Description: 'Registry login derived by Slipway from a Docker config pull secret (image_pull_secrets); rewritten by its planner',
                Tags: [{ Key: DERIVED_TAG.key, Value: DERIVED_TAG.value }],
              }),
            );
            return 'created';
          } catch (error) {
            // Another planner created it first: compare with what it wrote, once.
            if (classifyAwsError(error).name === 'ResourceExistsException' && attempt === 0) continue;
            throw error;
          }
        }
        if (!tags.some((t) => t.Key === DERIVED_TAG.key && t.Value === DERIVED_TAG.value)) throw new DerivedSecretConflict(name);
        if ((await secretString(name)) === value) return 'unchanged';
        await secrets().send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
        return 'updated';
      }
    },
  };
}

/** The string at `key` of a JSON secret, as ECS reads `ARN:KEY::`. */
function jsonKey(text: string, name: string, key: string): string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new SecretValueError(`the secret ${name} is read by its key "${key}" but is not JSON`);
  }
  const field = (json as Record<string, unknown> | null)?.[key];
  if (typeof field !== 'string') throw new SecretValueError(`the secret ${name} has no text at its key "${key}"`);
  return field;
}
