// The ports of the build records: what the control plane's logic needs from storage,
// defined here and implemented by adapters (adapters/dynamodb/store.ts and stage-store.ts
// on DynamoDB; test/support/memory-stores.ts in memory, for BuildStore and StageStore).
// Pure types: core does no I/O.

import type { StageTimeline } from './stage-timeline.js';
import type { UpstreamState } from '../pipeline/contract.js';
import type { StageJob } from '../scaling/job.js';
import type { TaskUsage } from '../cost/types.js';
import type { Build, BuildDetail, BuildStatus, GithubInstallation, Repository, Stage, StageOutcomeReason, StageStatus, StepRecord, StepStatus } from './types.js';

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Absent on the last page. */
  cursor?: string;
}

export interface PageOptions {
  limit?: number;
  cursor?: string;
}

/** A page cursor the store did not hand out (or not for this query): the caller's mistake, never the store's. */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
  constructor(cursor: string, why: string) {
    super(`store: invalid page cursor ${JSON.stringify(cursor.length > 80 ? `${cursor.slice(0, 80)}…` : cursor)}: ${why}`);
  }
}

/** What the metrics read: the builds, and their stages, created since a time (bounded). */
export interface RecentRecords {
  builds: Build[];
  stages: Stage[];
  /** Set when a budget ran out: only records created at or after this time were read. */
  countedFrom?: number;
}

export interface RecentBudget {
  /** Most builds read (default 10,000). */
  builds?: number;
  /** Most stages read (default 30,000). */
  stages?: number;
}

export type RecentRecordsReader = (since: number, budget?: RecentBudget) => Promise<RecentRecords>;

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
  capacity: NonNullable<Stage['capacity']>;
  startedAt: number;
  cpu: number;
  /**
   * The stage's waiting message as the start read it (why it was queued): moved into its
   * timeline (StageTimeline.queuedBecause). Either way the running stage's message goes.
   */
  queuedBecause?: string;
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
  /** The first step's start this event knows: the stage keeps the earliest it was given (StageStore.noteFirstStepAt). */
  firstStepAt?: number;
  /** With the final status: the stage's timeline (stage-timeline.ts). */
  timeline?: StageTimeline;
  /**
   * Without a final status (the task runs): the waiting message of the stage it claims, moved
   * into its timeline as markRunning moves it (the event may claim the stage first). Its
   * message goes.
   */
  queuedBecause?: string;
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
  /** Builds of one repository, newest first. */
  listBuilds(repo: string, page?: PageOptions): Promise<Page<Build>>;
  /** A build with its stages and their steps, as the API returns it. */
  getBuildDetail(id: string): Promise<BuildDetail | null>;
  getStage(buildId: string, stageNumber: number): Promise<Stage | null>;
  listStages(buildId: string): Promise<Stage[]>;
  listSteps(buildId: string, stageNumber?: number): Promise<StepRecord[]>;
  listStagesAndSteps(buildId: string): Promise<{ stages: Stage[]; steps: StepRecord[] }>;
  /** Stages in flight, oldest first; may lag behind writes: re-read a stage before acting on it. */
  listActiveStages(status: 'pending' | 'running', page?: PageOptions): Promise<Page<Stage>>;
  /** Updates a stage under the same guards as updateBuild (cancel); keeps the active-stages listing in step with its status. */
  updateStage(buildId: string, stageNumber: number, patch: StagePatch, guard?: UpdateGuard<StageStatus>): Promise<Stage | null>;
  /** Updates a step under the same guards; one made `skipped` keeps no times but those the patch gives (step-times.ts). */
  updateStep(buildId: string, stageNumber: number, stepNumber: number, patch: StepPatch, guard?: UpdateGuard<StepStatus>): Promise<StepRecord | null>;
  /** A step back to `pending` for a new attempt of its stage, without what the last attempt recorded. */
  resetStep(buildId: string, stageNumber: number, stepNumber: number): Promise<StepRecord | null>;
}

export interface NewBuild {
  build: Build;
  stages: Stage[];
  steps: StepRecord[];
}

export type CreateBuildResult = { created: true; build: Build } | { created: false; buildId: string };

/** Creates builds (the planner): one delivery makes one build. */
export interface BuildCreator {
  /** Pipelines one build can hold; more is the pipeline file's error, found before createBuild. */
  readonly maxStagesPerBuild: number;
  /** A build with its stages and steps, all or nothing; a second call for the same delivery returns the first build's id. */
  createBuild(input: NewBuild): Promise<CreateBuildResult>;
}

/** The stage writes whose conditions depend on the stage's task and attempt, and the stored job of each stage. */
/** A split stage's segment task stopped and `segment` runs next (StageStore.advanceSegment). */
export interface SegmentAdvance {
  taskArn: string;
  version: number;
  queuedAt: number;
  segment: number;
  message: string;
  /** The attempt of the stopped task: its workspace snapshot is the one `segment` starts from (Stage.snapshotAttempt). */
  attempt: number;
  /** Where the stopped segment's time went: appended to Stage.segmentTimelines; the stage's `timeline` (the next segment's) starts empty. */
  timeline?: StageTimeline;
}

/** A Spot interruption's requeue (StageStore.requeue). */
export interface RequeueInput {
  taskArn: string;
  version: number;
  queuedAt: number;
  message: string;
  attempt: number;
  /** The segment of a split stage that was interrupted (absent: 1): a later one keeps the stage's start time. */
  segment?: number;
}

export interface StageStore {
  putStageJobs(jobs: StageJob[]): Promise<void>;
  getStageJob(buildId: string, stageNumber: number): Promise<StageJob | null>;
  getStageJobs(stages: { buildId: string; stageNumber: number }[]): Promise<Map<string, StageJob>>;
  getStageConsistent(buildId: string, stageNumber: number): Promise<Stage | null>;
  noteStartFailure(buildId: string, stageNumber: number, input: { attempt: number; message: string; retryAfter: number }): Promise<Stage | null>;
  markRunning(buildId: string, stageNumber: number, mark: RunningMark): Promise<Stage | null>;
  applyEvent(buildId: string, stageNumber: number, apply: EventApply): Promise<Stage | null>;
  requeue(buildId: string, stageNumber: number, input: RequeueInput): Promise<Stage | null>;
  /** A split stage's segment task stopped and `segment` runs next: back to the queue, once. */
  advanceSegment(buildId: string, stageNumber: number, input: SegmentAdvance): Promise<Stage | null>;
  /** A split stage's service task was started, with its CPU units: recorded once, while the stage waits (null otherwise). */
  noteServiceTask(buildId: string, stageNumber: number, task: { taskArn: string; cpu: number }): Promise<Stage | null>;
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
  /**
   * Records what a stopped task of the stage used, once per task (by usage.taskArn), whatever
   * the stage's status: a cancelled stage's task still bills until it stops. True when this
   * call recorded it, false when it was already recorded (or the stage does not exist).
   */
  recordTaskUsage(buildId: string, stageNumber: number, usage: TaskUsage): Promise<boolean>;
  /**
   * What the agent's log of `taskArn` showed of a step while its stage runs (the clone's end, a
   * command's start: lambdas/shared/execution/agent-progress.ts), under `fromStatuses`: written
   * only while the stage runs that task and the step was recorded for no other, checked in the
   * same write (a Spot requeue resets the steps and gives the stage another task, so a read of
   * the old task's log must not land on the new attempt). True when written.
   */
  updateStepOfTask(buildId: string, stageNumber: number, stepNumber: number, taskArn: string, patch: StepPatch, fromStatuses: StepStatus[]): Promise<boolean>;
  /**
   * The stage's first step started at `at`: recorded when no start is, or a later one (a start
   * read late from the agent's log may be earlier than the one an event gave), and only while
   * the stage runs `taskArn`. True when written.
   */
  noteFirstStepAt(buildId: string, stageNumber: number, taskArn: string, at: number): Promise<boolean>;
  /**
   * The agent's log of the stage's task `taskArn` was read at `at` (Stage.agentReadAt), while the
   * stage runs that task. True when written.
   */
  noteAgentRead(buildId: string, stageNumber: number, taskArn: string, at: number): Promise<boolean>;
}

/** What `slipway repo add` decides about a repository; nothing of it comes from a webhook. */
export interface RepositoryActivation {
  slug: string;
  scm: Repository['scm'];
  visibility: NonNullable<Repository['visibility']>;
  activatedAt: number;
  configPath?: string;
  /** Local repositories only: the directory's file:// URL. */
  httpUrl?: string;
  link?: string;
  /** Repository.trusted: may run on EC2 capacity (false when absent). */
  trusted?: boolean;
  /** Repository.capacity: its pipelines' default capacity. */
  capacity?: Repository['capacity'];
  /** Repository.pullThroughCache: false pulls its images as written (on when absent). */
  pullThroughCache?: boolean;
}

/**
 * What `slipway repo update` changes (Drone's `drone repo update`: only the fields named);
 * absent fields stay as they are. Read by the planner when it plans a build, so a change
 * applies to builds planned after it (a restart is planned again), never to one planned before.
 */
export interface RepositorySettingsPatch {
  trusted?: boolean;
  capacity?: Repository['capacity'];
  visibility?: NonNullable<Repository['visibility']>;
  pullThroughCache?: boolean;
}

/** A repository's record before and after one settings update. */
export interface RepositorySettingsChange {
  before: Repository;
  after: Repository;
}

/** The repository is active on another host: one name is one repository on one host. */
export class RepositoryHostConflictError extends Error {
  constructor(
    readonly slug: string,
    readonly host: string,
    readonly activeOn: string,
  ) {
    super(`repository ${slug} is active on ${activeOn}; remove it there first (slipway repo rm ${slug}) to activate it on ${host}`);
    this.name = 'RepositoryHostConflictError';
  }
}

/** Activated repositories, their settings and build counters (the webhook, the API, the planner). */
export interface RepositoryStore {
  getRepository(slug: string): Promise<Repository | null>;
  listRepositories(page?: PageOptions): Promise<Page<Repository>>;
  /** Activates on a host, keeping counter and history; RepositoryHostConflictError when active on another host. */
  activateRepository(activation: RepositoryActivation): Promise<Repository>;
  /**
   * Changes the named settings of an active repository in one conditional write (a change
   * made meanwhile to another field, or to its counter, is kept); `at` is recorded as
   * `trustSetAt` when `trusted` is named. With `activatedAt`, only that activation is changed
   * (one removed and added again meanwhile, perhaps on another host, is not). Null when the
   * repository is not active, or not that activation.
   */
  changeRepositorySettings(slug: string, patch: RepositorySettingsPatch, at: number, activatedAt?: number): Promise<RepositorySettingsChange | null>;
  /** The repository stays (builds, counter) but its webhooks run nothing. */
  deactivateRepository(slug: string): Promise<Repository | null>;
  /** Where configuration says the repository lives (the dashboard links to it). */
  setRepositoryLocation(slug: string, location: { httpUrl: string; link: string }): Promise<void>;
  /**
   * Keeps the GitHub App installation GitHub's API named for the repository (Repository.githubInstallation),
   * replacing the one kept; nothing when the repository has no record.
   */
  setGithubInstallation(slug: string, installation: GithubInstallation): Promise<void>;
  /** The next build number: unique under any concurrency. */
  nextBuildNumber(slug: string): Promise<number>;
}

export interface Delivery {
  id: string;
  /** `github`, `gitea`, `gitlab`, `local`. */
  host: string;
  /** The host's event name (`push`, `pull_request`, `Merge Request Hook`, …). */
  event: string;
  receivedAt: number;
  /** The host's own (unsigned) delivery header, for matching logs with the host's delivery list. */
  hostDelivery?: string;
}

export type DeliveryState = 'received' | 'enqueued' | 'failed';

/** Webhook deliveries: the dedupe record each leaves, and the build it made. */
export interface DeliveryStore {
  /** False when already recorded (a redelivery); a failed or stale delivery may be recorded again. */
  recordDelivery(delivery: Delivery, staleAfterMs?: number): Promise<boolean>;
  markDelivery(id: string, state: DeliveryState): Promise<void>;
  /** The id of the build a delivery created, if the planner already handled it. */
  buildForDelivery(id: string): Promise<string | null>;
}
