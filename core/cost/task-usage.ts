// What one stopped ECS task used, from its "ECS Task State Change" event (the size and times ECS
// reports) and the task definition the stage ran (what the event may leave out). Pure.

import type { TaskStateChangeDetail } from '../builds/task-event.js';
import type { Capacity, CpuArchitecture, TaskUsage } from './types.js';

/** Fargate's ephemeral storage without `ephemeralStorage`, and the part of any size that is free. */
export const FREE_STORAGE_GIB = 20;

/** What the stage's task definition says, for what the event does not carry. */
export interface TaskShape {
  cpu: number;
  memory: number;
  taskDefinition: { runtimePlatform?: unknown; ephemeralStorage?: unknown; [field: string]: unknown };
}

const ms = (iso: string | undefined): number | undefined => {
  if (iso === undefined) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
};

function architectureOf(detail: TaskStateChangeDetail, shape: TaskShape | null): CpuArchitecture {
  const attribute = detail.attributes?.find((a) => a.name === 'ecs.cpu-architecture')?.value?.toLowerCase();
  if (attribute === 'arm64') return 'ARM64';
  if (attribute === 'x86_64') return 'X86_64';
  const platform = shape?.taskDefinition.runtimePlatform as { cpuArchitecture?: unknown } | undefined;
  return platform?.cpuArchitecture === 'ARM64' ? 'ARM64' : 'X86_64';
}

function storageOf(detail: TaskStateChangeDetail, shape: TaskShape | null): number {
  const fromEvent = detail.ephemeralStorage?.sizeInGiB;
  if (typeof fromEvent === 'number' && fromEvent > 0) return fromEvent;
  const fromDefinition = (shape?.taskDefinition.ephemeralStorage as { sizeInGiB?: unknown } | undefined)?.sizeInGiB;
  return typeof fromDefinition === 'number' && fromDefinition > 0 ? fromDefinition : FREE_STORAGE_GIB;
}

function capacityOf(detail: TaskStateChangeDetail, recorded: Capacity | undefined): Capacity {
  if (detail.capacityProviderName) return detail.capacityProviderName;
  // RunTask with a launch type instead of a strategy reports no provider: FARGATE is on-demand.
  if (detail.launchType === 'FARGATE') return recorded ?? 'FARGATE';
  return recorded ?? detail.launchType ?? 'FARGATE';
}

/**
 * The usage of a stopped task. Billing runs from the image pull's start (else the task's start)
 * to its stop; a task that stopped before either (refused at placement, say) used nothing.
 * The size is the event's (what ECS ran), else the task definition's.
 */
export function taskUsage(
  detail: TaskStateChangeDetail,
  context: { shape: TaskShape | null; capacity?: Capacity; publicIpv4: boolean },
): TaskUsage {
  const stoppedAt = ms(detail.stoppedAt) ?? ms(detail.updatedAt);
  const from = ms(detail.pullStartedAt) ?? ms(detail.startedAt);
  const billedTo = stoppedAt ?? from ?? 0;
  const billedFrom = from !== undefined && from <= billedTo ? from : billedTo;
  const cpu = Number(detail.cpu);
  const memory = Number(detail.memory);
  return {
    taskArn: detail.taskArn,
    cpu: Number.isFinite(cpu) && cpu > 0 ? cpu : (context.shape?.cpu ?? 0),
    memory: Number.isFinite(memory) && memory > 0 ? memory : (context.shape?.memory ?? 0),
    storageGiB: storageOf(detail, context.shape),
    architecture: architectureOf(detail, context.shape),
    capacity: capacityOf(detail, context.capacity),
    billedFrom,
    billedTo,
    // Only a task that began to pull had an ENI with an address worth billing.
    publicIpv4: context.publicIpv4 && from !== undefined,
    containers: detail.containers.length,
    events: detail.version,
  };
}

/** The key of a task's usage in a stage's record: the task id (the ARN's last segment). */
export function taskUsageKey(taskArn: string): string {
  const id = taskArn.slice(taskArn.lastIndexOf('/') + 1);
  return id.replace(/[^A-Za-z0-9]/g, '_') || 'task';
}
