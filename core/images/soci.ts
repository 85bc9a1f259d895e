// SOCI index manifest v2 for the large images builds pull through the cache
// (docs/design/soci-indexes.md). Pure: which cache event becomes an `index-image` job, which
// image is worth converting, where its converted copy lives, what the converter reports, and
// which image a task definition names. The store (SociIndexStore) is a port; DynamoDB is
// adapters/dynamodb/soci-store.ts.
//
// Facts this rests on:
// - ECR sends "ECR Pull Through Cache Action" to EventBridge when the cache pulls an image,
//   with `sync-status`, `ecr-repository-prefix`, `repository-name`, `image-tag` and
//   `image-digest` in `detail`, on a best-effort basis
//   (https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-eventbridge.html).
// - Fargate lazy-loads only images in private ECR, and it pays for images over 250 MB ("For
//   large container images (> 250mb), it's better to lazy load",
//   https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-pull-behavior.html).
// - A v2 conversion is a new image (an OCI index holding the image and its SOCI index, bound
//   by the `com.amazon.soci.index-digest` annotation) with a new digest, sharing the layers
//   (awslabs/soci-snapshotter docs/soci-index-manifest-v2.md). The cache keeps its tags in
//   step with upstream, so the copy lives where the cache never writes: `slipway-soci/…`.

import type { ConverterUse } from '../scaling/decide-scale.js';
import { isEcrRepositoryName } from './ecr-repository-name.js';
import { isDigest, parseImageReference } from './reference.js';

/** The repository prefix of converted images (lib/soci-indexes.ts creates them; the converter may push only there). */
export const SOCI_REPOSITORY_PREFIX = 'slipway-soci';

/** Below this many bytes compressed (the largest platform's), an image is pulled whole: AWS's "> 250mb". */
export const SOCI_MIN_IMAGE_BYTES = 250 * 1000 * 1000;

/** The converter's report line (task-runner/soci-converter/convert.sh), as the agent's is `SLIPWAY_RESULT `. */
export const SOCI_REPORT_PREFIX = 'SLIPWAY_SOCI ';

/** `startedBy` of every converter task: how the task-events Lambda tells them from build tasks. */
export const SOCI_STARTED_BY_PREFIX = 'slipway-soci-';

/**
 * CPU units of the converter's task (lib/soci-indexes.ts: 1 vCPU / 2 GB): what the autoscaler sets
 * aside of the Fargate vCPU quota before it starts one (core/scaling/decide-scale.ts).
 */
export const SOCI_CONVERTER_CPU = 1024;

/** The converter's container name (its log stream is `<prefix>/<container>/<task id>`). */
export const SOCI_CONVERTER_CONTAINER = 'soci-converter';

/** An image the cache has just pulled: what an `index-image` job converts. */
export interface IndexImageJob {
  /** The cached repository, `slipway-docker-hub/library/node`. */
  repository: string;
  /** The tag the cache pulled (absent: pulled by digest). */
  tag?: string;
  /** The digest the cache stored for it (the tag's: an index for a multi-platform image). */
  digest: string;
  /**
   * When ECR emitted the event (its `time`, epoch ms): the job's age, which neither a redelivery
   * nor a postponement resets, since both carry the event's body as it was (indexJobExpired).
   */
  eventTime: number;
}

export type CacheEventReading =
  | { kind: 'job'; job: IndexImageJob }
  /** A pull through cache event that asks for nothing: removed from the queue. */
  | { kind: 'ignored'; reason: string }
  /** Not a pull through cache event at all (a stage job): for decodeJob. */
  | { kind: 'other' };

/**
 * The `index-image` job of an EventBridge event as the jobs queue carries it (the whole event,
 * JSON), or why it is none. Only a successful pull into one of `prefixes` (the deployment's
 * cache rules) counts; the rule already filters on them, but a message on the queue is checked
 * again as any input is.
 */
export function indexImageJobOf(body: string, prefixes: readonly string[]): CacheEventReading {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    if (error instanceof SyntaxError) return { kind: 'other' };
    throw error;
  }
  if (!isObject(value) || value.source !== 'aws.ecr' || value['detail-type'] !== 'ECR Pull Through Cache Action') return { kind: 'other' };
  const ignored = (reason: string): CacheEventReading => ({ kind: 'ignored', reason });
  const detail = isObject(value.detail) ? value.detail : {};
  const status = detail['sync-status'];
  if (status !== 'SUCCESS') return ignored(`the cache's pull did not succeed (sync-status ${JSON.stringify(status)})`);
  const repository = detail['repository-name'];
  if (typeof repository !== 'string' || !isEcrRepositoryName(repository)) return ignored(`repository-name ${JSON.stringify(repository)} is not an ECR repository name`);
  if (!prefixes.some((p) => repository.startsWith(`${p}/`))) return ignored(`${repository} is under none of the cache's prefixes (${prefixes.join(', ')})`);
  const digest = detail['image-digest'];
  if (typeof digest !== 'string' || !digest.startsWith('sha256:') || !isDigest(digest)) return ignored(`image-digest ${JSON.stringify(digest)} is not a sha256 digest`);
  // Every EventBridge event has `time`, RFC 3339 (aws-events.html, "time: the event timestamp");
  // without it the job's age is unknown and it could wait forever.
  const eventTime = typeof value.time === 'string' && /^\d{4}-\d\d-\d\dT/.test(value.time) ? Date.parse(value.time) : Number.NaN;
  if (!Number.isFinite(eventTime)) return ignored(`the event's time ${JSON.stringify(value.time)} is not an RFC 3339 timestamp`);
  const tag = detail['image-tag'];
  const validTag = typeof tag === 'string' && /^[\w][\w.-]{0,127}$/.test(tag);
  return { kind: 'job', job: { repository, digest, ...(validTag ? { tag } : {}), eventTime } };
}

/**
 * How long an index-image job may wait for the vCPU its converter needs (postponed pass after
 * pass while builds hold the quota: lambdas/autoscaler/autoscaler.ts) before it is dropped: a day.
 * - The queue cannot bound it: each postponement is a new message (SendMessage with DelaySeconds,
 *   0 to 900 s), whose retention (MessageRetentionPeriod, 60 s to 14 days, 4 days by default,
 *   https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html;
 *   the jobs queue keeps 14: lib/queues.ts) starts again, so only the event's own time does
 *   (IndexImageJob.eventTime). A message's own SentTimestamp or receive count would restart too.
 * - Nothing is lost past it: the image stays cached and pulled whole, and the cache checks a
 *   cached tag upstream again at a pull "at least once every 24 hours" (pull-through-cache.html),
 *   each check a new event whose job starts over. A day is also more than a working day of full
 *   quota: a conversion that waited that long waited for the builds, as it should.
 */
export const INDEX_JOB_MAX_AGE_MS = 24 * 3600_000;
/** An event time this far ahead of the clock is not believed (clocks differ by seconds, not this). */
const INDEX_JOB_MAX_CLOCK_AHEAD_MS = 15 * 60_000;

/** Whether an index-image job is past its age limit at `now` (INDEX_JOB_MAX_AGE_MS), or claims a time no clock explains. */
export function indexJobExpired(job: Pick<IndexImageJob, 'eventTime'>, now: number): boolean {
  return now - job.eventTime > INDEX_JOB_MAX_AGE_MS || job.eventTime - now > INDEX_JOB_MAX_CLOCK_AHEAD_MS;
}

/** Where the converted copy of a cached image goes: `slipway-soci/<cached repository>:soci-<digest hex>`. */
export function sociTarget(job: Pick<IndexImageJob, 'repository' | 'digest'>): { repository: string; tag: string } {
  return { repository: `${SOCI_REPOSITORY_PREFIX}/${job.repository}`, tag: `soci-${job.digest.slice('sha256:'.length)}` };
}

/** The store's record of one source digest. */
export type SociRecord =
  | { state: 'converting'; repository: string; claimedAt: number; attempts: number; taskArn?: string; charged?: ConversionCharged }
  | { state: 'converted'; repository: string; convertedDigest: string; convertedAt: number }
  | { state: 'skipped'; repository: string; reason: string }
  | { state: 'failed'; repository: string; reason: string; claimedAt: number; attempts: number };

/**
 * A conversion that has not reported within this long is stale: claimed again once ECS says its
 * task is gone (claimedConverterState; a task lost with its events), kept while ECS still has it.
 */
export const SOCI_CLAIM_STALE_MS = 60 * 60_000;
/** Attempts per source digest: an image that fails this often is left unconverted (pulled whole). */
export const SOCI_MAX_ATTEMPTS = 3;
/**
 * Copies expire 30 days after their push (lib/soci-indexes.ts: ECR's lifecycle rules can only
 * archive by last pull, and an archived image cannot be pulled, archive-image.html; expiring is
 * by push age), "within 24 hours" of it (LifecyclePolicies.html). So a copy is named for 29 days
 * after its conversion, and the cache's next event for its source then converts it again.
 */
export const SOCI_COPY_LIFETIME_MS = 29 * 24 * 3600_000;

/** What ECR says of one image of the account's registry (adapters/ecr/image-sizes.ts, DescribeImages). */
export interface EcrImageDetail {
  /** Compressed bytes; for a manifest list, its largest platform's. */
  sizeBytes: number;
  /** The digest the tag points at (the manifest list's for a multi-platform image). */
  digest: string;
  /** When ECR says the image was pushed (ImageDetail.imagePushedAt, epoch ms): what its lifecycle rules count from. */
  pushedAt?: number;
}

/** The port on DescribeImages: each image ECR describes; the others are left out. */
export type DescribeEcrImages = (images: readonly string[]) => Promise<Map<string, EcrImageDetail>>;

/** The port: records keyed by the source digest; every write is conditional, so duplicates and reordering are harmless. */
export interface SociIndexStore {
  get(sourceDigest: string): Promise<SociRecord | undefined>;
  /** Several at once (the planner, for a build's images); unknown digests are absent. */
  getMany(sourceDigests: readonly string[]): Promise<Map<string, SociRecord>>;
  /**
   * Claims the conversion of `job.digest` and charges it to `charge`'s budget, both or neither:
   * 'claimed' when this caller should start it; 'unclaimable' (nothing charged) when it is
   * converted, skipped, being converted (claimed under SOCI_CLAIM_STALE_MS ago) or out of
   * attempts; 'over-budget' (nothing claimed) when the repository's day is spent. A unit is so
   * spent only by a claim that converts: a duplicate that loses the claim costs nothing.
   */
  claim(job: Pick<IndexImageJob, 'repository' | 'digest'>, now: number, charge: ConversionCharge): Promise<SociClaim>;
  /** The converter task started for a claim (the task-events Lambda checks its report against it). */
  started(sourceDigest: string, taskArn: string): Promise<void>;
  /** Small, or otherwise not worth converting: never claimed again. */
  skip(job: Pick<IndexImageJob, 'repository' | 'digest'>, reason: string): Promise<void>;
  /**
   * The report of converter task `taskArn`: the converted image's digest. Only a record claimed
   * for that task moves to converted (a late report of an earlier claim's task changes nothing).
   */
  converted(sourceDigest: string, convertedDigest: string, now: number, taskArn: string): Promise<void>;
  /**
   * The conversion failed; a later event may claim it again, up to SOCI_MAX_ATTEMPTS. With
   * `taskArn`, only while the claim is that task's: a late or duplicated stop event of an
   * earlier claim's task leaves a later claim be.
   */
  failed(sourceDigest: string, reason: string, now: number, taskArn?: string): Promise<void>;
  /**
   * The claim let go without spending one of its attempts: ECS had no capacity or quota for the
   * converter (which says nothing of the image). A later event may claim it again. The claim's
   * unit of budget (`charged`, as the claim read records it) is given back with it, in the same
   * write: only the release that happens refunds, so a duplicate's refunds nothing.
   */
  released(sourceDigest: string, reason: string, now: number, charged?: ConversionCharged): Promise<void>;
  /**
   * A stale claim whose converter ECS still has (claimedConverterState): kept, as claimed at `now`
   * by task `taskArn` (the one ECS named), so that the next event does not ask again within the
   * hour. Only while the claim is still the one read (`claimedAt`): false when another caller
   * changed it meanwhile.
   */
  kept(sourceDigest: string, claimedAt: number, taskArn: string, now: number): Promise<boolean>;
  /** A trusted build of `repo` names these images (namedImageKeysOf) at `now`: their events may convert them. */
  nameImages(keys: readonly string[], repo: string, now: number): Promise<void>;
  /** The marks nameImages left under `keys` (any age; sociNamingOf picks the one that counts). */
  namings(keys: readonly string[]): Promise<SociNaming[]>;
}

/** The budget a claim is charged to: one conversion of `repo`'s for the UTC `day` (conversionDay), while its count stays within `limit`. */
export interface ConversionCharge {
  repo: string;
  day: string;
  limit: number;
}

/** Where a claim's unit was charged (kept on the claim, so that a release gives it back there). */
export type ConversionCharged = Pick<ConversionCharge, 'repo' | 'day'>;

/** SociIndexStore.claim's answer. */
export type SociClaim = 'claimed' | 'unclaimable' | 'over-budget';

// Who can cause a conversion. The cache pulls whatever any build names through its rules, a
// fork's pull request included (through the rules without credentials), and each pull is an event:
// left alone, any one file could start converter after converter (1 vCPU, up to 45 minutes each),
// holding quota other repositories' builds then wait for. So an event is converted only when a
// trusted build (not a fork's) of this deployment named that image lately, as the planner records
// (nameImages), and each repository's trusted builds cause at most a budget of conversions a day.

/** How long a trusted build's naming of an image lets the cache's events of it be converted. */
export const SOCI_NAMED_LIFETIME_MS = 7 * 24 * 3600_000;
/**
 * Conversions one repository's builds may cause per UTC day. A repository moves to a few new large
 * images a week (a base image's new release, a new toolchain); ten a day leaves room for a burst of
 * them and bounds what one file naming hundreds can take: ten converters a day (7.5 vCPU-hours at
 * their 45-minute bound, under $0.02 at their usual minute or two).
 */
export const SOCI_CONVERSIONS_PER_REPOSITORY_PER_DAY = 10;

/** A trusted build's record that it named an image (SociIndexStore.nameImages). */
export interface SociNaming {
  /** The repository (`owner/name`) whose build named it: the one a conversion is charged to. */
  repo: string;
  namedAt: number;
}

/**
 * The keys of a cached image a build names (`<registry>/<repository>:<tag>`, `…@<digest>`, or
 * both), as nameImages stores them and an index-image job looks them up: `<repository>:<tag>` and
 * `<repository>@<digest>`, without the registry (the cache's events name none).
 */
export function namedImageKeysOf(cachedImage: string): string[] {
  const parsed = parseImageReference(cachedImage);
  if (!parsed.ok) return [];
  const { repository, tag, digest } = parsed.ref;
  return [...(tag !== undefined ? [`${repository}:${tag}`] : []), ...(digest !== undefined ? [`${repository}@${digest}`] : [])];
}

/** The keys an index-image job looks for: its tag's, its event's digest's, and the digest its tag points at now. */
export function namedImageKeysOfJob(job: Pick<IndexImageJob, 'repository' | 'tag' | 'digest'>, eventDigest: string): string[] {
  const keys = [...(job.tag !== undefined ? [`${job.repository}:${job.tag}`] : []), `${job.repository}@${eventDigest}`, `${job.repository}@${job.digest}`];
  return [...new Set(keys)];
}

/** The naming that lets a conversion start at `now`: the latest within SOCI_NAMED_LIFETIME_MS, if any. */
export function sociNamingOf(namings: readonly SociNaming[], now: number): SociNaming | undefined {
  let latest: SociNaming | undefined;
  for (const naming of namings) if (now - naming.namedAt < SOCI_NAMED_LIFETIME_MS && (latest === undefined || naming.namedAt > latest.namedAt)) latest = naming;
  return latest;
}

/** The UTC day a conversion at `now` is charged to, `YYYY-MM-DD`. */
export function conversionDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

/** Whether `record` (if any) lets a new conversion be claimed at `now`. */
export function claimable(record: SociRecord | undefined, now: number): boolean {
  if (record === undefined) return true;
  if (record.state === 'converted') return now - record.convertedAt >= SOCI_COPY_LIFETIME_MS;
  if (record.state === 'skipped') return false;
  if (record.attempts >= SOCI_MAX_ATTEMPTS) return false;
  return record.state === 'failed' || now - record.claimedAt >= SOCI_CLAIM_STALE_MS;
}

export type IndexDecision = { convert: true } | { convert: false; reason: string };

/**
 * Whether to convert an image of `sizeBytes` compressed (ECR DescribeImages' imageSizeInBytes:
 * for a manifest list "the max size of all manifests in the list",
 * https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageDetail.html). Undefined:
 * ECR did not say (the image is gone): nothing to convert.
 */
export function indexDecision(sizeBytes: number | undefined): IndexDecision {
  if (sizeBytes === undefined) return { convert: false, reason: 'ECR does not describe the image (expired or deleted from the cache)' };
  if (sizeBytes < SOCI_MIN_IMAGE_BYTES) {
    return { convert: false, reason: `${(sizeBytes / 1e6).toFixed(1)} MB compressed, under ${SOCI_MIN_IMAGE_BYTES / 1e6} MB: pulled whole is faster (fargate-pull-behavior.html)` };
  }
  return { convert: true };
}

/** What the converter reports on its last line. */
export interface SociReport {
  /** The source digest it converted. */
  source: string;
  /** The digest of the SOCI-enabled copy it pushed. */
  converted: string;
  /** Where it pushed it: sociTarget(source). */
  repository: string;
  tag: string;
}

/**
 * The converter's report line, when it has the shape the converter writes and names the place
 * sociTarget gives its source (the task-events Lambda then checks it against the store's
 * record of the task it started: sociReportAccepted).
 */
export function parseSociReport(line: string): SociReport | undefined {
  const text = line.replace(/\r?\n$/, '');
  if (!text.startsWith(SOCI_REPORT_PREFIX)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text.slice(SOCI_REPORT_PREFIX.length));
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
  if (!isObject(value)) return undefined;
  const { source, converted, repository, tag } = value;
  const sha256 = (d: unknown): d is string => typeof d === 'string' && d.startsWith('sha256:') && isDigest(d);
  if (!sha256(source) || !sha256(converted) || converted === source) return undefined;
  if (typeof repository !== 'string' || !repository.startsWith(`${SOCI_REPOSITORY_PREFIX}/`) || !isEcrRepositoryName(repository)) return undefined;
  const target = sociTarget({ repository: repository.slice(SOCI_REPOSITORY_PREFIX.length + 1), digest: source });
  if (tag !== target.tag) return undefined;
  return { source, converted, repository, tag };
}

/** The last well-formed report among `lines` (the end of the converter's log stream). */
export function lastSociReport(lines: readonly string[]): SociReport | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const report = parseSociReport(lines[i]!);
    if (report) return report;
  }
  return undefined;
}

/**
 * Whether a report from task `taskArn` may be recorded: the store holds a claim on its source
 * for that very task, and the copy went where sociTarget puts that repository's images.
 */
export function sociReportAccepted(report: SociReport, record: SociRecord | undefined, taskArn: string): boolean {
  if (record?.state !== 'converting' || record.taskArn !== taskArn) return false;
  return report.repository === sociTarget({ repository: record.repository, digest: report.source }).repository;
}

/**
 * The converted images a build's cached references may name instead: cached reference (as
 * the pull-through cache rewrote it, `<registry>/<prefix>/<repo>:<tag>`) → the converted
 * image by digest, `<registry>/slipway-soci/<prefix>/<repo>@sha256:…`. The compiler reads it
 * (pull-through-cache.ts); the planner fills it (lambdas/planner/soci-images.ts).
 */
export type ConvertedImages = ReadonlyMap<string, string>;

/**
 * The converted reference for `cached` whose tag resolves to `sourceDigest`, when `record`
 * says the conversion is done and its copy has not reached its expiry (SOCI_COPY_LIFETIME_MS).
 * A reference pinned to another digest keeps what it pins.
 */
export function convertedReference(cached: string, sourceDigest: string, record: SociRecord | undefined, now: number): string | undefined {
  if (record?.state !== 'converted' || now - record.convertedAt >= SOCI_COPY_LIFETIME_MS) return undefined;
  const parsed = parseImageReference(cached);
  if (!parsed.ok) return undefined;
  const { ref } = parsed;
  if (ref.digest !== undefined && ref.digest !== sourceDigest) return undefined;
  if (record.repository !== ref.repository) return undefined;
  const target = sociTarget({ repository: ref.repository, digest: sourceDigest });
  return `${ref.domain}/${target.repository}@${record.convertedDigest}`;
}

/**
 * Whether a copy ECR says was pushed at `pushedAt` may still be named: ECR expires it 30 days
 * after that push (lib/soci-indexes.ts), and that push can be older than the store's conversion.
 * A conversion that ran again (the copy's expiry, a claim taken again) pushes the same digest
 * when soci writes the same index for the same layers, and pushing an image ECR already holds
 * does not move the time its lifecycle rules count from (they count from the image's push, not
 * its later tags: aws/containers-roadmap#2746). Undefined: ECR does not describe it (expired).
 */
export function copyStillNamed(pushedAt: number | undefined, now: number): boolean {
  return pushedAt !== undefined && now - pushedAt < SOCI_COPY_LIFETIME_MS;
}

/** Whether `image` is a converted image (the start model counts it lazy-loaded). */
export function isConvertedImage(image: string): boolean {
  const parsed = parseImageReference(image);
  return parsed.ok && parsed.ref.repository.startsWith(`${SOCI_REPOSITORY_PREFIX}/`) && parsed.ref.digest !== undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The converter task of the stack (lib/soci-indexes.ts) and where it runs: the autoscaler's SOCI_CONVERTER. */
export interface SociConverterConfig {
  /** Family (or ARN) of the converter's task definition. */
  taskDefinition: string;
  /** The account's registry, `<account>.dkr.ecr.<region>.amazonaws.com`. */
  registry: string;
  /** The cache rules' repository prefixes: only their images are converted. */
  prefixes: string[];
}

/** The environment the converter's script reads (task-runner/soci-converter/convert.sh). */
export const SOCI_CONVERTER_ENV = {
  source: 'SLIPWAY_SOCI_SOURCE',
  digest: 'SLIPWAY_SOCI_DIGEST',
  target: 'SLIPWAY_SOCI_TARGET',
} as const;

/** The parts of RunTask that are the conversion's own (the caller adds cluster and network). */
export interface ConverterRun {
  taskDefinition: string;
  startedBy: string;
  clientToken: string;
  overrides: { containerOverrides: { name: string; environment: { name: string; value: string }[] }[] };
}

/**
 * RunTask of one conversion. `attempt` (the claim's count) makes a retried RunTask of the same
 * claim return the same task (clientToken, 24 h) while a later claim starts a new one.
 * startedBy: ≤ 36 characters, SOCI_STARTED_BY_PREFIX then the digest's first hex.
 */
export function converterRun(job: Pick<IndexImageJob, 'repository' | 'digest'>, config: SociConverterConfig, attempt: number, hash: (text: string) => string): ConverterRun {
  const target = sociTarget(job);
  return {
    taskDefinition: config.taskDefinition,
    startedBy: converterStartedBy(job.digest),
    clientToken: hash(`soci\n${job.digest}\n${attempt}`).slice(0, 64),
    overrides: {
      containerOverrides: [
        {
          name: SOCI_CONVERTER_CONTAINER,
          environment: [
            { name: SOCI_CONVERTER_ENV.source, value: `${config.registry}/${job.repository}` },
            { name: SOCI_CONVERTER_ENV.digest, value: job.digest },
            { name: SOCI_CONVERTER_ENV.target, value: `${config.registry}/${target.repository}:${target.tag}` },
          ],
        },
      ],
    },
  };
}

/** `startedBy` of every converter of `digest`, whatever the attempt (≤ 36 characters): SOCI_STARTED_BY_PREFIX then the digest's first hex. */
export function converterStartedBy(digest: string): string {
  return `${SOCI_STARTED_BY_PREFIX}${digest.slice('sha256:'.length).slice(0, 36 - SOCI_STARTED_BY_PREFIX.length)}`;
}

/** What DescribeTasks says of a task, as much as the converters' count reads. */
export interface ConverterTaskView {
  taskArn?: string;
  startedBy?: string;
  lastStatus?: string;
  /** The task's CPU units, as DescribeTasks gives them (a string, "1024"). */
  cpu?: string;
}

/**
 * The converter tasks among `tasks` that hold Fargate vCPU of the quota: started by a converter's
 * RunTask (`startedBy` SOCI_STARTED_BY_PREFIX, converterRun) and not yet STOPPED (a task stopping
 * or deprovisioning is still provisioned), each once, with the CPU ECS gives it (SOCI_CONVERTER_CPU
 * when it gives none).
 */
export function convertersHoldingVcpu(tasks: readonly ConverterTaskView[]): ConverterUse[] {
  const byArn = new Map<string, ConverterUse>();
  for (const task of tasks) {
    if (!task.taskArn || !task.startedBy?.startsWith(SOCI_STARTED_BY_PREFIX) || task.lastStatus === 'STOPPED') continue;
    const cpu = Number(task.cpu);
    byArn.set(task.taskArn, { taskArn: task.taskArn, cpu: Number.isInteger(cpu) && cpu > 0 ? cpu : SOCI_CONVERTER_CPU });
  }
  return [...byArn.values()];
}

/**
 * What ECS says of the converter task a stale claim names, from DescribeTasks of that task:
 * - `active` while its last status is not STOPPED (provisioning, pending, running, or stopping:
 *   it still holds its vCPU and may still report): the claim is its, and no second converter starts;
 * - `gone` once it is STOPPED, or when ECS does not know it: a failure with reason `MISSING`, "the
 *   specified task wasn't found" (https://docs.aws.amazon.com/AmazonECS/latest/userguide/api_failures_messages.html).
 *   Stopped tasks stay describable "for at least one hour" (API_DescribeTasks.html), so a task
 *   stopped longer ago answers MISSING; a claim is stale after an hour, so both are seen;
 * - undefined when ECS said neither (another failure, or nothing): nothing can be decided on it.
 */
export function claimedConverterState(taskArn: string, answer: { tasks?: readonly ConverterTaskView[]; failures?: readonly { arn?: string; reason?: string }[] }): 'active' | 'gone' | undefined {
  const task = answer.tasks?.find((t) => t.taskArn === taskArn);
  if (task) return task.lastStatus === 'STOPPED' ? 'gone' : 'active';
  if (answer.failures?.some((f) => (f.arn === undefined || f.arn === taskArn) && f.reason === 'MISSING')) return 'gone';
  return undefined;
}

/** The family of a task definition named by family, `family:revision` or ARN (ListTasks filters by family). */
export function taskDefinitionFamily(taskDefinition: string): string {
  const name = taskDefinition.startsWith('arn:') ? taskDefinition.slice(taskDefinition.indexOf('task-definition/') + 'task-definition/'.length) : taskDefinition;
  return name.replace(/:\d+$/, '');
}
