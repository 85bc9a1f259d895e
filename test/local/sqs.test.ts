// fauxqs behaviours the control plane relies on, through the real SDK client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startSqs, type LocalSqs } from '../../local/sqs.js';
import { createLocalQueues, LOCAL_QUEUES } from '../../local/queues.js';
import { credentials } from './helpers.js';

let sqs: LocalSqs;
let client: SQSClient;

beforeAll(async () => {
  sqs = await startSqs();
  client = new SQSClient({ endpoint: sqs.endpoint, region: 'us-east-1', credentials });
});

afterAll(async () => {
  client?.destroy();
  await sqs?.stop();
});

const queue = async (name: string, attributes: Record<string, string> = {}) =>
  (await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl!;

describe('fauxqs (SQS)', () => {
  it('long polling waits for a message that arrives during the wait', async () => {
    const url = await queue('long-poll');
    const started = Date.now();
    // SQS's longest wait: answered at the message, however late a loaded machine sends it.
    const receiving = client.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 20 }));
    setTimeout(() => void client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'late' })), 300);
    const out = await receiving;
    expect(out.Messages?.[0]?.Body).toBe('late');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('hides a received message for the visibility timeout, then shows it again', async () => {
    // Long enough that the second receive comes inside it even on a loaded machine, short
    // enough to wait out. Measured, not assumed: the message is hidden only while it runs.
    const visibilityMs = 5_000;
    const url = await queue('visibility', { VisibilityTimeout: String(visibilityMs / 1000) });
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'job' }));
    const asked = Date.now();
    const first = await client.send(new ReceiveMessageCommand({ QueueUrl: url }));
    expect(first.Messages).toHaveLength(1);
    const hidden = await client.send(new ReceiveMessageCommand({ QueueUrl: url }));
    // Both answered inside the timeout (the first receive started it no earlier than `asked`).
    if (Date.now() - asked < visibilityMs) expect(hidden.Messages ?? []).toHaveLength(0);
    const again = await client.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 20, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
    expect(again.Messages?.[0]?.Body).toBe('job');
    expect(again.Messages?.[0]?.Attributes?.ApproximateReceiveCount).toBe('2');
  });

  it('moves a message to the dead-letter queue after maxReceiveCount receives', async () => {
    const dlq = await queue('jobs-dlq');
    const dlqArn = (await client.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    const url = await queue('jobs', { VisibilityTimeout: '1', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }) });
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'poison' }));
    expect((await client.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages).toHaveLength(1);
    // As in SQS, the move happens on the receive that would exceed maxReceiveCount.
    await new Promise((r) => setTimeout(r, 1100));
    const gone = await client.send(new ReceiveMessageCommand({ QueueUrl: url }));
    expect(gone.Messages ?? []).toHaveLength(0);
    const dead = await client.send(new ReceiveMessageCommand({ QueueUrl: dlq, WaitTimeSeconds: 2 }));
    expect(dead.Messages?.[0]?.Body).toBe('poison');
  });

  it('FIFO: deduplicates by id and keeps a group in order', async () => {
    const url = await queue('events.fifo', { FifoQueue: 'true' });
    for (const [id, body] of [['a', 'one'], ['a', 'one-again'], ['b', 'two'], ['c', 'three']]) {
      await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body, MessageGroupId: 'g', MessageDeduplicationId: id }));
    }
    const bodies: string[] = [];
    for (let i = 0; i < 4 && bodies.length < 3; i += 1) {
      const out = await client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
      for (const m of out.Messages ?? []) {
        bodies.push(m.Body!);
        const { DeleteMessageCommand } = await import('@aws-sdk/client-sqs');
        await client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }));
      }
    }
    expect(bodies).toEqual(['one', 'two', 'three']);
  });
});

describe('local mode queues', () => {
  it('gives the events and jobs queues dead-letter queues; a poison event lands in its DLQ', async () => {
    const queues = await createLocalQueues(client);
    const policy = async (url: string) => {
      const out = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }));
      return JSON.parse(out.Attributes!.RedrivePolicy!) as { deadLetterTargetArn: string; maxReceiveCount: number };
    };
    const arn = async (url: string) => (await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn;
    expect(await policy(queues.jobsUrl)).toEqual({ deadLetterTargetArn: await arn(queues.jobsDeadLetterUrl), maxReceiveCount: LOCAL_QUEUES.jobsMaxReceives });
    expect(await policy(queues.eventsUrl)).toEqual({ deadLetterTargetArn: await arn(queues.eventsDeadLetterUrl), maxReceiveCount: LOCAL_QUEUES.eventsMaxReceives });

    await client.send(new SendMessageCommand({ QueueUrl: queues.eventsUrl, MessageBody: 'poison' }));
    // Received and never deleted (the handler failed) as often as the policy allows...
    for (let i = 0; i < LOCAL_QUEUES.eventsMaxReceives; i += 1) {
      const out = await client.send(new ReceiveMessageCommand({ QueueUrl: queues.eventsUrl, VisibilityTimeout: 0 }));
      expect(out.Messages?.[0]?.Body).toBe('poison');
    }
    // ...then it is parked in the dead-letter queue.
    expect((await client.send(new ReceiveMessageCommand({ QueueUrl: queues.eventsUrl }))).Messages ?? []).toEqual([]);
    const parked = await client.send(new ReceiveMessageCommand({ QueueUrl: queues.eventsDeadLetterUrl }));
    expect(parked.Messages?.[0]?.Body).toBe('poison');
  });
});
