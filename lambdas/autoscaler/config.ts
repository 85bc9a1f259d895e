// The autoscaler's and the task-events handler's settings, from the environment only
// (the CDK stack sets them in AWS; local mode sets them for the local runtime).

import { DEFAULT_LIMITS, type ScaleLimits } from '../../core/scaling/decide-scale.js';
import { ENV } from '../../core/config/lambda-env.js';
import { listEnv, numberEnv, requireEnv, type Env } from '../shared/config.js';
import { ec2CapacityFromEnv } from '../shared/ec2-capacity.js';
import type { Arch } from '../../core/pipeline/types.js';

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
  taskRoleArn?: string;
  useSpot: boolean;
  defaultCpu: number;
  limits: ScaleLimits;
  /** The EC2 capacity (ENV.ec2Capacity): each architecture's Auto Scaling group, and the most instances at once. */
  ec2?: { groups: Partial<Record<Arch, string>>; spot: Partial<Record<Arch, boolean>>; maxInstances: number };
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
  const ec2 = ec2CapacityFromEnv(env);
  return {
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
