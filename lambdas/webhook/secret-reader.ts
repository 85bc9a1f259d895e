// The webhook's reader of repositories' webhook secrets (SSM, through Powertools Parameters):
// a module of its own so that the handler imports it, and with it the SSM client, only when a
// request needs a secret (handler.ts) — a chunk of the bundle apart from index.mjs.

import { ssmParameters } from '../shared/parameters.js';
import { cachedWebhookSecrets } from '../shared/webhook-secrets.js';
import type { WebhookDeps } from './handle-webhook.js';

export function webhookSecretReader(prefix: string): WebhookDeps['secrets'] {
  return cachedWebhookSecrets(ssmParameters(), prefix);
}
