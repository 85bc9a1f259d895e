// The ECS API's JSON for tasks, task definitions and task state change events, built from
// the stand-in's state. Timestamps are epoch seconds on the wire (AWS JSON 1.1).
import type { TaskStateChangeEvent } from '../../core/builds/task-event.js';
import type { TaskDefinitionRecord } from './registry.js';
import type { LocalTask } from './task.js';
import { randomUUID } from 'node:crypto';

const epoch = (d: Date | undefined): number | undefined => (d ? d.getTime() / 1000 : undefined);

function compact<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export function taskDefinitionJson(record: TaskDefinitionRecord): Record<string, unknown> {
  const input = record.input;
  return compact({
    ...input,
    taskDefinitionArn: record.arn,
    family: record.family,
    revision: record.revision,
    containerDefinitions: (input.containerDefinitions ?? []).map((c) => ({ essential: true, ...c })),
    volumes: input.volumes ?? [],
    status: 'ACTIVE',
    compatibilities: ['EC2', 'FARGATE'],
    requiresAttributes: [],
    registeredAt: epoch(record.registeredAt),
    registeredBy: 'arn:aws:iam::000000000000:root',
    tags: undefined,
  });
}

function taskHealth(task: LocalTask): string {
  const checked = task.containers.filter((c) => c.essential && c.def.healthCheck);
  if (checked.length === 0) return 'UNKNOWN';
  if (checked.some((c) => c.health === 'UNHEALTHY')) return 'UNHEALTHY';
  return checked.every((c) => c.health === 'HEALTHY') ? 'HEALTHY' : 'UNKNOWN';
}

/** A container as DescribeTasks and the task state change event both show it (DescribeTasks adds health and memory). */
/**
 * The task's private IP as DescribeTasks shows it: only once the task has run (RUNNING, then
 * kept after it stops), so that nothing can lean on an address earlier than the control
 * plane is promised one (lambdas/autoscaler/service-task.ts waits for RUNNING).
 */
function shownAddress(task: LocalTask): string | undefined {
  return task.startedAt !== undefined ? task.sandbox?.taskAddress : undefined;
}

function containerJson(task: LocalTask, c: LocalTask['containers'][number]) {
  const address = shownAddress(task);
  return {
    containerArn: c.containerArn,
    taskArn: task.arn,
    name: c.def.name,
    image: c.def.image,
    runtimeId: c.runtimeId,
    lastStatus: c.lastStatus,
    exitCode: c.exitCode,
    reason: c.reason,
    cpu: String(c.def.cpu ?? 0),
    networkInterfaces: address ? [{ attachmentId: task.id, privateIpv4Address: address }] : [],
  };
}

/**
 * Where a task runs: Fargate (its platform version), or, for a task in the EC2 form, a
 * container instance of its own (one build per instance, as distinctInstance places it),
 * named after the task since the stand-in has no instances.
 */
function ec2Placement(task: LocalTask): Record<string, string> {
  if (!(task.definition.input.requiresCompatibilities ?? []).includes('EC2') || (task.definition.input.requiresCompatibilities ?? []).includes('FARGATE')) {
    return { launchType: 'FARGATE', platformVersion: '1.4.0' };
  }
  const cluster = task.clusterArn.split('/').pop() ?? 'default';
  return { launchType: 'EC2', containerInstanceArn: `${task.clusterArn.replace(/:cluster\/.*$/, '')}:container-instance/${cluster}/${task.id}` };
}

export function taskJson(task: LocalTask): Record<string, unknown> {
  const address = shownAddress(task);
  return compact({
    taskArn: task.arn,
    clusterArn: task.clusterArn,
    taskDefinitionArn: task.definition.arn,
    containers: task.containers.map((c) =>
      compact({
        ...containerJson(task, c),
        healthStatus: c.def.healthCheck ? c.health : 'UNKNOWN',
        memory: c.def.memory === undefined ? undefined : String(c.def.memory),
      }),
    ),
    lastStatus: task.lastStatus,
    desiredStatus: task.desiredStatus,
    healthStatus: taskHealth(task),
    cpu: task.params.cpu,
    memory: task.params.memory,
    createdAt: epoch(task.createdAt),
    pullStartedAt: epoch(task.pullStartedAt),
    pullStoppedAt: epoch(task.pullStoppedAt),
    startedAt: epoch(task.startedAt),
    stoppingAt: epoch(task.stoppingAt),
    stoppedAt: epoch(task.stoppedAt),
    executionStoppedAt: epoch(task.stoppedAt),
    stopCode: task.stopCode,
    stoppedReason: task.stoppedReason,
    startedBy: task.params.startedBy,
    group: task.params.group ?? `family:${task.definition.family}`,
    ...ec2Placement(task),
    capacityProviderName: task.params.capacityProviderName,
    platformFamily: 'Linux',
    availabilityZone: `${task.host.region}a`,
    connectivity: 'CONNECTED',
    version: task.version,
    overrides: { containerOverrides: [], inferenceAcceleratorOverrides: [], ...(task.params.overrides ?? {}) },
    attachments: task.sandbox
      ? [
          address
            ? { id: task.id, type: 'ElasticNetworkInterface', status: task.lastStatus === 'STOPPED' ? 'DELETED' : 'ATTACHED', details: [{ name: 'privateIPv4Address', value: address }] }
            : { id: task.id, type: 'ElasticNetworkInterface', status: task.lastStatus === 'STOPPED' ? 'DELETED' : 'ATTACHING', details: [] },
        ]
      : [],
    tags: [],
    enableExecuteCommand: false,
    ephemeralStorage: { sizeInGiB: storageOf(task) },
    attributes: [{ name: 'ecs.cpu-architecture', value: architectureOf(task) }],
  });
}

/** The task's ephemeral storage: its definition's, else Fargate's 20 GiB. */
function storageOf(task: LocalTask): number {
  return task.definition.input.ephemeralStorage?.sizeInGiB ?? 20;
}

/** What ECS reports as `ecs.cpu-architecture`: the definition's runtime platform (x86_64 without one). */
function architectureOf(task: LocalTask): string {
  return task.definition.input.runtimePlatform?.cpuArchitecture === 'ARM64' ? 'arm64' : 'x86_64';
}

const isoDate = (d: Date | undefined): string | undefined => d?.toISOString();

/**
 * The EventBridge event, shaped as ECS sends it (test/fixtures/aws/ecs-TaskStateChange-event.json,
 * from https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html):
 * ISO times, `updatedAt` of the change, and containers without health — ECS's events carry
 * none (DescribeTasks does), so consumers cannot lean on a HEALTHY the stand-in would invent.
 */
export function taskStateChangeEvent(task: LocalTask, accountId: string): TaskStateChangeEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    account: accountId,
    time: new Date().toISOString(),
    region: task.host.region,
    resources: [task.arn],
    detail: compact({
      clusterArn: task.clusterArn,
      taskArn: task.arn,
      taskDefinitionArn: task.definition.arn,
      group: task.params.group ?? `family:${task.definition.family}`,
      startedBy: task.params.startedBy,
      lastStatus: task.lastStatus,
      desiredStatus: task.desiredStatus,
      version: task.version,
      createdAt: isoDate(task.createdAt),
      pullStartedAt: isoDate(task.pullStartedAt),
      pullStoppedAt: isoDate(task.pullStoppedAt),
      startedAt: isoDate(task.startedAt),
      stoppingAt: isoDate(task.stoppingAt),
      stoppedAt: isoDate(task.stoppedAt),
      executionStoppedAt: isoDate(task.stoppedAt),
      updatedAt: isoDate(task.updatedAt),
      stopCode: task.stopCode,
      stoppedReason: task.stoppedReason,
      ...ec2Placement(task),
      capacityProviderName: task.params.capacityProviderName,
      cpu: task.params.cpu,
      memory: task.params.memory,
      ephemeralStorage: { sizeInGiB: storageOf(task) },
      attributes: [{ name: 'ecs.cpu-architecture', value: architectureOf(task) }],
      availabilityZone: `${task.host.region}a`,
      containers: task.containers.map((c) => compact(containerJson(task, c))),
      overrides: {
        containerOverrides: (task.params.overrides?.containerOverrides ?? []).map((o) => ({
          name: o.name ?? '',
          ...(o.environment ? { environment: o.environment.map((e) => ({ name: e.name ?? '', value: e.value ?? '' })) } : {}),
        })),
      },
    }),
  };
}
