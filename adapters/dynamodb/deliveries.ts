// Webhook deliveries (DELIVERY#<id>): the dedupe record a delivery leaves (expiring after
// DELIVERY_TTL_SECONDS) and the claim of the build it created.

import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Delivery, DeliveryState } from '../../core/builds/ports.js';
import { Expression } from './expression.js';
import { DELIVERY_BUILD_SK, DELIVERY_SK, DELIVERY_TTL_SECONDS, TTL_ATTRIBUTE, deliveryPk } from './keys.js';
import { defined, isConditionFailure, type Table } from './records.js';

/**
 * Records a webhook delivery; false when it was already recorded (a redelivery). A
 * delivery whose enqueue failed, or that stayed `received` longer than `staleAfterMs`
 * (the webhook died between recording and enqueueing), may be recorded again, so the
 * host's retry is not lost.
 */
export async function recordDelivery(t: Table, delivery: Delivery, staleAfterMs = 60_000): Promise<boolean> {
  try {
    await t.doc.send(
      new PutCommand({
        TableName: t.tableName,
        Item: {
          PK: deliveryPk(delivery.id),
          SK: DELIVERY_SK,
          type: 'delivery',
          ...defined({ ...delivery }),
          state: 'received',
          [TTL_ATTRIBUTE]: Math.floor(delivery.receivedAt / 1000) + DELIVERY_TTL_SECONDS,
        },
        ConditionExpression: 'attribute_not_exists(PK) OR #state = :failed OR (#state = :received AND #at < :stale)',
        ExpressionAttributeNames: { '#state': 'state', '#at': 'receivedAt' },
        ExpressionAttributeValues: { ':failed': 'failed', ':received': 'received', ':stale': delivery.receivedAt - staleAfterMs },
      }),
    );
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/** `enqueued`: the delivery's event is on the queue; `failed`: it is not, a redelivery may retry. */
export async function markDelivery(t: Table, id: string, state: DeliveryState): Promise<void> {
  const e = new Expression();
  e.set('state', state);
  await t.doc.send(
    new UpdateCommand({
      TableName: t.tableName,
      Key: { PK: deliveryPk(id), SK: DELIVERY_SK },
      ...e.input(),
    }),
  );
}

export async function getDelivery(t: Table, id: string): Promise<(Delivery & { state: DeliveryState; expiresAt: number }) | null> {
  const res = await t.doc.send(new GetCommand({ TableName: t.tableName, Key: { PK: deliveryPk(id), SK: DELIVERY_SK }, ConsistentRead: true }));
  if (!res.Item) return null;
  const { PK: _pk, SK: _sk, type: _type, ...rest } = res.Item;
  return rest as Delivery & { state: DeliveryState; expiresAt: number };
}

/** The id of the build a delivery created, if the planner already handled it. */
export async function buildForDelivery(t: Table, id: string): Promise<string | null> {
  const res = await t.doc.send(
    new GetCommand({ TableName: t.tableName, Key: { PK: deliveryPk(id), SK: DELIVERY_BUILD_SK }, ConsistentRead: true }),
  );
  return (res.Item?.buildId as string | undefined) ?? null;
}
