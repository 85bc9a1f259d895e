// The events queue between the webhook and the planner. The delivery id travels as a
// message attribute (and, on a FIFO queue, as the deduplication id), so a redelivery
// that slipped past the table is still recognisable downstream.

import { createHash } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { BuildFinishedMessage, BuildHook, EventMessage, EventsQueueMessage, HookHost } from '../../core/scm/types.js';
import { HOOK_HOSTS } from '../../core/scm/types.js';

export async function sendEventMessage(sqs: SQSClient, queueUrl: string, message: EventMessage): Promise<void> {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify(message),
      MessageAttributes: { deliveryId: { DataType: 'String', StringValue: message.deliveryId } },
      ...fifoFields(queueUrl, message.deliveryId, message.hook.repo.slug),
    }),
  );
}

/** Asks the planner to post the final commit status of a build that ended without a task event. */
export async function sendBuildFinished(sqs: SQSClient, queueUrl: string, buildId: string, sentAt: number): Promise<void> {
  const message: BuildFinishedMessage = { version: 1, kind: 'build-finished', buildId, sentAt };
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify(message),
      ...fifoFields(queueUrl, `build-finished\n${buildId}`, buildId.replace(/#\d+$/, '')),
    }),
  );
}

/** On a FIFO queue: the deduplication id and the group (one repository's messages in order). */
function fifoFields(queueUrl: string, dedupeKey: string, groupId: string): { MessageDeduplicationId?: string; MessageGroupId?: string } {
  if (!queueUrl.endsWith('.fifo')) return {};
  // Keys may exceed FIFO's 128 characters: the hash keeps them unique and short.
  return { MessageDeduplicationId: createHash('sha256').update(dedupeKey).digest('hex'), MessageGroupId: groupId };
}

/** Parses any events-queue message body (a webhook event or a finished build). */
export function decodeQueueMessage(body: string): EventsQueueMessage {
  const value = parseBody(body);
  const m = value as Partial<BuildFinishedMessage> | null;
  if (m && typeof m === 'object' && m.kind === 'build-finished') {
    if (m.version !== 1) throw new Error(`planner: unknown build-finished message version ${JSON.stringify(m.version)} (expected 1)`);
    if (typeof m.buildId !== 'string' || !m.buildId) throw new Error('planner: build-finished message has no buildId');
    return m as BuildFinishedMessage;
  }
  return checkEventMessage(value);
}

/** Parses an events-queue message body; throws an error naming what is wrong. */
export function decodeEventMessage(body: string): EventMessage {
  return checkEventMessage(parseBody(body));
}

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (err) {
    throw new Error(`planner: message body is not JSON: ${(err as Error).message}`);
  }
}

function checkEventMessage(value: unknown): EventMessage {
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
