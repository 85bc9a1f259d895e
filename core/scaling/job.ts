// A stage ready to run: the jobs-queue message body, and the record the planner stores
// for every stage so that a dependent stage (enqueued later by the task-events Lambda)
// and a Spot retry can be started from it too. Written by the planner, read by the
// autoscaler, which turns it into RegisterTaskDefinition (only when the family is new)
// and RunTask.

import { createHash } from 'node:crypto';
import type { GithubInstallation } from '../builds/types.js';
import { AGENT_CONTAINER, AGENT_ENV } from '../pipeline/contract.js';
import { serviceTaskRunKey } from '../pipeline/segments.js';
import type { Build } from '../builds/types.js';

export interface StageJob {
  /** `owner/name#42/2` (see stageKey in core/builds/types.ts). */
  stageKey: string;
  buildId: string;
  stageNumber: number;
  repo: string;
  /** Pipeline name: the `concurrency: limit` group. */
  pipeline: string;
  concurrencyLimit?: number;
  /** Fargate CPU units and MiB of the task (as in the task definition). */
  cpu: number;
  memory: number;
  /** The compiler's RegisterTaskDefinition input; `family` is the hash of its content. */
  taskDefinition: { family: string; [field: string]: unknown };
  /** The compiler's per-run RunTask fields (overrides, tags…); the autoscaler adds the rest. */
  runTask: { overrides?: unknown; [field: string]: unknown };
  /** The build's receipt time (Build.receivedAt), for webhook → RunTask of its stages that start with it. */
  receivedAt?: Build['receivedAt'];
  /** Epoch ms it was put on the jobs queue. */
  queuedAt: number;
  /** Start on on-demand capacity even when Spot is in use (the retry after an interruption). */
  onDemand?: boolean;
  /**
   * A stage of a pull request from a fork: it runs with the fork execution role
   * (lambdas/autoscaler/start-stage.ts runTaskInput). Written on every job; absent on a job
   * stored before it was, whose build record then decides (start-stage.ts isForkJob).
   */
  fork?: boolean;
  /**
   * A pipeline split into consecutive tasks (core/pipeline/segments.ts): every segment's task,
   * the first being `taskDefinition`/`runTask` above. The stage's `segment` says which runs next.
   */
  segments?: SegmentJob[];
  /** The segment this job starts (absent: 1). */
  segment?: number;
  /** A split pipeline with services: the task that runs them beside every segment (CompiledStage.serviceTask). */
  serviceTask?: ServiceTaskJob;
  /**
   * The repository's GitHub App installation the planner read the pipeline file with (or, without
   * a GitHub App token, the one on its record: Repository.githubInstallation): the autoscaler mints
   * the clone token with it in one call, without a read of the record.
   */
  githubInstallation?: GithubInstallation;
}

/** The service task of a split stage, as the autoscaler starts it. */
export interface ServiceTaskJob {
  taskDefinition: StageJob['taskDefinition'];
  runTask: StageJob['runTask'];
  cpu: number;
  memory: number;
}

/** `startedBy` of every service task: how a pass recognises them among the cluster's tasks (service-task.ts). */
export const SERVICE_TASK_STARTED_BY_PREFIX = 'slipway-svc-';

/**
 * RunTask's tokens of a stage's service task: one per stage (a retried start returns the same
 * task), and a `startedBy` (≤ 36 characters) that says what it is.
 */
export function serviceTaskTokens(stageKey: string): { clientToken: string; startedBy: string } {
  const digest = createHash('sha256').update(serviceTaskRunKey(stageKey)).digest('hex');
  return { clientToken: digest.slice(0, 64), startedBy: `${SERVICE_TASK_STARTED_BY_PREFIX}${digest.slice(0, 24)}` };
}

/** One segment of a split stage, as the autoscaler starts it. */
export interface SegmentJob {
  number: number;
  taskDefinition: StageJob['taskDefinition'];
  runTask: StageJob['runTask'];
  cpu: number;
  memory: number;
  /** Its agent containers' names, the steps' and gates' containers: what its task's events are about. */
  containers: string[];
  /** What the segments after it hold: whether a failure or an early exit still runs the next one. */
  later: { runOnFailure: boolean; runAlways: boolean };
}

/** The job of segment `n` of a split stage (the stage's own job when it is not split). */
export function segmentJob(job: StageJob, n: number): StageJob {
  if (!job.segments || job.segments.length === 0) return job;
  const seg = job.segments.find((s) => s.number === n);
  if (!seg) throw new Error(`job ${job.stageKey}: no segment ${n} (it has ${job.segments.length})`);
  return { ...job, taskDefinition: seg.taskDefinition, runTask: seg.runTask, cpu: seg.cpu, memory: seg.memory, segment: n };
}

/**
 * The jobs queue's maxReceiveCount (lib/queues.ts). The autoscaler deletes a job message on
 * the pass that reads it (the stage waits in the table), so a message is received again only
 * when a pass died before deleting it: after this many such passes it is parked in the
 * dead-letter queue, visible, instead of breaking every pass.
 */
export const JOBS_MAX_RECEIVES = 5;

/** A jobs-queue message body. */
export function encodeJob(job: StageJob): string {
  return JSON.stringify(job);
}

/** Parses a jobs-queue message body; throws an error naming what is wrong. */
export function decodeJob(body: string): StageJob {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw new Error(`job: message body is not JSON: ${(err as Error).message}`);
  }
  const job = value as Partial<StageJob>;
  const missing = (['stageKey', 'buildId', 'stageNumber', 'repo', 'pipeline', 'cpu', 'memory', 'taskDefinition', 'runTask', 'queuedAt'] as const).filter(
    (k) => job[k] === undefined,
  );
  if (missing.length > 0) throw new Error(`job: message lacks ${missing.join(', ')}`);
  if (typeof job.taskDefinition?.family !== 'string') throw new Error('job: taskDefinition has no family');
  return job as StageJob;
}

/**
 * RunTask's idempotency tokens for one start of a stage. `attempt` is the number of
 * earlier starts (Stage.attempts before this one), so the Spot retry gets a new task
 * while a retried RunTask of the same attempt returns the same one.
 * clientToken: ≤ 64 ASCII characters. startedBy: ≤ 36 of [A-Za-z0-9_/-].
 */
export function runTaskTokens(stageKey: string, attempt: number, capacity?: 'FARGATE' | 'FARGATE_SPOT'): { clientToken: string; startedBy: string } {
  const digest = createHash('sha256').update(`${stageKey}\n${attempt}`).digest('hex');
  // The on-demand fallback after a Spot refusal is another request: another token, same startedBy.
  const token = capacity === 'FARGATE' ? createHash('sha256').update(`${stageKey}\n${attempt}\n${capacity}`).digest('hex') : digest;
  return { clientToken: token.slice(0, 64), startedBy: `slipway-${digest.slice(0, 28)}` };
}

/** Drone's default pipeline timeout, used when a job's agent carries none (hand-made jobs). */
export const DEFAULT_TIMEOUT_MS = 60 * 60_000;

/**
 * The pipeline timeout the agent of this job enforces, as task-runner/config.ts reads it:
 * SLIPWAY_TIMEOUT_SECONDS (an override, then the definition) before the plan's
 * timeoutMinutes (SLIPWAY_PLAN in the agent's definition). DEFAULT_TIMEOUT_MS when neither
 * is there or readable.
 */
export function jobTimeoutMs(job: Pick<StageJob, 'taskDefinition' | 'runTask'>): number {
  const agentEnv = (containers: unknown): { name?: string; value?: string }[] => {
    if (!Array.isArray(containers)) return [];
    const agent = (containers as { name?: string; environment?: { name?: string; value?: string }[] }[]).find((c) => c?.name === AGENT_CONTAINER);
    return Array.isArray(agent?.environment) ? agent.environment : [];
  };
  const overrides = agentEnv((job.runTask.overrides as { containerOverrides?: unknown } | undefined)?.containerOverrides);
  const definition = agentEnv(job.taskDefinition.containerDefinitions);
  const seconds = Number([...overrides, ...definition].find((e) => e.name === AGENT_ENV.timeoutSeconds)?.value);
  if (Number.isFinite(seconds) && seconds > 0) return seconds * 1000;
  const plan = definition.find((e) => e.name === AGENT_ENV.plan)?.value;
  if (plan !== undefined) {
    try {
      const minutes = (JSON.parse(plan) as { timeoutMinutes?: unknown }).timeoutMinutes;
      if (typeof minutes === 'number' && minutes > 0) return minutes * 60_000;
    } catch (err) {
      // A plan the agent could not read either: it exits at once, so the default is only an upper bound.
      if (!(err instanceof SyntaxError)) throw err;
    }
  }
  return DEFAULT_TIMEOUT_MS;
}
