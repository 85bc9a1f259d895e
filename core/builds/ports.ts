// The ports of the build records: what the control plane's logic needs from storage,
// defined here and implemented by adapters (adapters/dynamodb/store.ts and stage-store.ts
// on DynamoDB; test/support/memory-stores.ts in memory). Pure types: core does no I/O.

import type { UpstreamState } from '../pipeline/contract.js';
import type { StageJob } from '../scaling/job.js';
import type { Build, BuildStatus, Stage, StageOutcomeReason, StageStatus, StepRecord, StepStatus } from './types.js';

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Absent on the last page. */
  cursor?: string;
}

export interface PageOptions {
  limit?: number;
  cursor?: string;
}

export type BuildPatch = Partial<Omit<Build, 'id' | 'repo' | 'number' | 'deliveryId' | 'createdAt'>>;
export type StagePatch = Partial<Omit<Stage, 'buildId' | 'repo' | 'buildNumber' | 'number' | 'eventVersion'>>;
export type StepPatch = Partial<Omit<StepRecord, 'buildId' | 'stageNumber' | 'number'>>;

export interface UpdateGuard<S extends string> {
  /** Apply only when the current status is one of these (replaces the status-order rule; e.g. requeue). */
  fromStatuses?: S[];
  /** ECS `detail.version`: apply only if greater than the last applied one, then record it. */
  eventVersion?: number;
}

export interface RunningMark {
  /** Stage.attempts before this start (the attempt the RunTask tokens were made for). */
  attempt: number;
  taskArn: string;
  capacity: 'FARGATE' | 'FARGATE_SPOT';
  startedAt: number;
  cpu: number;
}

export interface EventApply {
  taskArn: string;
  version: number;
  /** Stage.attempts the caller expected (a pending stage is claimed by the event's task). */
  attempt: number;
  status?: StageStatus;
  reason?: StageOutcomeReason;
  message?: string;
  exitCode?: number;
  startedAt?: number;
  finishedAt?: number;
  firstStepAt?: number;
}

/** Builds, stages and steps as the execution half (autoscaler, task events, stage end) reads and writes them. */
export interface BuildStore {
  getBuild(id: string): Promise<Build | null>;
  /**
   * Updates a build. With a status, only if it does not move the build backwards (or, with
   * `fromStatuses`, only from those). The new build, or null when refused or absent.
   */
  updateBuild(id: string, patch: BuildPatch, guard?: UpdateGuard<BuildStatus>): Promise<Build | null>;
  listRecentBuilds(page?: PageOptions): Promise<Page<Build>>;
  getStage(buildId: string, stageNumber: number): Promise<Stage | null>;
  listStages(buildId: string): Promise<Stage[]>;
  listSteps(buildId: string, stageNumber?: number): Promise<StepRecord[]>;
  listStagesAndSteps(buildId: string): Promise<{ stages: Stage[]; steps: StepRecord[] }>;
  /** Stages in flight, oldest first; may lag behind writes: re-read a stage before acting on it. */
  listActiveStages(status: 'pending' | 'running', page?: PageOptions): Promise<Page<Stage>>;
  updateStep(buildId: string, stageNumber: number, stepNumber: number, patch: StepPatch, guard?: UpdateGuard<StepStatus>): Promise<StepRecord | null>;
  /** A step back to `pending` for a new attempt of its stage, without what the last attempt recorded. */
  resetStep(buildId: string, stageNumber: number, stepNumber: number): Promise<StepRecord | null>;
}

/** The stage writes whose conditions depend on the stage's task and attempt, and the stored job of each stage. */
export interface StageStore {
  putStageJobs(jobs: StageJob[]): Promise<void>;
  getStageJob(buildId: string, stageNumber: number): Promise<StageJob | null>;
  getStageJobs(stages: { buildId: string; stageNumber: number }[]): Promise<Map<string, StageJob>>;
  getStageConsistent(buildId: string, stageNumber: number): Promise<Stage | null>;
  noteStartFailure(buildId: string, stageNumber: number, input: { attempt: number; message: string; retryAfter: number }): Promise<Stage | null>;
  markRunning(buildId: string, stageNumber: number, mark: RunningMark): Promise<Stage | null>;
  applyEvent(buildId: string, stageNumber: number, apply: EventApply): Promise<Stage | null>;
  requeue(buildId: string, stageNumber: number, input: { taskArn: string; version: number; queuedAt: number; message: string; attempt: number }): Promise<Stage | null>;
  /** Ends a stage that is not finished; null when it already was (or runs another task than `onlyIfTaskArn`). */
  finish(
    buildId: string,
    stageNumber: number,
    input: { status: StageStatus; reason?: StageOutcomeReason; message: string; finishedAt: number; onlyIfTaskArn?: string },
  ): Promise<Stage | null>;
  /** A stage waiting for its dependencies goes on the queue: once only (null the second time). */
  /** `upstream`: what the build had done when the stage was released (Stage.upstream). */
  markQueued(buildId: string, stageNumber: number, queuedAt: number, upstream?: UpstreamState): Promise<Stage | null>;
  noteWaiting(buildId: string, stageNumber: number, message: string): Promise<void>;
}
