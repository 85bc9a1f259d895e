// The autoscaler's and the task-events handler's settings, from the environment only
// (the CDK stack sets them in AWS; local mode sets them for the local runtime).

import { DEFAULT_LIMITS, type ScaleLimits } from '../../core/scaling/decide-scale.js';
import { ENV } from '../../core/config/lambda-env.js';
import { jsonEnv, listEnv, numberEnv, requireEnv, type Env } from '../shared/config.js';
import { ec2CapacityFromEnv } from '../shared/ec2-capacity.js';
import type { Arch } from '../../core/pipeline/types.js';
import type { SociConverterConfig } from '../../core/images/soci.js';

export interface ExecutionConfig {
  tableName: string;
  jobsQueueUrl: string;
  /** JOBS_DLQ_URL: where an undecodable job message is parked at once. */
  jobsDeadLetterQueueUrl?: string;
  cluster: string;
  subnets: string[];
  securityGroups: string[];
  /** A split pipeline's service task: its own groups, which let in build tasks (empty: securityGroups, which let nothing in). */
  serviceSecurityGroups: string[];
  assignPublicIp: 'ENABLED' | 'DISABLED';
  executionRoleArn?: string;
  /** The execution role of a fork's pull request (ENV.forkTaskExecutionRoleArn): RunTask's override for its stages. */
  forkExecutionRoleArn?: string;
  /** The task role of a fork's pull request (ENV.forkTaskRoleArn): RunTask's override for its stages. */
  forkTaskRoleArn?: string;
  taskRoleArn?: string;
  useSpot: boolean;
  defaultCpu: number;
  limits: ScaleLimits;
  /** The EC2 capacity (ENV.ec2Capacity): each architecture's Auto Scaling group, and the most instances at once. */
  ec2?: { groups: Partial<Record<Arch, string>>; spot: Partial<Record<Arch, boolean>>; maxInstances: number };
  /** What EC2 instances pull ahead (ENV.ec2Prepull): each architecture's list, and which images may be on it. */
  prepull?: Ec2PrepullConfig;
  /** SOCI-enabled copies of large cached images (ENV.sociIndexes): the converter task the index-image jobs start. */
  soci?: SociConverterConfig;
}

export interface Ec2PrepullConfig {
  parameters: Partial<Record<Arch, string>>;
  registry: string;
  repositoryPrefixes: string[];
  agentImages: Partial<Record<Arch, string>>;
}

/** ENV.ec2Prepull, checked; undefined when unset. */
export function ec2PrepullFromEnv(env: Env): Ec2PrepullConfig | undefined {
  const raw = env[ENV.ec2Prepull];
  if (raw === undefined || raw.trim() === '') return undefined;
  const expected = 'expected {"parameters": {"amd64": "<SSM name>"}, "registry": "<account>.dkr.ecr.<region>.amazonaws.com", "repositoryPrefixes": [...], "agentImages": {"amd64": "<image>"}}';
  const v = jsonEnv(env, ENV.ec2Prepull, expected) as Partial<Record<keyof Ec2PrepullConfig, unknown>>;
  const archMap = (value: unknown): value is Partial<Record<Arch, string>> =>
    value !== null && typeof value === 'object' && !Array.isArray(value) && Object.entries(value).every(([k, x]) => (k === 'amd64' || k === 'arm64') && typeof x === 'string' && x.length > 0);
  if (!v || typeof v !== 'object' || !archMap(v.parameters) || typeof v.registry !== 'string' || !Array.isArray(v.repositoryPrefixes) || !v.repositoryPrefixes.every((p) => typeof p === 'string') || !archMap(v.agentImages)) {
    throw new Error(`config: ${ENV.ec2Prepull} ${raw.length > 200 ? `${raw.slice(0, 200)}…` : raw}: ${expected}`);
  }
  return { parameters: v.parameters, registry: v.registry, repositoryPrefixes: v.repositoryPrefixes as string[], agentImages: v.agentImages };
}

/** ENV.sociIndexes, checked; undefined when unset (SOCI indexes off). */
export function sociConverterFromEnv(env: Env): SociConverterConfig | undefined {
  const raw = env[ENV.sociIndexes];
  if (raw === undefined || raw.trim() === '') return undefined;
  const expected = 'expected {"taskDefinition": "<family>", "registry": "<account>.dkr.ecr.<region>.amazonaws.com", "prefixes": ["slipway-docker-hub", …]}';
  const v = jsonEnv(env, ENV.sociIndexes, expected) as Partial<Record<keyof SociConverterConfig, unknown>>;
  if (!v || typeof v !== 'object' || typeof v.taskDefinition !== 'string' || typeof v.registry !== 'string' || !Array.isArray(v.prefixes) || !v.prefixes.every((p) => typeof p === 'string' && p.length > 0)) {
    throw new Error(`config: ${ENV.sociIndexes} ${raw.length > 200 ? `${raw.slice(0, 200)}…` : raw}: ${expected}`);
  }
  return { taskDefinition: v.taskDefinition, registry: v.registry, prefixes: v.prefixes as string[] };
}

/** The roles a task definition is registered with where the stored definition names none. */
export function taskRoles(config: Pick<ExecutionConfig, 'executionRoleArn' | 'taskRoleArn'>): { executionRoleArn?: string; taskRoleArn?: string } {
  return { ...(config.executionRoleArn ? { executionRoleArn: config.executionRoleArn } : {}), ...(config.taskRoleArn ? { taskRoleArn: config.taskRoleArn } : {}) };
}

export function executionConfig(env: Env = process.env): ExecutionConfig {
  const assign = env[ENV.assignPublicIp] ?? 'DISABLED';
  if (assign !== 'ENABLED' && assign !== 'DISABLED') throw new Error(`config: ${ENV.assignPublicIp} must be ENABLED or DISABLED, not ${JSON.stringify(assign)}`);
  const dlq = env[ENV.jobsDeadLetterQueueUrl];
  const executionRoleArn = env[ENV.taskExecutionRoleArn];
  const taskRoleArn = env[ENV.taskRoleArn];
  const forkExecutionRoleArn = env[ENV.forkTaskExecutionRoleArn];
  const forkTaskRoleArn = env[ENV.forkTaskRoleArn];
  // A fork's stage would otherwise run with the trusted execution role (runTaskInput names none):
  // its pulls and secrets. The stack sets both; local mode neither.
  if (executionRoleArn && !forkExecutionRoleArn) {
    throw new Error(`config: ${ENV.taskExecutionRoleArn} is set but ${ENV.forkTaskExecutionRoleArn} is not: pull requests from forks would run with the trusted execution role; set it to the stack's fork execution role (lib/build-cluster.ts forkExecutionRole), or unset both`);
  }
  // Likewise its containers would get the build task role's credentials.
  if (taskRoleArn && !forkTaskRoleArn) {
    throw new Error(`config: ${ENV.taskRoleArn} is set but ${ENV.forkTaskRoleArn} is not: pull requests from forks would run with the build task role; set it to the stack's fork task role (lib/build-cluster.ts forkTaskRole), or unset both`);
  }
  const ec2 = ec2CapacityFromEnv(env);
  const prepull = ec2PrepullFromEnv(env);
  const soci = sociConverterFromEnv(env);
  return {
    ...(prepull ? { prepull } : {}),
    ...(soci ? { soci } : {}),
    ...(ec2
      ? {
          ec2: {
            groups: Object.fromEntries(Object.entries(ec2).map(([arch, c]) => [arch, c.autoScalingGroup])),
            spot: Object.fromEntries(Object.entries(ec2).map(([arch, c]) => [arch, c.spot === true])),
            maxInstances: numberEnv(env, ENV.ec2MaxInstances, 4),
          },
        }
      : {}),
    tableName: requireEnv(env, ENV.tableName, 'the build table'),
    jobsQueueUrl: requireEnv(env, ENV.jobsQueueUrl, 'the queue of stages to start'),
    ...(dlq ? { jobsDeadLetterQueueUrl: dlq } : {}),
    cluster: env[ENV.cluster] ?? 'default',
    subnets: listEnv(env, ENV.subnetIds),
    securityGroups: listEnv(env, ENV.securityGroupIds),
    serviceSecurityGroups: listEnv(env, ENV.serviceSecurityGroupIds),
    assignPublicIp: assign,
    ...(executionRoleArn ? { executionRoleArn } : {}),
    ...(forkExecutionRoleArn ? { forkExecutionRoleArn } : {}),
    ...(forkTaskRoleArn ? { forkTaskRoleArn } : {}),
    ...(taskRoleArn ? { taskRoleArn } : {}),
    useSpot: env[ENV.useSpot] === 'true',
    defaultCpu: numberEnv(env, ENV.defaultCpu, 1024),
    limits: {
      ...DEFAULT_LIMITS,
      maxConcurrent: numberEnv(env, ENV.maxConcurrentBuilds, DEFAULT_LIMITS.maxConcurrent),
      vcpuQuota: numberEnv(env, ENV.vcpuQuota, DEFAULT_LIMITS.vcpuQuota),
    },
  };
}
