// The scaling decision: given the queued stages and the running tasks, which stages
// to start now and in which order. Pure: the autoscaler Lambda samples the world,
// calls this, and does what it says; the simulation bench replays a day through it.
//
// Rules, in the order they apply:
// - A stage that needs more vCPU than the whole quota can never run: rejected.
// - During a capacity back-off (RunTask answered "capacity unavailable" or the
//   account's vCPU limit) nothing starts.
// - Global maximum concurrency, per-pipeline `concurrency: limit` (Drone: it counts the
//   running stages of the same pipeline of the same repository), the Fargate vCPU quota,
//   and the ECS API rates (token buckets: RunTask, Fargate launches).
// - Fair across repositories: each pick goes to the repository with the fewest running
//   and just-started stages (ties: the oldest waiting stage). FIFO within a repository:
//   a stage that does not fit in the vCPU left holds back the younger stages of its
//   repository, but not other repositories.
// - No starvation: a stage that has waited `reserveAfterMs` is aged; aged stages go
//   first, oldest first, and an aged stage that does not fit reserves the capacity:
//   nothing younger starts until it has run. Running tasks always end (the agent
//   enforces the timeout), so a reserved stage runs within one task lifetime.
// - A split stage's service task (docs/design/split-pipelines.md) holds vCPU of the quota for
//   the stage's whole life, between and beside its segments: a stage whose service task is not
//   started yet needs its task's and its service task's vCPU to start (both start with it);
//   a started service task counts as used whatever its stage is doing, but not for concurrency.
// - A SOCI converter task (docs/design/soci-indexes.md) is Fargate, on-demand, like any task:
//   every one running counts as used (not for concurrency: it is no build). Builds come first:
//   a converter is an optimisation, so a pass gives converters only what is left once every
//   waiting Fargate stage's need is set aside (`converterRoomUnits`), and nothing during a
//   capacity back-off; a running converter holds back a stage only as the quota forces.
// - EC2 capacity (a stage with `ec2Arch`) is its own pool: its stages never count against the
//   Fargate vCPU quota, and each needs a free instance of its architecture (one build per
//   instance; ec2-fleet.ts sizes the fleet and says how many are free). A stage waiting for an
//   instance holds back no other stage. Without `ec2Free` (local mode: no fleet) ECS places them.

import type { Arch } from '../pipeline/types.js';
import { backoffCeilingMs } from '../util/retry.js';

export interface QueuedStage {
  /** Stage id (build id + stage number). */
  id: string;
  repo: string;
  /** The pipeline's name: the group `concurrency: limit` counts in. */
  pipeline: string;
  concurrencyLimit?: number;
  /** Epoch ms at which it was queued. */
  queuedAt: number;
  /** Fargate CPU units of its task (1024 = 1 vCPU). */
  cpu: number;
  /** Per-stage back-off after a failed RunTask: not before this time. */
  notBefore?: number;
  /** Runs on EC2 capacity of this architecture (the task's EC2 form), not Fargate. */
  ec2Arch?: Arch;
  /**
   * A split stage whose service task is not started yet: that task's CPU units. Its start
   * launches the service task first (lambdas/autoscaler/service-task.ts), so it needs
   * `cpu + serviceCpu` of the quota. Once started the service task is in ScaleInput.serviceTasks.
   */
  serviceCpu?: number;
}

/** A split stage's service task that is started and whose stage is not done: Fargate, on-demand. */
export interface ServiceTaskUse {
  stageId: string;
  /** Fargate CPU units of the task. */
  cpu: number;
}

/** A SOCI converter task that is running (or starting, or stopping): Fargate, on-demand. */
export interface ConverterUse {
  taskArn: string;
  /** Fargate CPU units of the task. */
  cpu: number;
}

export interface RunningTask {
  stageId: string;
  repo: string;
  pipeline: string;
  cpu: number;
  /** On EC2 capacity: counts for concurrency, not for the Fargate vCPU quota. */
  ec2?: boolean;
}

export interface RateLimit {
  burst: number;
  perSecond: number;
}

export interface ScaleLimits {
  /** Most tasks running at once (MAX_CONCURRENT_BUILDS). */
  maxConcurrent: number;
  /** Fargate vCPU quota of the account (VCPU_QUOTA). */
  vcpuQuota: number;
  /** ECS RunTask: burst 100, 40 per second sustained. One stage = one RunTask call. */
  runTask: RateLimit;
  /** Fargate task launches: 20 per second sustained. */
  launches: RateLimit;
  /** After this long in the queue a stage is aged (see above). */
  reserveAfterMs: number;
}

export const DEFAULT_LIMITS: ScaleLimits = {
  maxConcurrent: 10,
  vcpuQuota: 6,
  runTask: { burst: 100, perSecond: 40 },
  // The reference gives only the sustained Fargate rate: its burst is taken as one
  // second's worth, the conservative reading.
  launches: { burst: 20, perSecond: 20 },
  reserveAfterMs: 5 * 60_000,
};

export interface TokenBucket {
  tokens: number;
  /** Epoch ms of the last refill. */
  at: number;
}

/** What the autoscaler carries from one pass to the next. */
export interface ScaleState {
  runTask: TokenBucket;
  launches: TokenBucket;
  /** Epoch ms until which nothing starts (capacity back-off). */
  backoffUntil?: number;
}

export function initialScaleState(limits: ScaleLimits, now: number): ScaleState {
  return { runTask: { tokens: limits.runTask.burst, at: now }, launches: { tokens: limits.launches.burst, at: now } };
}

export type DeferReason =
  | 'capacity-backoff'
  | 'retry-backoff'
  | 'max-concurrency'
  | 'concurrency-limit'
  | 'vcpu-quota'
  | 'behind-in-repository'
  | 'reserved-for-older'
  | 'rate-limit'
  | 'ec2-instance';

export interface Deferred {
  stage: QueuedStage;
  reason: DeferReason;
  /** People-readable: shown as the stage's "why it waits". */
  detail: string;
}

export interface ScaleDecision {
  /** Stages to RunTask now, in this order. */
  start: QueuedStage[];
  /**
   * Fargate CPU units of the quota in use once `start` has started (running tasks, started
   * service tasks, SOCI converters, and what the starts take, service tasks included), and how
   * many of them are service tasks' and converters': what the autoscaler logs with each pass.
   */
  vcpuUnits: { used: number; serviceTasks: number; converters: number; quota: number };
  /**
   * Fargate CPU units a SOCI converter may take this pass: the quota left once `start` has
   * started and every waiting Fargate stage's need is set aside (builds come first); 0 during a
   * capacity back-off.
   */
  converterRoomUnits: number;
  deferred: Deferred[];
  /** Stages that can never start, with the message to fail them with. */
  rejected: { stage: QueuedStage; message: string }[];
  /** Token buckets after the starts (pass to the next decision). */
  state: ScaleState;
}

export interface ScaleInput {
  now: number;
  queued: QueuedStage[];
  running: RunningTask[];
  limits: ScaleLimits;
  state: ScaleState;
  /**
   * Idle, clean EC2 instances per architecture (ec2-fleet.ts, FleetDecision.free), and whether
   * the deployment has EC2 capacity at all. Absent: ECS places EC2 stages itself (local mode).
   */
  ec2?: { free: Partial<Record<Arch, number>>; booting: Partial<Record<Arch, number>>; capacity: readonly Arch[] };
  /** Started service tasks of split stages that are not done: vCPU of the quota, whether their stage runs a segment or waits for one. */
  serviceTasks?: readonly ServiceTaskUse[];
  /** SOCI converter tasks not stopped: vCPU of the quota until they stop. */
  converters?: readonly ConverterUse[];
}

const VCPU = 1024;

function refill(bucket: TokenBucket, rate: RateLimit, now: number): TokenBucket {
  const elapsed = Math.max(0, now - bucket.at) / 1000;
  return { tokens: Math.min(rate.burst, bucket.tokens + elapsed * rate.perSecond), at: Math.max(now, bucket.at) };
}

function byAge(a: QueuedStage, b: QueuedStage): number {
  return a.queuedAt - b.queuedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function groupKey(repo: string, pipeline: string): string {
  return `${repo}\u0000${pipeline}`;
}

function vcpu(units: number): string {
  return `${+(units / VCPU).toFixed(2)} vCPU`;
}

/** CPU units of the quota a start takes: its task's, and its service task's when it starts one. */
function startUnits(stage: QueuedStage): number {
  return stage.cpu + (stage.serviceCpu ?? 0);
}

/** "1.5 vCPU (1 vCPU for its task, 0.5 vCPU for the task of its services)", or just "1 vCPU". */
function needText(stage: QueuedStage): string {
  if (!stage.serviceCpu) return vcpu(stage.cpu);
  return `${vcpu(startUnits(stage))} (${vcpu(stage.cpu)} for its task, ${vcpu(stage.serviceCpu)} for the task of its services)`;
}

export function decideScale(input: ScaleInput): ScaleDecision {
  const { now, limits } = input;
  const quotaUnits = limits.vcpuQuota * VCPU;
  let runTask = refill(input.state.runTask, limits.runTask, now);
  let launches = refill(input.state.launches, limits.launches, now);
  const backoffUntil = input.state.backoffUntil !== undefined && input.state.backoffUntil > now ? input.state.backoffUntil : undefined;

  const start: QueuedStage[] = [];
  const deferred = new Map<string, Deferred>();
  const rejected: ScaleDecision['rejected'] = [];
  let usedUnits = 0;
  const serviceUnits = (input.serviceTasks ?? []).reduce((n, t) => n + t.cpu, 0);
  const converterUnits = (input.converters ?? []).reduce((n, t) => n + t.cpu, 0);
  let startedServiceUnits = 0;
  const done = (): ScaleDecision => {
    const waiting = [...deferred.values()];
    // What the waiting Fargate stages would take once they can start: never the converters'.
    const reserved = waiting.reduce((n, d) => n + (d.stage.ec2Arch === undefined ? startUnits(d.stage) : 0), 0);
    return {
      start,
      vcpuUnits: { used: usedUnits, serviceTasks: serviceUnits + startedServiceUnits, converters: converterUnits, quota: quotaUnits },
      converterRoomUnits: backoffUntil !== undefined ? 0 : Math.max(0, quotaUnits - usedUnits - reserved),
      deferred: waiting,
      rejected,
      state: { runTask, launches, ...(backoffUntil !== undefined ? { backoffUntil } : {}) },
    };
  };
  const defer = (stage: QueuedStage, reason: DeferReason, detail: string) => {
    if (!deferred.has(stage.id)) deferred.set(stage.id, { stage, reason, detail });
  };

  const candidates: QueuedStage[] = [];
  for (const stage of [...input.queued].sort(byAge)) {
    if (stage.ec2Arch !== undefined && input.ec2 && !input.ec2.capacity.includes(stage.ec2Arch)) {
      rejected.push({ stage, message: `needs ${stage.ec2Arch} EC2 capacity, which this deployment does not have (it has ${input.ec2.capacity.join(', ') || 'none'}): see README "EC2 capacity"` });
    } else if (stage.ec2Arch === undefined && startUnits(stage) > quotaUnits) {
      rejected.push({ stage, message: `needs ${needText(stage)} but the Fargate vCPU quota is ${limits.vcpuQuota} vCPU: lower the pipeline's cpu or raise VCPU_QUOTA (and the account's quota)` });
    } else if (backoffUntil !== undefined) {
      defer(stage, 'capacity-backoff', `Fargate capacity back-off until ${new Date(backoffUntil).toISOString()}`);
    } else if (stage.notBefore !== undefined && stage.notBefore > now) {
      defer(stage, 'retry-backoff', `RunTask failed; retrying after ${new Date(stage.notBefore).toISOString()}`);
    } else {
      candidates.push(stage);
    }
  }
  // Counted before the back-off returns: the pass logs what is in use either way.
  usedUnits = serviceUnits + converterUnits;
  for (const task of input.running) usedUnits += task.ec2 ? 0 : task.cpu;
  if (backoffUntil !== undefined) return done();

  let runningCount = 0;
  const perRepo = new Map<string, number>();
  const perGroup = new Map<string, number>();
  const count = (repo: string, pipeline: string) => {
    runningCount += 1;
    perRepo.set(repo, (perRepo.get(repo) ?? 0) + 1);
    const key = groupKey(repo, pipeline);
    perGroup.set(key, (perGroup.get(key) ?? 0) + 1);
  };
  for (const task of input.running) count(task.repo, task.pipeline);
  const ec2Free = { ...(input.ec2?.free ?? {}) };

  const atGroupLimit = (stage: QueuedStage) =>
    stage.concurrencyLimit !== undefined && (perGroup.get(groupKey(stage.repo, stage.pipeline)) ?? 0) >= stage.concurrencyLimit;

  const pending = new Set(candidates);
  // Why the whole pass stopped, if it did: every stage still pending waits for that.
  let stopped: { reason: DeferReason; detail: string } | undefined;

  // Tries to start one stage; reports whether it fits the vCPU left (false: it did not start).
  const tryStart = (stage: QueuedStage): 'started' | 'no-vcpu' | 'no-instance' | 'stop' => {
    if (runningCount >= limits.maxConcurrent) {
      stopped = { reason: 'max-concurrency', detail: `${runningCount} of at most ${limits.maxConcurrent} stages running (MAX_CONCURRENT_BUILDS)` };
      return 'stop';
    }
    const arch = stage.ec2Arch;
    if (arch !== undefined && input.ec2 && (ec2Free[arch] ?? 0) < 1) return 'no-instance';
    if (arch === undefined && usedUnits + startUnits(stage) > quotaUnits) return 'no-vcpu';
    if (runTask.tokens < 1 || launches.tokens < 1) {
      stopped = { reason: 'rate-limit', detail: 'ECS RunTask / Fargate launch rate reached; next pass continues' };
      return 'stop';
    }
    runTask = { ...runTask, tokens: runTask.tokens - 1 };
    launches = { ...launches, tokens: launches.tokens - 1 };
    count(stage.repo, stage.pipeline);
    if (arch === undefined) {
      usedUnits += startUnits(stage);
      startedServiceUnits += stage.serviceCpu ?? 0;
    }
    if (arch !== undefined && input.ec2) ec2Free[arch] = (ec2Free[arch] ?? 0) - 1;
    pending.delete(stage);
    start.push(stage);
    return 'started';
  };
  const held = [
    ...(serviceUnits > 0 ? [`service tasks of split stages hold ${vcpu(serviceUnits)}`] : []),
    ...(converterUnits > 0 ? [`SOCI image converters hold ${vcpu(converterUnits)}`] : []),
  ];
  const noVcpuDetail = (stage: QueuedStage) =>
    `needs ${needText(stage)}; ${vcpu(quotaUnits - usedUnits)} of the ${limits.vcpuQuota} vCPU quota free${held.length > 0 ? ` (${held.join(', ')})` : ''}`;
  const noInstanceDetail = (stage: QueuedStage) => {
    const booting = input.ec2?.booting[stage.ec2Arch!] ?? 0;
    return `waits for an ${stage.ec2Arch} EC2 instance (one build per instance; ${booting > 0 ? `${booting} starting` : 'none free: the fleet grows within its maximum'})`;
  };

  // Aged stages first, oldest first; one that does not fit reserves the capacity.
  for (const stage of candidates) {
    if (now - stage.queuedAt < limits.reserveAfterMs || stopped) break;
    if (atGroupLimit(stage)) continue;
    const result = tryStart(stage);
    if (result === 'no-vcpu') {
      defer(stage, 'vcpu-quota', noVcpuDetail(stage));
      stopped = { reason: 'reserved-for-older', detail: `capacity reserved for ${stage.id}, waiting since ${new Date(stage.queuedAt).toISOString()}` };
    } else if (result === 'no-instance') {
      defer(stage, 'ec2-instance', noInstanceDetail(stage));
    }
  }

  // Fair rounds across repositories, FIFO within each.
  const queues = new Map<string, QueuedStage[]>();
  for (const stage of candidates) {
    if (!pending.has(stage)) continue;
    const list = queues.get(stage.repo) ?? [];
    list.push(stage);
    queues.set(stage.repo, list);
  }
  while (!stopped && queues.size > 0) {
    let pick: string | undefined;
    for (const [repo, list] of queues) {
      if (pick === undefined) { pick = repo; continue; }
      const served = perRepo.get(repo) ?? 0;
      const best = perRepo.get(pick) ?? 0;
      const head = list[0]!;
      const bestHead = queues.get(pick)![0]!;
      if (served < best || (served === best && byAge(head, bestHead) < 0)) pick = repo;
    }
    const repo = pick!;
    const list = queues.get(repo)!;
    // The repository's first stage that its pipeline's limit lets through.
    const index = list.findIndex((stage) => !atGroupLimit(stage));
    if (index < 0) {
      queues.delete(repo);
      continue;
    }
    const stage = list[index]!;
    const result = tryStart(stage);
    if (result === 'started') {
      list.splice(index, 1);
      if (list.length === 0) queues.delete(repo);
    } else if (result === 'no-instance') {
      // Its own pool: it holds back nothing else of its repository.
      defer(stage, 'ec2-instance', noInstanceDetail(stage));
      list.splice(index, 1);
      if (list.length === 0) queues.delete(repo);
    } else if (result === 'no-vcpu') {
      defer(stage, 'vcpu-quota', noVcpuDetail(stage));
      for (const behind of list.slice(index + 1)) defer(behind, 'behind-in-repository', `waits behind ${stage.id} (first in, first out within ${repo})`);
      queues.delete(repo);
    }
  }

  for (const stage of candidates) {
    if (!pending.has(stage)) continue;
    if (atGroupLimit(stage)) {
      defer(stage, 'concurrency-limit', `pipeline "${stage.pipeline}" of ${stage.repo} is at its concurrency limit of ${stage.concurrencyLimit}`);
    } else if (stopped) {
      defer(stage, stopped.reason, stopped.detail);
    } else if (stage.ec2Arch !== undefined) {
      defer(stage, 'ec2-instance', noInstanceDetail(stage));
    } else {
      defer(stage, 'vcpu-quota', noVcpuDetail(stage));
    }
  }
  return done();
}

/** After RunTask answered with a capacity or quota failure: nothing starts for a while. */
export function withCapacityBackoff(state: ScaleState, now: number, consecutiveFailures: number): ScaleState {
  const delay = Math.min(5 * 60_000, 10_000 * 2 ** Math.max(0, consecutiveFailures - 1));
  return { ...state, backoffUntil: now + delay };
}

/**
 * A stage's back-off after its n-th failed start (an error, not a wait: waits for capacity,
 * quota or concurrency never count): 15 s, doubling, at most 15 min.
 */
export function startRetryDelayMs(failures: number): number {
  return backoffCeilingMs(failures, 15_000, 15 * 60_000);
}
