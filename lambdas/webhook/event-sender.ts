// The webhook's sender to the events queue (SQS): a module of its own so that the handler
// imports it, and with it the SQS client, only when an event is accepted (handler.ts).

import { sqsClient } from '../shared/clients.js';
import { sendEventMessage } from '../shared/events-queue.js';
import type { WebhookDeps } from './handle-webhook.js';

export function eventSender(queueUrl: string): WebhookDeps['enqueue'] {
  return (message) => sendEventMessage(sqsClient(), queueUrl, message);
}
