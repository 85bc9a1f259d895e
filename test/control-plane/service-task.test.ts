// The service task of a split stage as the autoscaler sees it (lambdas/autoscaler/service-task.ts),
// on the ECS stand-in: its address only once it is RUNNING, and the pass that stops service
// tasks whose stage is done, gone, or runs another one (and leaves every other task alone).

import { DescribeTasksCommand, ListTasksCommand, RegisterTaskDefinitionCommand, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Build, Stage } from '../../core/builds/types.js';
import { AGENT_CONTAINER, AGENT_ENV } from '../../core/pipeline/contract.js';
import { DEFAULT_LIMITS } from '../../core/scaling/decide-scale.js';
import { SERVICE_TASK_STARTED_BY_PREFIX, type StageJob } from '../../core/scaling/job.js';
import { resetAutoscalerState, runPass } from '../../lambdas/autoscaler/autoscaler.js';
import type { AutoscalerDeps } from '../../lambdas/autoscaler/deps.js';
import type { ExecutionConfig } from '../../lambdas/autoscaler/config.js';
import { privateIp, serviceTaskConfig, stopFinishedServiceTasks, stopSegmentsWithoutServices } from '../../lambdas/autoscaler/service-task.js';
import { describe1, ecsForFile, family, sh, waitFor } from '../local/helpers.js';
import { MemoryBuildStore, MemoryJobQueue, MemoryStageStore } from '../support/memory-stores.js';

const standIn = ecsForFile({ namespaces: false });

function stage(buildId: string, status: Stage['status'], serviceTaskArn?: string): Stage {
  return { buildId, repo: 'octo/app', buildNumber: 1, number: 1, name: 'big', status, dependsOn: [], attempts: 1, segments: 2, ...(serviceTaskArn ? { serviceTaskArn } : {}) };
}

/** A long-running task started as a service task (or not) of the stage `stageId`. */
async function start(stageId: string, startedBy: string): Promise<string> {
  const registered = await standIn.client.send(new RegisterTaskDefinitionCommand({ family: family('svc'), containerDefinitions: [sh(AGENT_CONTAINER, 'sleep 3600', { essential: true })] }));
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
    // The second container waits for the first to succeed: the task stays PENDING meanwhile. The
    // first ends once the test has looked (a fixed second could pass before a loaded machine looks).
    const gate = join(mkdtempSync(join(tmpdir(), 'slipway-service-task-')), 'go');
    const registered = await standIn.client.send(
      new RegisterTaskDefinitionCommand({
        family: family('pending'),
        containerDefinitions: [sh('first', `until [ -e ${gate} ]; do sleep 0.1; done`), sh('second', 'sleep 3600', { essential: true, dependsOn: [{ containerName: 'first', condition: 'SUCCESS' }] })],
      }),
    );
    const arn = (await standIn.client.send(new RunTaskCommand({ taskDefinition: registered.taskDefinition!.taskDefinitionArn }))).tasks![0]!.taskArn!;
    const pending = await describe1(standIn.client, arn);
    expect(pending.lastStatus).not.toBe('RUNNING');
    expect(privateIp(pending)).toBeUndefined();
    expect(pending.attachments?.[0]).toMatchObject({ type: 'ElasticNetworkInterface', status: 'ATTACHING', details: [] });
    writeFileSync(gate, '');
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

  it('a pass stops the segment whose service task stopped and ends its stage in error; a second pass (a duplicate nudge) changes nothing', async () => {
    const store = new MemoryBuildStore();
    const stages = new MemoryStageStore(store);
    const svc = await start('octo/app#31/1', 'slipway-svc-gone');
    const seg = await start('octo/app#31/1', 'slipway-seg-gone');
    const svcUp = await start('octo/app#32/1', 'slipway-svc-up');
    const segUp = await start('octo/app#32/1', 'slipway-seg-up');
    // A cancel stops both: the segment's own stop event decides that stage, not this pass.
    const svcCancelled = await start('octo/app#33/1', 'slipway-svc-cancel');
    const segCancelled = await start('octo/app#33/1', 'slipway-seg-cancel');
    const steps = [
      { buildId: 'octo/app#31', stageNumber: 1, number: 1, name: 'clone', container: 'slipway-agent', status: 'success', kind: 'clone', detached: false },
      { buildId: 'octo/app#31', stageNumber: 1, number: 2, name: 'cache', container: 'cache', status: 'running', kind: 'service', detached: false },
      { buildId: 'octo/app#31', stageNumber: 1, number: 3, name: 'seed', container: 'seed', status: 'running', kind: 'step', detached: false },
      { buildId: 'octo/app#31', stageNumber: 1, number: 4, name: 'read', container: 'read', status: 'pending', kind: 'step', detached: false },
    ];
    store.add({ id: 'octo/app#31' } as never, [{ ...stage('octo/app#31', 'running', svc), taskArn: seg, segment: 1 }], steps as never);
    store.add({ id: 'octo/app#32' } as never, [{ ...stage('octo/app#32', 'running', svcUp), taskArn: segUp, segment: 1 }], []);
    store.add({ id: 'octo/app#33' } as never, [{ ...stage('octo/app#33', 'running', svcCancelled), taskArn: segCancelled, segment: 1 }], []);
    await standIn.client.send(new StopTaskCommand({ task: svc, reason: 'the services died' }));
    await standIn.client.send(new StopTaskCommand({ task: segCancelled, reason: 'Cancelled by tester' }));
    await standIn.client.send(new StopTaskCommand({ task: svcCancelled, reason: 'Cancelled by tester' }));
    const logs: string[] = [];
    const deps = { ecs: standIn.client, config: { cluster: 'default' }, store, stages, now: Date.now, nudge: async () => {}, postBuildStatus: async () => {}, log: (message: string) => logs.push(message) } as unknown as AutoscalerDeps;
    const active = async () => [await store.getStage('octo/app#31', 1), await store.getStage('octo/app#32', 1), await store.getStage('octo/app#33', 1)].filter((x): x is Stage => x !== null);

    expect(await stopSegmentsWithoutServices(deps, await active())).toEqual(['octo/app#31/1']);
    const ended = await store.getStage('octo/app#31', 1);
    expect(ended).toMatchObject({ status: 'error', reason: 'service-not-ready' });
    expect(ended!.message).toMatch(/^the task of its services stopped while segment 1 of 2 ran, so Slipway stopped the segment: the service task (stopped|is stopping): the services died$/);
    const segment = await describe1(standIn.client, seg);
    expect(segment.desiredStatus).toBe('STOPPED');
    expect(segment.stoppedReason).toBe(`Slipway: ${ended!.message}`.slice(0, 255));
    expect((await store.listSteps('octo/app#31', 1)).map((x) => [x.name, x.status])).toEqual([['clone', 'success'], ['cache', 'failure'], ['seed', 'killed'], ['read', 'killed']]);
    // The others: services running; a segment stopping itself.
    expect((await describe1(standIn.client, segUp)).desiredStatus).toBe('RUNNING');
    expect((await store.getStage('octo/app#32', 1))?.status).toBe('running');
    expect((await store.getStage('octo/app#33', 1))?.status).toBe('running');

    // Again, as a duplicated or late event's nudge would run it: nothing more happens.
    expect(await stopSegmentsWithoutServices(deps, [ended!, ...(await active())])).toEqual([]);
    expect(logs.filter((l) => l === 'segment stopped: its service task is gone')).toHaveLength(1);
    for (const arn of [svcUp, segUp]) await standIn.client.send(new StopTaskCommand({ task: arn, reason: 'test over' }));
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

describe("the vCPU quota counts a split stage's service task (decide-scale.ts)", () => {
  const QUOTA_VCPU = 2;
  const cluster = 'quota';
  /** Queued long enough ago that a pass takes it without its job message (autoscaler.ts wasSeen). */
  const queuedAt = () => Date.now() - 120_000;

  function passDeps(store: MemoryBuildStore, stages: MemoryStageStore, logs: { message: string; fields: Record<string, unknown> }[]): AutoscalerDeps {
    const config: ExecutionConfig = {
      tableName: 'builds', jobsQueueUrl: 'jobs', cluster, subnets: ['subnet-local'], securityGroups: [], serviceSecurityGroups: [],
      assignPublicIp: 'DISABLED', useSpot: false, defaultCpu: 256, limits: { ...DEFAULT_LIMITS, vcpuQuota: QUOTA_VCPU },
    };
    const jobs = Object.assign(new MemoryJobQueue(), { sample: async () => [], remove: async () => [], postpone: async () => [], deadLetter: async () => ({}) });
    return {
      store, stages, jobs, ecs: standIn.client, config,
      // Split stages need snapshot URLs to start; nothing here reads them.
      snapshotUrls: { url: async (key) => `http://snapshots.invalid/${key}` },
      postBuildStatus: async () => {}, nudge: async () => {}, now: Date.now,
      log: (message, fields = {}) => void logs.push({ message, fields }),
    };
  }

  function build(id: string): Build {
    return { id, repo: 'octo/app', number: Number(id.split('#')[1]), status: 'pending', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: 'c0ffee', message: 'm', author: 'a', link: 'l', deliveryId: id, fork: false, createdAt: Date.now() };
  }

  function job(stageKey: string, cpu: number, serviceCpu?: number): StageJob {
    const [buildId, stageNumber] = [stageKey.slice(0, stageKey.lastIndexOf('/')), Number(stageKey.slice(stageKey.lastIndexOf('/') + 1))];
    const definition = (name: string, size: number) => ({
      family: family(name), requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: String(size), memory: '2048',
      containerDefinitions: [sh(AGENT_CONTAINER, 'sleep 30', { essential: true })],
    });
    return {
      stageKey, buildId, stageNumber, repo: 'octo/app', pipeline: 'big', cpu, memory: 2048, queuedAt: queuedAt(), taskDefinition: definition('seg', cpu), runTask: {},
      ...(serviceCpu !== undefined
        ? {
            segments: [1, 2].map((number) => ({ number, taskDefinition: definition(`seg${number}`, cpu), runTask: {}, cpu, memory: 2048, containers: [AGENT_CONTAINER], later: { runOnFailure: false, runAlways: false } })),
            serviceTask: { taskDefinition: definition('svc', serviceCpu), runTask: {}, cpu: serviceCpu, memory: 2048 },
          }
        : {}),
    };
  }

  const stageOf = (buildId: string, extra: Partial<Stage>): Stage => ({ buildId, repo: 'octo/app', buildNumber: Number(buildId.split('#')[1]), number: 1, name: 'big', status: 'pending', dependsOn: [], attempts: 0, ...extra });

  const tasksOf = async (stageKey: string) => {
    const arns = (await standIn.client.send(new ListTasksCommand({ cluster }))).taskArns ?? [];
    const tasks = arns.length === 0 ? [] : ((await standIn.client.send(new DescribeTasksCommand({ cluster, tasks: arns }))).tasks ?? []);
    return tasks.filter((t) => t.overrides?.containerOverrides?.some((o) => o.environment?.some((e) => e.name === AGENT_ENV.stageId && e.value === stageKey)));
  };

  it('a stage that fits beside running segments waits while a running service task holds the rest of the quota', async () => {
    resetAutoscalerState();
    const store = new MemoryBuildStore();
    const stages = new MemoryStageStore(store);
    const logs: { message: string; fields: Record<string, unknown> }[] = [];
    // A split stage running segment 1 (0.5 vCPU) beside its service task (1 vCPU): 1.5 of 2 vCPU in use.
    store.add(build('octo/app#11'), [stageOf('octo/app#11', { status: 'running', taskArn: 'arn:aws:ecs:us-east-1:000000000000:task/quota/seg1', cpu: 512, segments: 2, serviceTaskArn: 'arn:aws:ecs:us-east-1:000000000000:task/quota/svc', serviceTaskCpu: 1024 })], []);
    // A plain stage of 1 vCPU: it would fit beside the segment alone (1.5 vCPU), not beside the service task too (2.5).
    store.add(build('octo/app#12'), [stageOf('octo/app#12', { queuedAt: queuedAt() })], []);
    await stages.putStageJobs([job('octo/app#12/1', 1024)]);
    const report = await runPass(passDeps(store, stages, logs), { reconcile: false });
    expect(report.started).toEqual([]);
    expect(report.deferred).toEqual([{ stageKey: 'octo/app#12/1', reason: 'vcpu-quota' }]);
    expect(report.vcpu).toEqual({ usedUnits: 1536, serviceTaskUnits: 1024, converterUnits: 0, quotaUnits: 2048 });
    expect((await store.getStage('octo/app#12', 1))?.message).toBe('waiting: needs 1 vCPU; 0.5 vCPU of the 2 vCPU quota free (service tasks of split stages hold 1 vCPU)');
    expect(await tasksOf('octo/app#12/1')).toEqual([]);
  });

  it('a split stage whose service task would pass the quota waits, saying so, and starts it once the vCPU is free', async () => {
    resetAutoscalerState();
    const store = new MemoryBuildStore();
    const stages = new MemoryStageStore(store);
    const logs: { message: string; fields: Record<string, unknown> }[] = [];
    // 1 vCPU running; the split stage's segment (0.5 vCPU) fits the other 1, its service task (1 vCPU) too only alone.
    store.add(build('octo/app#21'), [stageOf('octo/app#21', { status: 'running', taskArn: 'arn:aws:ecs:us-east-1:000000000000:task/quota/busy', cpu: 1024 })], []);
    store.add(build('octo/app#22'), [stageOf('octo/app#22', { queuedAt: queuedAt(), segments: 2 })], []);
    await stages.putStageJobs([job('octo/app#22/1', 512, 1024)]);
    const deps = passDeps(store, stages, logs);
    const first = await runPass(deps, { reconcile: false });
    expect(first.deferred).toEqual([{ stageKey: 'octo/app#22/1', reason: 'vcpu-quota' }]);
    expect((await store.getStage('octo/app#22', 1))?.message).toBe('waiting: needs 1.5 vCPU (0.5 vCPU for its task, 1 vCPU for the task of its services); 1 vCPU of the 2 vCPU quota free');
    expect(await tasksOf('octo/app#22/1')).toEqual([]);

    // The running stage ends: the next pass starts the service task and, in the same pass, the
    // first segment beside it (which reads the address later), and counts both from then on.
    await store.updateStage('octo/app#21', 1, { status: 'success', finishedAt: Date.now() });
    const second = await runPass(deps, { reconcile: false });
    const started = await tasksOf('octo/app#22/1');
    const service = started.find((t) => t.startedBy?.startsWith(SERVICE_TASK_STARTED_BY_PREFIX));
    const segment = started.find((t) => !t.startedBy?.startsWith(SERVICE_TASK_STARTED_BY_PREFIX));
    expect(started).toHaveLength(2);
    const stage = await store.getStage('octo/app#22', 1);
    expect(stage).toMatchObject({ status: 'running', taskArn: segment!.taskArn, serviceTaskArn: service!.taskArn, serviceTaskCpu: 1024 });
    expect(second.started.map((s) => s.taskArn)).toEqual([segment!.taskArn]);
    expect(second.vcpu).toEqual({ usedUnits: 1536, serviceTaskUnits: 1024, converterUnits: 0, quotaUnits: 2048 });
    expect(logs.find((l) => l.message === 'service task started')?.fields).toMatchObject({ taskArn: service!.taskArn, cpu: 1024 });
    for (const t of started) await standIn.client.send(new StopTaskCommand({ cluster, task: t.taskArn!, reason: 'test over' }));
  });
});
