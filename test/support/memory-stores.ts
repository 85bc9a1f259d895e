// In-memory implementations of the build-record ports (core/builds/ports.ts) and of the jobs
// queue's (core/scaling/job-queue.ts), so the stage
// end and other logic run without DynamoDB Local. Same rules as the DynamoDB adapters: a
// status moves by rank only forward (core/builds/status.ts), `fromStatuses` replaces that
// rule, a finished stage is final, a stage is queued once. Records are copied in and out,
// so a caller never edits stored state by holding a reference.
// The DynamoDB adapters' own contract tests are test/control-plane/store.test.ts and the
// stage-store tests (task-events, autoscaler, build-finish, task-event-truth).

import type { UpstreamState } from '../../core/pipeline/contract.js';
import type { BuildPatch, BuildStore, EventApply, Page, PageOptions, RequeueInput, RunningMark, SegmentAdvance, StagePatch, StageStore, StepPatch, UpdateGuard } from '../../core/builds/ports.js';
import { FINAL_RANK, statusRank } from '../../core/builds/status.js';
import type { Build, BuildDetail, BuildStatus, Stage, StageOutcomeReason, StageStatus, StepRecord, StepStatus } from '../../core/builds/types.js';
import { stageKey } from '../../core/builds/types.js';
import { STEP_TIME_FIELDS } from '../../core/builds/step-times.js';
import type { StageJob } from '../../core/scaling/job.js';
import type { JobQueue } from '../../core/scaling/job-queue.js';
import type { TaskUsage } from '../../core/cost/types.js';
import { taskUsageKey } from '../../core/cost/task-usage.js';

const copy = <T>(value: T): T => structuredClone(value);

/**
 * The guards of the stores' updates (Expression.guardStatus and guardVersion in
 * adapters/dynamodb/expression.ts): the status order, or `fromStatuses`; and with an event
 * version, only a newer one than the record's.
 */
function allowed<S extends BuildStatus | StageStatus | StepStatus>(
  record: { status: S; eventVersion?: number },
  next: S | undefined,
  guard: UpdateGuard<S>,
): boolean {
  if (guard.eventVersion !== undefined && record.eventVersion !== undefined && record.eventVersion >= guard.eventVersion) return false;
  const current = record.status;
  if (guard.fromStatuses) return guard.fromStatuses.includes(current);
  if (next === undefined) return true;
  const rank = statusRank(next);
  return rank >= FINAL_RANK ? statusRank(current) < rank : statusRank(current) <= rank;
}

/** Drops undefined fields, as the document client's removeUndefinedValues does. */
function patched<T extends object>(record: T, patch: object): T {
  return { ...record, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) } as T;
}

/** A stage whose task runs: its waiting message goes (StageStore.markRunning). */
function withoutMessage(stage: Stage): Stage {
  const { message: _message, ...rest } = stage;
  return rest;
}

export class MemoryBuildStore implements BuildStore {
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
    if (!build || !allowed(build, patch.status, guard)) return null;
    const next = patched(build, { ...patch, eventVersion: guard.eventVersion });
    this.builds.set(id, next);
    return copy(next);
  }

  async getStage(buildId: string, stageNumber: number): Promise<Stage | null> {
    const stage = this.stages.get(stageKey(buildId, stageNumber));
    return stage ? copy(stage) : null;
  }

  async updateStage(buildId: string, stageNumber: number, patch: StagePatch, guard: UpdateGuard<StageStatus> = {}): Promise<Stage | null> {
    const key = stageKey(buildId, stageNumber);
    const stage = this.stages.get(key);
    if (!stage || !allowed(stage, patch.status, guard)) return null;
    const next = patched(stage, { ...patch, eventVersion: guard.eventVersion });
    this.stages.set(key, next);
    return copy(next);
  }

  async getBuildDetail(id: string): Promise<BuildDetail | null> {
    const build = this.builds.get(id);
    if (!build) return null;
    const { stages, steps } = await this.listStagesAndSteps(id);
    return { ...copy(build), stages: stages.map((stage) => ({ ...stage, steps: steps.filter((s) => s.stageNumber === stage.number) })) };
  }

  async listBuilds(repo: string, page: PageOptions = {}): Promise<Page<Build>> {
    const all = [...this.builds.values()].filter((b) => b.repo === repo).sort((a, b) => b.number - a.number);
    return pageOf(all, page, 25);
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
    if (!step || !allowed(step, patch.status, guard)) return null;
    const next = patched(step, { ...patch, eventVersion: guard.eventVersion });
    if (patch.status === 'skipped') for (const attr of STEP_TIME_FIELDS) if (patch[attr] === undefined) delete next[attr];
    this.steps.set(key, next);
    return copy(next);
  }

  async resetStep(buildId: string, stageNumber: number, stepNumber: number): Promise<StepRecord | null> {
    const key = `${stageKey(buildId, stageNumber)}#${stepNumber}`;
    const step = this.steps.get(key);
    if (!step) return null;
    const { exitCode: _exitCode, startedAt: _startedAt, finishedAt: _finishedAt, reason: _reason, taskArn: _taskArn, ...kept } = step;
    const next: StepRecord = { ...kept, status: 'pending' };
    this.steps.set(key, next);
    return copy(next);
  }

  /** Newest first; the cursor is the offset (opaque to callers, as the store's). */
  async listRecentBuilds(page: PageOptions = {}): Promise<Page<Build>> {
    const all = [...this.builds.values()].sort((a, b) => b.createdAt - a.createdAt || b.id.localeCompare(a.id));
    return pageOf(all, page, 25);
  }

  /** Oldest first: pending stages by queue time, running ones by start (the index's order). */
  async listActiveStages(status: 'pending' | 'running', page: PageOptions = {}): Promise<Page<Stage>> {
    const since = (s: Stage) => (status === 'running' ? s.startedAt : s.queuedAt) ?? 0;
    const all = [...this.stages.values()].filter((s) => s.status === status).sort((a, b) => since(a) - since(b));
    return pageOf(all, page, 100);
  }
}

function pageOf<T>(all: T[], page: PageOptions, defaultLimit: number): Page<T> {
  const start = page.cursor ? Number(page.cursor) : 0;
  const end = start + (page.limit ?? defaultLimit);
  const items = all.slice(start, end).map(copy);
  return end < all.length ? { items, cursor: String(end) } : { items };
}

/** Pending at `attempt` with no task yet: a stage a start or a first event may claim (stage-store.ts, waitingAt). */
const waitingAt = (stage: Stage, attempt: number): boolean => stage.status === 'pending' && stage.taskArn === undefined && stage.attempts === attempt;
const isFinal = (stage: Stage): boolean => statusRank(stage.status) >= FINAL_RANK;
/** ECS `detail.version`: only a newer event applies (Expression.guardVersion). */
const newer = (stage: Stage, version: number): boolean => stage.eventVersion === undefined || stage.eventVersion < version;

/** The stage writes the stage end makes, on the stages of a MemoryBuildStore. */
export class MemoryStageStore implements StageStore {
  readonly jobs = new Map<string, StageJob>();
  constructor(private readonly records: MemoryBuildStore) {}

  async putStageJobs(jobs: StageJob[]): Promise<void> {
    for (const job of jobs) this.jobs.set(job.stageKey, copy(job));
  }

  async getStageJob(buildId: string, stageNumber: number): Promise<StageJob | null> {
    const job = this.jobs.get(stageKey(buildId, stageNumber));
    return job ? copy(job) : null;
  }

  async getStageJobs(stages: { buildId: string; stageNumber: number }[]): Promise<Map<string, StageJob>> {
    const out = new Map<string, StageJob>();
    for (const s of stages) {
      const job = this.jobs.get(stageKey(s.buildId, s.stageNumber));
      if (job) out.set(job.stageKey, copy(job));
    }
    return out;
  }

  async getStageConsistent(buildId: string, stageNumber: number): Promise<Stage | null> {
    return this.records.getStage(buildId, stageNumber);
  }

  async noteStartFailure(buildId: string, stageNumber: number, input: { attempt: number; message: string; retryAfter: number }): Promise<Stage | null> {
    return this.write(buildId, stageNumber, (stage) =>
      waitingAt(stage, input.attempt) ? { ...stage, message: input.message, retryAfter: input.retryAfter, startFailures: (stage.startFailures ?? 0) + 1 } : null,
    );
  }

  async markRunning(buildId: string, stageNumber: number, mark: RunningMark): Promise<Stage | null> {
    return this.write(buildId, stageNumber, (stage) => {
      const claimedByItsEvent = stage.taskArn === mark.taskArn && statusRank(stage.status) <= statusRank('running');
      if (!waitingAt(stage, mark.attempt) && !claimedByItsEvent) return null;
      return {
        ...withoutMessage(stage), status: 'running', taskArn: mark.taskArn, capacity: mark.capacity, attempts: mark.attempt + 1, cpu: mark.cpu,
        startedAt: stage.startedAt ?? mark.startedAt,
        ...(mark.queuedBecause !== undefined ? { timeline: { queuedBecause: mark.queuedBecause } } : {}),
      };
    });
  }

  async applyEvent(buildId: string, stageNumber: number, apply: EventApply): Promise<Stage | null> {
    return this.write(buildId, stageNumber, (stage) => {
      if (isFinal(stage) || !newer(stage, apply.version)) return null;
      const own = stage.taskArn === apply.taskArn;
      if (!own && !waitingAt(stage, apply.attempt)) return null;
      const moved = apply.timeline === undefined && apply.queuedBecause !== undefined && apply.message === undefined;
      return patched(moved ? withoutMessage(stage) : stage, {
        ...(moved ? { timeline: { queuedBecause: apply.queuedBecause } } : {}),
        eventVersion: apply.version,
        taskArn: apply.taskArn,
        status: apply.status,
        reason: apply.reason,
        message: apply.message,
        exitCode: apply.exitCode,
        finishedAt: apply.finishedAt,
        startedAt: stage.startedAt ?? apply.startedAt,
        // The earliest start known (StageStore.noteFirstStepAt).
        firstStepAt: stage.firstStepAt !== undefined && apply.firstStepAt !== undefined ? Math.min(stage.firstStepAt, apply.firstStepAt) : (stage.firstStepAt ?? apply.firstStepAt),
        ...(apply.timeline !== undefined ? { timeline: apply.timeline } : {}),
        // The claim counts the attempt, once; later events of the claimed task count nothing.
        ...(own ? {} : { attempts: apply.attempt + 1 }),
      });
    });
  }

  async requeue(buildId: string, stageNumber: number, input: RequeueInput): Promise<Stage | null> {
    const segment = input.segment ?? 1;
    return this.write(buildId, stageNumber, (stage) => {
      if (isFinal(stage) || !newer(stage, input.version)) return null;
      if (stage.taskArn !== input.taskArn && !waitingAt(stage, input.attempt)) return null;
      if ((stage.segment ?? 1) !== segment) return null;
      const { eventVersion: _v, startedAt, firstStepAt, taskArn: _t, timeline: _tl, ...kept } = stage;
      // A later segment keeps the stage's times: the pipeline timeout counts from the first segment's start.
      const times = segment > 1 ? { ...(startedAt !== undefined ? { startedAt } : {}), ...(firstStepAt !== undefined ? { firstStepAt } : {}) } : {};
      return { ...kept, ...times, status: 'pending', queuedAt: input.queuedAt, capacity: 'FARGATE', reason: 'spot-interrupted', message: input.message, attempts: input.attempt + 1 };
    });
  }

  async advanceSegment(buildId: string, stageNumber: number, input: SegmentAdvance): Promise<Stage | null> {
    return this.write(buildId, stageNumber, (stage) => {
      if (isFinal(stage) || !newer(stage, input.version) || stage.taskArn !== input.taskArn) return null;
      if ((stage.segment ?? 1) !== input.segment - 1) return null;
      const { eventVersion: _v, taskArn: _t, retryAfter: _r, startFailures: _f, timeline: _tl, ...kept } = stage;
      const segmentTimelines = input.timeline !== undefined ? { segmentTimelines: [...(stage.segmentTimelines ?? []), input.timeline] } : {};
      return { ...kept, ...segmentTimelines, status: 'pending', queuedAt: input.queuedAt, segment: input.segment, attempts: 0, snapshotAttempt: input.attempt, message: input.message };
    });
  }

  async noteServiceTask(buildId: string, stageNumber: number, task: { taskArn: string; cpu: number }): Promise<Stage | null> {
    return this.write(buildId, stageNumber, (stage) =>
      stage.status === 'pending' && (stage.serviceTaskArn ?? task.taskArn) === task.taskArn ? { ...stage, serviceTaskArn: task.taskArn, serviceTaskCpu: task.cpu } : null,
    );
  }

  async noteWaiting(buildId: string, stageNumber: number, message: string): Promise<void> {
    await this.write(buildId, stageNumber, (stage) => (stage.status === 'pending' && stage.message !== message ? { ...stage, message } : null));
  }

  /** One write, so the checks of the stage's task and of the step hold for it (DynamoDB: one transaction). */
  async updateStepOfTask(buildId: string, stageNumber: number, stepNumber: number, taskArn: string, patch: StepPatch, fromStatuses: StepStatus[]): Promise<boolean> {
    if (this.records.stages.get(stageKey(buildId, stageNumber))?.taskArn !== taskArn) return false;
    const step = this.records.steps.get(`${stageKey(buildId, stageNumber)}#${stepNumber}`);
    if (!step || (step.taskArn !== undefined && step.taskArn !== taskArn)) return false;
    return (await this.records.updateStep(buildId, stageNumber, stepNumber, patch, { fromStatuses })) !== null;
  }

  async noteFirstStepAt(buildId: string, stageNumber: number, taskArn: string, at: number): Promise<boolean> {
    const written = await this.write(buildId, stageNumber, (stage) =>
      stage.taskArn === taskArn && (stage.firstStepAt === undefined || stage.firstStepAt > at) ? { ...stage, firstStepAt: at } : null,
    );
    return written !== null;
  }

  async noteAgentRead(buildId: string, stageNumber: number, taskArn: string, at: number): Promise<boolean> {
    return (await this.write(buildId, stageNumber, (stage) => (stage.taskArn === taskArn ? { ...stage, agentReadAt: at } : null))) !== null;
  }

  /** A conditional write: `change` returns the new stage, or null when its condition refuses. */
  async recordTaskUsage(buildId: string, stageNumber: number, usage: TaskUsage): Promise<boolean> {
    const key = taskUsageKey(usage.taskArn);
    const written = await this.write(buildId, stageNumber, (stage) => (stage.usage?.[key] ? null : { ...stage, usage: { ...(stage.usage ?? {}), [key]: usage } }));
    return written !== null;
  }

  private async write(buildId: string, stageNumber: number, change: (stage: Stage) => Stage | null): Promise<Stage | null> {
    const key = stageKey(buildId, stageNumber);
    const stage = this.records.stages.get(key);
    const next = stage ? change(copy(stage)) : null;
    if (!next) return null;
    this.records.stages.set(key, next);
    return copy(next);
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
