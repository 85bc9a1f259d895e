// The EC2 form of a stage's task: the same containers, dependencies, volumes and agent as
// the Fargate form (compile.ts writes both), and only what EC2 capacity changes:
//
// - requiresCompatibilities EC2, and network mode `host`. awsvpc on EC2 would keep services
//   on localhost, but its task ENIs get no public IP ("The awsvpc network mode does not
//   provide task ENIs with public IP addresses for tasks that use the EC2 launch type",
//   https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-networking-awsvpc.html),
//   so a build in the deployment's public subnets could reach no Git host or registry
//   without a NAT gateway, which bills by the hour. In host mode the containers share the
//   instance's network namespace, hence one localhost, and reach the internet through the
//   instance's public IP. Host mode allows one task per port per instance
//   (https://docs.aws.amazon.com/AmazonECS/latest/bestpracticesguide/networking-networkmode-host.html):
//   Slipway runs one build per instance (below), so two builds never share ports or files.
// - privileged containers where the pipeline needs them (capacity.ts, runsPrivileged).
// - the Docker socket as a host volume, for pipeline volumes that name it; no other host path.
// - no ephemeralStorage (a Fargate setting): the instance's disk holds images and workspace.
// - RunTask: the capacity provider of the pipeline's architecture, no network configuration
//   ("If you specify NetworkConfiguration when the target ECS task does not use the awsvpc
//   network mode, the task fails"), and a distinctInstance constraint over one task group,
//   so that ECS itself never places two builds on one instance ("Use distinctInstance to
//   ensure that each task in a particular group is running on a different container
//   instance", https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_PlacementConstraint.html).

import { DOCKER_SOCKET, isDockerSocket } from './capacity.js';
import type { RunTaskInput, TaskDefinitionInput } from './ecs-task.js';
import { familyName } from './family.js';
import { volumeName } from './mounts.js';
import type { Arch, Pipeline } from './types.js';

/** The task group of every build on EC2 capacity: distinctInstance counts within it. */
export const EC2_TASK_GROUP = 'slipway-ec2';

/**
 * The container instance attribute the autoscaler puts on an instance as soon as a build with
 * root on it (privileged, the Docker socket) is placed there: no build is placed on such an
 * instance again (`!exists` in the cluster query language,
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cluster-query-language.html),
 * and it is terminated once idle (core/scaling/ec2-fleet.ts).
 */
export const SPENT_ATTRIBUTE = 'slipway.spent';

/** The EC2 form of `fargate` (its family recomputed from the new content); `notes` gets what a user should know. */
export function ec2TaskDefinition(fargate: TaskDefinitionInput, pipeline: Pipeline, privileged: ReadonlySet<string>, notes: string[]): TaskDefinitionInput {
  const { family: _family, ephemeralStorage, ...rest } = fargate;
  if (ephemeralStorage) notes.push(`resources.storage (${ephemeralStorage.sizeInGiB} GiB) has no effect on EC2 capacity: the instance's disk holds the images and the workspace`);
  const sockets = new Set(pipeline.volumes.filter((v) => v.hostPath !== undefined && isDockerSocket(v.hostPath)).map((v) => volumeName(v.name)));
  const content: Omit<TaskDefinitionInput, 'family'> = {
    ...rest,
    networkMode: 'host',
    requiresCompatibilities: ['EC2'],
    containerDefinitions: rest.containerDefinitions.map((c) => (privileged.has(c.name) ? { ...c, privileged: true } : c)),
    volumes: rest.volumes.map((v) => (sockets.has(v.name) ? { ...v, host: { sourcePath: DOCKER_SOCKET } } : v)),
  };
  return { family: familyName(pipeline.name, JSON.stringify(content)), ...content };
}

/** The EC2 form of the per-run part of RunTask, for the task definition `family`. */
export function ec2RunTask(fargate: RunTaskInput, family: string, capacityProvider: string): RunTaskInput {
  const { networkConfiguration: _network, capacityProviderStrategy: _strategy, ...rest } = fargate;
  return {
    ...rest,
    taskDefinition: family,
    capacityProviderStrategy: [{ capacityProvider, weight: 1 }],
    placementConstraints: [{ type: 'distinctInstance' }, { type: 'memberOf', expression: `attribute:${SPENT_ATTRIBUTE} !exists` }],
    group: EC2_TASK_GROUP,
  };
}

/** Whether a build of this task definition is root on its instance: a privileged container or a host volume (the Docker socket). */
export function rootOnInstance(taskDefinition: Readonly<Record<string, unknown>>): boolean {
  const containers = Array.isArray(taskDefinition.containerDefinitions) ? (taskDefinition.containerDefinitions as { privileged?: unknown }[]) : [];
  const volumes = Array.isArray(taskDefinition.volumes) ? (taskDefinition.volumes as { host?: unknown }[]) : [];
  return containers.some((c) => c?.privileged === true) || volumes.some((v) => v?.host !== undefined);
}

/** Whether a task definition (as the compiler wrote it, or a stored job holds it) is the EC2 form. */
export function isEc2Task(taskDefinition: Readonly<Record<string, unknown>>): boolean {
  return Array.isArray(taskDefinition.requiresCompatibilities) && taskDefinition.requiresCompatibilities.includes('EC2');
}

/** The architecture of an EC2-form task definition (its runtime platform); undefined for a Fargate one. */
export function ec2ArchOf(taskDefinition: Readonly<Record<string, unknown>>): Arch | undefined {
  if (!isEc2Task(taskDefinition)) return undefined;
  return (taskDefinition.runtimePlatform as { cpuArchitecture?: unknown } | undefined)?.cpuArchitecture === 'ARM64' ? 'arm64' : 'amd64';
}
