// The AWS JSON 1.1 edges of the ECS and CloudWatch Logs stand-ins (local/aws-json.ts): what a
// request that is not one of their operations, or whose body is not JSON, is answered, in the
// shape the SDK reads (`__type` and X-Amzn-ErrorType;
// https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloudWatchLogs, type LocalCloudWatchLogs } from '../../local/cloudwatch-logs/index.js';
import { startLocalEcs, type LocalEcs } from '../../local/ecs/index.js';

let ecs: LocalEcs;
let logs: LocalCloudWatchLogs;

beforeAll(async () => {
  ecs = await startLocalEcs({ namespaces: false });
  logs = await startLocalCloudWatchLogs({ requestsPerSecond: 0 });
});

afterAll(async () => {
  await ecs?.stop();
  await logs?.stop();
});

async function call(endpoint: string, init: { method?: string; target?: string; body?: string }) {
  const res = await fetch(endpoint, {
    method: init.method ?? 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', ...(init.target ? { 'x-amz-target': init.target } : {}) },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  return { status: res.status, errorType: res.headers.get('x-amzn-errortype'), requestId: res.headers.get('x-amzn-requestid'), body: (await res.json()) as Record<string, unknown> };
}

describe('AWS JSON 1.1 edges of the stand-ins', () => {
  const services = [
    { name: 'ECS', endpoint: () => ecs.endpoint, prefix: 'AmazonEC2ContainerServiceV20141113.', notJson: 'ClientException' },
    { name: 'CloudWatch Logs', endpoint: () => logs.endpoint, prefix: 'Logs_20140328.', notJson: 'InvalidParameterException' },
  ];

  for (const s of services) {
    it(`${s.name}: a GET, or a target of another service, is an UnknownOperationException naming the expected target`, async () => {
      for (const init of [{ method: 'GET' }, { target: 'DynamoDB_20120810.GetItem', body: '{}' }]) {
        const answer = await call(s.endpoint(), init);
        expect(answer.status).toBe(400);
        expect(answer.errorType).toBe('UnknownOperationException');
        expect(answer.body.__type).toBe('UnknownOperationException');
        expect(answer.body.message).toContain(`expected POST with X-Amz-Target: ${s.prefix}<Operation>`);
        expect(answer.requestId).toMatch(/^[0-9a-f-]{36}$/);
      }
    });

    it(`${s.name}: a body that is not JSON is a ${s.notJson}`, async () => {
      const answer = await call(s.endpoint(), { target: `${s.prefix}DescribeTasks`, body: '{not json' });
      expect([answer.status, answer.errorType, answer.body.__type]).toEqual([400, s.notJson, s.notJson]);
      expect(answer.body.message).toMatch(/^request body is not JSON: /);
    });
  }

  it('CloudWatch Logs records each call that names an operation, with the error it was answered', async () => {
    const before = logs.requests.length;
    await call(logs.endpoint, { target: 'Logs_20140328.PutLogEvents', body: '{"logGroupName":"g"}' });
    await call(logs.endpoint, { target: 'Logs_20140328.GetLogEvents', body: '{broken' });
    expect(logs.requests.slice(before)).toEqual([{ operation: 'PutLogEvents', input: { logGroupName: 'g' }, error: 'UnknownOperationException' }]);
  });
});
