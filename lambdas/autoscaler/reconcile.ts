// The scheduled pass's repair of what events and messages can lose, so that nothing
// stays "waiting for a runner" without a visible reason:
// - a stage marked running (or claimed by its task's first event) whose task ECS no
//   longer knows → error, task-lost;
// - a stage marked running whose task STOPPED but whose stop event never came → the
//   task as DescribeTasks shows it is applied as that event;
// - a queued stage that no message carries → its job is sent again (a duplicate is harmless);
// - a stage waiting on dependencies that have all ended → decided (queued or skipped).

import { DescribeTasksCommand, type Task } from '@aws-sdk/client-ecs';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { TaskStateChangeDetail } from '../../core/builds/task-event.js';
import type { Stage } from '../../core/builds/types.js';
import { applyTaskEvent } from '../task-events/apply-event.js';
import { enqueueJob } from '../task-events/deps.js';
import { afterStageEnd } from '../task-events/stage-end.js';
import { listAll, type AutoscalerDeps } from './autoscaler.js';

export interface ReconcileReport {
  lost: string[];
  stopApplied: string[];
  reenqueued: string[];
  dependentsResolved: string[];
}

/** A queued stage younger than this may simply be in flight between planner and queue. */
const GRACE_MS = 60_000;

const keyOf = (s: Stage): string => `${s.buildId}/${s.number}`;

export async function reconcile(deps: AutoscalerDeps, sampled: { sampledStageKeys: Set<string>; queueDrained: boolean }): Promise<ReconcileReport> {
  const report: ReconcileReport = { lost: [], stopApplied: [], reenqueued: [], dependentsResolved: [] };
  const now = deps.now();

  const running = await listAll(deps, 'running');
  const pending = await listAll(deps, 'pending');
  // A pending stage claimed by its task's first event is watched like a running one.
  const withTask = [...running, ...pending].filter((s) => s.taskArn !== undefined);
  for (const stage of running.filter((s) => s.taskArn === undefined)) {
    await deps.stages.finish(stage.buildId, stage.number, { status: 'error', reason: 'task-lost', message: 'marked running without a task (reconciled)', finishedAt: now });
    report.lost.push(keyOf(stage));
    await afterStageEnd(deps, stage.buildId);
  }
  for (let i = 0; i < withTask.length; i += 100) {
    const batch = withTask.slice(i, i + 100);
    const res = await deps.ecs.send(new DescribeTasksCommand({ cluster: deps.config.cluster, tasks: batch.map((s) => s.taskArn!) }));
    for (const failure of res.failures ?? []) {
      const stage = batch.find((s) => s.taskArn === failure.arn);
      if (!stage) continue;
      const finished = await deps.stages.finish(stage.buildId, stage.number, {
        status: 'error',
        reason: 'task-lost',
        message: `ECS no longer knows task ${failure.arn} (${failure.reason ?? 'MISSING'}); no stop event was received`,
        finishedAt: now,
        onlyIfTaskArn: stage.taskArn!,
      });
      if (finished) {
        report.lost.push(keyOf(stage));
        await afterStageEnd(deps, stage.buildId);
      }
    }
    for (const task of res.tasks ?? []) {
      if (task.lastStatus !== 'STOPPED') continue;
      const stage = batch.find((s) => s.taskArn === task.taskArn);
      if (!stage) continue;
      const result = await applyTaskEvent(deps, detailFromTask(task));
      if (result.applied) report.stopApplied.push(keyOf(stage));
    }
  }

  const buildsToResolve = new Set<string>();
  const orphans: Stage[] = [];
  for (const stage of pending) {
    if (stage.taskArn !== undefined) continue;
    if (stage.queuedAt === undefined) {
      if (stage.dependsOn.length > 0) buildsToResolve.add(stage.buildId);
      continue;
    }
    if (now - stage.queuedAt >= GRACE_MS && !sampled.sampledStageKeys.has(keyOf(stage))) orphans.push(stage);
  }
  for (const buildId of buildsToResolve) {
    const before = (await deps.store.listStages(buildId)).filter((s) => s.status === 'pending' && s.queuedAt === undefined).length;
    await afterStageEnd(deps, buildId);
    const after = (await deps.store.listStages(buildId)).filter((s) => s.status === 'pending' && s.queuedAt === undefined).length;
    if (after < before) report.dependentsResolved.push(buildId);
  }
  if (orphans.length > 0 && sampled.queueDrained) {
    // Messages we did not see may be invisible (back-off) rather than gone: count them.
    const attrs = await deps.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: deps.config.jobsQueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    const a = attrs.Attributes ?? {};
    const inQueue = Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
    const queuedStages = pending.filter((s) => s.queuedAt !== undefined && s.taskArn === undefined).length;
    if (inQueue < queuedStages) {
      for (const stage of orphans) {
        const job = await deps.stages.getStageJob(stage.buildId, stage.number);
        if (!job) {
          await deps.stages.finish(stage.buildId, stage.number, { status: 'error', message: 'queued, but no job is stored for it and no message carries it', finishedAt: now });
          await afterStageEnd(deps, stage.buildId);
          report.lost.push(keyOf(stage));
          continue;
        }
        await enqueueJob(deps, { ...job, queuedAt: stage.queuedAt! });
        await deps.stages.noteWaiting(stage.buildId, stage.number, 'waiting: its queue message was lost and has been sent again');
        report.reenqueued.push(keyOf(stage));
      }
    }
  }
  if (report.lost.length || report.stopApplied.length || report.reenqueued.length || report.dependentsResolved.length) deps.log('reconciled', { ...report });
  return report;
}

/** A DescribeTasks task in the shape of an "ECS Task State Change" detail. */
export function detailFromTask(task: Task): TaskStateChangeDetail {
  return {
    clusterArn: task.clusterArn ?? '',
    taskArn: task.taskArn ?? '',
    taskDefinitionArn: task.taskDefinitionArn ?? '',
    ...(task.startedBy ? { startedBy: task.startedBy } : {}),
    lastStatus: task.lastStatus ?? 'STOPPED',
    desiredStatus: task.desiredStatus ?? 'STOPPED',
    version: task.version ?? 0,
    ...(task.stopCode ? { stopCode: task.stopCode } : {}),
    ...(task.stoppedReason ? { stoppedReason: task.stoppedReason } : {}),
    ...(task.capacityProviderName ? { capacityProviderName: task.capacityProviderName } : {}),
    containers: (task.containers ?? []).map((c) => ({
      name: c.name ?? '',
      lastStatus: c.lastStatus ?? 'STOPPED',
      ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
      ...(c.reason ? { reason: c.reason } : {}),
      ...(c.healthStatus ? { healthStatus: c.healthStatus as 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN' } : {}),
    })),
    overrides: {
      containerOverrides: (task.overrides?.containerOverrides ?? []).map((o) => ({
        name: o.name ?? '',
        environment: (o.environment ?? []).map((e) => ({ name: e.name ?? '', value: e.value ?? '' })),
      })),
    },
  };
}

