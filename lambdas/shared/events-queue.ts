// The events queue between the webhook and the planner. The delivery id travels as a
// message attribute (and, on a FIFO queue, as the deduplication id), so a redelivery
// that slipped past the table is still recognisable downstream.

import { createHash } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { BuildHook, EventMessage, HookHost } from '../../core/scm/types.js';
import { HOOK_HOSTS } from '../../core/scm/types.js';

export async function sendEventMessage(sqs: SQSClient, queueUrl: string, message: EventMessage): Promise<void> {
  const fifo = queueUrl.endsWith('.fifo');
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify(message),
      MessageAttributes: { deliveryId: { DataType: 'String', StringValue: message.deliveryId } },
      ...(fifo
        ? {
            // Ids may exceed FIFO's 128 characters: the hash keeps them unique and short.
            MessageDeduplicationId: createHash('sha256').update(message.deliveryId).digest('hex'),
            MessageGroupId: message.hook.repo.slug,
          }
        : {}),
    }),
  );
}

/** Parses an events-queue message body; throws an error naming what is wrong. */
export function decodeEventMessage(body: string): EventMessage {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw new Error(`planner: message body is not JSON: ${(err as Error).message}`);
  }
  const m = value as Partial<EventMessage> | null;
  if (!m || typeof m !== 'object') throw new Error('planner: message body is not an object');
  if (m.version !== 1) throw new Error(`planner: unknown message version ${JSON.stringify(m.version)} (expected 1)`);
  if (typeof m.deliveryId !== 'string' || !m.deliveryId) throw new Error('planner: message has no deliveryId');
  if (!HOOK_HOSTS.includes(m.host as HookHost)) throw new Error(`planner: message host ${JSON.stringify(m.host)} is not one of ${HOOK_HOSTS.join(', ')}`);
  const hook = m.hook as Partial<BuildHook> | undefined;
  if (!hook || hook.kind !== 'build' || !hook.repo?.slug || !hook.commit?.sha || !hook.event) {
    throw new Error('planner: message hook lacks kind, event, repo.slug or commit.sha');
  }
  return m as EventMessage;
}
