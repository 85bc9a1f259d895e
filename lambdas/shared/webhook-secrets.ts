// Each activated repository's webhook secret, where only the webhook Lambda reads it:
// deployed, an SSM Parameter Store SecureString `<WEBHOOK_SECRETS_PREFIX>/<host>/<owner>/<name>`.
// The webhook role may GetParameter under that prefix, the API role may only Put and Delete
// there (it creates and rotates secrets and shows a new one once), no other role has any
// right on it, and the prefix is apart from the repository secrets' one, which build
// tasks read (lib/functions.ts; test/cdk asserts it). Local mode keeps them in its
// secrets file (local/secrets.ts).

import { randomBytes } from 'node:crypto';
import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { HookHost } from '../../core/scm/types.js';

export interface WebhookSecrets {
  /** Undefined when the repository has none. */
  get(host: HookHost, slug: string): Promise<string | undefined>;
  put(host: HookHost, slug: string, value: string): Promise<void>;
  remove(host: HookHost, slug: string): Promise<void>;
}

/**
 * Where a GitHub App's webhook secret is kept, beside the repositories' (`<prefix>/github/_app`):
 * one segment, so no `owner/name` can be it. Deliveries of an App are signed with it.
 */
export const GITHUB_APP_SECRET_SLUG = '_app';

/** The webhook-secrets prefix when none is configured: apart from the repository secrets' `/slipway`. */
export const DEFAULT_WEBHOOK_SECRETS_PREFIX = '/slipway-webhooks';

export function webhookSecretName(prefix: string, host: HookHost, slug: string): string {
  return `${prefix.replace(/\/+$/, '')}/${host}/${slug}`;
}

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

/**
 * The webhook's reader: a secret is kept for `ttlMs`, and read again at once when a
 * signature does not match the kept one, so a rotated secret works from its first delivery.
 */
export function cachedWebhookSecrets(source: Pick<WebhookSecrets, 'get'>, ttlMs = 60_000, now: () => number = Date.now) {
  const cache = new Map<string, { value: string | undefined; at: number }>();
  return {
    async get(host: HookHost, slug: string, options: { fresh?: boolean } = {}): Promise<string | undefined> {
      const key = `${host}\n${slug}`;
      const hit = cache.get(key);
      if (hit && !options.fresh && now() - hit.at < ttlMs) return hit.value;
      const value = await source.get(host, slug);
      cache.set(key, { value, at: now() });
      return value;
    },
  };
}
