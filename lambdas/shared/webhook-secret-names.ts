// Where webhook secrets are kept, by name only: no SDK client here, so that the webhook's
// index.mjs can name the GitHub App's secret without loading the SSM client
// (lambdas/webhook/handler.ts imports the reader on first use).

import type { HookHost } from '../../core/scm/types.js';

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
