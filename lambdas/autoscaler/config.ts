// The autoscaler's and the task-events handler's settings, from the environment only
// (the CDK stack sets them in AWS; local mode sets them for the local runtime).

import { DEFAULT_LIMITS, type ScaleLimits } from '../../core/scaling/decide-scale.js';
import { requireEnv } from '../shared/config.js';

export interface ExecutionConfig {
  tableName: string;
  jobsQueueUrl: string;
  /** JOBS_DLQ_URL: where an undecodable job message is parked at once. */
  jobsDeadLetterQueueUrl?: string;
  cluster: string;
  subnets: string[];
  securityGroups: string[];
  assignPublicIp: 'ENABLED' | 'DISABLED';
  executionRoleArn?: string;
  taskRoleArn?: string;
  useSpot: boolean;
  defaultCpu: number;
  limits: ScaleLimits;
  publicUrl?: string;
}

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`config: ${name}=${JSON.stringify(raw)} is not a positive number`);
  return n;
}

export function executionConfig(env: NodeJS.ProcessEnv = process.env): ExecutionConfig {
  const assign = env.ASSIGN_PUBLIC_IP ?? 'DISABLED';
  if (assign !== 'ENABLED' && assign !== 'DISABLED') throw new Error(`config: ASSIGN_PUBLIC_IP must be ENABLED or DISABLED, not ${JSON.stringify(assign)}`);
  return {
    tableName: requireEnv(env, 'TABLE_NAME', 'the build table'),
    jobsQueueUrl: requireEnv(env, 'JOBS_QUEUE_URL', 'the queue of stages to start'),
    ...(env.JOBS_DLQ_URL ? { jobsDeadLetterQueueUrl: env.JOBS_DLQ_URL } : {}),
    cluster: env.CLUSTER ?? 'default',
    subnets: list(env.SUBNET_IDS),
    securityGroups: list(env.SECURITY_GROUP_IDS),
    assignPublicIp: assign,
    ...(env.TASK_EXECUTION_ROLE_ARN ? { executionRoleArn: env.TASK_EXECUTION_ROLE_ARN } : {}),
    ...(env.TASK_ROLE_ARN ? { taskRoleArn: env.TASK_ROLE_ARN } : {}),
    useSpot: env.USE_SPOT === 'true',
    defaultCpu: positive(env, 'DEFAULT_CPU', 1024),
    limits: {
      ...DEFAULT_LIMITS,
      maxConcurrent: positive(env, 'MAX_CONCURRENT_BUILDS', DEFAULT_LIMITS.maxConcurrent),
      vcpuQuota: positive(env, 'VCPU_QUOTA', DEFAULT_LIMITS.vcpuQuota),
    },
    ...(env.PUBLIC_URL ? { publicUrl: env.PUBLIC_URL } : {}),
  };
}
