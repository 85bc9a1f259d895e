// The JobQueue port on SQS (adapters/sqs/job-queue.ts), with the real SDK client against
// the fauxqs stand-in (and a recorded AWS answer where fauxqs is kinder): what is enqueued
// is sampled back, a deep queue is sampled in one pass, removed messages are gone, and a
// message the queue refuses to delete is named.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SqsJobQueue, waitTimeSeconds } from '../../adapters/sqs/job-queue.js';
import { decodeJob, type StageJob } from '../../core/scaling/job.js';
import { startSqs, type LocalSqs } from '../../local/sqs.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../support/dynamodb-local.js';

let server: LocalSqs;
let sqs: SQSClient;
let queues = 0;

beforeAll(async () => {
  server = await startSqs();
  sqs = new SQSClient({ endpoint: server.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, useQueueUrlAsEndpoint: false });
});

afterAll(async () => {
  sqs?.destroy();
  await server?.stop();
});

async function queue(): Promise<string> {
  return (await sqs.send(new CreateQueueCommand({ QueueName: `jobs-${++queues}` }))).QueueUrl!;
}

async function depth(url: string): Promise<number> {
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(attrs.Attributes?.ApproximateNumberOfMessages) + Number(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible);
}

const job = (n: number): StageJob => ({
  stageKey: `acme/app#${n}/1`, buildId: `acme/app#${n}`, stageNumber: 1, repo: 'acme/app', pipeline: 'test', cpu: 256, memory: 512,
  taskDefinition: { family: 'f' }, runTask: {}, queuedAt: 1_700_000_000_000 + n,
});

describe('SqsJobQueue', () => {
  it('samples back what was enqueued, and removing it empties the queue', async () => {
    const jobs = new SqsJobQueue(sqs, await queue());
    await jobs.enqueue(job(1));
    const sampled = await jobs.sample();
    expect(sampled.map((m) => decodeJob(m.body))).toEqual([job(1)]);
    expect(sampled[0]!.id).toMatch(/\S/);
    expect(await jobs.remove(sampled)).toEqual([]);
    expect(await depth(jobs.queueUrl)).toBe(0);
  });

  it('samples a queue deeper than one ReceiveMessage (10) in one pass, and removes it in batches of 10', async () => {
    const jobs = new SqsJobQueue(sqs, await queue());
    for (let n = 1; n <= 35; n++) await jobs.enqueue(job(n));
    const sampled = await jobs.sample();
    expect(new Set(sampled.map((m) => decodeJob(m.body).stageKey)).size).toBe(35);
    expect(await jobs.remove(sampled)).toEqual([]);
    expect(await depth(jobs.queueUrl)).toBe(0);
  });

  it("names the message the queue did not delete, from AWS's per-entry answer (recorded: fauxqs deletes whatever it is given)", async () => {
    // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessageBatch.html:
    // "The result of the action on each message is reported individually in the response."
    const answer = readFileSync(new URL('../fixtures/aws/sqs-DeleteMessageBatch-Failed.json', import.meta.url), 'utf8');
    const targets: string[] = [];
    const recorded = createServer((req, res) => {
      targets.push(String(req.headers['x-amz-target']));
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end(answer));
    });
    await new Promise<void>((resolve) => recorded.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(recorded.address() as AddressInfo).port}`;
    const client = new SQSClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, useQueueUrlAsEndpoint: false });
    try {
      const jobs = new SqsJobQueue(client, `${endpoint}/000000000000/jobs`);
      const notRemoved = await jobs.remove([
        { id: 'forged-message', body: '', receipt: 'not-a-receipt-handle' },
        { id: 'real-message', body: '', receipt: 'a-real-handle' },
      ]);
      expect(targets).toEqual(['AmazonSQS.DeleteMessageBatch']);
      expect(notRemoved).toEqual([
        { id: 'forged-message', code: 'ReceiptHandleIsInvalid', message: 'The input receipt handle "not-a-receipt-handle" is not a valid receipt handle.' },
      ]);
    } finally {
      client.destroy();
      await new Promise((resolve) => recorded.close(resolve));
    }
  });

  it('parks an undecodable message in the dead-letter queue with why, or leaves it when there is none', async () => {
    const url = await queue();
    const dlq = await queue();
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: '{"not":"a job"' }));
    const [poison] = await new SqsJobQueue(sqs, url).sample();
    expect(await new SqsJobQueue(sqs, url).deadLetter(poison!, 'not JSON')).toEqual({});
    expect(await depth(url)).toBe(1);

    const parked = await new SqsJobQueue(sqs, url, dlq).deadLetter(poison!, 'not JSON');
    expect(parked).toEqual({ parkedIn: dlq });
    expect(await depth(url)).toBe(0);
    const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }));
    expect(dead.Messages?.map((m) => [m.Body, m.MessageAttributes?.error?.StringValue, m.MessageAttributes?.sourceMessageId?.StringValue])).toEqual([
      ['{"not":"a job"', 'not JSON', poison!.id],
    ]);
  });
  it('a sample with waitSeconds long-polls its first receive: a message sent while it waits is in it (a short poll returns without it)', async () => {
    const jobs = new SqsJobQueue(sqs, await queue());
    // The planner's message lands while the pass's receive waits (20 s at most: answered at the first message).
    const sent = new Promise<void>((resolve) => setTimeout(() => void jobs.enqueue(job(7)).then(resolve), 200));
    const sampled = await jobs.sample({ waitSeconds: 20 });
    await sent;
    expect(sampled.map((m) => decodeJob(m.body).stageKey)).toEqual([job(7).stageKey]);
  });

  it('postpones a message: the read is removed and the body comes back after the delay as a new message, received once (API_SendMessage DelaySeconds)', async () => {
    const jobs = new SqsJobQueue(sqs, await queue());
    await sqs.send(new SendMessageCommand({ QueueUrl: jobs.queueUrl, MessageBody: 'index-image event' }));
    // Received a few times first (as a job read pass after pass would be).
    for (let i = 0; i < 2; i++) await sqs.send(new ReceiveMessageCommand({ QueueUrl: jobs.queueUrl, VisibilityTimeout: 0 }));
    const [read] = await jobs.sample();
    expect(await jobs.postpone(read!, 1)).toEqual([]);
    // Delayed: not visible at once, and the read it replaced is gone.
    expect(await jobs.sample()).toEqual([]);
    expect(await depth(jobs.queueUrl)).toBe(0);
    const back = await sqs.send(new ReceiveMessageCommand({ QueueUrl: jobs.queueUrl, WaitTimeSeconds: 20, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
    expect(back.Messages?.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount])).toEqual([['index-image event', '1']]);
    await expect(jobs.postpone(read!, 901)).rejects.toThrow(/0–900 whole seconds \(SQS DelaySeconds\), not 901/);
  });

  it('refuses a wait SQS would refuse (whole seconds, 0–20), naming it', () => {
    expect(waitTimeSeconds(undefined)).toBe(0);
    expect(waitTimeSeconds(1)).toBe(1);
    expect(() => waitTimeSeconds(0.5)).toThrow(/0–20 whole seconds \(SQS WaitTimeSeconds\), not 0.5/);
    expect(() => waitTimeSeconds(21)).toThrow(/not 21/);
  });
});
