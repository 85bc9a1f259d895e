// The single DynamoDB table: key design, access patterns and the table definition that
// the CDK stack and local mode both create, so the two never drift apart.
//
// Items (PK / SK)                                   what
// ─────────────────────────────────────────────────────────────────────────────────────
// REPO#<owner/name>   / REPO                        repository; `counter` = last build number;
//                                                   `githubInstallation` = the App installation GitHub named
// REPO#<owner/name>   / BUILD#<number, 10 digits>   build (numbers zero-padded so the sort key
//                                                   orders numerically: newest first = reverse)
// BUILD#<build id>    / STAGE#<nnn>                 stage of a build
// BUILD#<build id>    / STAGE#<nnn>#STEP#<nnn>      step of a stage (sorts right after its stage)
// DELIVERY#<id>       / DELIVERY                    webhook delivery seen (TTL `expiresAt`, 8 days)
// DELIVERY#<id>       / BUILD                       the build a delivery created (planner idempotency)
// IMAGE#<registry/repository>@<digest> / ARCH#<arch> what that image digest runs on linux/<arch>
//                                                   (ENTRYPOINT, CMD, platform manifest digest; TTL
//                                                   `expiresAt`, 30 days: a digest's command never
//                                                   changes, the TTL only sheds images no longer used)
// PRICES#<region>     / PRICES                      the last Price List refresh of that Region's prices
// SOCI#<source digest> / SOCI                       the SOCI-enabled copy of a cached image: converting
//                                                   (claim, task), converted (its digest), skipped, failed
// SOCINAMED#<repository>:<tag> or …@<digest> / SOCINAMED   a trusted build named that cached image
//                                                   (its repo, when; TTL `expiresAt`, 7 days)
// SOCIBUDGET#<owner/name>#<UTC day> / SOCIBUDGET    conversions that repository's builds caused that day
//                                                   (TTL `expiresAt`, 2 days)
//
// GSI1 (overloaded: three lists, each one partition of the index):
//   recent builds      GSI1PK = BUILDS, GSI1SK = <createdAt, 15 digits>#<build id>
//   recent stages      GSI1PK = STAGES, GSI1SK = <its build's createdAt, 15 digits>#<stage key>
//   repositories       GSI1PK = REPOS,  GSI1SK = <owner/name>
//   One partition each: builds and stages arrive at human rate (a few per second at most),
//   far below a partition's 1,000 writes/s, and each list is read in one order.
// GSI2 (active stages, sparse): GSI2PK = STAGES#<status> only while a stage is pending or
//   running; GSI2SK = <queuedAt or createdAt, 15 digits>#<stage key>. Removed when the stage
//   reaches any other status, so the index holds exactly the work in flight.
//
// Access patterns
//  1. Repository by slug; next build number ........ GetItem / UpdateItem ADD counter :1 (atomic)
//  2. Delivery seen once ............................ PutItem attribute_not_exists(PK), TTL 7 days
//  3. Build by repository + number / by build id .... GetItem REPO#slug, BUILD#n (the id encodes both)
//  4. Builds of a repository, newest first, paged ... Query PK=REPO#slug, SK begins_with BUILD#, reverse
//  5. Recent builds across repositories ............. Query GSI1 PK=BUILDS, reverse
//  6. Stages and steps of a build ................... Query PK=BUILD#id (one round trip for both)
//  7. Steps of one stage ............................ Query PK=BUILD#id, SK begins_with STAGE#nnn#STEP#
//  8. Pending / running stages (scaling, reconcile) . Query GSI2 PK=STAGES#pending|running
//  9. Build of a delivery (retried planner message) . GetItem DELIVERY#id, BUILD
// 10. Image command by digest (planner, cold) ....... GetItem IMAGE#repo@digest, ARCH#arch; PutItem
//                                                     after a registry lookup (same digest, same value)
// 11. Repositories by name, paged (API) ............. Query GSI1 PK=REPOS
// 12. Builds and stages created since T (metrics) ... Query GSI1 PK=BUILDS / PK=STAGES, SK >= <T, 15 digits>
// 13. A Region's refreshed prices ................... GetItem PRICES#region, PRICES (cost of a finished
//                                                     build); PutItem by the daily refresh
// 14. SOCI copy of a cached image by its digest ..... UpdateItem with a condition (the index-image job's
//                                                     claim, the converter's report); BatchGetItem (planner)
// 15. Cached images trusted builds named ............ BatchWriteItem (planner, each non-fork build);
//                                                     BatchGetItem (the index-image job, before a claim)
// 16. A repository's conversions of a day ........... UpdateItem ADD with a condition, in one TransactWriteItems
//                                                     with the claim it pays for (and with a release, -1)
//
// Status updates are conditional (see store.ts): a status rank that never decreases, and
// for ECS-driven updates `eventVersion` that only increases.

import type { StageStatus } from '../../core/builds/types.js';

export const GSI_RECENT = 'GSI1';
export const GSI_ACTIVE_STAGES = 'GSI2';
export const TTL_ATTRIBUTE = 'expiresAt';
export const RECENT_BUILDS_PARTITION = 'BUILDS';
export const RECENT_STAGES_PARTITION = 'STAGES';
export const REPOSITORIES_PARTITION = 'REPOS';
/** How long a webhook delivery id is remembered: defined with the replay window it bounds. */
export { DELIVERY_TTL_SECONDS } from '../../core/scm/event-time.js';
/** How long an image digest's command is kept from when it was stored (then re-learned on next use). */
export const IMAGE_COMMAND_TTL_SECONDS = 30 * 24 * 3600;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

export const repoPk = (slug: string): string => `REPO#${slug}`;
export const REPO_SK = 'REPO';
export const buildSk = (number: number): string => `BUILD#${pad(number, 10)}`;
export const BUILD_SK_PREFIX = 'BUILD#';
export const buildPk = (id: string): string => `BUILD#${id}`;
export const stageSk = (stageNumber: number): string => `STAGE#${pad(stageNumber, 3)}`;
export const STAGE_SK_PREFIX = 'STAGE#';
export const stepSk = (stageNumber: number, stepNumber: number): string =>
  `${stageSk(stageNumber)}#STEP#${pad(stepNumber, 3)}`;
export const stepSkPrefix = (stageNumber: number): string => `${stageSk(stageNumber)}#STEP#`;
export const deliveryPk = (id: string): string => `DELIVERY#${id}`;
export const DELIVERY_SK = 'DELIVERY';
export const DELIVERY_BUILD_SK = 'BUILD';
/** `repository` is registry and path (`docker.io/library/alpine`); the digest names one index or manifest. */
export const imageCommandPk = (repository: string, digest: string): string => `IMAGE#${repository}@${digest}`;
export const imageCommandSk = (arch: string): string => `ARCH#${arch}`;
export const pricesPk = (region: string): string => `PRICES#${region}`;
export const sociPk = (sourceDigest: string): string => `SOCI#${sourceDigest}`;
export const SOCI_SK = 'SOCI';
/** `key`: a cached image's `<repository>:<tag>` or `<repository>@<digest>` (core/images/soci.ts, namedImageKeysOf). */
export const sociNamedPk = (key: string): string => `SOCINAMED#${key}`;
export const SOCI_NAMED_SK = 'SOCINAMED';
export const sociBudgetPk = (repo: string, day: string): string => `SOCIBUDGET#${repo}#${day}`;
export const SOCI_BUDGET_SK = 'SOCIBUDGET';
export const PRICES_SK = 'PRICES';

export const recentSk = (createdAt: number, id: string): string => `${pad(createdAt, 15)}#${id}`;
/** The least recent-list sort key of anything created at or after `time`. */
export const recentSkFrom = (time: number): string => pad(Math.max(0, time), 15);
/** GSI1 keys of a repository item: the repository list. */
export const repositoryIndexKeys = (slug: string) => ({ GSI1PK: REPOSITORIES_PARTITION, GSI1SK: slug });
/** GSI1 keys of a stage item: the recent-stages list, ordered by its build's creation. */
export const stageIndexKeys = (buildCreatedAt: number, key: string) => ({ GSI1PK: RECENT_STAGES_PARTITION, GSI1SK: recentSk(buildCreatedAt, key) });
export const activeStagePk = (status: StageStatus): string => `STAGES#${status}`;
export const activeStageSk = (since: number, key: string): string => `${pad(since, 15)}#${key}`;
/** Statuses that keep a stage in the active-stages index. */
export const ACTIVE_STAGE_STATUSES: readonly StageStatus[] = ['pending', 'running'];

/**
 * The CreateTable input (shape of @aws-sdk/client-dynamodb's CreateTableCommandInput,
 * kept SDK-free so core stays pure). TTL is a separate call: see `TTL_ATTRIBUTE`.
 */
export function tableDefinition(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [
      { AttributeName: 'PK', AttributeType: 'S' as const },
      { AttributeName: 'SK', AttributeType: 'S' as const },
      { AttributeName: 'GSI1PK', AttributeType: 'S' as const },
      { AttributeName: 'GSI1SK', AttributeType: 'S' as const },
      { AttributeName: 'GSI2PK', AttributeType: 'S' as const },
      { AttributeName: 'GSI2SK', AttributeType: 'S' as const },
    ],
    KeySchema: [
      { AttributeName: 'PK', KeyType: 'HASH' as const },
      { AttributeName: 'SK', KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: GSI_RECENT,
        KeySchema: [
          { AttributeName: 'GSI1PK', KeyType: 'HASH' as const },
          { AttributeName: 'GSI1SK', KeyType: 'RANGE' as const },
        ],
        Projection: { ProjectionType: 'ALL' as const },
      },
      {
        IndexName: GSI_ACTIVE_STAGES,
        KeySchema: [
          { AttributeName: 'GSI2PK', KeyType: 'HASH' as const },
          { AttributeName: 'GSI2SK', KeyType: 'RANGE' as const },
        ],
        Projection: { ProjectionType: 'ALL' as const },
      },
    ],
  };
}

/** The UpdateTimeToLive input that enables expiry of deliveries. */
export function timeToLiveDefinition(tableName: string) {
  return { TableName: tableName, TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true } };
}
