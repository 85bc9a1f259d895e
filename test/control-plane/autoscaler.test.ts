// The autoscaler and the task-events handler against the local stand-ins (DynamoDB Local,
// fauxqs, the ECS stand-in) with the real SDK clients. The tasks here are hand-written
// definitions whose essential container is a shell command, so the test depends on
// neither the compiler nor the agent (the end-to-end test uses both).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFinished, HANG_GUARD_MS, waitFor } from '../support/wait.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { documentClient } from '../../adapters/dynamodb/client.js';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DescribeTasksCommand, ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalAws, type LocalAws } from '../../local/aws.js';
import { ensureTable } from '../../lambdas/shared/table.js';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { DynamoStageStore } from '../../adapters/dynamodb/stage-store.js';
import type { Build, Stage, StepRecord } from '../../core/builds/types.js';
import type { TaskStateChangeDetail } from '../../core/builds/task-event.js';
import { AGENT_CONTAINER, AGENT_ENV } from '../../core/pipeline/contract.js';
import { runTaskTokens, type StageJob } from '../../core/scaling/job.js';
import { DEFAULT_LIMITS } from '../../core/scaling/decide-scale.js';
import { JOBS_MAX_RECEIVES } from '../../core/scaling/job.js';
import { runPass, resetAutoscalerState, type AutoscalerDeps, type PassReport } from '../../lambdas/autoscaler/autoscaler.js';
import { MAX_START_FAILURES, runTaskInput } from '../../lambdas/autoscaler/start-stage.js';
import { reconcile, TIMEOUT_GRACE_MS, UNFINISHED_BUILD_GRACE_MS } from '../../lambdas/autoscaler/reconcile.js';
import { ensureTaskDefinition } from '../../lambdas/autoscaler/register.js';
import { cancelBuild } from '../../lambdas/api/cancel.js';
import { applyTaskEvent, stageKeyOf } from '../../lambdas/shared/execution/apply-event.js';
import { SqsJobQueue } from '../../adapters/sqs/job-queue.js';
import { DynamoSociIndexStore } from '../../adapters/dynamodb/soci-store.js';
import type { Ec2Fleet, FleetDecision, FleetInstance } from '../../core/scaling/ec2-fleet.js';

let aws: LocalAws;
let unsubscribe = () => {};
/** The adapters over the local stand-ins, their own surface kept for seeding and inspection. */
let deps: AutoscalerDeps & { store: DynamoBuildStore; stages: DynamoStageStore; jobs: SqsJobQueue };
let sqs: SQSClient;
let posted: Build[] = [];
const applied: { stageKey?: string; applied: boolean; reason?: string }[] = [];
// Builds whose task events are collected instead of applied, so a test can order them.
const held = new Map<string, TaskStateChangeDetail[]>();
const heldBuildOf = (detail: TaskStateChangeDetail): string | undefined => {
  const key = stageKeyOf(detail);
  return key === undefined ? undefined : [...held.keys()].find((id) => key.startsWith(`${id}/`));
};
let dlqUrl = '';
/** What the passes counted (the metrics port) and logged, in order. */
const counted: { metric: string; value: unknown }[] = [];
const logged: { message: string; fields: Record<string, unknown> }[] = [];
let serial: Promise<unknown> = Promise.resolve();
// One pass at a time, as the Lambda's reserved concurrency of 1 gives in AWS.
const pass = (reconcileToo = false): Promise<PassReport> => {
  const next = serial.then(() => runPass(deps, { reconcile: reconcileToo }));
  serial = next.catch(() => {});
  return next;
};

beforeAll(async () => {
  aws = await startLocalAws({ ecs: { namespaces: false, eventDelivery: { duplicateProbability: 0.5, reorderProbability: 0.3, seed: 7 } } });
  const ddb = new DynamoDBClient(aws.clientConfig('dynamodb'));
  await ensureTable(ddb, 'builds');
  const doc = documentClient(ddb);
  sqs = new SQSClient(aws.clientConfig('sqs'));
  dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'jobs-dlq' }))).QueueUrl!;
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  // As in AWS (lib/queues.ts), a message received more than maxReceiveCount times is dead-lettered.
  const queue = await sqs.send(
    new CreateQueueCommand({ QueueName: 'jobs', Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: JOBS_MAX_RECEIVES }) } }),
  );
  deps = {
    store: new DynamoBuildStore(doc, 'builds'),
    stages: new DynamoStageStore(doc, 'builds'),
    ecs: new ECSClient(aws.clientConfig('ecs')),
    jobs: new SqsJobQueue(sqs, queue.QueueUrl!, dlqUrl),
    postBuildStatus: async (build) => void posted.push(build),
    nudge: async () => void pass(),
    now: Date.now,
    log: (message, fields = {}) => void logged.push({ message, fields }),
    metrics: {
      buildStarted: () => void counted.push({ metric: 'BuildsStarted', value: 1 }),
      buildFinished: (status) => void counted.push({ metric: 'BuildsFinished', value: status }),
      stageStarted: (times) => {
        counted.push({ metric: 'QueueWait', value: times.queueWaitMs });
        if (times.webhookToRunTaskMs !== undefined) counted.push({ metric: 'WebhookToRunTask', value: times.webhookToRunTaskMs });
      },
      runTaskFailure: (reason) => void counted.push({ metric: 'RunTaskFailures', value: reason }),
      gitHostError: (host, operation) => void counted.push({ metric: 'GitHostErrors', value: `${host} ${operation}` }),
      sociJobExpired: () => void counted.push({ metric: 'SociJobsExpired', value: 1 }),
    },
    config: {
      tableName: 'builds', jobsQueueUrl: queue.QueueUrl!, cluster: 'slipway', subnets: ['subnet-local'], securityGroups: [], serviceSecurityGroups: [],
      assignPublicIp: 'DISABLED', useSpot: false, defaultCpu: 256, limits: { ...DEFAULT_LIMITS }, jobsDeadLetterQueueUrl: dlqUrl,
    },
  };
  unsubscribe = aws.ecs.onTaskStateChange(async (event) => {
    const holder = heldBuildOf(event.detail);
    if (holder !== undefined) {
      held.get(holder)!.push(event.detail);
      return;
    }
    const result = await applyTaskEvent(deps, event.detail);
    applied.push(result);
    if (event.detail.lastStatus === 'STOPPED') void pass();
  });
});

afterAll(async () => {
  unsubscribe();
  await serial;
  await aws?.stop();
});

let buildCounter = 0;
async function seedBuild(
  stages: { name: string; dependsOn?: string[]; script: string; cpu?: number; onFailure?: boolean; runTask?: StageJob['runTask']; agentHealthCheck?: Record<string, unknown> }[],
  /** enqueue: send the job messages; queued: root stages wait in the table at once (a pass may start them). */
  options: { enqueue?: boolean; queued?: boolean } = {},
): Promise<{ build: Build; jobs: StageJob[] }> {
  const number = ++buildCounter;
  const repo = 'acme/app';
  const id = `${repo}#${number}`;
  const now = Date.now();
  await deps.store.ensureRepository({ slug: repo, scm: 'github', httpUrl: 'http://x/acme/app.git', link: 'http://x/acme/app', defaultBranch: 'main', private: false });
  const build: Build = {
    id, repo, number, status: 'pending', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: `c0ffee${number}`,
    message: 'm', author: 'a', link: 'l', deliveryId: `d-${number}-${now}`, fork: false, createdAt: now,
  };
  const stageRecords: Stage[] = stages.map((s, i) => ({
    buildId: id, repo, buildNumber: number, number: i + 1, name: s.name, status: 'pending', dependsOn: s.dependsOn ?? [], attempts: 0,
    ...(s.dependsOn?.length || options.queued === false ? {} : { queuedAt: now }),
    ...(s.onFailure ? { onFailure: true, onSuccess: true } : {}),
  }));
  const steps: StepRecord[] = stages.flatMap((_, i) => [
    { buildId: id, stageNumber: i + 1, number: 1, name: 'clone', container: AGENT_CONTAINER, status: 'pending', detached: false, kind: 'clone' },
  ]);
  await deps.store.createBuild({ build, stages: stageRecords, steps });
  const jobs: StageJob[] = stages.map((s, i) => ({
    stageKey: `${id}/${i + 1}`, buildId: id, stageNumber: i + 1, repo, pipeline: s.name, cpu: s.cpu ?? 256, memory: 512, queuedAt: now, receivedAt: now,
    taskDefinition: {
      family: `test-${s.script.replace(/\W/g, '')}`,
      requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: String(s.cpu ?? 256), memory: '512',
      containerDefinitions: [{ name: AGENT_CONTAINER, image: 'alpine', essential: true, entryPoint: ['/bin/sh', '-c'], command: [s.script], ...(s.agentHealthCheck ? { healthCheck: s.agentHealthCheck } : {}) }],
    },
    runTask: s.runTask ?? {},
  }));
  await deps.stages.putStageJobs(jobs);
  if (options.enqueue !== false && options.queued !== false) for (const job of jobs.filter((_, i) => !stages[i]!.dependsOn?.length)) await deps.jobs.enqueue(job);
  return { build, jobs };
}

const finished = (id: string) => buildFinished((i) => deps.store.getBuild(i), id);

describe('autoscaler + task-events on the local stand-ins', () => {
  it('runs two dependent stages once each, despite duplicated and reordered events', async () => {
    resetAutoscalerState();
    const { build } = await seedBuild([{ name: 'first', script: 'exit 0' }, { name: 'second', dependsOn: ['first'], script: 'sleep 0.1; exit 0' }]);
    const report = await pass();
    expect(report.started.map((s) => s.stageKey)).toEqual([`${build.id}/1`]);
    const done = await finished(build.id);
    expect(done.status).toBe('success');
    const detail = (await deps.store.getBuildDetail(build.id))!;
    expect(detail.stages.map((s) => [s.name, s.status, s.attempts, s.reason])).toEqual([
      ['first', 'success', 1, 'steps-passed'],
      ['second', 'success', 1, 'steps-passed'],
    ]);
    expect(detail.stages.every((s) => s.startedAt! >= s.queuedAt! && s.firstStepAt === undefined && s.cpu === 256)).toBe(true);
    expect(detail.stages.flatMap((s) => s.steps.map((x) => x.status))).toEqual(['success', 'success']);
    // Each start is logged with the build's and the stage's ids, and its queue wait counted.
    for (const stageId of [`${build.id}/1`, `${build.id}/2`]) {
      const line = logged.find((l) => l.message === 'stage started' && l.fields.stageId === stageId);
      expect(line?.fields).toMatchObject({ buildId: build.id, stageId, queueWaitMs: expect.any(Number) });
      expect(counted).toContainEqual({ metric: 'QueueWait', value: line?.fields.queueWaitMs });
    }
    expect(counted).toContainEqual({ metric: 'BuildsFinished', value: 'success' });
    // Webhook → RunTask is the first stage's only (README, Logs and metrics): the dependent stage's
    // job carries the build's receipt time too, but it was queued when its dependency ended.
    const starts = [1, 2].map((n) => logged.find((l) => l.message === 'stage started' && l.fields.stageId === `${build.id}/${n}`)!.fields);
    expect(starts[0]!.webhookToRunTaskMs).toEqual(expect.any(Number));
    expect(starts[1]!.webhookToRunTaskMs).toBeUndefined();
    expect(counted).toContainEqual({ metric: 'WebhookToRunTask', value: starts[0]!.webhookToRunTaskMs });
    expect(counted).not.toContainEqual({ metric: 'WebhookToRunTask', value: starts[1]!.queueWaitMs });
    // One RunTask per stage: the ECS stand-in saw one task per stage.
    const tasks = aws.ecs.tasks().filter((t) => detail.stages.some((s) => s.taskArn === t.taskArn));
    expect(tasks).toHaveLength(2);
    expect(posted.filter((b) => b.id === build.id).map((b) => b.status)).toEqual(['success']);
    expect(applied.some((a) => !a.applied && /version/.test(a.reason ?? ''))).toBe(true);
  });

  it('a failing stage fails the build and skips its dependent; trigger status failure runs', async () => {
    const { build } = await seedBuild([
      { name: 'test', script: 'exit 1' },
      { name: 'deploy', dependsOn: ['test'], script: 'exit 0' },
      { name: 'notify', dependsOn: ['test'], script: 'exit 0', onFailure: true },
    ]);
    await pass();
    const done = await finished(build.id);
    expect(done.status).toBe('failure');
    const stages = await deps.store.listStages(build.id);
    expect(stages.map((s) => [s.name, s.status, s.reason])).toEqual([
      ['test', 'failure', 'step-failed'],
      ['deploy', 'skipped', 'dependency-failed'],
      ['notify', 'success', 'steps-passed'],
    ]);
    expect(posted.filter((b) => b.id === build.id).map((b) => b.status)).toEqual(['failure']);
  });

  it('rejects a stage bigger than the vCPU quota with a stated reason', async () => {
    const { build } = await seedBuild([{ name: 'huge', script: 'exit 0', cpu: 8192 }]);
    // A pass nudged by the previous test's stopped tasks may be the one that rejects it.
    const reports = [await pass()];
    const stage = await waitFor('the stage to be rejected', async () => {
      const s = await deps.store.getStage(build.id, 1);
      return s?.status === 'error' ? s : undefined;
    });
    expect(reports.flatMap((r) => r.started.map((x) => x.stageKey))).not.toContain(`${build.id}/1`);
    expect(aws.ecs.tasks().some((t) => JSON.stringify(t.overrides).includes(`${build.id}/1`))).toBe(false);
    expect(stage.message).toMatch(/8 vCPU.*quota is 6/);
    expect((await deps.store.getBuild(build.id))!.status).toBe('error');
  });

  it('reconciles a running stage whose task is gone; a queued stage without a message starts from the table', async () => {
    const { build } = await seedBuild([{ name: 'ghost', script: 'exit 0' }, { name: 'orphan', script: 'exit 0' }], { queued: false });
    await deps.stages.markRunning(build.id, 1, { attempt: 0, taskArn: 'arn:aws:ecs:us-east-1:000000000000:task/slipway/0000000000000000', capacity: 'FARGATE', startedAt: Date.now(), cpu: 256 });
    // Queued long ago, and no message carries it (lost, or never sent).
    await deps.stages.markQueued(build.id, 2, Date.now() - 5 * 60_000);
    const report = await reconcile(deps);
    expect(report.lost).toContain(`${build.id}/1`);
    expect((await deps.store.getStage(build.id, 1))!.message).toMatch(/no longer knows task/);
    await pass();
    const done = await finished(build.id);
    expect(done.status).toBe('error');
    expect((await deps.store.getStage(build.id, 2))!.status).toBe('success');
  });

  it('a duplicate job message starts the stage once', async () => {
    const { build, jobs } = await seedBuild([{ name: 'dup', script: 'exit 0' }]);
    await deps.jobs.enqueue(jobs[0]!);
    await deps.jobs.enqueue(jobs[0]!);
    // Passes nudged by earlier tasks may run it too: count what ECS saw, not one pass.
    await pass();
    await finished(build.id);
    const again = await pass();
    expect(again.started).toEqual([]);
    const stage = (await deps.store.getStage(build.id, 1))!;
    expect(aws.ecs.tasks().filter((t) => t.taskArn === stage.taskArn)).toHaveLength(1);
    expect(stage.attempts).toBe(1);
  });

  it('a pending stage claimed by its task\'s PENDING event (v1) still takes the same task\'s STOPPED (v2)', async () => {
    const { build } = await seedBuild([{ name: 'claimed', script: 'exit 0' }], { queued: false });
    const key = `${build.id}/1`;
    const taskArn = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/claimed000000001';
    const event = (version: number, lastStatus: string, agent: Record<string, unknown>): TaskStateChangeDetail => ({
      clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/slipway', taskArn, taskDefinitionArn: 'arn:td/x:1',
      startedBy: runTaskTokens(key, 0).startedBy, lastStatus, desiredStatus: lastStatus === 'STOPPED' ? 'STOPPED' : 'RUNNING', version,
      ...(lastStatus === 'STOPPED' ? { stopCode: 'EssentialContainerExited' } : {}),
      containers: [{ name: AGENT_CONTAINER, ...agent } as TaskStateChangeDetail['containers'][number]],
      overrides: { containerOverrides: [{ name: AGENT_CONTAINER, environment: [{ name: AGENT_ENV.stageId, value: key }] }] },
    });
    const first = await applyTaskEvent(deps, event(1, 'PROVISIONING', { lastStatus: 'PENDING' }));
    expect(first).toMatchObject({ applied: true, status: 'pending' });
    expect(await deps.store.getStage(build.id, 1)).toMatchObject({ status: 'pending', taskArn, attempts: 1, eventVersion: 1 });
    const stop = await applyTaskEvent(deps, event(2, 'STOPPED', { lastStatus: 'STOPPED', exitCode: 0 }));
    expect(stop).toMatchObject({ applied: true, status: 'success' });
    const stage = (await deps.store.getStage(build.id, 1))!;
    expect([stage.status, stage.attempts, stage.eventVersion, stage.reason]).toEqual(['success', 1, 2, 'steps-passed']);
    expect((await deps.store.getBuild(build.id))!.status).toBe('success');
  });

  it('a duplicate job after the claim starts no second task; markRunning after the claim counts the attempt once', async () => {
    const { build, jobs } = await seedBuild([{ name: 'race', script: 'sleep 0.3; exit 0' }], { queued: false });
    const job = jobs[0]!;
    held.set(build.id, []);
    // The autoscaler's RunTask went through; its markRunning has not landed yet.
    const definition = await ensureTaskDefinition(deps.ecs, job.taskDefinition, {});
    const res = await deps.ecs.send(new RunTaskCommand(runTaskInput(deps.config, job, definition, 'FARGATE', runTaskTokens(job.stageKey, 0))));
    const taskArn = res.tasks![0]!.taskArn!;
    // The stand-in duplicates and reorders deliveries: the claim is made by an event of the task before it runs.
    const firstEvent = await waitFor('the task\'s first event', async () =>
      held.get(build.id)!.filter((d) => d.lastStatus === 'PROVISIONING' || d.lastStatus === 'PENDING').sort((a, b) => a.version - b.version)[0]);
    expect((await applyTaskEvent(deps, firstEvent)).applied).toBe(true);
    expect(await deps.store.getStage(build.id, 1)).toMatchObject({ status: 'pending', taskArn, attempts: 1 });
    // The job message comes again (a duplicate, or the visibility timeout of the crashed pass).
    await deps.jobs.enqueue(job);
    const report = await pass();
    expect(report.started.map((s) => s.stageKey)).not.toContain(job.stageKey);
    const tasksOfStage = () => aws.ecs.tasks().filter((t) => JSON.stringify(t.overrides).includes(`"${job.stageKey}"`));
    expect(tasksOfStage()).toHaveLength(1);
    const marked = await deps.stages.markRunning(build.id, 1, { attempt: 0, taskArn, capacity: 'FARGATE', startedAt: Date.now(), cpu: 256 });
    expect([marked?.status, marked?.attempts]).toEqual(['running', 1]);
    const events = held.get(build.id)!;
    held.delete(build.id);
    for (const detail of events.sort((a, b) => a.version - b.version)) await applyTaskEvent(deps, detail);
    const done = await finished(build.id);
    expect(done.status).toBe('success');
    const stage = (await deps.store.getStage(build.id, 1))!;
    expect([stage.status, stage.attempts, stage.taskArn]).toEqual(['success', 1, taskArn]);
    expect(tasksOfStage()).toHaveLength(1);
  });

  it('a build cancelled between RunTask and markRunning gets its task stopped', async () => {
    const { build, jobs } = await seedBuild([{ name: 'cancelled', script: 'sleep 30' }], { queued: false });
    held.set(build.id, []);
    let cancelled = false;
    const realEcs = deps.ecs;
    // ECS answers RunTask; before the autoscaler records it, someone cancels the build.
    const ecs = {
      send: async (command: Parameters<ECSClient['send']>[0]) => {
        const out = await realEcs.send(command as never);
        if (command instanceof RunTaskCommand && !cancelled) {
          cancelled = true;
          await cancelBuild({ store: deps.store, stopTask: async () => {}, buildFinished: async () => {}, now: Date.now, log: () => {} }, build, 'tester');
        }
        return out;
      },
    } as unknown as ECSClient;
    // Queued and passed inside the serial chain: no nudged pass may start it with the plain client.
    const next = serial.then(async () => {
      await deps.stages.markQueued(build.id, 1, Date.now());
      await deps.jobs.enqueue(jobs[0]!);
      return runPass({ ...deps, ecs }, { reconcile: false });
    });
    serial = next.catch(() => {});
    const report = await next;
    expect(report.started.map((s) => s.stageKey)).toContain(`${build.id}/1`);
    expect((await deps.store.getStage(build.id, 1))!.status).toBe('killed');
    const taskArn = report.started.find((s) => s.stageKey === `${build.id}/1`)!.taskArn;
    const task = aws.ecs.tasks().find((t) => t.taskArn === taskArn)!;
    expect([task.desiredStatus, task.stoppedReason]).toEqual(['STOPPED', 'build cancelled']);
    held.delete(build.id);
    expect((await deps.store.getBuild(build.id))!.status).toBe('killed');
  });

  it('an undecodable job message goes to the jobs dead-letter queue at once, with why', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: deps.jobs.queueUrl, MessageBody: '{"not":"a job"' }));
    await pass();
    const dead = await waitFor('the poison job in the DLQ', async () => {
      const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }));
      return res.Messages?.length ? res.Messages : undefined;
    });
    expect(dead.map((m) => m.Body)).toEqual(['{"not":"a job"']);
    expect(dead[0]!.MessageAttributes?.error?.StringValue).toMatch(/not JSON/);
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: deps.jobs.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    expect(Number(attrs.Attributes?.ApproximateNumberOfMessages) + Number(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible)).toBe(0);
  });

  it('a Spot interruption requeues once on on-demand; the old task\'s late events are refused; the retry counts a second attempt', async () => {
    const { build } = await seedBuild([{ name: 'spot', script: 'exit 0' }], { queued: false });
    const key = `${build.id}/1`;
    const spotTask = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/spot0000000000001';
    await deps.stages.markRunning(build.id, 1, { attempt: 0, taskArn: spotTask, capacity: 'FARGATE_SPOT', startedAt: Date.now(), cpu: 256 });
    const spotEvent = (version: number): TaskStateChangeDetail => ({
      clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/slipway', taskArn: spotTask, taskDefinitionArn: 'arn:td/x:1',
      startedBy: runTaskTokens(key, 0).startedBy, lastStatus: 'STOPPED', desiredStatus: 'STOPPED', version, stopCode: 'SpotInterruption',
      capacityProviderName: 'FARGATE_SPOT', containers: [{ name: AGENT_CONTAINER, lastStatus: 'STOPPED', exitCode: 143 }],
      overrides: { containerOverrides: [{ name: AGENT_CONTAINER, environment: [{ name: AGENT_ENV.stageId, value: key }] }] },
    });
    expect(await applyTaskEvent(deps, spotEvent(3))).toMatchObject({ applied: true, status: 'pending' });
    // A late duplicate of the interrupted task, whether or not the retry has started yet.
    expect((await applyTaskEvent(deps, spotEvent(4))).applied).toBe(false);
    const done = await finished(build.id);
    expect(done.status).toBe('success');
    const stage = (await deps.store.getStage(build.id, 1))!;
    expect([stage.status, stage.attempts, stage.capacity]).toEqual(['success', 2, 'FARGATE']);
    expect(stage.taskArn).not.toBe(spotTask);
    expect((await applyTaskEvent(deps, spotEvent(9))).applied).toBe(false);
    // The retry's start measures no webhook → RunTask: it was queued at the interruption, not at the push.
    const retried = logged.filter((l) => l.message === 'stage started' && l.fields.stageId === key);
    expect(retried).toHaveLength(1);
    expect(retried[0]!.fields.webhookToRunTaskMs).toBeUndefined();
    // Why it waited the second time stays with its timeline; its message is the outcome's.
    expect(stage.timeline?.queuedBecause).toMatch(/Spot|interrupt/i);
    expect(stage.message).not.toMatch(/interrupt/i);
  });
});

/** Runs `fn` inside the serial chain of passes (no nudged pass runs meanwhile). */
function serially<T>(fn: () => Promise<T>): Promise<T> {
  const next = serial.then(fn);
  serial = next.catch(() => {});
  return next;
}

/** A pass whose clock runs `aheadMs` ahead (back-offs and timeouts elapse without waiting). */
const passAhead = (aheadMs: number, extra: Partial<AutoscalerDeps> = {}) =>
  serially(() => runPass({ ...deps, ...extra, now: () => Date.now() + aheadMs }, { reconcile: false }));

const stageOf = (id: string, n = 1) => deps.stages.getStageConsistent(id, n);

/** What afterStageEnd and the planner do: the stage waits in the table, then its message announces it. */
async function queueNow(id: string, n: number): Promise<void> {
  await deps.stages.markQueued(id, n, Date.now());
  await deps.jobs.enqueue((await deps.stages.getStageJob(id, n))!);
}

async function dlqBodies(): Promise<string[]> {
  const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
  return (res.Messages ?? []).map((m) => m.Body ?? '');
}

describe('waiting stages live in the table; start failures are counted apart from waits', () => {
  it('a stage held back pass after pass is never dead-lettered, and starts once it may', async () => {
    const limits = deps.config.limits;
    deps.config.limits = { ...limits, maxConcurrent: 0 };
    let build: Build;
    try {
      ({ build } = await serially(() => seedBuild([{ name: 'patient', script: 'exit 0' }])));
      // More passes than the queue's maxReceiveCount: each one used to receive the job again.
      for (let i = 0; i < JOBS_MAX_RECEIVES + 2; i++) {
        const report = await pass();
        expect(report.deferred.map((d) => d.stageKey)).toContain(`${build.id}/1`);
      }
      expect((await dlqBodies()).some((b) => b.includes(`"${build.id}/1"`))).toBe(false);
      const stage = (await stageOf(build.id))!;
      expect([stage.status, stage.startFailures]).toEqual(['pending', undefined]);
      expect(stage.message).toMatch(/^waiting: .*MAX_CONCURRENT_BUILDS/);
      const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: deps.jobs.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      expect(Number(attrs.Attributes?.ApproximateNumberOfMessages) + Number(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible)).toBe(0);
      // A throttle after all those waits backs off as a first failure (15 s), not as the n-th.
      const throttled = await serially(async () => {
        deps.config.limits = limits;
        aws.ecs.injectFault('RunTask', { type: 'InvalidParameterException', message: 'Request limit exceeded. (ErrorCode: RequestLimitExceeded)' });
        return runPass(deps, { reconcile: false });
      });
      expect(throttled.runTaskFailures).toContainEqual(expect.objectContaining({ stageKey: `${build.id}/1`, kind: 'retry' }));
    } finally {
      deps.config.limits = limits;
    }
    const backingOff = (await stageOf(build.id))!;
    expect(backingOff.startFailures).toBe(1);
    expect(backingOff.retryAfter! - Date.now()).toBeLessThanOrEqual(15_000);
    const report = await passAhead(20_000);
    expect(report.started.map((s) => s.stageKey)).toContain(`${build.id}/1`);
    expect((await finished(build.id)).status).toBe('success');
    // The last reason it waited moved to its timeline when it ran; the outcome's message did not overwrite it.
    const ended = (await stageOf(build.id))!;
    expect(ended.timeline?.queuedBecause).toMatch(/^waiting: start failed 1 of at most/);
    expect(ended.message ?? '').not.toMatch(/^waiting/);
  });

  it('a queued stage is not taken before its message announces it (the planner posts the pending status in between)', async () => {
    const { build, jobs } = await seedBuild([{ name: 'unannounced', script: 'exit 0' }], { enqueue: false });
    const quiet = await pass();
    expect(quiet.started.map((s) => s.stageKey)).not.toContain(`${build.id}/1`);
    expect((await stageOf(build.id))!.status).toBe('pending');
    await deps.jobs.enqueue(jobs[0]!);
    expect((await pass()).started.map((s) => s.stageKey)).toContain(`${build.id}/1`);
    expect((await finished(build.id)).status).toBe('success');
  });

  it("the pass the planner nudges waits for the stage's message: one that lands during its receive is started in that pass", async () => {
    const { build, jobs } = await seedBuild([{ name: 'announced-late', script: 'exit 0' }], { enqueue: false });
    // A short poll may return nothing although the planner sent the message just before its
    // nudge (core/scaling/pass-schedule.ts); here the message lands while the receive waits.
    const report = await serially(() => {
      setTimeout(() => void deps.jobs.enqueue(jobs[0]!), 200);
      return runPass(deps, { reconcile: false, receiveWaitSeconds: 20 });
    });
    expect(report.started.map((s) => s.stageKey)).toContain(`${build.id}/1`);
    expect((await finished(build.id)).status).toBe('success');
  });

  it('a RunTask refused for capacity with a ClientException waits (not error), then starts', async () => {
    resetAutoscalerState();
    aws.ecs.setCapacity({ maxTasks: 0, capacityErrors: 'exception' });
    const countedBefore = counted.length;
    let build: Build;
    try {
      let report: PassReport;
      // Seeded and passed in the serial chain: a nudged pass would meet the refusal first.
      ({ build, report } = await serially(async () => ({ ...(await seedBuild([{ name: 'no-room', script: 'exit 0' }])), report: await runPass(deps, { reconcile: false }) })));
      expect(report.runTaskFailures).toEqual([expect.objectContaining({ stageKey: `${build.id}/1`, kind: 'capacity' })]);
      // Counted by reason: the exception's name (RunTaskFailures, dimension reason).
      expect(counted.slice(countedBefore)).toContainEqual({ metric: 'RunTaskFailures', value: 'ClientException' });
      const stage = (await stageOf(build.id))!;
      expect([stage.status, stage.startFailures]).toEqual(['pending', undefined]);
      expect(stage.message).toMatch(/^waiting: no Fargate capacity.*ClientException.*Capacity is unavailable/);
      // The capacity back-off holds every stage, whatever the next answer would be.
      expect((await pass()).deferred).toContainEqual({ stageKey: `${build.id}/1`, reason: 'capacity-backoff' });
    } finally {
      aws.ecs.setCapacity({ maxTasks: 50, capacityErrors: 'alternate' });
    }
    resetAutoscalerState();
    expect((await pass()).started.map((s) => s.stageKey)).toContain(`${build.id}/1`);
    expect((await finished(build.id)).status).toBe('success');
  });

  it('RequestLimitExceeded inside an InvalidParameterException is retried after a back-off from the failure count', async () => {
    resetAutoscalerState();
    const before = Date.now();
    // Seeded, faulted and passed inside the serial chain: no nudged pass meets the fault first.
    const { build, report } = await serially(async () => {
      const seeded = await seedBuild([{ name: 'throttled', script: 'exit 0' }]);
      aws.ecs.injectFault('RunTask', { type: 'InvalidParameterException', message: 'Error retrieving security group information for [sg-1]: Request limit exceeded. (ErrorCode: RequestLimitExceeded)' });
      return { ...seeded, report: await runPass(deps, { reconcile: false }) };
    });
    expect(report.runTaskFailures).toEqual([expect.objectContaining({ stageKey: `${build.id}/1`, kind: 'retry' })]);
    const stage = (await stageOf(build.id))!;
    expect([stage.status, stage.startFailures]).toEqual(['pending', 1]);
    expect(stage.message).toMatch(/start failed 1 of at most 8 times \(RunTask on FARGATE: RequestLimitExceeded/);
    // The first failure backs off 15 s, however long the stage waited before.
    expect(stage.retryAfter! - before).toBeGreaterThan(10_000);
    expect(stage.retryAfter! - Date.now()).toBeLessThanOrEqual(15_000);
    expect((await pass()).deferred).toContainEqual({ stageKey: `${build.id}/1`, reason: 'retry-backoff' });
    const later = await passAhead(20_000);
    expect(later.started.map((s) => s.stageKey)).toContain(`${build.id}/1`);
    expect((await finished(build.id)).status).toBe('success');
  });

  it(`a ServerException is retried, and after ${MAX_START_FAILURES} failed starts the stage ends error saying so`, async () => {
    resetAutoscalerState();
    const { build } = await seedBuild([{ name: 'unlucky', script: 'exit 0' }], { queued: false });
    // The SDK tries a 500 three times itself: each pass meets three faults.
    let ahead = 0;
    for (let i = 1; i <= MAX_START_FAILURES; i++) {
      const now = Date.now() + ahead;
      await serially(async () => {
        // Queued inside the serial chain: no nudged pass starts it before the faults are set.
        if (i === 1) await queueNow(build.id, 1);
        aws.ecs.injectFault('RunTask', { type: 'ServerException', message: 'Service Unavailable. Please try again later.' }, 3);
        return runPass({ ...deps, now: () => now }, { reconcile: false });
      });
      ahead += 16 * 60_000;
      const stage = (await stageOf(build.id))!;
      if (i < MAX_START_FAILURES) expect([stage.status, stage.startFailures]).toEqual(['pending', i]);
    }
    const stage = (await stageOf(build.id))!;
    expect([stage.status, stage.reason]).toEqual(['error', 'could-not-start']);
    expect(stage.message).toBe(`cannot start: ${MAX_START_FAILURES} attempts failed; the last: RunTask on FARGATE: ServerException (HTTP 500): Service Unavailable. Please try again later.`);
    expect((await finished(build.id)).status).toBe('error');
  });

  it("a ConflictException (this attempt's token already started a task with other parameters) adopts that task", async () => {
    const { build, jobs } = await seedBuild([{ name: 'adopted', script: 'sleep 0.3; exit 0' }], { queued: false });
    const job = jobs[0]!;
    // Its events are held: the task's first event would otherwise claim the stage before the pass.
    held.set(build.id, []);
    const definition = await ensureTaskDefinition(deps.ecs, job.taskDefinition, {});
    // An earlier pass started the task with what the job said then (here: other tags).
    const earlier = { ...runTaskInput(deps.config, job, definition, 'FARGATE', runTaskTokens(job.stageKey, 0)), tags: [{ key: 'from', value: 'an earlier pass' }] };
    const taskArn = (await deps.ecs.send(new RunTaskCommand(earlier))).tasks![0]!.taskArn!;
    const report = await serially(async () => {
      await queueNow(build.id, 1);
      return runPass(deps, { reconcile: false });
    });
    expect(report.started).toContainEqual(expect.objectContaining({ stageKey: job.stageKey, taskArn }));
    const events = held.get(build.id)!;
    held.delete(build.id);
    for (const detail of events.sort((a, b) => a.version - b.version)) await applyTaskEvent(deps, detail);
    expect((await finished(build.id)).status).toBe('success');
    expect(aws.ecs.tasks().filter((t) => JSON.stringify(t.overrides).includes(`"${job.stageKey}"`))).toHaveLength(1);
    expect((await stageOf(build.id))!.taskArn).toBe(taskArn);
  });

  it('Fargate Spot refusing with an exception: the same pass starts the stage on on-demand', async () => {
    resetAutoscalerState();
    const { build } = await seedBuild([{ name: 'spot-full', script: 'exit 0' }], { queued: false });
    aws.ecs.setCapacity({ spotAvailable: false, capacityErrors: 'exception' });
    try {
      const report = await serially(async () => {
        await queueNow(build.id, 1);
        return runPass({ ...deps, config: { ...deps.config, useSpot: true } }, { reconcile: false });
      });
      expect(report.started).toContainEqual(expect.objectContaining({ stageKey: `${build.id}/1`, capacity: 'FARGATE' }));
    } finally {
      aws.ecs.setCapacity({ spotAvailable: true, capacityErrors: 'alternate' });
    }
    expect((await finished(build.id)).status).toBe('success');
  });
});

describe('Fargate Spot and ARM64', () => {
  // The API Reference says FARGATE_SPOT runs ARM64 on platform 1.4.0+; the Developer Guide
  // still says X86_64 only (API_CapacityProviderStrategyItem.html vs fargate-capacity-providers.html).
  it('an ARM64 stage tries Spot first; a Spot refusal by exception (a Region without it) starts it on on-demand', async () => {
    resetAutoscalerState();
    const arm = { runtimePlatform: { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' } };
    const spotDeps = { ...deps, config: { ...deps.config, useSpot: true } };
    const { build, jobs } = await seedBuild([{ name: 'arm-spot', script: 'exit 0' }, { name: 'arm-refused', script: 'exit 0' }], { queued: false });
    for (const job of jobs) Object.assign(job.taskDefinition, arm, { family: `${job.taskDefinition.family}-arm64` });
    await deps.stages.putStageJobs(jobs);
    const first = await serially(async () => {
      await queueNow(build.id, 1);
      return runPass(spotDeps, { reconcile: false });
    });
    expect(first.started).toContainEqual(expect.objectContaining({ stageKey: `${build.id}/1`, capacity: 'FARGATE_SPOT' }));
    const second = await serially(async () => {
      await queueNow(build.id, 2);
      // Not a recorded AWS message: the stand-in's stand-in for a Region whose Spot refuses this platform.
      aws.ecs.injectFault('RunTask', { type: 'InvalidParameterException', message: '(stand-in) FARGATE_SPOT refuses this task platform here' });
      return runPass(spotDeps, { reconcile: false });
    });
    expect(second.started).toContainEqual(expect.objectContaining({ stageKey: `${build.id}/2`, capacity: 'FARGATE' }));
    expect((await finished(build.id)).status).toBe('success');
  });
});

describe('reconciliation of wedged tasks and unfinished builds', () => {
  it('marks the clone passed once its agent is HEALTHY, while the task still runs (events carry no health)', async () => {
    // The agent's health check passes once its "clone" is done (a file); it then waits to be released.
    const dir = mkdtempSync(join(tmpdir(), 'slipway-clone-health-'));
    const script = `while [ ! -f ${dir}/cloned ]; do sleep 0.2; done; while [ ! -f ${dir}/release ]; do sleep 0.2; done; exit 0`;
    const healthCheck = { command: ['CMD-SHELL', `test -f ${dir}/cloned`], interval: 5, retries: 1 };
    const { build } = await seedBuild([{ name: 'cloning', script, agentHealthCheck: healthCheck }]);
    await pass();
    const running = await waitFor('the stage to run', async () => {
      const s = await stageOf(build.id);
      return s?.status === 'running' ? s : undefined;
    });
    const clone = async () => (await deps.store.listSteps(build.id, 1)).find((s) => s.kind === 'clone')!;
    await waitFor('the clone step to run', async () => (await clone()).status === 'running');
    // Still cloning (not healthy): a pass leaves it running.
    expect((await serially(() => reconcile(deps))).clonesDone).not.toContain(`${build.id}/1`);
    expect((await clone()).status).toBe('running');
    writeFileSync(join(dir, 'cloned'), '');
    await waitFor('the agent to be HEALTHY', async () => {
      const res = await deps.ecs.send(new DescribeTasksCommand({ cluster: 'slipway', tasks: [running.taskArn!] }));
      return res.tasks?.[0]?.containers?.find((c) => c.name === AGENT_CONTAINER)?.healthStatus === 'HEALTHY';
    });
    const report = await serially(() => reconcile(deps));
    expect(report.clonesDone).toEqual([`${build.id}/1`]);
    expect(await clone()).toMatchObject({ status: 'success', finishedAt: expect.any(Number) });
    expect((await stageOf(build.id))!.status).toBe('running');
    // A second pass finds nothing more to do.
    expect((await serially(() => reconcile(deps))).clonesDone).toEqual([]);
    writeFileSync(join(dir, 'release'), '');
    expect((await finished(build.id)).status).toBe('success');
    expect((await clone()).status).toBe('success');
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops a task running past its pipeline timeout plus the grace; the stage ends error with why', async () => {
    const agentTimeout = { overrides: { containerOverrides: [{ name: AGENT_CONTAINER, environment: [{ name: AGENT_ENV.timeoutSeconds, value: '1' }] }] } };
    const { build } = await seedBuild([{ name: 'wedged', script: 'sleep 60', runTask: agentTimeout }]);
    await pass();
    const running = await waitFor('the stage to run', async () => {
      const s = await stageOf(build.id);
      return s?.status === 'running' ? s : undefined;
    });
    // Not before the grace is over…
    expect((await serially(() => reconcile({ ...deps, now: () => running.startedAt! + 1000 + TIMEOUT_GRACE_MS - 5_000 }))).timedOut).toEqual([]);
    // …then stopped.
    const report = await serially(() => reconcile({ ...deps, now: () => running.startedAt! + 1000 + TIMEOUT_GRACE_MS + 5_000 }));
    expect(report.timedOut).toEqual([`${build.id}/1`]);
    const stage = (await stageOf(build.id))!;
    expect([stage.status, stage.reason]).toEqual(['error', 'timed-out']);
    expect(stage.message).toMatch(/past the pipeline timeout of 1 s plus a grace of 15 min, without its agent ending it; Slipway stopped it/);
    const task = await aws.ecs.waitForStopped(running.taskArn!, HANG_GUARD_MS);
    expect(task).toMatchObject({ stopCode: 'UserInitiated', stoppedReason: expect.stringMatching(/^Slipway: ran .*past the pipeline timeout \(1 s\) plus 15 min grace$/) });
    expect((await finished(build.id)).status).toBe('error');
    expect((await deps.store.listSteps(build.id, 1)).map((s) => s.status)).toEqual(['killed']);
  });

  it('finishes a build whose stages are all final, once, with its commit status', async () => {
    const { build } = await seedBuild([{ name: 'done-a', script: 'exit 0' }, { name: 'done-b', script: 'exit 0' }], { queued: false });
    const ended = Date.now();
    for (const n of [1, 2]) await deps.stages.finish(build.id, n, { status: 'success', reason: 'steps-passed', message: 'every step passed', finishedAt: ended });
    await deps.store.updateBuild(build.id, { status: 'running', startedAt: ended - 1000 });
    // The write that should have finished the build was lost. Within the grace the event path may still do it…
    expect((await serially(() => reconcile({ ...deps, now: () => ended + UNFINISHED_BUILD_GRACE_MS - 1000 }))).buildsFinished).not.toContain(build.id);
    expect((await deps.store.getBuild(build.id))!.status).toBe('running');
    // …after it, the reconciler does.
    const report = await serially(() => reconcile({ ...deps, now: () => ended + UNFINISHED_BUILD_GRACE_MS + 1000 }));
    expect(report.buildsFinished).toContain(build.id);
    expect((await deps.store.getBuild(build.id))!.status).toBe('success');
    const again = await serially(() => reconcile({ ...deps, now: () => ended + UNFINISHED_BUILD_GRACE_MS + 2000 }));
    expect(again.buildsFinished).not.toContain(build.id);
    expect(posted.filter((b) => b.id === build.id).map((b) => b.status)).toEqual(['success']);
  });
});

describe('task definition registration', () => {
  it('retries ECS\'s "Too many concurrent attempts to create a new revision" ClientException, not a bad definition', async () => {
    const family = `test-register-${Date.now()}`;
    const definition = { family, containerDefinitions: [{ name: AGENT_CONTAINER, image: 'alpine', essential: true, command: ['true'] }] };
    aws.ecs.injectFault('RegisterTaskDefinition', { type: 'ClientException', message: 'Too many concurrent attempts to create a new revision of the specified family.' }, 2);
    expect(await ensureTaskDefinition(deps.ecs, definition, { retryDelayMs: 10 })).toMatch(new RegExp(`task-definition/${family}:1$`));
    const bad = { ...definition, family: `${family}-bad`, requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: '256', memory: '4096' };
    await expect(ensureTaskDefinition(deps.ecs, bad, { retryDelayMs: 10 })).rejects.toThrow(/Fargate/);
  });
});

describe('EC2 capacity (issue 19)', () => {
  /** The EC2 form the compiler writes (core/pipeline/ec2-task.ts), around a shell agent. */
  const toEc2 = (job: StageJob) => {
    Object.assign(job.taskDefinition, { requiresCompatibilities: ['EC2'], networkMode: 'host', family: `${job.taskDefinition.family}-ec2` });
    job.runTask = {
      capacityProviderStrategy: [{ capacityProvider: 'slipway-ec2-amd64', weight: 1 }],
      placementConstraints: [{ type: 'distinctInstance' }, { type: 'memberOf', expression: 'attribute:slipway.spent !exists' }],
      group: 'slipway-ec2',
    };
  };
  /** A fleet whose instances the test sets; it records what the pass asked of it. */
  const fakeFleet = (instances: FleetInstance[]) => {
    const applied: FleetDecision[] = [];
    const spent: string[] = [];
    const fleet: Ec2Fleet = { arches: ['amd64'], maxInstances: 2, spot: {}, describe: async () => instances, apply: async (d) => void applied.push(d), markSpent: async (arn) => void spent.push(arn) };
    return { fleet, applied, instances, spent };
  };

  it('scales the EC2 capacity from zero for a waiting stage, starts it once an instance is ready, on EC2 even with Spot on', async () => {
    resetAutoscalerState();
    const { build, jobs } = await seedBuild([{ name: 'dind', script: 'exit 0' }], { queued: false });
    toEc2(jobs[0]!);
    await deps.stages.putStageJobs(jobs);
    const { fleet, applied, instances } = fakeFleet([]);
    const ec2Deps = { ...deps, fleet, config: { ...deps.config, useSpot: true } };
    const first = await serially(async () => {
      await queueNow(build.id, 1);
      return runPass(ec2Deps, { reconcile: false });
    });
    expect(first.started).toEqual([]);
    expect(first.deferred).toContainEqual({ stageKey: `${build.id}/1`, reason: 'ec2-instance' });
    expect(applied.at(-1)?.desired).toEqual({ amd64: 1, arm64: 0 });
    expect((await deps.stages.getStageConsistent(build.id, 1))?.message).toBe('waiting: waits for an amd64 EC2 instance (one build per instance; 1 starting)');

    instances.push({ instanceId: 'i-1', arch: 'amd64', state: 'ready', tasks: 0, spent: false, idleSince: Date.now() });
    const second = await serially(() => runPass(ec2Deps, { reconcile: false }));
    expect(second.started).toContainEqual(expect.objectContaining({ stageKey: `${build.id}/1`, capacity: 'EC2' }));
    expect((await finished(build.id)).status).toBe('success');
    expect((await deps.stages.getStageConsistent(build.id, 1))?.capacity).toBe('EC2');
  });

  it('marks the instance a root build (privileged) was placed on, at RunTask; not one of a warm build', async () => {
    resetAutoscalerState();
    const { build, jobs } = await seedBuild([{ name: 'root', script: 'exit 0' }, { name: 'warm', script: 'exit 0' }], { queued: false });
    for (const job of jobs) toEc2(job);
    const root = jobs[0]!.taskDefinition as { family: string; containerDefinitions: { privileged?: boolean }[] };
    root.family = `${root.family}-root`;
    root.containerDefinitions[0]!.privileged = true;
    await deps.stages.putStageJobs(jobs);
    const now = Date.now();
    const { fleet, spent } = fakeFleet([
      { instanceId: 'i-1', arch: 'amd64', state: 'ready', tasks: 0, spent: false, idleSince: now },
      { instanceId: 'i-2', arch: 'amd64', state: 'ready', tasks: 0, spent: false, idleSince: now },
    ]);
    const report = await serially(async () => {
      await queueNow(build.id, 1);
      await queueNow(build.id, 2);
      return runPass({ ...deps, fleet }, { reconcile: false });
    });
    expect(report.started.map((s) => s.stageKey).sort()).toEqual([`${build.id}/1`, `${build.id}/2`]);
    const rootTask = report.started.find((s) => s.stageKey === `${build.id}/1`)!.taskArn;
    expect(spent).toEqual([`${rootTask.replace(/:task\/.*$/, '')}:container-instance/slipway/${rootTask.split('/').pop()}`]);
    // Local mode has no Docker daemon: the root build stops at start, saying so.
    expect((await finished(build.id)).status).toBe('error');
    expect((await deps.stages.getStageConsistent(build.id, 1))?.message).toMatch(/local mode has no Docker daemon/);
  });

  it("RunTask of the EC2 form: the compiler's capacity provider and placement, no network configuration, no Spot", () => {
    const job = { stageKey: 'a/b#1/1', runTask: {}, taskDefinition: { family: 'f' } } as unknown as StageJob;
    toEc2(job);
    const input = runTaskInput(deps.config, job, 'arn:td', 'EC2', runTaskTokens('a/b#1/1', 0));
    expect(input.networkConfiguration).toBeUndefined();
    expect(input.capacityProviderStrategy).toEqual([{ capacityProvider: 'slipway-ec2-amd64', weight: 1 }]);
    expect(input.placementConstraints).toEqual([{ type: 'distinctInstance' }, { type: 'memberOf', expression: 'attribute:slipway.spent !exists' }]);
    expect(input.group).toBe('slipway-ec2');
  });
});

// The cache's events share the jobs queue with stage jobs (lib/soci-indexes.ts): a pass takes
// them as index-image jobs (lambdas/autoscaler/index-image.ts), never as poison stage jobs.
describe('index-image jobs on the jobs queue', () => {
  it('takes a pull through cache event as an index-image job and removes it; one for another prefix is removed as ignored', async () => {
    const digest = `sha256:${'e'.repeat(64)}`;
    const event = (repository: string) =>
      JSON.stringify({ source: 'aws.ecr', 'detail-type': 'ECR Pull Through Cache Action', time: new Date().toISOString(), detail: { 'sync-status': 'SUCCESS', 'repository-name': repository, 'image-tag': '1', 'image-digest': digest } });
    const doc = documentClient(new DynamoDBClient(aws.clientConfig('dynamodb')));
    const store = new DynamoSociIndexStore(doc, 'builds');
    const described: string[][] = [];
    // Every pass of the deployment has the setting, those a task's end nudges too: the shared deps get it for this test.
    const config = deps.config;
    deps.config = { ...config, soci: { taskDefinition: 'slipway-soci-converter', registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com', prefixes: ['slipway-docker-hub'] } };
    deps.soci = { store, describe: async (images) => (described.push([...images]), new Map(images.map((i) => [i, { sizeBytes: 5_000_000, digest }]))) };
    // Sent once the setting is there: a pass a late task event of an earlier test nudges may sample them at any moment.
    await sqs.send(new SendMessageCommand({ QueueUrl: deps.config.jobsQueueUrl, MessageBody: event('slipway-docker-hub/library/small') }));
    await sqs.send(new SendMessageCommand({ QueueUrl: deps.config.jobsQueueUrl, MessageBody: event('elsewhere/library/small') }));
    // A pass samples the queue (short polls may return a subset): passes until one has taken it,
    // a few at most. The one that takes it may be a pass a late task event of an earlier test
    // nudged (same deps), so what it did is read from its effects, not from this test's reports.
    const reports: PassReport['indexImages'][] = [];
    try {
      for (let i = 0; i < 5 && (await store.get(digest)) === undefined; i++) reports.push((await pass()).indexImages);
    } finally {
      deps.config = config;
      delete deps.soci;
    }
    // A report of this test's passes that took index-image jobs took this one, skipped (5 MB).
    for (const taken of reports) if (taken !== undefined) expect(taken).toEqual([{ digest, outcome: 'skipped' }]);
    expect(described).toEqual([[`123456789012.dkr.ecr.us-east-1.amazonaws.com/slipway-docker-hub/library/small:1`]]);
    expect(await store.get(digest)).toMatchObject({ state: 'skipped' });
    expect(logged.some((l) => l.message === 'pull through cache event ignored')).toBe(true);
    const left = await sqs.send(new ReceiveMessageCommand({ QueueUrl: deps.config.jobsQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    const parked = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    expect([...(left.Messages ?? []), ...(parked.Messages ?? [])].filter((m) => m.Body?.includes('Pull Through Cache'))).toEqual([]);
  });

  const cacheEvent = (repository: string, digest: string) =>
    JSON.stringify({ source: 'aws.ecr', 'detail-type': 'ECR Pull Through Cache Action', time: new Date().toISOString(), detail: { 'sync-status': 'SUCCESS', 'repository-name': repository, 'image-tag': '1', 'image-digest': digest } });
  /** One pass after the others, whose first receive waits for what is visible (every message then). */
  const passSeeingAll = (): Promise<PassReport> => {
    const next = serial.then(() => runPass(deps, { reconcile: false, receiveWaitSeconds: 1 }));
    serial = next.catch(() => {});
    return next;
  };
  /** The messages left on the jobs queue and parked in its dead-letter queue whose body names `text`. */
  const messagesNaming = async (text: string) => {
    const read = async (url: string) => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 0 }))).Messages ?? [];
    return { left: (await read(deps.config.jobsQueueUrl)).filter((m) => m.Body?.includes(text)), parked: (await read(dlqUrl)).filter((m) => m.Body?.includes(text)) };
  };

  it('takes the index-image jobs of a pass whose stage part throws, and the pass still fails', async () => {
    const digest = `sha256:${'f'.repeat(64)}`;
    await sqs.send(new SendMessageCommand({ QueueUrl: deps.config.jobsQueueUrl, MessageBody: cacheEvent('slipway-docker-hub/library/throwing-pass', digest) }));
    const store = new DynamoSociIndexStore(documentClient(new DynamoDBClient(aws.clientConfig('dynamodb'))), 'builds');
    const config = deps.config;
    const listActiveStages = deps.store.listActiveStages.bind(deps.store);
    deps.config = { ...config, soci: { taskDefinition: 'slipway-soci-converter', registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com', prefixes: ['slipway-docker-hub'] } };
    deps.soci = { store, describe: async (images) => new Map(images.map((i) => [i, { sizeBytes: 5_000_000, digest }])) };
    deps.store.listActiveStages = async () => {
      throw new Error('ProvisionedThroughputExceededException: the active-stages index is throttled');
    };
    try {
      await expect(passSeeingAll()).rejects.toThrow('throttled');
    } finally {
      deps.config = config;
      delete deps.soci;
      deps.store.listActiveStages = listActiveStages;
    }
    expect(await store.get(digest)).toMatchObject({ state: 'skipped' });
    expect(await messagesNaming('throwing-pass')).toEqual({ left: [], parked: [] });
  });

  it('removes a cache event as ignored, not as a poison stage job, when this deployment converts no images', async () => {
    expect(deps.config.soci).toBeUndefined();
    await sqs.send(new SendMessageCommand({ QueueUrl: deps.config.jobsQueueUrl, MessageBody: cacheEvent('slipway-docker-hub/library/soci-off', `sha256:${'a'.repeat(64)}`) }));
    const report = await passSeeingAll();
    expect(report.indexImages).toBeUndefined();
    expect(logged.filter((l) => l.message === 'pull through cache event ignored').at(-1)?.fields).toMatchObject({ reason: expect.stringContaining('SOCI indexes are off') });
    expect(await messagesNaming('soci-off')).toEqual({ left: [], parked: [] });
  });
});
