// Every ECS operation of the stand-in, through the real @aws-sdk/client-standIn.ecs.
import { describe, expect, it } from 'vitest';
import {
  ClientException,
  ConflictException,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  InvalidParameterException,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { AWSVPC_NEEDS_NETWORK, BOTH_LAUNCH_TYPE_AND_STRATEGY, CAPACITY_UNAVAILABLE, CLIENT_TOKEN_CONFLICT, VCPU_LIMIT } from '../../local/ecs/api.js';
import { describe1, ecsForFile, family, sh, waitFor } from './helpers.js';
import { HANG_GUARD_MS } from '../support/wait.js';

const standIn = ecsForFile({ vcpuQuota: 6 });

const sleeper = (seconds: number) => [sh('main', `sleep ${seconds}`, { essential: true, stopTimeout: 2 })];

describe('RegisterTaskDefinition / DescribeTaskDefinition', () => {
  it('numbers revisions per family and describes by family, family:revision and ARN', async () => {
    const name = family('rev');
    const first = await standIn.client.send(new RegisterTaskDefinitionCommand({ family: name, containerDefinitions: sleeper(1) }));
    const second = await standIn.client.send(new RegisterTaskDefinitionCommand({ family: name, containerDefinitions: sleeper(2) }));
    expect(first.taskDefinition?.revision).toBe(1);
    expect(second.taskDefinition?.revision).toBe(2);
    expect(second.taskDefinition?.taskDefinitionArn).toBe(`arn:aws:ecs:us-east-1:000000000000:task-definition/${name}:2`);
    expect(second.taskDefinition?.registeredAt).toBeInstanceOf(Date);
    const latest = await standIn.client.send(new DescribeTaskDefinitionCommand({ taskDefinition: name }));
    expect(latest.taskDefinition?.revision).toBe(2);
    const byRevision = await standIn.client.send(new DescribeTaskDefinitionCommand({ taskDefinition: `${name}:1` }));
    expect(byRevision.taskDefinition?.containerDefinitions?.[0]?.command).toEqual(['sleep 1']);
    const byArn = await standIn.client.send(new DescribeTaskDefinitionCommand({ taskDefinition: first.taskDefinition!.taskDefinitionArn }));
    expect(byArn.taskDefinition?.revision).toBe(1);
    await expect(standIn.client.send(new DescribeTaskDefinitionCommand({ taskDefinition: `${name}:9` }))).rejects.toBeInstanceOf(ClientException);
  });

  it.each([
    ['no essential container', { containerDefinitions: [sh('a', 'true')] }, /essential/],
    ['an unknown dependency', { containerDefinitions: [sh('a', 'true', { essential: true, dependsOn: [{ containerName: 'b', condition: 'START' }] })] }, /'b'/],
    ['SUCCESS on an essential container', { containerDefinitions: [sh('a', 'true', { essential: true }), sh('b', 'true', { dependsOn: [{ containerName: 'a', condition: 'SUCCESS' }] })] }, /essential/],
    ['HEALTHY without a health check', { containerDefinitions: [sh('a', 'true', { essential: true }), sh('b', 'true', { dependsOn: [{ containerName: 'a', condition: 'HEALTHY' }] })] }, /healthCheck/],
    ['a health check interval below 5 s', { containerDefinitions: [sh('a', 'true', { essential: true, healthCheck: { command: ['CMD', 'true'], interval: 1 } })] }, /interval/],
    ['a stopTimeout above 120 s', { containerDefinitions: [sh('a', 'true', { essential: true, stopTimeout: 121 })] }, /stopTimeout/],
    ['more than 10 containers', { containerDefinitions: Array.from({ length: 11 }, (_, i) => sh(`c${i}`, 'true', { essential: true })) }, /10/],
    ['a mount of an undeclared volume', { containerDefinitions: [sh('a', 'true', { essential: true, mountPoints: [{ sourceVolume: 'ws', containerPath: '/w' }] })] }, /ws/],
    ['ephemeral storage of 20 GiB (ECS accepts 21 to 200)', { containerDefinitions: sleeper(1), ephemeralStorage: { sizeInGiB: 20 } }, /ephemeralStorage\.sizeInGiB 20 .*21 to 200 GiB/],
    ['ephemeral storage of 201 GiB', { containerDefinitions: sleeper(1), ephemeralStorage: { sizeInGiB: 201 } }, /ephemeralStorage\.sizeInGiB 201/],
    ['a Fargate size that does not exist', { requiresCompatibilities: ['FARGATE' as const], networkMode: 'awsvpc' as const, cpu: '256', memory: '4096', containerDefinitions: sleeper(1) }, /Fargate/],
  ])('refuses %s with a ClientException', async (_, definition, message) => {
    const error = await standIn.client.send(new RegisterTaskDefinitionCommand({ family: family('bad'), ...definition })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientException);
    expect((error as Error).message).toMatch(message);
    expect((error as ClientException).$metadata.httpStatusCode).toBe(400);
  });
});

describe('RunTask / DescribeTasks / ListTasks / StopTask', () => {
  it('runs count tasks with startedBy, overrides merged, and describes them', async () => {
    const name = family('run');
    await standIn.client.send(
      new RegisterTaskDefinitionCommand({
        family: name,
        containerDefinitions: [sh('main', 'echo "$A $B"; sleep 30', { essential: true, stopTimeout: 2, environment: [{ name: 'A', value: 'def' }, { name: 'B', value: 'def' }] })],
      }),
    );
    const out = await standIn.client.send(
      new RunTaskCommand({
        taskDefinition: name,
        count: 2,
        startedBy: 'stage-42',
        overrides: { containerOverrides: [{ name: 'main', environment: [{ name: 'B', value: 'override' }] }] },
      }),
    );
    expect(out.failures).toEqual([]);
    expect(out.tasks).toHaveLength(2);
    const arn = out.tasks![0]!.taskArn!;
    expect(out.tasks![0]!.startedBy).toBe('stage-42');
    await waitFor('the override in the log', () => standIn.ecs.logs(arn, 'main').find((l) => l.message === 'def override'));
    const running = await describe1(standIn.client, arn);
    expect(running.lastStatus).toBe('RUNNING');
    expect(running.containers?.[0]?.lastStatus).toBe('RUNNING');
    expect(running.createdAt).toBeInstanceOf(Date);

    const listed = await standIn.client.send(new ListTasksCommand({ startedBy: 'stage-42' }));
    expect(listed.taskArns?.sort()).toEqual(out.tasks!.map((t) => t.taskArn).sort());
    // API_ListTasks: "When you specify startedBy as the filter, it must be the only filter that you use".
    await expect(standIn.client.send(new ListTasksCommand({ startedBy: 'stage-42', desiredStatus: 'RUNNING' }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(standIn.client.send(new ListTasksCommand({ startedBy: 'stage-42', family: name }))).rejects.toThrow(/startedBy must be the only filter/);
    const byFamily = await standIn.client.send(new ListTasksCommand({ family: name }));
    expect(byFamily.taskArns).toHaveLength(2);
    expect((await standIn.client.send(new ListTasksCommand({ family: name, cluster: 'other' }))).taskArns).toEqual([]);

    const stopped = await standIn.client.send(new StopTaskCommand({ task: arn, reason: 'build cancelled' }));
    expect(stopped.task?.desiredStatus).toBe('STOPPED');
    const final = await standIn.ecs.waitForStopped(arn, HANG_GUARD_MS);
    expect(final.stopCode).toBe('UserInitiated');
    expect(final.stoppedReason).toBe('build cancelled');
    expect((await standIn.client.send(new ListTasksCommand({ family: name, desiredStatus: 'STOPPED' }))).taskArns).toEqual([arn]);
    await standIn.client.send(new StopTaskCommand({ task: out.tasks![1]!.taskArn }));
    await standIn.ecs.waitForStopped(out.tasks![1]!.taskArn!, HANG_GUARD_MS);
  });

  it('replaces the command with an override', async () => {
    const name = family('cmd');
    await standIn.client.send(new RegisterTaskDefinitionCommand({ family: name, containerDefinitions: [sh('main', 'echo from-definition', { essential: true })] }));
    const out = await standIn.client.send(new RunTaskCommand({ taskDefinition: name, overrides: { containerOverrides: [{ name: 'main', command: ['echo from-override'] }] } }));
    const arn = out.tasks![0]!.taskArn!;
    await standIn.ecs.waitForStopped(arn, HANG_GUARD_MS);
    expect(standIn.ecs.logs(arn, 'main').map((l) => l.message)).toEqual(['from-override']);
  });

  it('returns the same task for the same clientToken', async () => {
    const name = family('token');
    await standIn.client.send(new RegisterTaskDefinitionCommand({ family: name, containerDefinitions: sleeper(30) }));
    const first = await standIn.client.send(new RunTaskCommand({ taskDefinition: name, clientToken: 'stage-7' }));
    const again = await standIn.client.send(new RunTaskCommand({ taskDefinition: name, clientToken: 'stage-7' }));
    expect(again.tasks?.map((t) => t.taskArn)).toEqual(first.tasks?.map((t) => t.taskArn));
    expect((await standIn.client.send(new ListTasksCommand({ family: name }))).taskArns).toHaveLength(1);
    await standIn.client.send(new StopTaskCommand({ task: first.tasks![0]!.taskArn }));
    await standIn.ecs.waitForStopped(first.tasks![0]!.taskArn!, HANG_GUARD_MS);
  });

  it('reports capacity in failures[]: the vCPU quota and the task limit', async () => {
    standIn.ecs.setCapacity({ capacityErrors: 'failures' });
    const name = family('quota');
    await standIn.client.send(new RegisterTaskDefinitionCommand({ family: name, cpu: '2048', memory: '4096', containerDefinitions: sleeper(30) }));
    const out = await standIn.client.send(new RunTaskCommand({ taskDefinition: name, count: 4 }));
    expect(out.tasks).toHaveLength(3); // 3 × 2 vCPU = the quota of 6
    expect(out.failures).toEqual([{ arn: expect.stringContaining(name), reason: VCPU_LIMIT }]);
    standIn.ecs.setCapacity({ maxTasks: 3 });
    const small = family('small');
    await standIn.client.send(new RegisterTaskDefinitionCommand({ family: small, cpu: '256', memory: '512', containerDefinitions: sleeper(30) }));
    const full = await standIn.client.send(new RunTaskCommand({ taskDefinition: small }));
    expect(full.failures?.[0]?.reason).toBe(CAPACITY_UNAVAILABLE);
    standIn.ecs.setCapacity({ maxTasks: 50, capacityErrors: 'alternate' });
    await Promise.all(out.tasks!.map((t) => standIn.client.send(new StopTaskCommand({ task: t.taskArn }))));
    await Promise.all(out.tasks!.map((t) => standIn.ecs.waitForStopped(t.taskArn!, HANG_GUARD_MS)));
    const later = await standIn.client.send(new RunTaskCommand({ taskDefinition: small }));
    expect(later.failures).toEqual([]);
    await standIn.client.send(new StopTaskCommand({ task: later.tasks![0]!.taskArn }));
    await standIn.ecs.waitForStopped(later.tasks![0]!.taskArn!, HANG_GUARD_MS);
  });

  // ECS answers a RunTask that starts nothing for want of capacity either way: a failures[]
  // reason or a ClientException with the same text
  // (https://repost.aws/knowledge-center/ecs-fargate-runtask-capacity). By default the
  // stand-in alternates, so a caller that handles one shape only fails its tests.
  it('refuses a RunTask that starts nothing for want of capacity as a ClientException too, alternating with failures[]', async () => {
    standIn.ecs.setCapacity({ maxTasks: 0 });
    const name = family('shape');
    await standIn.client.send(new RegisterTaskDefinitionCommand({ family: name, containerDefinitions: sleeper(1) }));
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) {
      const answer = await standIn.client.send(new RunTaskCommand({ taskDefinition: name, clientToken: 'same-token' })).then(
        (out) => `failures: ${out.failures?.[0]?.reason}`,
        (e: unknown) => `${(e as Error).name}: ${(e as Error).message}`,
      );
      answers.push(answer);
    }
    expect(new Set(answers)).toEqual(new Set([`failures: ${CAPACITY_UNAVAILABLE}`, `ClientException: ${CAPACITY_UNAVAILABLE}`]));
    expect(answers[0]).not.toBe(answers[1]);
    standIn.ecs.setCapacity({ capacityErrors: 'exception' });
    const error = await standIn.client.send(new RunTaskCommand({ taskDefinition: name })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientException);
    expect((error as ClientException).$metadata.httpStatusCode).toBe(400);
    // A refused call leaves its clientToken free: the same token starts the task later.
    standIn.ecs.setCapacity({ maxTasks: 50, capacityErrors: 'alternate' });
    const later = await standIn.client.send(new RunTaskCommand({ taskDefinition: name, clientToken: 'same-token' }));
    expect(later.tasks).toHaveLength(1);
    await standIn.ecs.waitForStopped(later.tasks![0]!.taskArn!, HANG_GUARD_MS);
  });

  it('refuses Fargate Spot alone when Spot has no spare capacity', async () => {
    standIn.ecs.setCapacity({ spotAvailable: false, capacityErrors: 'failures' });
    const name = family('spot');
    await standIn.client.send(new RegisterTaskDefinitionCommand({ family: name, containerDefinitions: sleeper(1) }));
    const spot = await standIn.client.send(new RunTaskCommand({ taskDefinition: name, capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] }));
    expect(spot.failures?.map((f) => f.reason)).toEqual([CAPACITY_UNAVAILABLE]);
    const onDemand = await standIn.client.send(new RunTaskCommand({ taskDefinition: name, capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }] }));
    expect(onDemand.tasks?.[0]?.capacityProviderName).toBe('FARGATE');
    standIn.ecs.setCapacity({ spotAvailable: true, capacityErrors: 'alternate' });
    await standIn.ecs.waitForStopped(onDemand.tasks![0]!.taskArn!, HANG_GUARD_MS);
  });

  it('refuses a clientToken reused with other parameters with ConflictException naming its tasks', async () => {
    const name = family('conflict');
    await standIn.client.send(new RegisterTaskDefinitionCommand({ family: name, containerDefinitions: sleeper(1) }));
    const first = await standIn.client.send(new RunTaskCommand({ taskDefinition: name, clientToken: 'conflict-1', startedBy: 'a' }));
    const error = await standIn.client.send(new RunTaskCommand({ taskDefinition: name, clientToken: 'conflict-1', startedBy: 'b' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictException);
    expect((error as ConflictException).resourceIds).toEqual([first.tasks![0]!.taskArn]);
    expect((error as Error).message).toBe(CLIENT_TOKEN_CONFLICT);
    await standIn.ecs.waitForStopped(first.tasks![0]!.taskArn!, HANG_GUARD_MS);
  });

  it('injects faults on the wire: the SDK sees ECS\'s own error shapes', async () => {
    standIn.ecs.injectFault('RunTask', { type: 'InvalidParameterException', message: 'Request limit exceeded. (ErrorCode: RequestLimitExceeded)' });
    const error = await standIn.client.send(new RunTaskCommand({ taskDefinition: 'whatever' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidParameterException);
    expect((error as Error).message).toMatch(/RequestLimitExceeded/);
  });

  it('reports unknown tasks as MISSING and refuses bad parameters', async () => {
    const out = await standIn.client.send(new DescribeTasksCommand({ tasks: ['arn:aws:ecs:us-east-1:000000000000:task/default/nope'] }));
    expect(out.failures).toEqual([{ arn: 'arn:aws:ecs:us-east-1:000000000000:task/default/nope', reason: 'MISSING' }]);
    await expect(standIn.client.send(new StopTaskCommand({ task: 'nope' }))).rejects.toBeInstanceOf(InvalidParameterException);
    const name = family('params');
    await standIn.client.send(new RegisterTaskDefinitionCommand({ family: name, containerDefinitions: sleeper(1) }));
    await expect(standIn.client.send(new RunTaskCommand({ taskDefinition: name, count: 11 }))).rejects.toBeInstanceOf(InvalidParameterException);
    await expect(standIn.client.send(new RunTaskCommand({ taskDefinition: 'never-registered' }))).rejects.toBeInstanceOf(ClientException);
    const big = { containerOverrides: [{ name: 'main', environment: [{ name: 'X', value: 'x'.repeat(9000) }] }] };
    await expect(standIn.client.send(new RunTaskCommand({ taskDefinition: name, overrides: big }))).rejects.toThrow(/8192/);
  });

  it('refuses a launch type together with a capacity provider strategy, as ECS does', async () => {
    const name = family('both');
    await standIn.client.send(new RegisterTaskDefinitionCommand({ family: name, containerDefinitions: sleeper(1) }));
    const error = await standIn.client
      .send(new RunTaskCommand({ taskDefinition: name, launchType: 'FARGATE', capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidParameterException);
    expect((error as Error).message).toBe(BOTH_LAUNCH_TYPE_AND_STRATEGY);
    expect((error as InvalidParameterException).$metadata.httpStatusCode).toBe(400);
    expect((await standIn.client.send(new ListTasksCommand({ family: name }))).taskArns).toEqual([]);
    // Either one alone is fine.
    for (const choice of [{ launchType: 'FARGATE' as const }, { capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] }]) {
      const out = await standIn.client.send(new RunTaskCommand({ taskDefinition: name, ...choice }));
      expect(out.failures).toEqual([]);
      await standIn.ecs.waitForStopped(out.tasks![0]!.taskArn!, HANG_GUARD_MS);
    }
  });

  it("requires a network configuration for an awsvpc task definition", async () => {
    const name = family('awsvpc');
    const definition = { family: name, networkMode: 'awsvpc' as const, requiresCompatibilities: ['FARGATE' as const], cpu: '256', memory: '512', containerDefinitions: sleeper(1) };
    await standIn.client.send(new RegisterTaskDefinitionCommand(definition));
    const error = await standIn.client.send(new RunTaskCommand({ taskDefinition: name, launchType: 'FARGATE' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidParameterException);
    expect((error as Error).message).toBe(AWSVPC_NEEDS_NETWORK);
    const networkConfiguration = { awsvpcConfiguration: { subnets: ['subnet-1'], assignPublicIp: 'DISABLED' as const } };
    const out = await standIn.client.send(new RunTaskCommand({ taskDefinition: name, launchType: 'FARGATE', networkConfiguration }));
    expect(out.failures).toEqual([]);
    await standIn.ecs.waitForStopped(out.tasks![0]!.taskArn!, HANG_GUARD_MS);
  });
});
