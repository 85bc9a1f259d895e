// In-memory implementations of the build-record ports (core/builds/ports.ts) and of the jobs
// queue's (core/scaling/job-queue.ts), so the stage
// end and other logic run without DynamoDB Local. Same rules as the DynamoDB adapters: a
// status moves by rank only forward (core/builds/status.ts), `fromStatuses` replaces that
// rule, a finished stage is final, a stage is queued once. Records are copied in and out,
// so a caller never edits stored state by holding a reference.
// The DynamoDB adapters' own contract tests are test/control-plane/store.test.ts and the
// stage-store tests (task-events, autoscaler, build-finish, task-event-truth).

import type { UpstreamState } from '../../core/pipeline/contract.js';
import type { BuildPatch, BuildStore, StageStore, StepPatch, UpdateGuard } from '../../core/builds/ports.js';
import { FINAL_RANK, statusRank } from '../../core/builds/status.js';
import type { Build, BuildStatus, Stage, StageOutcomeReason, StageStatus, StepRecord, StepStatus } from '../../core/builds/types.js';
import { stageKey } from '../../core/builds/types.js';
import type { StageJob } from '../../core/scaling/job.js';
import type { JobQueue } from '../../core/scaling/job-queue.js';

const copy = <T>(value: T): T => structuredClone(value);

/** The status-order rule of the stores: Expression.guardStatus in adapters/dynamodb/expression.ts. */
function allowed<S extends BuildStatus | StageStatus | StepStatus>(current: S, next: S | undefined, guard: UpdateGuard<S>): boolean {
  if (guard.fromStatuses) return guard.fromStatuses.includes(current);
  if (next === undefined) return true;
  const rank = statusRank(next);
  return rank >= FINAL_RANK ? statusRank(current) < rank : statusRank(current) <= rank;
}

/** Drops undefined fields, as the document client's removeUndefinedValues does. */
function patched<T extends object>(record: T, patch: object): T {
  return { ...record, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) } as T;
}

export class MemoryBuildStore implements Pick<BuildStore, 'getBuild' | 'updateBuild' | 'getStage' | 'listStages' | 'listSteps' | 'listStagesAndSteps' | 'updateStep'> {
  readonly builds = new Map<string, Build>();
  readonly stages = new Map<string, Stage>();
  readonly steps = new Map<string, StepRecord>();

  /** Seeds a build with its stages and steps. */
  add(build: Build, stages: Stage[], steps: StepRecord[]): void {
    this.builds.set(build.id, copy(build));
    for (const s of stages) this.stages.set(stageKey(s.buildId, s.number), copy(s));
    for (const s of steps) this.steps.set(`${stageKey(s.buildId, s.stageNumber)}#${s.number}`, copy(s));
  }

  async getBuild(id: string): Promise<Build | null> {
    const build = this.builds.get(id);
    return build ? copy(build) : null;
  }

  async updateBuild(id: string, patch: BuildPatch, guard: UpdateGuard<BuildStatus> = {}): Promise<Build | null> {
    const build = this.builds.get(id);
    if (!build || !allowed(build.status, patch.status, guard)) return null;
    const next = patched(build, patch);
    this.builds.set(id, next);
    return copy(next);
  }

  async getStage(buildId: string, stageNumber: number): Promise<Stage | null> {
    const stage = this.stages.get(stageKey(buildId, stageNumber));
    return stage ? copy(stage) : null;
  }

  async listStages(buildId: string): Promise<Stage[]> {
    return [...this.stages.values()].filter((s) => s.buildId === buildId).sort((a, b) => a.number - b.number).map(copy);
  }

  async listSteps(buildId: string, stageNumber?: number): Promise<StepRecord[]> {
    return [...this.steps.values()]
      .filter((s) => s.buildId === buildId && (stageNumber === undefined || s.stageNumber === stageNumber))
      .sort((a, b) => a.stageNumber - b.stageNumber || a.number - b.number)
      .map(copy);
  }

  async listStagesAndSteps(buildId: string): Promise<{ stages: Stage[]; steps: StepRecord[] }> {
    return { stages: await this.listStages(buildId), steps: await this.listSteps(buildId) };
  }

  async updateStep(buildId: string, stageNumber: number, stepNumber: number, patch: StepPatch, guard: UpdateGuard<StepStatus> = {}): Promise<StepRecord | null> {
    const key = `${stageKey(buildId, stageNumber)}#${stepNumber}`;
    const step = this.steps.get(key);
    if (!step || !allowed(step.status, patch.status, guard)) return null;
    const next = patched(step, patch);
    this.steps.set(key, next);
    return copy(next);
  }
}

/** The stage writes the stage end makes, on the stages of a MemoryBuildStore. */
export class MemoryStageStore implements Pick<StageStore, 'putStageJobs' | 'getStageJob' | 'getStageConsistent' | 'finish' | 'markQueued'> {
  readonly jobs = new Map<string, StageJob>();
  constructor(private readonly records: MemoryBuildStore) {}

  async putStageJobs(jobs: StageJob[]): Promise<void> {
    for (const job of jobs) this.jobs.set(job.stageKey, copy(job));
  }

  async getStageJob(buildId: string, stageNumber: number): Promise<StageJob | null> {
    const job = this.jobs.get(stageKey(buildId, stageNumber));
    return job ? copy(job) : null;
  }

  async getStageConsistent(buildId: string, stageNumber: number): Promise<Stage | null> {
    return this.records.getStage(buildId, stageNumber);
  }

  async finish(
    buildId: string,
    stageNumber: number,
    input: { status: StageStatus; reason?: StageOutcomeReason; message: string; finishedAt: number; onlyIfTaskArn?: string },
  ): Promise<Stage | null> {
    const key = stageKey(buildId, stageNumber);
    const stage = this.records.stages.get(key);
    if (!stage || statusRank(stage.status) >= FINAL_RANK) return null;
    if (input.onlyIfTaskArn !== undefined && stage.taskArn !== input.onlyIfTaskArn) return null;
    const next = patched(stage, { status: input.status, message: input.message, finishedAt: input.finishedAt, reason: input.reason || undefined });
    this.records.stages.set(key, next);
    return copy(next);
  }

  async markQueued(buildId: string, stageNumber: number, queuedAt: number, upstream?: UpstreamState): Promise<Stage | null> {
    const key = stageKey(buildId, stageNumber);
    const stage = this.records.stages.get(key);
    if (!stage || stage.status !== 'pending' || stage.queuedAt !== undefined) return null;
    const next = { ...stage, queuedAt, ...(upstream ? { upstream } : {}) };
    this.records.stages.set(key, next);
    return copy(next);
  }
}

/** The jobs queue in memory: what is enqueued is what the autoscaler would receive, in order. */
export class MemoryJobQueue implements JobQueue {
  readonly enqueued: StageJob[] = [];

  async enqueue(job: StageJob): Promise<void> {
    this.enqueued.push(copy(job));
  }
}

/** A jobs queue for a test in which nothing may be enqueued: an enqueue fails it, saying which stage. */
export function refusingJobQueue(why: string): JobQueue {
  return {
    async enqueue(job) {
      throw new Error(`test: stage ${job.stageKey} was enqueued, but ${why}`);
    },
  };
}
