// The local runtime's schedule: quick passes (start queued work) every `scheduleMs`, and a
// reconciling pass (DescribeTasks of every running stage, a read of every active stage)
// only every `reconcileMs`, so that a busy local mode does not reconcile on every tick.
// The autoscaler is a recording handler here: what is under test is which passes run.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startControlPlane, type ControlPlane } from '../../local/control-plane.js';
import { startSqs, type LocalSqs } from '../../local/sqs.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../support/dynamodb-local.js';
import { HANG_GUARD_MS, waitFor } from '../support/wait.js';

let sqsServer: LocalSqs;
let plane: ControlPlane | undefined;
const passes: ('reconcile' | 'quick')[] = [];

beforeAll(async () => {
  sqsServer = await startSqs();
  const sqs = new SQSClient({ endpoint: sqsServer.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, useQueueUrlAsEndpoint: false });
  const eventsUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'schedule-events' }))).QueueUrl!;
  sqs.destroy();
  plane = await startControlPlane({
    env: { AWS_ENDPOINT_URL_SQS: sqsServer.endpoint, AWS_REGION: LOCAL_REGION, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', EVENTS_QUEUE_URL: eventsUrl },
    ecs: { onTaskStateChange: () => () => {} },
    scheduleMs: 40,
    // Beyond any wait of this test (a hang guard's worth, ten times over): one reconciling pass only.
    reconcileMs: 10 * HANG_GUARD_MS,
    handlers: {
      planner: async () => ({ batchItemFailures: [] }),
      taskEvents: async () => {},
      // As lambdas/autoscaler/handler.ts decides: a scheduled event reconciles, a nudge does not.
      autoscaler: async (event) => void passes.push(event.source === 'aws.events' ? 'reconcile' : 'quick'),
    },
  });
});

afterAll(async () => {
  await plane?.stop();
  await sqsServer?.stop();
});

describe('local runtime schedule', () => {
  it('reconciles on the first tick, then only every reconcileMs; the ticks between start queued work', async () => {
    await waitFor('six passes', async () => passes.length >= 6, { intervalMs: 20 });
    expect(passes[0]).toBe('reconcile');
    expect(passes.filter((p) => p === 'reconcile')).toHaveLength(1);
    expect(plane!.stats.reconcilingPasses).toBe(1);
  });
});
