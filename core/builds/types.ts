// Builds, stages and steps as the control plane stores them and as the API, the CLI
// and the dashboard show them. One definition for all of them.

import type { CapacityPreference } from '../pipeline/capacity.js';
import type { StageTimeline } from './stage-timeline.js';
import type { BuildEvent, ScmKind } from '../pipeline/context.js';
import type { UpstreamState } from '../pipeline/contract.js';
import type { BuildCost, TaskUsage } from '../cost/types.js';

/** Every status a build can have, in the order they are listed to users (filters, the API's enum). */
export const BUILD_STATUSES = ['pending', 'running', 'success', 'failure', 'killed', 'error'] as const;
/** Every status a step (and a stage) can have: a build's, and `skipped`. */
export const STEP_STATUSES = ['pending', 'running', 'success', 'failure', 'skipped', 'killed', 'error'] as const;
export type BuildStatus = (typeof BUILD_STATUSES)[number];
export type StageStatus = BuildStatus | 'skipped';
export type StepStatus = (typeof STEP_STATUSES)[number];

/** Why a stage ended the way it did (from the agent's exit code and ECS stop codes). */
export type StageOutcomeReason =
  | 'steps-passed'
  | 'step-failed'
  | 'service-not-ready'
  | 'timed-out'
  | 'spot-interrupted'
  | 'cancelled'
  | 'could-not-start'
  | 'clone-failed'
  | 'task-lost'
  | 'invalid-config'
  | 'dependency-failed'
  /** The agent itself failed (exit code 6, killed by OOM, …). */
  | 'agent-error';

/** A repository's visibility, chosen at activation; the first is the default. */
export const REPO_VISIBILITIES = ['private', 'internal', 'public'] as const;
export type RepoVisibility = (typeof REPO_VISIBILITIES)[number];

export interface Repository {
  /** `owner/name` */
  slug: string;
  scm: ScmKind;
  httpUrl: string;
  link: string;
  defaultBranch: string;
  /** Where the pipeline file lives (default `.drone.yml`). */
  configPath: string;
  private: boolean;
  /** The last build number handed out. */
  counter: number;
  /** Activated (`slipway repo add`) and not removed: only then do its webhooks run anything. */
  active: boolean;
  /** Chosen at activation, never taken from a webhook: private and internal ones are cloned with the host's token. */
  visibility?: RepoVisibility;
  /** Epoch milliseconds of the last activation; absent on records from before activation existed. */
  activatedAt?: number;
  /**
   * Trusted to run on EC2 capacity (`slipway repo add … --trusted`): privileged steps, the
   * Docker socket, dind (core/pipeline/capacity.ts). Never for pull requests from forks.
   */
  trusted?: boolean;
  /**
   * Epoch ms `trusted` was last set (`repo add`, `repo update --trusted|--no-trusted`). Who set
   * it is not kept: the API knows callers only by one shared token.
   */
  trustSetAt?: number;
  /** Where its pipelines run when their `node:` does not say: `warm` (EC2, when trusted) or `fargate`. */
  capacity?: CapacityPreference;
  /**
   * The GitHub App installation that covers it, as GitHub's API last named it (GET
   * /repos/{owner}/{repo}/installation), so that a new Lambda instance mints a token in one call.
   * Written only from that answer, never from a webhook's body (whose `installation` anyone who
   * can sign for another deployment, or guess nothing at all, could fill).
   */
  githubInstallation?: GithubInstallation;
  /**
   * Its images go through the deployment's ECR pull-through cache (`repo add|update
   * --no-pull-through-cache` sets false: pulled as written). Absent, as on records from before
   * the setting existed: on (repositoryUsesPullThroughCache).
   */
  pullThroughCache?: boolean;
}

/** A repository's pull-through cache setting, absent read as on (Repository.pullThroughCache). */
export function repositoryUsesPullThroughCache(repository: Pick<Repository, 'pullThroughCache'>): boolean {
  return repository.pullThroughCache !== false;
}

/** Its visibility; a record from before visibility was chosen at activation has only the host's `private` flag. */
export function repositoryVisibility(repository: Pick<Repository, 'visibility' | 'private'>): RepoVisibility {
  return repository.visibility ?? (repository.private ? 'private' : 'public');
}

/** A GitHub App's installation on a repository: the App it belongs to (`appId`, as configured) and GitHub's id for it. */
export interface GithubInstallation {
  appId: string;
  id: number;
}

/** All times are epoch milliseconds; absent until they happen. */
export interface Build {
  id: string;
  repo: string;
  number: number;
  status: BuildStatus;
  event: BuildEvent;
  action: string;
  ref: string;
  branch: string;
  commit: string;
  message: string;
  author: string;
  link: string;
  /** The webhook delivery that caused it. */
  deliveryId: string;
  /** Set when the build could not run at all (e.g. invalid `.drone.yml`). */
  error?: string;
  /** Build of a pull request from a fork: runs without secrets. */
  fork: boolean;
  createdAt: number;
  /**
   * When the webhook that caused it arrived (the webhook Lambda's receipt; a restart's request,
   * a local run's submission): where its stages that start with it begin their time
   * (stage-timeline.ts, the "control plane" phase up to their queueing). Absent on builds stored
   * before it was kept.
   */
  receivedAt?: number;
  startedAt?: number;
  finishedAt?: number;
  /**
   * When the final commit status was handed to the path that posts it (the events queue);
   * absent on a finished build: the hand-off is still owed (its sender died first).
   */
  statusHandedOffAt?: number;
  /** When the call that finished the build began that hand-off (processing time: a lease). */
  statusHandOffStartedAt?: number;
  /** Build number this one restarts, if any. */
  parent?: number;
  /** Pull requests: what the webhook said, kept so that a restart builds the same context. */
  sourceBranch?: string;
  targetBranch?: string;
  pullRequestNumber?: number;
  pullRequestTitle?: string;
  /**
   * What the build cost (core/cost/build-cost.ts): computed when it finishes, and again when a
   * task of it stops later (a cancelled build's tasks stop after it ended). Absent before
   * that, and for builds that ran nothing or finished before cost was recorded.
   */
  cost?: BuildCost;
}

export interface Stage {
  buildId: string;
  repo: string;
  buildNumber: number;
  /** 1-based, in file order. */
  number: number;
  name: string;
  status: StageStatus;
  reason?: StageOutcomeReason;
  /** People-readable detail of `reason`. */
  message?: string;
  dependsOn: string[];
  /** Task definition family (hash of the structural content). */
  family?: string;
  taskArn?: string;
  /** Capacity used: FARGATE, FARGATE_SPOT, or the deployment's EC2 capacity (core/pipeline/ec2-task.ts). */
  capacity?: 'FARGATE' | 'FARGATE_SPOT' | 'EC2';
  /** How many times the stage (a split stage: its current segment) was started (Spot interruption requeues once). */
  attempts: number;
  /**
   * A pipeline split into consecutive tasks: the segment it runs or waits to run (absent: 1).
   * The stage's task, events and attempts are this segment's; startedAt stays the first one's.
   */
  segment?: number;
  /** How many segments the stage's pipeline was cut into (absent: 1, not split). */
  segments?: number;
  /**
   * A split stage with services: the task that runs them for the stage's whole life (started
   * with the first segment, stopped once the stage is done: lambdas/autoscaler/service-task.ts).
   */
  serviceTaskArn?: string;
  /** Fargate CPU units of that task: the autoscaler counts them against the vCPU quota until the stage is done. */
  serviceTaskCpu?: number;
  /** The attempt of the segment before whose workspace snapshot the current segment starts from (absent: 0). */
  snapshotAttempt?: number;
  exitCode?: number;
  /** Highest ECS event version applied: older or equal versions are ignored. */
  eventVersion?: number;
  queuedAt?: number;
  startedAt?: number;
  finishedAt?: number;
  /** Fargate CPU units of its task: the autoscaler counts running stages against the vCPU quota. */
  cpu?: number;
  /**
   * What the build had done when this stage was released (its dependencies ended): its
   * failed stages and start time, for DRONE_FAILED_STAGES / DRONE_BUILD_STARTED of its
   * steps (the autoscaler passes it to the agent, contract.ts AGENT_ENV.upstream).
   */
  upstream?: UpstreamState;
  /** Drone's trigger `status`: run when the stages it depends on passed (default true) / failed (default false). */
  onSuccess?: boolean;
  onFailure?: boolean;
  /**
   * Epoch ms of the first step start (RunTask → first step is the second half of queue wait): the
   * earliest known, from the task's events, the agent's log while the stage runs, and its end.
   */
  firstStepAt?: number;
  /**
   * Epoch ms when the API last read the agent's log of its running task (agent-progress.ts),
   * written on every such read: the log is not read again before AGENT_READ_INTERVAL_MS, and when
   * more running stages could say more than one read of a build reads, the least recently read go
   * first.
   */
  agentReadAt?: number;
  /**
   * Failed attempts to start it (RunTask or RegisterTaskDefinition errors, counted apart from
   * waits for capacity, quota or concurrency, which cost nothing), and the epoch ms before
   * which the autoscaler does not try again.
   */
  startFailures?: number;
  retryAfter?: number;
  /**
   * What the compiler said about the stage that does not stop it (secrets withheld from a
   * fork, steps packed into one container, a task size raised, output not masked …).
   * Absent when there is nothing to say; bounded by new-build.ts (STAGE_NOTE_LIMITS).
   */
  notes?: string[];
  /**
   * What each ECS task of the stage used, by task id (core/cost/task-usage.ts taskUsageKey):
   * one after a plain run, more after a Spot retry or when split. Recorded once per task, as it stops.
   */
  usage?: Record<string, TaskUsage>;
  /** Where its time went: ECS's task times and the agent's, recorded when it ends (stage-timeline.ts). */
  timeline?: StageTimeline;
  /**
   * A split stage: the timelines of its segments before the current one, in order, each
   * recorded when its task stopped and the next segment was queued (`timeline` is then the
   * current segment's). Absent when not split, before its first segment ended, and on stages
   * recorded before they were kept (their timeline is their last segment's alone).
   */
  segmentTimelines?: StageTimeline[];
}

export interface StepRecord {
  buildId: string;
  stageNumber: number;
  /** 1-based within the stage, in pipeline order. */
  number: number;
  name: string;
  /** ECS container name (log stream `prefix/container/task-id`). */
  container: string;
  /**
   * The ECS task its container ran in, recorded with the status its events gave it: a split
   * stage runs its steps in several tasks (its segments, its service task), and a step's log
   * stream is that task's. Absent on records from before it was kept and on steps no task
   * ran: their stage's task (its service task for its services) is where their log is.
   */
  taskArn?: string;
  status: StepStatus;
  exitCode?: number;
  detached: boolean;
  kind: 'step' | 'service' | 'clone';
  /**
   * A step that runs on a status (`when: status: [failure]`, or on success and failure): it
   * starts with the agent, before the clone is done, so its running proves nothing about the
   * clone (core/pipeline/contract.ts, AgentStepPlan.whenStatus). Absent: it runs on success.
   */
  whenStatus?: 'failure' | 'always';
  /**
   * A step that runs on success and starts with the task, waiting for the agent's setup in its
   * wrapper (AgentStepPlan.afterSetup): its running proves nothing about the clone, and after a
   * failed setup it ends skipped (SETUP_SKIPPED_EXIT_CODE, or stopped with the task).
   */
  afterSetup?: true;
  /**
   * Such a step's container starts with the agent and waits inside, in its wrapper, for the
   * steps before it (contract.ts STEP_STARTED_SUFFIX): its container running says nothing of
   * the step, so the record stays pending until the stage ends and the agent's result says
   * when its commands started. Absent for a plugin step (its gate container waits instead).
   */
  waitsInContainer?: boolean;
  startedAt?: number;
  finishedAt?: number;
  reason?: string;
}

/** A build with its stages and steps, as the API returns it. */
export interface BuildDetail extends Build {
  stages: (Stage & { steps: StepRecord[] })[];
}

/** One log line of a step. */
export interface LogLine {
  /** Epoch milliseconds. */
  time: number;
  /** Position in the step's log, for paging. */
  offset: number;
  text: string;
}

/**
 * The ECS task whose log stream (`prefix/container/task-id`) holds the step's output: the one
 * its record names; for records without one, its stage's service task for a split stage's
 * services and detached steps, else its stage's task. Undefined before any task ran.
 */
export function stepLogTask(stage: Pick<Stage, 'taskArn' | 'serviceTaskArn'>, step: Pick<StepRecord, 'taskArn' | 'kind' | 'detached'>): string | undefined {
  if (step.taskArn !== undefined) return step.taskArn;
  return stage.serviceTaskArn !== undefined && (step.kind === 'service' || step.detached) ? stage.serviceTaskArn : stage.taskArn;
}

/** The build id is stable and sortable per repository: `<owner>/<name>#<number>`. */
export function buildId(repo: string, number: number): string {
  return `${repo}#${number}`;
}

/** A stage id is a valid RunTask clientToken (≤ 64 chars): see stageClientToken in the control plane. */
export function stageKey(buildIdValue: string, stageNumber: number): string {
  return `${buildIdValue}/${stageNumber}`;
}

/** Splits a build id (`owner/name#42`) into repository and number; null if malformed. */
export function parseBuildId(id: string): { repo: string; number: number } | null {
  const at = id.lastIndexOf('#');
  if (at <= 0) return null;
  const number = Number(id.slice(at + 1));
  if (!Number.isInteger(number) || number < 1) return null;
  return { repo: id.slice(0, at), number };
}

/** Splits a stage key (`owner/name#42/2`) into build id and stage number; null if malformed. */
export function parseStageKey(key: string): { buildId: string; stageNumber: number } | null {
  const at = key.lastIndexOf('/');
  if (at <= 0) return null;
  const stageNumber = Number(key.slice(at + 1));
  const buildIdValue = key.slice(0, at);
  if (!Number.isInteger(stageNumber) || stageNumber < 1 || !parseBuildId(buildIdValue)) return null;
  return { buildId: buildIdValue, stageNumber };
}
