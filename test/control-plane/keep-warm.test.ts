// The handlers' answer to the keepWarm ping (core/config/keep-warm.ts): initialize, do no
// work, and never take a request for a ping.
import { afterEach, describe, expect, it } from 'vitest';
import { isKeepWarmEvent, KEEP_WARM_EVENT } from '../../core/config/keep-warm.js';
import { ENV } from '../../core/config/lambda-env.js';
import { plannerInvocationHandler } from '../../lambdas/planner/handler.js';
import type { PlannerDeps } from '../../lambdas/planner/plan-event.js';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('keep-warm pings', () => {
  it('the webhook initializes (its lazy modules loaded or failed), then answers 204 without reading the table', async () => {
    // An endpoint nothing listens on: a request that reached DynamoDB would fail.
    Object.assign(process.env, {
      [ENV.tableName]: 'builds',
      [ENV.eventsQueueUrl]: 'http://127.0.0.1:9/queue/events',
      [ENV.webhookSecretsPrefix]: '/slipway-webhooks',
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
    });
    const { handler } = await import('../../lambdas/webhook/handler.js');
    expect(await handler(KEEP_WARM_EVENT)).toEqual({ statusCode: 204 });
  });

  it('the planner builds its dependencies and plans nothing', async () => {
    let made = 0;
    const untouchable = new Proxy({}, { get: (_, key) => { throw new Error(`the ping touched deps.${String(key)}`); } });
    const handler = plannerInvocationHandler(() => {
      made++;
      return untouchable as PlannerDeps;
    });
    expect(await handler(KEEP_WARM_EVENT)).toEqual({ batchItemFailures: [] });
    expect(await handler(KEEP_WARM_EVENT)).toEqual({ batchItemFailures: [] });
    expect(made).toBe(1);
  });

  it('no Function URL request, SQS batch or doctor request is a ping', () => {
    expect(isKeepWarmEvent({ body: JSON.stringify(KEEP_WARM_EVENT), headers: {}, requestContext: { http: { method: 'POST' } } })).toBe(false);
    expect(isKeepWarmEvent({ Records: [] })).toBe(false);
    expect(isKeepWarmEvent({ slipwayDoctor: 'probe' })).toBe(false);
    expect(isKeepWarmEvent({ slipwayKeepWarm: 'true' })).toBe(false);
    expect(isKeepWarmEvent(KEEP_WARM_EVENT)).toBe(true);
  });
});
