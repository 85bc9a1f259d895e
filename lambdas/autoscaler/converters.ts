// The SOCI converter tasks that hold Fargate vCPU of the quota (docs/design/soci-indexes.md), for
// the pass's scaling decision (core/scaling/decide-scale.ts), read from ECS itself rather than from
// the store's claims: a claim can outlive its task or lose it (a RunTask that started a task whose
// record was never written, a claim whose task stopped with its events lost),
// while ECS lists every task the cluster holds, whoever started it.
// - ListTasks lists tasks whose *desired* status is RUNNING by default ("The default status filter
//   is RUNNING", https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html):
//   every converter that is provisioning, pending or running, paginated (nextToken).
// - DescribeTasks gives each task's `startedBy`, `lastStatus` (PROVISIONING … DEPROVISIONING,
//   STOPPED) and `cpu` (units, a string), 100 tasks a call (API_DescribeTasks.html, API_Task.html).
// - A converter whose container has exited has desired status STOPPED while it deprovisions, and
//   still holds its vCPU until its last status is STOPPED: ListTasks with desiredStatus STOPPED and
//   the converter's family (only startedBy must be the sole filter, family combines) finds those;
//   stopped tasks stay listed for about an hour, and DescribeTasks' lastStatus tells them apart.
// - Each is recognised by its startedBy (SOCI_STARTED_BY_PREFIX), as service tasks are.
// - "The Amazon ECS API follows an eventual consistency model" (API_RunTask.html): a task RunTask
//   just started may be missing from ListTasks for a moment, so the converters this Lambda started
//   in the last RECENT_START_MS count until ECS lists them.

import { DescribeTasksCommand, ListTasksCommand, type DesiredStatus, type Task } from '@aws-sdk/client-ecs';
import { convertersHoldingVcpu, taskDefinitionFamily } from '../../core/images/soci.js';
import type { ConverterUse } from '../../core/scaling/decide-scale.js';
import type { AutoscalerDeps } from './deps.js';

/** How long a converter this Lambda started counts without ECS listing it (ListTasks' consistency lag is seconds). */
export const RECENT_START_MS = 2 * 60_000;

// Kept between invocations of a warm Lambda, as the scaling state is (autoscaler.ts).
const recentStarts = new Map<string, { cpu: number; at: number }>();

/** A converter this Lambda's RunTask started (index-image.ts). */
export function noteConverterStarted(taskArn: string, cpu: number, now: number): void {
  recentStarts.set(taskArn, { cpu, at: now });
}

/** Tests: forget the converters started. */
export function resetConverterStarts(): void {
  recentStarts.clear();
}

/** Every task of the build cluster whose desired status is `desiredStatus` (of `family`, if given), described. */
export async function listClusterTasks(deps: Pick<AutoscalerDeps, 'ecs' | 'config'>, desiredStatus: DesiredStatus = 'RUNNING', family?: string): Promise<Task[]> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await deps.ecs.send(new ListTasksCommand({ cluster: deps.config.cluster, desiredStatus, ...(family ? { family } : {}), ...(nextToken ? { nextToken } : {}) }));
    arns.push(...(page.taskArns ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  const tasks: Task[] = [];
  // DescribeTasks takes at most 100 tasks a call.
  for (let i = 0; i < arns.length; i += 100) {
    const res = await deps.ecs.send(new DescribeTasksCommand({ cluster: deps.config.cluster, tasks: arns.slice(i, i + 100) }));
    tasks.push(...(res.tasks ?? []));
  }
  return tasks;
}

/**
 * The converters holding vCPU now: those among `running` (the cluster's tasks whose desired
 * status is RUNNING, listed once for the pass), those of the converter's family still stopping,
 * and those this Lambda started that ECS does not list yet.
 */
export async function convertersInUse(deps: Pick<AutoscalerDeps, 'ecs' | 'config' | 'now'>, running: readonly Task[]): Promise<ConverterUse[]> {
  const family = deps.config.soci ? taskDefinitionFamily(deps.config.soci.taskDefinition) : undefined;
  const stopped = family ? await listClusterTasks(deps, 'STOPPED', family) : [];
  // Not STOPPED yet, whatever their desired status (convertersHoldingVcpu leaves the STOPPED out).
  const inUse = convertersHoldingVcpu([...running, ...stopped]);
  const listed = new Set([...running, ...stopped].flatMap((t) => (t.taskArn ? [t.taskArn] : [])));
  const now = deps.now();
  for (const [taskArn, start] of recentStarts) {
    // Once ECS lists it, ECS answers for it (its stop included); unlisted, it counts for a while.
    if (listed.has(taskArn) || now - start.at >= RECENT_START_MS) recentStarts.delete(taskArn);
    else inUse.push({ taskArn, cpu: start.cpu });
  }
  return inUse;
}
