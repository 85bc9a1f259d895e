// The service task of a split stage as the autoscaler sees it (lambdas/autoscaler/service-task.ts),
// on the ECS stand-in: its address only once it is RUNNING, and the pass that stops service
// tasks whose stage is done, gone, or runs another one (and leaves every other task alone).

import { RegisterTaskDefinitionCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import type { Stage } from '../../core/builds/types.js';
import { AGENT_CONTAINER, AGENT_ENV } from '../../core/pipeline/contract.js';
import type { AutoscalerDeps } from '../../lambdas/autoscaler/deps.js';
import type { ExecutionConfig } from '../../lambdas/autoscaler/config.js';
import { privateIp, serviceTaskConfig, stopFinishedServiceTasks } from '../../lambdas/autoscaler/service-task.js';
import { describe1, ecsForFile, family, sh, waitFor } from '../local/helpers.js';
import { MemoryBuildStore } from '../support/memory-stores.js';

const standIn = ecsForFile({ namespaces: false });

function stage(buildId: string, status: Stage['status'], serviceTaskArn?: string): Stage {
  return { buildId, repo: 'octo/app', buildNumber: 1, number: 1, name: 'big', status, dependsOn: [], attempts: 1, segments: 2, ...(serviceTaskArn ? { serviceTaskArn } : {}) };
}

/** A long-running task started as a service task (or not) of the stage `stageId`. */
async function start(stageId: string, startedBy: string): Promise<string> {
  const registered = await standIn.client.send(new RegisterTaskDefinitionCommand({ family: family('svc'), containerDefinitions: [sh(AGENT_CONTAINER, 'sleep 60', { essential: true })] }));
  const run = await standIn.client.send(
    new RunTaskCommand({
      taskDefinition: registered.taskDefinition!.taskDefinitionArn,
      startedBy,
      overrides: { containerOverrides: [{ name: AGENT_CONTAINER, environment: [{ name: AGENT_ENV.stageId, value: stageId }] }] },
    }),
  );
  return run.tasks![0]!.taskArn!;
}

describe('the service task of a split stage', () => {
  it('has no address in DescribeTasks until it is RUNNING (as ECS promises one), then one', async () => {
    // The second container waits for the first to succeed: the task stays PENDING meanwhile.
    const registered = await standIn.client.send(
      new RegisterTaskDefinitionCommand({
        family: family('pending'),
        containerDefinitions: [sh('first', 'sleep 1'), sh('second', 'sleep 30', { essential: true, dependsOn: [{ containerName: 'first', condition: 'SUCCESS' }] })],
      }),
    );
    const arn = (await standIn.client.send(new RunTaskCommand({ taskDefinition: registered.taskDefinition!.taskDefinitionArn }))).tasks![0]!.taskArn!;
    const pending = await describe1(standIn.client, arn);
    expect(pending.lastStatus).not.toBe('RUNNING');
    expect(privateIp(pending)).toBeUndefined();
    expect(pending.attachments?.[0]).toMatchObject({ type: 'ElasticNetworkInterface', status: 'ATTACHING', details: [] });
    const running = await waitFor('RUNNING', async () => {
      const t = await describe1(standIn.client, arn);
      return t.lastStatus === 'RUNNING' ? t : undefined;
    });
    expect(privateIp(running)).toBe(standIn.ecs.sandboxOf(arn)!.taskAddress);
    expect(running.attachments?.[0]).toMatchObject({ status: 'ATTACHED', details: [{ name: 'privateIPv4Address', value: privateIp(running) }] });
  });

  it('a pass stops the service tasks whose stage is done, gone, or runs another one, and no other task', async () => {
    const store = new MemoryBuildStore();
    const done = await start('octo/app#1/1', 'slipway-svc-done');
    const mine = await start('octo/app#2/1', 'slipway-svc-mine');
    const replaced = await start('octo/app#3/1', 'slipway-svc-replaced');
    const orphan = await start('octo/app#4/1', 'slipway-svc-orphan');
    const segment = await start('octo/app#1/1', 'slipway-0123456789abcdef');
    store.add({ id: 'octo/app#1' } as never, [stage('octo/app#1', 'success', done)], []);
    store.add({ id: 'octo/app#2' } as never, [stage('octo/app#2', 'running', mine)], []);
    store.add({ id: 'octo/app#3' } as never, [stage('octo/app#3', 'pending', 'arn:aws:ecs:us-east-1:000000000000:task/slipway/other')], []);
    const logs: string[] = [];
    const deps = {
      ecs: standIn.client,
      config: { cluster: 'default' },
      store,
      log: (message: string) => logs.push(message),
    } as unknown as AutoscalerDeps;
    const stopped = await stopFinishedServiceTasks(deps);
    expect(stopped.sort()).toEqual([done, replaced, orphan].sort());
    for (const arn of [done, replaced, orphan]) expect((await describe1(standIn.client, arn)).desiredStatus).toBe('STOPPED');
    for (const arn of [mine, segment]) expect((await describe1(standIn.client, arn)).desiredStatus).toBe('RUNNING');
    expect((await describe1(standIn.client, done)).stoppedReason).toBe('Slipway: service task no longer needed: its stage is success');
    expect((await describe1(standIn.client, replaced)).stoppedReason).toBe('Slipway: service task no longer needed: its stage runs another service task');
    expect((await describe1(standIn.client, orphan)).stoppedReason).toBe('Slipway: service task no longer needed: its stage does not exist');
    expect(logs.filter((l) => l === 'service task stopped')).toHaveLength(3);
  });

  // Ordinary build tasks let nothing in; only the service task's own group lets build tasks in
  // (lib/network.ts), so no build task can be reached by another repository's steps.
  it('starts in its own security group, the one build tasks may reach; without one (local mode) in the build tasks\' groups', () => {
    const config = { cluster: 'c', subnets: ['s'], securityGroups: ['sg-build'], serviceSecurityGroups: ['sg-service'], assignPublicIp: 'ENABLED' } as unknown as ExecutionConfig;
    expect(serviceTaskConfig(config).securityGroups).toEqual(['sg-service']);
    expect(config.securityGroups).toEqual(['sg-build']);
    expect(serviceTaskConfig({ ...config, serviceSecurityGroups: [] }).securityGroups).toEqual(['sg-build']);
  });
});
