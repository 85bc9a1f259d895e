// A GitHub `ping` delivery for one repository, signed as GitHub signs it: HMAC-SHA256 of
// the raw body with the webhook's secret, in X-Hub-Signature-256
// (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).
// GitHub sends the same event when a webhook is created; it builds nothing.

import { hmacSha256Hex } from '../scm/verify-signature.js';

export interface SignedDelivery {
  headers: Record<string, string>;
  body: string;
}

export function githubPing(repo: string, secret: string, deliveryId: string): SignedDelivery {
  const [owner = '', ...rest] = repo.split('/');
  const body = JSON.stringify({
    zen: 'Keep it logically awesome.',
    hook_id: 0,
    hook: { type: 'Repository', name: 'web', active: true, events: ['push', 'pull_request'], config: { content_type: 'json' } },
    repository: { name: rest.join('/'), full_name: repo, owner: { login: owner } },
    sender: { login: 'slipway-doctor' },
  });
  return {
    headers: {
      'content-type': 'application/json',
      'user-agent': 'slipway-doctor',
      'x-github-event': 'ping',
      'x-github-delivery': deliveryId,
      'x-hub-signature-256': `sha256=${hmacSha256Hex(secret, body)}`,
    },
    body,
  };
}
