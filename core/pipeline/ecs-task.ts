// The task definition and the per-run part of RunTask as the compiler writes them: plain
// data, so that core/ needs no AWS SDK. Each type is the subset of ECS's request shape
// (RegisterTaskDefinition, RunTask API reference) that Slipway fills in, with the same
// field names; the adapters hand these objects to the SDK's commands as they are, and
// TypeScript checks structurally that they fit the SDK's input types.

import type { ContainerDependencyCondition } from './contract.js';

export interface KeyValuePair {
  name: string;
  value: string;
}

/** A container's `secrets` entry: a reference that ECS resolves at task start. */
export interface Secret {
  name: string;
  valueFrom: string;
}

export interface MountPoint {
  sourceVolume: string;
  containerPath: string;
  readOnly: boolean;
}

export interface ContainerDependency {
  containerName: string;
  condition: ContainerDependencyCondition;
}

export interface HealthCheck {
  command: string[];
  interval?: number;
  timeout?: number;
  retries?: number;
  startPeriod?: number;
}

export interface LogConfiguration {
  logDriver: 'awslogs';
  options: Record<string, string>;
}

export interface ContainerDefinition {
  name: string;
  image: string;
  essential: boolean;
  entryPoint?: string[];
  command?: string[];
  workingDirectory?: string;
  user?: string;
  environment?: KeyValuePair[];
  secrets?: Secret[];
  mountPoints?: MountPoint[];
  dependsOn?: ContainerDependency[];
  cpu?: number;
  memory?: number;
  memoryReservation?: number;
  healthCheck?: HealthCheck;
  logConfiguration?: LogConfiguration;
  /** A private registry's credentials (`image_pull_secrets`). */
  repositoryCredentials?: { credentialsParameter: string };
  /** EC2 capacity only (ec2-task.ts): Fargate refuses privileged containers. */
  privileged?: boolean;
}

/**
 * A task volume: a bind mount on the task's ephemeral storage. A host path only on EC2
 * capacity, and only the Docker socket (ec2-task.ts); Fargate has none.
 */
export interface TaskVolume {
  name: string;
  host?: { sourcePath: string };
}

/**
 * RegisterTaskDefinition's input. A type alias, not an interface, as is RunTaskInput: the
 * stage job stores both as open records (core/scaling/job.ts), which only an alias fits.
 */
export type TaskDefinitionInput = {
  family: string;
  taskRoleArn?: string;
  executionRoleArn?: string;
  /** awsvpc on Fargate; host on EC2 capacity (ec2-task.ts says why). */
  networkMode: 'awsvpc' | 'host';
  requiresCompatibilities: ('FARGATE' | 'EC2')[];
  cpu: string;
  memory: string;
  runtimePlatform: { cpuArchitecture: 'ARM64' | 'X86_64'; operatingSystemFamily: 'LINUX' };
  ephemeralStorage?: { sizeInGiB: number };
  containerDefinitions: ContainerDefinition[];
  volumes: TaskVolume[];
};

export interface ContainerOverride {
  name: string;
  environment?: KeyValuePair[];
}

export interface Tag {
  key: string;
  value: string;
}

/** The part of RunTask's input that the compiler decides (the autoscaler adds the rest). */
export type RunTaskInput = {
  cluster?: string;
  taskDefinition: string;
  count: number;
  capacityProviderStrategy?: { capacityProvider: string; weight: number }[];
  networkConfiguration?: {
    awsvpcConfiguration: { subnets: string[]; securityGroups: string[]; assignPublicIp: 'ENABLED' | 'DISABLED' };
  };
  /** EC2 capacity only (ec2-task.ts): one build per instance. */
  placementConstraints?: { type: 'distinctInstance' | 'memberOf'; expression?: string }[];
  /** The task group `distinctInstance` counts in. */
  group?: string;
  overrides: { containerOverrides: ContainerOverride[] };
  clientToken: string;
  startedBy: string;
  enableECSManagedTags: boolean;
  tags: Tag[];
};

/** Environment as ECS writes it: name/value pairs, sorted by name. */
export function keyValues(env: Record<string, string>): KeyValuePair[] {
  return Object.keys(env)
    .sort()
    .map((name) => ({ name, value: env[name]! }));
}
