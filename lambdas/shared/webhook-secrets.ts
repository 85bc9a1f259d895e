// Each activated repository's webhook secret, where only the webhook Lambda reads it:
// deployed, an SSM Parameter Store SecureString `<WEBHOOK_SECRETS_PREFIX>/<host>/<owner>/<name>`.
// The webhook role may GetParameter under that prefix, the API role may only Put and Delete
// there (it creates and rotates secrets and shows a new one once), no other role has any
// right on it, and the prefix is apart from the repository secrets' one, which build
// tasks read (lib/functions.ts; test/cdk asserts it). Local mode keeps them in its
// secrets file (local/secrets.ts).

import { randomBytes } from 'node:crypto';
import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import type { HookHost } from '../../core/scm/types.js';
import { MAX_AGE_SECONDS } from './parameters.js';
import { webhookSecretName } from './webhook-secret-names.js';

export interface WebhookSecrets {
  /** Undefined when the repository has none. */
  get(host: HookHost, slug: string): Promise<string | undefined>;
  put(host: HookHost, slug: string, value: string): Promise<void>;
  remove(host: HookHost, slug: string): Promise<void>;
}

export { DEFAULT_WEBHOOK_SECRETS_PREFIX, GITHUB_APP_SECRET_SLUG, webhookSecretName } from './webhook-secret-names.js';

/** 32 random bytes as hex: letters and digits only, since it is pasted into a Git host's form. */
export function generateWebhookSecret(): string {
  return randomBytes(32).toString('hex');
}

const errorName = (err: unknown): string | undefined => (err as { name?: string })?.name;

/**
 * SSM: GetParameter answers ParameterNotFound for a name that does not exist, and
 * DeleteParameter too (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html,
 * API_DeleteParameter.html); PutParameter with Overwrite replaces the value as a new version.
 */
export function ssmWebhookSecrets(ssm: () => SSMClient, prefix: string): WebhookSecrets {
  return {
    async get(host, slug) {
      try {
        const res = await ssm().send(new GetParameterCommand({ Name: webhookSecretName(prefix, host, slug), WithDecryption: true }));
        return res.Parameter?.Value || undefined;
      } catch (err) {
        if (errorName(err) === 'ParameterNotFound') return undefined;
        throw err;
      }
    },
    async put(host, slug, value) {
      await ssm().send(
        new PutParameterCommand({
          Name: webhookSecretName(prefix, host, slug),
          Value: value,
          Type: 'SecureString',
          Overwrite: true,
          Description: `Slipway: webhook secret of ${host} repository ${slug}`,
        }),
      );
    },
    async remove(host, slug) {
      try {
        await ssm().send(new DeleteParameterCommand({ Name: webhookSecretName(prefix, host, slug) }));
      } catch (err) {
        if (errorName(err) !== 'ParameterNotFound') throw err;
      }
    },
  };
}

/** GetParameter's "no such name", also when Powertools Parameters wraps it (GetParameterError, its `cause`). */
function isParameterNotFound(err: unknown): boolean {
  return errorName(err) === 'ParameterNotFound' || errorName((err as { cause?: unknown })?.cause) === 'ParameterNotFound';
}

/**
 * The webhook's reader, through Powertools Parameters' SSM provider: a secret is kept
 * `maxAgeSeconds`, and read again at once when a signature does not match the kept one
 * (`fresh`: forceFetch), so a rotated secret works from its first delivery. A repository
 * without a secret is not kept: one made meanwhile works at once.
 */
export function cachedWebhookSecrets(provider: Pick<SSMProvider, 'get'>, prefix: string, maxAgeSeconds: number = MAX_AGE_SECONDS.webhookSecret) {
  return {
    async get(host: HookHost, slug: string, options: { fresh?: boolean } = {}): Promise<string | undefined> {
      try {
        const value = await provider.get(webhookSecretName(prefix, host, slug), { decrypt: true, maxAge: maxAgeSeconds, forceFetch: options.fresh === true });
        return value || undefined;
      } catch (err) {
        if (isParameterNotFound(err)) return undefined;
        throw err;
      }
    },
  };
}
