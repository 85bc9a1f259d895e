// The deployed read of the agent's result line: the real CloudWatch Logs client, pointed at
// a loopback stand-in that answers GetLogEvents (AWS JSON 1.1) from an in-memory stream.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { AGENT_CONTAINER, AGENT_EXIT, REPORT_PREFIX } from '../../core/pipeline/contract.js';
import { logStreamName } from '../../core/pipeline/log-configuration.js';
import { cloudWatchLogReader } from '../../adapters/cloudwatch-logs/log-reader.js';
import { agentResultSource } from '../../lambdas/task-events/agent-result.js';

const GROUP = '/slipway/builds';
const TASK = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/0123abcd';
const result = { outcome: 'clone-failed', exitCode: AGENT_EXIT.cloneFailed, message: 'clone: fetch failed (git exit code 128): fatal: no', finishedAt: '2024-01-01T00:00:00Z' };

const streams = new Map<string, string[]>();
const requests: Record<string, unknown>[] = [];
let server: Server;
let client: CloudWatchLogsClient;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const input = JSON.parse(body) as { logGroupName: string; logStreamName: string; startFromHead?: boolean; limit?: number };
      requests.push({ target: req.headers['x-amz-target'], ...input });
      const lines = input.logGroupName === GROUP ? streams.get(input.logStreamName) : undefined;
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (!lines) {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: 'The specified log stream does not exist.' }));
        return;
      }
      // GetLogEvents without startFromHead: the last `limit` events, oldest first.
      const events = (input.startFromHead ? lines.slice(0, input.limit) : lines.slice(-(input.limit ?? 10_000))).map((message, i) => ({ timestamp: 1_700_000_000_000 + i, message, ingestionTime: 1 }));
      res.end(JSON.stringify({ events, nextForwardToken: 'f/1', nextBackwardToken: 'b/1' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new CloudWatchLogsClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
});

afterAll(async () => {
  client?.destroy();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
});

describe('the agent result from CloudWatch Logs', () => {
  it('reads the end of the agent stream in one GetLogEvents call', async () => {
    const progress = Array.from({ length: 500 }, (_, i) => `slipway-agent: line ${i}`);
    streams.set(logStreamName(AGENT_CONTAINER, TASK), [...progress, `${REPORT_PREFIX.result}${JSON.stringify(result)}`]);
    requests.length = 0;
    const read = await agentResultSource(cloudWatchLogReader(client, GROUP), { retryDelaysMs: [] })(TASK);
    expect(read).toEqual({ result });
    expect(requests).toEqual([
      { target: 'Logs_20140328.GetLogEvents', logGroupName: GROUP, logStreamName: `slipway/${AGENT_CONTAINER}/0123abcd`, startFromHead: false, limit: 50 },
    ]);
  });

  it('says why when the stream does not exist, after its retries', async () => {
    requests.length = 0;
    const read = await agentResultSource(cloudWatchLogReader(client, GROUP), { retryDelaysMs: [0, 0] })('arn:aws:ecs:us-east-1:0:task/slipway/missing');
    expect(read).toEqual({ missing: `the agent's log stream slipway/${AGENT_CONTAINER}/missing is empty or absent` });
    expect(requests).toHaveLength(3);
  });
});
