// The DynamoDB store of repositories, deliveries, builds, stages and steps (key design in
// keys.ts). The client is injected, so the same code runs against DynamoDB and DynamoDB
// Local. Every write that can race is conditional: a status never goes backwards, an ECS
// event older than the last applied one changes nothing, a delivery creates one build.
//
// Reads the flow decides from (a stage's state, a build's stages when one ends, the build a
// delivery made) are strongly consistent (ConsistentRead): DynamoDB's default read may
// miss a write that just completed, so two stages ending together could each see the other
// still running and leave the build unfinished. A global secondary index cannot be read
// consistently (DynamoDB refuses it): its results (recent builds, active stages) are hints
// to re-read by key before deciding.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html

import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Build, BuildDetail, BuildStatus, Repository, Stage, StageStatus, StepRecord, StepStatus } from '../../core/builds/types.js';
import { buildId as makeBuildId, parseBuildId, stageKey } from '../../core/builds/types.js';
import { statusRank } from '../../core/builds/status.js';
import { batchWrite } from './batch.js';
import { Expression } from './expression.js';
import type { BuildPatch, BuildStore as BuildStorePort, Page, PageOptions, StagePatch, StepPatch, UpdateGuard } from '../../core/builds/ports.js';

export type { BuildPatch, Page, PageOptions, StagePatch, StepPatch, UpdateGuard } from '../../core/builds/ports.js';
import { classifyAwsError, isConditionalCheckFailure } from '../../core/util/aws-errors.js';
import {
  ACTIVE_STAGE_STATUSES,
  BUILD_SK_PREFIX,
  DELIVERY_BUILD_SK,
  DELIVERY_SK,
  DELIVERY_TTL_SECONDS,
  GSI_ACTIVE_STAGES,
  GSI_RECENT,
  RECENT_BUILDS_PARTITION,
  REPO_SK,
  STAGE_SK_PREFIX,
  TTL_ATTRIBUTE,
  activeStagePk,
  activeStageSk,
  buildPk,
  buildSk,
  deliveryPk,
  recentSk,
  repoPk,
  repositoryIndexKeys,
  stageIndexKeys,
  stageSk,
  stepSk,
  stepSkPrefix,
} from './keys.js';

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

/** Repository fields the webhook knows; `configPath`, `active` and `counter` are kept once set. */
export type RepositoryInfo = Omit<Repository, 'counter' | 'configPath' | 'active'> & {
  configPath?: string;
  active?: boolean;
};

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

export interface NewBuild {
  build: Build;
  stages: Stage[];
  steps: StepRecord[];
}

export type CreateBuildResult = { created: true; build: Build } | { created: false; buildId: string };

export const DEFAULT_CONFIG_PATH = '.drone.yml';


/** A TransactWriteItems call holds at most 100 items (API_TransactWriteItems: "groups up to 100 action requests"). */
const TRANSACTION_LIMIT = 100;

/** Pipelines one build can hold: its stages share one transaction with the build and its delivery claim. */
export const MAX_STAGES_PER_BUILD = TRANSACTION_LIMIT - 2;

/** A build whose stages do not fit in the one transaction that creates it with its claim. */
export class TooManyStagesError extends Error {
  constructor(
    readonly buildId: string,
    readonly stages: number,
    readonly limit: number,
  ) {
    super(`store: build ${buildId} has ${stages} pipelines; a build holds at most ${limit} (split the pipeline file, or use fewer pipelines with more steps)`);
    this.name = 'TooManyStagesError';
  }
}

type Item = Record<string, unknown>;
const KEY_ATTRIBUTES = ['PK', 'SK', 'type', 'statusRank', 'GSI1PK', 'GSI1SK', 'GSI2PK', 'GSI2SK', TTL_ATTRIBUTE];

/** An item without its key attributes: the record the rest of the code sees. */
export function strip<T>(item: Item | undefined): T | null {
  if (!item) return null;
  const out: Item = { ...item };
  for (const k of KEY_ATTRIBUTES) delete out[k];
  return out as T;
}

/** Drops undefined fields, so the store works with any document-client marshalling options. */
function defined(item: Item): Item {
  return Object.fromEntries(Object.entries(item).filter(([, v]) => v !== undefined));
}

function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;
}

/** A page cursor this store did not hand out (or not for this query): the caller's mistake, never ours. */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
  constructor(cursor: string, why: string) {
    super(`store: invalid page cursor ${JSON.stringify(cursor.length > 80 ? `${cursor.slice(0, 80)}…` : cursor)}: ${why}`);
  }
}

/** A cursor is a key this store encoded: a small map of key attributes to strings or numbers. */
function decodeCursor(cursor: string | undefined): Record<string, unknown> | undefined {
  if (!cursor) return undefined;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (err) {
    throw new InvalidCursorError(cursor, (err as Error).message);
  }
  const entries = key !== null && typeof key === 'object' && !Array.isArray(key) ? Object.entries(key) : [];
  if (entries.length === 0 || entries.length > 4 || !entries.every(([, v]) => typeof v === 'string' || typeof v === 'number')) {
    throw new InvalidCursorError(cursor, 'not a key this store returned');
  }
  return key as Record<string, unknown>;
}

/**
 * DynamoDB refuses an ExclusiveStartKey that is not a key of the queried table, index or
 * partition with a ValidationException: with a cursor given, that is the cursor's fault.
 */
async function withCursor<T>(cursor: string | undefined, query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (err) {
    if (cursor && classifyAwsError(err).name === 'ValidationException') throw new InvalidCursorError(cursor, (err as Error).message);
    throw err;
  }
}

export function isConditionFailure(err: unknown): boolean {
  return isConditionalCheckFailure(err);
}

export class BuildStore implements BuildStorePort {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly now: () => number = Date.now,
  ) {}

  // ── repositories ────────────────────────────────────────────────────────────

  async getRepository(slug: string): Promise<Repository | null> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { PK: repoPk(slug), SK: REPO_SK }, ConsistentRead: true }));
    return strip<Repository>(res.Item);
  }

  /**
   * Creates a repository record or overwrites its description, in one atomic write that
   * keeps the counter and the settings a user chose (config path, active). For seeding
   * (tests, benchmarks): the flow never writes what a webhook says about a repository; it
   * builds only what activateRepository stored.
   */
  async ensureRepository(info: RepositoryInfo): Promise<Repository> {
    const e = new Expression({ mustExist: false });
    e.set('type', 'repo');
    e.set('slug', info.slug);
    e.set('scm', info.scm);
    e.set('httpUrl', info.httpUrl);
    e.set('link', info.link);
    e.set('defaultBranch', info.defaultBranch);
    e.set('private', info.private);
    e.setAll(repositoryIndexKeys(info.slug));
    e.keep('configPath', info.configPath ?? DEFAULT_CONFIG_PATH);
    e.keep('active', info.active ?? true);
    e.keep('counter', 0);
    return strip<Repository>(await this.updateRepositoryRecord(info.slug, e))!;
  }

  /**
   * Activates a repository on its host (`slipway repo add`), keeping its counter and build
   * history when it was activated before. Refuses, with RepositoryHostConflictError, a
   * repository still active on another host: the table knows a repository by its name, so
   * one name is one repository on one host at a time.
   */
  async activateRepository(activation: RepositoryActivation): Promise<Repository> {
    const e = new Expression({ mustExist: false });
    e.set('type', 'repo');
    e.set('slug', activation.slug);
    e.set('scm', activation.scm);
    e.set('visibility', activation.visibility);
    e.set('private', activation.visibility !== 'public');
    e.set('active', true);
    e.set('activatedAt', activation.activatedAt);
    // Listed by GSI1 (keys.ts), as every repository record.
    e.setAll(repositoryIndexKeys(activation.slug));
    // Where it lives is derived from configuration when a build is planned (core/scm/locate.ts);
    // only local repositories (a directory) are located by their activation.
    e.set('httpUrl', activation.httpUrl ?? '');
    e.set('link', activation.link ?? '');
    if (activation.configPath !== undefined) e.set('configPath', activation.configPath);
    e.keep('counter', 0);
    e.keep('defaultBranch', 'main');
    if (activation.configPath === undefined) e.keep('configPath', DEFAULT_CONFIG_PATH);
    e.when(`attribute_not_exists(PK) OR ${e.name('scm')} = ${e.value(activation.scm)} OR ${e.name('active')} = ${e.value(false)}`);
    try {
      return strip<Repository>(await this.updateRepositoryRecord(activation.slug, e))!;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const current = await this.getRepository(activation.slug);
      throw new RepositoryHostConflictError(activation.slug, activation.scm, current?.scm ?? 'another host');
    }
  }

  /** `slipway repo rm`: the repository stays (builds, counter) but its webhooks run nothing. */
  async deactivateRepository(slug: string): Promise<Repository | null> {
    return this.updateRepositorySettings(slug, { active: false });
  }

  /** Records where configuration says the repository lives (the dashboard links to it). */
  async setRepositoryLocation(slug: string, location: { httpUrl: string; link: string }): Promise<void> {
    await this.updateRepositorySettings(slug, location);
  }

  /** Settings a user changes (config path, active); never the counter. */
  async updateRepositorySettings(slug: string, patch: { configPath?: string; active?: boolean; httpUrl?: string; link?: string }): Promise<Repository | null> {
    const e = new Expression();
    e.setAll(patch);
    if (e.empty) return this.getRepository(slug);
    try {
      return strip<Repository>(await this.updateRepositoryRecord(slug, e));
    } catch (err) {
      if (isConditionFailure(err)) return null;
      throw err;
    }
  }

  /** The next build number of a repository: an atomic increment, unique under any concurrency. */
  async nextBuildNumber(slug: string): Promise<number> {
    const e = new Expression();
    e.add('counter', 1);
    try {
      return Number((await this.updateRepositoryRecord(slug, e, 'UPDATED_NEW'))?.counter);
    } catch (err) {
      if (isConditionFailure(err)) throw new Error(`store: repository ${slug} does not exist; call ensureRepository first`);
      throw err;
    }
  }

  /** One conditional update of a repository's record; its attributes after it (as `returnValues` asks). */
  private async updateRepositoryRecord(
    slug: string,
    e: Expression,
    returnValues: 'ALL_NEW' | 'UPDATED_NEW' = 'ALL_NEW',
  ): Promise<Record<string, unknown> | undefined> {
    const res = await this.doc.send(
      new UpdateCommand({ TableName: this.tableName, Key: { PK: repoPk(slug), SK: REPO_SK }, ...e.input(), ReturnValues: returnValues }),
    );
    return res.Attributes;
  }

  // ── deliveries ──────────────────────────────────────────────────────────────

  /**
   * Records a webhook delivery; false when it was already recorded (a redelivery). A
   * delivery whose enqueue failed, or that stayed `received` longer than `staleAfterMs`
   * (the webhook died between recording and enqueueing), may be recorded again, so the
   * host's retry is not lost.
   */
  async recordDelivery(delivery: Delivery, staleAfterMs = 60_000): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            PK: deliveryPk(delivery.id),
            SK: DELIVERY_SK,
            type: 'delivery',
            ...defined({ ...delivery }),
            state: 'received',
            [TTL_ATTRIBUTE]: Math.floor(delivery.receivedAt / 1000) + DELIVERY_TTL_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(PK) OR #state = :failed OR (#state = :received AND #at < :stale)',
          ExpressionAttributeNames: { '#state': 'state', '#at': 'receivedAt' },
          ExpressionAttributeValues: { ':failed': 'failed', ':received': 'received', ':stale': delivery.receivedAt - staleAfterMs },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /** `enqueued`: the delivery's event is on the queue; `failed`: it is not, a redelivery may retry. */
  async markDelivery(id: string, state: DeliveryState): Promise<void> {
    const e = new Expression();
    e.set('state', state);
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { PK: deliveryPk(id), SK: DELIVERY_SK },
        ...e.input(),
      }),
    );
  }

  async getDelivery(id: string): Promise<(Delivery & { state: DeliveryState; expiresAt: number }) | null> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { PK: deliveryPk(id), SK: DELIVERY_SK }, ConsistentRead: true }));
    if (!res.Item) return null;
    const { PK: _pk, SK: _sk, type: _type, ...rest } = res.Item;
    return rest as Delivery & { state: DeliveryState; expiresAt: number };
  }

  /** The id of the build a delivery created, if the planner already handled it. */
  async buildForDelivery(id: string): Promise<string | null> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: { PK: deliveryPk(id), SK: DELIVERY_BUILD_SK }, ConsistentRead: true }),
    );
    return (res.Item?.buildId as string | undefined) ?? null;
  }

  // ── builds ──────────────────────────────────────────────────────────────────

  private buildItem(build: Build): Item {
    return defined({
      PK: repoPk(build.repo),
      SK: buildSk(build.number),
      type: 'build',
      statusRank: statusRank(build.status),
      GSI1PK: RECENT_BUILDS_PARTITION,
      GSI1SK: recentSk(build.createdAt, build.id),
      ...build,
    });
  }

  private stageItem(stage: Stage, buildCreatedAt: number): Item {
    const key = stageKey(stage.buildId, stage.number);
    const active = ACTIVE_STAGE_STATUSES.includes(stage.status);
    return defined({
      PK: buildPk(stage.buildId),
      SK: stageSk(stage.number),
      type: 'stage',
      statusRank: statusRank(stage.status),
      ...stageIndexKeys(buildCreatedAt, key),
      ...(active
        ? { GSI2PK: activeStagePk(stage.status), GSI2SK: activeStageSk(stage.queuedAt ?? this.now(), key) }
        : {}),
      ...stage,
    });
  }

  private stepItem(step: StepRecord): Item {
    return defined({
      PK: buildPk(step.buildId),
      SK: stepSk(step.stageNumber, step.number),
      type: 'step',
      statusRank: statusRank(step.status),
      ...step,
    });
  }

  /**
   * Writes a build, its stages and steps, and the delivery → build claim, all or nothing.
   * A second call for the same delivery creates nothing and returns the first build's id.
   *
   * One TransactWriteItems call holds at most 100 items (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html):
   * the claim, the build and every stage go in it (a stage is in the active-stages index,
   * so it must never exist without its build), with as many steps as fit. Steps beyond
   * are written first: steps are in no index and are read only through their build, so
   * until the transaction commits nothing shows them, and when it does not commit (the
   * delivery was claimed meanwhile, or it failed) they are deleted again. A crash between
   * the two leaves only such unreachable steps under a build number never used.
   */
  async createBuild(input: NewBuild): Promise<CreateBuildResult> {
    const { build } = input;
    if (build.id !== makeBuildId(build.repo, build.number)) {
      throw new Error(`store: build id ${build.id} does not match ${build.repo} #${build.number}`);
    }
    const room = MAX_STAGES_PER_BUILD;
    if (input.stages.length > room) {
      throw new TooManyStagesError(build.id, input.stages.length, room);
    }
    const claim = {
      Put: {
        TableName: this.tableName,
        Item: { PK: deliveryPk(build.deliveryId), SK: DELIVERY_BUILD_SK, type: 'delivery-build', buildId: build.id },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    };
    const buildPut = {
      Put: { TableName: this.tableName, Item: this.buildItem(build), ConditionExpression: 'attribute_not_exists(PK)' },
    };
    const steps = input.steps.map((s) => this.stepItem(s));
    const stepRoom = room - input.stages.length;
    const inTransaction = [...input.stages.map((s) => this.stageItem(s, build.createdAt)), ...steps.slice(0, stepRoom)];
    const overflow = steps.slice(stepRoom);
    // Steps written ahead carry no condition (BatchWriteItem has none): they must not land
    // on another build's. Numbers come from nextBuildNumber, so this only catches misuse.
    if (overflow.length > 0 && (await this.getBuildByNumber(build.repo, build.number))) {
      throw new Error(`store: build ${build.id} already exists (build numbers must come from nextBuildNumber)`);
    }
    await batchWrite(this.doc, this.tableName, overflow.map((Item) => ({ PutRequest: { Item } })));
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [claim, buildPut, ...inTransaction.map((Item) => ({ Put: { TableName: this.tableName, Item } }))],
        }),
      );
      return { created: true, build };
    } catch (err) {
      const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
      // Unless the build number was taken meanwhile (then the steps may be that build's), the
      // steps written ahead belong to nobody: they go.
      if (reasons?.[1]?.Code !== 'ConditionalCheckFailed') await this.removeUnclaimed(build.id, overflow, err);
      if (reasons?.[0]?.Code === 'ConditionalCheckFailed') {
        const existing = await this.buildForDelivery(build.deliveryId);
        if (existing) return { created: false, buildId: existing };
      }
      if (reasons?.[1]?.Code === 'ConditionalCheckFailed') {
        throw new Error(`store: build ${build.id} already exists (build numbers must come from nextBuildNumber)`);
      }
      throw err;
    }
  }

  /** Deletes the steps written ahead of a transaction that did not commit. */
  private async removeUnclaimed(id: string, items: Item[], cause: unknown): Promise<void> {
    try {
      await batchWrite(this.doc, this.tableName, items.map((it) => ({ DeleteRequest: { Key: { PK: it.PK, SK: it.SK } } })));
    } catch (err) {
      throw new Error(
        `store: build ${id} was not created (${(cause as Error).message}), and ${items.length} steps written ahead of it could not be deleted: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async getBuild(id: string): Promise<Build | null> {
    const parsed = parseBuildId(id);
    if (!parsed) return null;
    return this.getBuildByNumber(parsed.repo, parsed.number);
  }

  async getBuildByNumber(repo: string, number: number): Promise<Build | null> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { PK: repoPk(repo), SK: buildSk(number) }, ConsistentRead: true }));
    return strip<Build>(res.Item);
  }

  /** Builds of one repository, newest first. */
  async listBuilds(repo: string, page: PageOptions = {}): Promise<Page<Build>> {
    const res = await withCursor(page.cursor, () => this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
        ExpressionAttributeValues: { ':pk': repoPk(repo), ':prefix': BUILD_SK_PREFIX },
        ScanIndexForward: false,
        Limit: page.limit ?? 25,
        ExclusiveStartKey: decodeCursor(page.cursor),
      }),
    ));
    return { items: (res.Items ?? []).map((i) => strip<Build>(i)!), cursor: encodeCursor(res.LastEvaluatedKey) };
  }

  /** Builds of every repository, newest first. */
  async listRecentBuilds(page: PageOptions = {}): Promise<Page<Build>> {
    const res = await withCursor(page.cursor, () => this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: GSI_RECENT,
        KeyConditionExpression: 'GSI1PK = :pk',
        ExpressionAttributeValues: { ':pk': RECENT_BUILDS_PARTITION },
        ScanIndexForward: false,
        Limit: page.limit ?? 25,
        ExclusiveStartKey: decodeCursor(page.cursor),
      }),
    ));
    return { items: (res.Items ?? []).map((i) => strip<Build>(i)!), cursor: encodeCursor(res.LastEvaluatedKey) };
  }

  /**
   * Updates a build. With a status, the write happens only if it does not move the build
   * backwards (or, with `fromStatuses`, only from those). Returns the new build, or null
   * when the guard refused (a late or duplicate update) or the build does not exist.
   */
  async updateBuild(id: string, patch: BuildPatch, guard: UpdateGuard<BuildStatus> = {}): Promise<Build | null> {
    const parsed = parseBuildId(id);
    if (!parsed) return null;
    const e = new Expression();
    e.setAll(patch);
    e.guardStatus(patch.status, guard.fromStatuses);
    e.guardVersion(guard.eventVersion);
    return this.conditionalUpdate<Build>({ PK: repoPk(parsed.repo), SK: buildSk(parsed.number) }, e);
  }

  private async conditionalUpdate<T>(key: Item, e: Expression): Promise<T | null> {
    if (e.empty) throw new Error('store: empty update');
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          ...e.input(),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return strip<T>(res.Attributes);
    } catch (err) {
      if (isConditionFailure(err)) return null;
      throw err;
    }
  }

  // ── stages and steps ────────────────────────────────────────────────────────

  async getStage(buildIdValue: string, stageNumber: number): Promise<Stage | null> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: { PK: buildPk(buildIdValue), SK: stageSk(stageNumber) }, ConsistentRead: true }),
    );
    return strip<Stage>(res.Item);
  }

  /** Stages and steps of a build in one query (they share the partition). */
  async listStagesAndSteps(buildIdValue: string): Promise<{ stages: Stage[]; steps: StepRecord[] }> {
    const items = await this.queryAll({
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': buildPk(buildIdValue), ':prefix': STAGE_SK_PREFIX },
    });
    const stages: Stage[] = [];
    const steps: StepRecord[] = [];
    for (const item of items) {
      if (item.type === 'stage') stages.push(strip<Stage>(item)!);
      else if (item.type === 'step') steps.push(strip<StepRecord>(item)!);
    }
    return { stages, steps };
  }

  async listStages(buildIdValue: string): Promise<Stage[]> {
    return (await this.listStagesAndSteps(buildIdValue)).stages;
  }

  async listSteps(buildIdValue: string, stageNumber?: number): Promise<StepRecord[]> {
    if (stageNumber === undefined) return (await this.listStagesAndSteps(buildIdValue)).steps;
    const items = await this.queryAll({
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': buildPk(buildIdValue), ':prefix': stepSkPrefix(stageNumber) },
    });
    return items.map((i) => strip<StepRecord>(i)!);
  }

  /** A build with its stages and their steps, as the API returns it. */
  async getBuildDetail(id: string): Promise<BuildDetail | null> {
    const [build, children] = await Promise.all([this.getBuild(id), this.listStagesAndSteps(id)]);
    if (!build) return null;
    return {
      ...build,
      stages: children.stages.map((stage) => ({
        ...stage,
        steps: children.steps.filter((s) => s.stageNumber === stage.number),
      })),
    };
  }

  /**
   * Updates a stage under the status-order rule (or `fromStatuses`) and, for ECS-driven
   * updates, the event-version rule. Keeps the active-stages index in step with the status.
   * Returns the new stage, or null when a guard refused.
   */
  async updateStage(
    buildIdValue: string,
    stageNumber: number,
    patch: StagePatch,
    guard: UpdateGuard<StageStatus> = {},
  ): Promise<Stage | null> {
    const e = new Expression();
    e.setAll(patch);
    e.guardStatus(patch.status, guard.fromStatuses);
    e.guardVersion(guard.eventVersion);
    if (patch.status !== undefined) {
      if (ACTIVE_STAGE_STATUSES.includes(patch.status)) {
        const since = patch.status === 'running' ? patch.startedAt : patch.queuedAt;
        e.set('GSI2PK', activeStagePk(patch.status));
        e.set('GSI2SK', activeStageSk(since ?? this.now(), stageKey(buildIdValue, stageNumber)));
      } else {
        e.remove('GSI2PK');
        e.remove('GSI2SK');
      }
    }
    return this.conditionalUpdate<Stage>({ PK: buildPk(buildIdValue), SK: stageSk(stageNumber) }, e);
  }

  async updateStep(
    buildIdValue: string,
    stageNumber: number,
    stepNumber: number,
    patch: StepPatch,
    guard: UpdateGuard<StepStatus> = {},
  ): Promise<StepRecord | null> {
    const e = new Expression();
    e.setAll(patch);
    e.guardStatus(patch.status, guard.fromStatuses);
    e.guardVersion(guard.eventVersion);
    return this.conditionalUpdate<StepRecord>({ PK: buildPk(buildIdValue), SK: stepSk(stageNumber, stepNumber) }, e);
  }

  /**
   * A step back to `pending` for a new attempt of its stage (a Spot requeue): whatever the
   * interrupted attempt recorded — exit code, times, reason — goes with it.
   */
  async resetStep(buildIdValue: string, stageNumber: number, stepNumber: number): Promise<StepRecord | null> {
    const e = new Expression();
    e.set('status', 'pending');
    e.set('statusRank', statusRank('pending'));
    for (const attr of ['exitCode', 'startedAt', 'finishedAt', 'reason']) e.remove(attr);
    return this.conditionalUpdate<StepRecord>({ PK: buildPk(buildIdValue), SK: stepSk(stageNumber, stepNumber) }, e);
  }

  /**
   * Stages in flight, oldest first: pending ones in queue order, running ones by start.
   * From an index, so eventually consistent (it may still list a stage that just ended,
   * or miss one that just started): re-read a stage with getStage before acting on it.
   */
  async listActiveStages(status: 'pending' | 'running', page: PageOptions = {}): Promise<Page<Stage>> {
    const res = await withCursor(page.cursor, () => this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: GSI_ACTIVE_STAGES,
        KeyConditionExpression: 'GSI2PK = :pk',
        ExpressionAttributeValues: { ':pk': activeStagePk(status) },
        Limit: page.limit ?? 100,
        ExclusiveStartKey: decodeCursor(page.cursor),
      }),
    ));
    return { items: (res.Items ?? []).map((i) => strip<Stage>(i)!), cursor: encodeCursor(res.LastEvaluatedKey) };
  }

  private async queryAll(input: { KeyConditionExpression: string; ExpressionAttributeValues: Item }): Promise<Item[]> {
    const out: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await this.doc.send(new QueryCommand({ TableName: this.tableName, ...input, ConsistentRead: true, ExclusiveStartKey: start }));
      out.push(...((res.Items ?? []) as Item[]));
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  }
}
