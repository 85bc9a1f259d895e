// The DynamoDB store of repositories, deliveries, builds, stages and steps (key design in
// keys.ts): one class, the store's public surface, over one module per kind of record —
// repositories.ts, deliveries.ts, builds.ts, stages-steps.ts (shared: records.ts, paging.ts);
// the metrics' bounded reads are recent-records.ts.
// The client is injected, so the same code runs against DynamoDB and DynamoDB Local. Every
// write that can race is conditional: a status never goes backwards, an ECS event older
// than the last applied one changes nothing, a delivery creates one build.
//
// Reads the flow decides from (a stage's state, a build's stages when one ends, the build a
// delivery made) are strongly consistent (ConsistentRead): DynamoDB's default read may
// miss a write that just completed, so two stages ending together could each see the other
// still running and leave the build unfinished. A global secondary index cannot be read
// consistently (DynamoDB refuses it): its results (recent builds, active stages) are hints
// to re-read by key before deciding.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Build, BuildDetail, BuildStatus, GithubInstallation, Repository, Stage, StageStatus, StepRecord, StepStatus } from '../../core/builds/types.js';
import type {
  BuildCreator,
  BuildPatch,
  BuildStore,
  Delivery,
  DeliveryState,
  DeliveryStore,
  Page,
  PageOptions,
  RepositoryActivation,
  RepositorySettingsChange,
  RepositorySettingsPatch,
  RepositoryStore,
  StagePatch,
  StepPatch,
  UpdateGuard,
} from '../../core/builds/ports.js';
import * as builds from './builds.js';
import type { CreateBuildResult, NewBuild } from './builds.js';
import * as deliveries from './deliveries.js';
import type { Table } from './records.js';
import * as repositories from './repositories.js';
import type { RepositoryInfo } from './repositories.js';
import * as stagesSteps from './stages-steps.js';

export {
  type BuildPatch,
  type Delivery,
  type DeliveryState,
  type Page,
  type PageOptions,
  type RepositoryActivation,
  RepositoryHostConflictError,
  type StagePatch,
  type StepPatch,
  type UpdateGuard,
} from '../../core/builds/ports.js';
export { type CreateBuildResult, MAX_STAGES_PER_BUILD, type NewBuild, TooManyStagesError } from './builds.js';
export { InvalidCursorError } from './paging.js';
export { isConditionFailure, strip } from './records.js';
export { DEFAULT_CONFIG_PATH, type RepositoryInfo } from './repositories.js';

export class DynamoBuildStore implements BuildStore, BuildCreator, RepositoryStore, DeliveryStore {
  private readonly table: Table;

  constructor(
    doc: DynamoDBDocumentClient,
    readonly tableName: string,
    now: () => number = Date.now,
  ) {
    this.table = { doc, tableName, now };
  }

  // ── repositories (repositories.ts) ─────────────────────────────────────────

  getRepository(slug: string): Promise<Repository | null> {
    return repositories.getRepository(this.table, slug);
  }

  listRepositories(page?: PageOptions): Promise<Page<Repository>> {
    return repositories.listRepositories(this.table, page);
  }

  ensureRepository(info: RepositoryInfo): Promise<Repository> {
    return repositories.ensureRepository(this.table, info);
  }

  activateRepository(activation: RepositoryActivation): Promise<Repository> {
    return repositories.activateRepository(this.table, activation);
  }

  /** `slipway repo update`: only the named settings, in one conditional write (repositories.ts). */
  changeRepositorySettings(slug: string, patch: RepositorySettingsPatch, at: number, activatedAt?: number): Promise<RepositorySettingsChange | null> {
    return repositories.changeRepositorySettings(this.table, slug, patch, at, activatedAt);
  }

  /** `slipway repo rm`: the repository stays (builds, counter) but its webhooks run nothing. */
  deactivateRepository(slug: string): Promise<Repository | null> {
    return repositories.updateRepositorySettings(this.table, slug, { active: false });
  }

  /** Records where configuration says the repository lives (the dashboard links to it). */
  async setRepositoryLocation(slug: string, location: { httpUrl: string; link: string }): Promise<void> {
    await repositories.updateRepositorySettings(this.table, slug, location);
  }

  /** The GitHub App installation GitHub named for the repository (repositories.ts). */
  setGithubInstallation(slug: string, installation: GithubInstallation): Promise<void> {
    return repositories.setGithubInstallation(this.table, slug, installation);
  }

  updateRepositorySettings(slug: string, patch: { configPath?: string; active?: boolean; httpUrl?: string; link?: string }): Promise<Repository | null> {
    return repositories.updateRepositorySettings(this.table, slug, patch);
  }

  nextBuildNumber(slug: string): Promise<number> {
    return repositories.nextBuildNumber(this.table, slug);
  }

  // ── deliveries (deliveries.ts) ─────────────────────────────────────────────

  recordDelivery(delivery: Delivery, staleAfterMs?: number): Promise<boolean> {
    return deliveries.recordDelivery(this.table, delivery, staleAfterMs);
  }

  markDelivery(id: string, state: DeliveryState): Promise<void> {
    return deliveries.markDelivery(this.table, id, state);
  }

  getDelivery(id: string): Promise<(Delivery & { state: DeliveryState; expiresAt: number }) | null> {
    return deliveries.getDelivery(this.table, id);
  }

  buildForDelivery(id: string): Promise<string | null> {
    return deliveries.buildForDelivery(this.table, id);
  }

  // ── builds (builds.ts) ─────────────────────────────────────────────────────

  /** Its stages share one transaction with the build and its delivery claim (builds.ts). */
  readonly maxStagesPerBuild = builds.MAX_STAGES_PER_BUILD;

  createBuild(input: NewBuild): Promise<CreateBuildResult> {
    return builds.createBuild(this.table, input);
  }

  getBuild(id: string): Promise<Build | null> {
    return builds.getBuild(this.table, id);
  }

  getBuildByNumber(repo: string, number: number): Promise<Build | null> {
    return builds.getBuildByNumber(this.table, repo, number);
  }

  listBuilds(repo: string, page?: PageOptions): Promise<Page<Build>> {
    return builds.listBuilds(this.table, repo, page);
  }

  listRecentBuilds(page?: PageOptions): Promise<Page<Build>> {
    return builds.listRecentBuilds(this.table, page);
  }

  updateBuild(id: string, patch: BuildPatch, guard?: UpdateGuard<BuildStatus>): Promise<Build | null> {
    return builds.updateBuild(this.table, id, patch, guard);
  }

  getBuildDetail(id: string): Promise<BuildDetail | null> {
    return builds.getBuildDetail(this.table, id);
  }

  // ── stages and steps (stages-steps.ts) ─────────────────────────────────────

  getStage(buildId: string, stageNumber: number): Promise<Stage | null> {
    return stagesSteps.getStage(this.table, buildId, stageNumber);
  }

  listStagesAndSteps(buildId: string): Promise<{ stages: Stage[]; steps: StepRecord[] }> {
    return stagesSteps.listStagesAndSteps(this.table, buildId);
  }

  async listStages(buildId: string): Promise<Stage[]> {
    return (await stagesSteps.listStagesAndSteps(this.table, buildId)).stages;
  }

  listSteps(buildId: string, stageNumber?: number): Promise<StepRecord[]> {
    return stagesSteps.listSteps(this.table, buildId, stageNumber);
  }

  updateStage(buildId: string, stageNumber: number, patch: StagePatch, guard?: UpdateGuard<StageStatus>): Promise<Stage | null> {
    return stagesSteps.updateStage(this.table, buildId, stageNumber, patch, guard);
  }

  updateStep(buildId: string, stageNumber: number, stepNumber: number, patch: StepPatch, guard?: UpdateGuard<StepStatus>): Promise<StepRecord | null> {
    return stagesSteps.updateStep(this.table, buildId, stageNumber, stepNumber, patch, guard);
  }

  resetStep(buildId: string, stageNumber: number, stepNumber: number): Promise<StepRecord | null> {
    return stagesSteps.resetStep(this.table, buildId, stageNumber, stepNumber);
  }

  listActiveStages(status: 'pending' | 'running', page?: PageOptions): Promise<Page<Stage>> {
    return stagesSteps.listActiveStages(this.table, status, page);
  }
}
