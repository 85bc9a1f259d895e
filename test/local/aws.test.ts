// One call starts DynamoDB Local, fauxqs and the ECS stand-in; env() points child processes
// at them; one call stops them all, leaving no process behind.
import { describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { startLocalAws } from '../../local/aws.js';
import { isListening } from '../../local/ports.js';

// Asynchronous: SQS and ECS answer from this very process.
const run = promisify(execFile);

describe('startLocalAws', () => {
  it('starts all three, gives endpoints and env for unchanged SDK clients, and stops them all', async () => {
    const aws = await startLocalAws({ ecs: { vcpuQuota: 6 } });
    const ports = Object.values(aws.endpoints).map((e) => Number(new URL(e).port));
    try {
      expect(aws.env()).toMatchObject({
        AWS_ENDPOINT_URL_DYNAMODB: aws.endpoints.dynamodb,
        AWS_ENDPOINT_URL_SQS: aws.endpoints.sqs,
        AWS_ENDPOINT_URL_ECS: aws.endpoints.ecs,
        AWS_REGION: 'us-east-1',
      });
      // A child process using `new XClient({})` reaches all three through the environment only.
      const script = `
        import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
        import { SQSClient, ListQueuesCommand } from '@aws-sdk/client-sqs';
        import { ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
        const t = await new DynamoDBClient({}).send(new ListTablesCommand({}));
        const q = await new SQSClient({}).send(new ListQueuesCommand({}));
        const e = await new ECSClient({}).send(new ListTasksCommand({}));
        console.log(JSON.stringify([t.TableNames, q.QueueUrls ?? [], e.taskArns]));`;
      const { stdout: out } = await run(process.execPath, ['--input-type=module', '-e', script], {
        env: { PATH: process.env.PATH, ...aws.env() },
        cwd: process.cwd(),
      });
      expect(JSON.parse(out)).toEqual([[], [], []]);
    } finally {
      await aws.stop();
    }
    for (const port of ports) expect(await isListening(port)).toBe(false);
    const pid = aws.dynamodb.pid;
    expect(execFileSync('ps', ['-eo', 'pid']).toString().split('\n').map(Number)).not.toContain(pid);
  });
});
