// The `index-image` jobs of the jobs queue: the cache pulled an image (an "ECR Pull Through
// Cache Action" event the stack's rule put on the queue, lib/soci-indexes.ts); if it is large
// and not converted yet, one converter task is started to write its SOCI-enabled copy
// (core/images/soci.ts). The store's conditional writes make EventBridge's duplicates, SQS
// redeliveries and events out of order harmless: one claim per source digest starts one task.

import { createHash } from 'node:crypto';
import { DescribeTasksCommand, ListTasksCommand, RunTaskCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { SOCI_CLAIM_STALE_MS, SOCI_CONVERSIONS_PER_REPOSITORY_PER_DAY, SOCI_CONVERTER_CPU, SOCI_NAMED_LIFETIME_MS, claimable, claimedConverterState, conversionDay, converterRun, converterStartedBy, indexDecision, namedImageKeysOfJob, sociNamingOf, type IndexImageJob, type SociConverterConfig, type SociIndexStore, type SociRecord, type DescribeEcrImages } from '../../core/images/soci.js';
import type { ExecutionConfig } from './config.js';
import { describeRunTaskFailures, isEcsCapacityReason } from '../../core/util/aws-errors.js';

export interface IndexImageDeps {
  ecs: Pick<ECSClient, 'send'>;
  store: SociIndexStore;
  /** ECR DescribeImages (adapters/ecr/image-sizes.ts): the image's compressed size. */
  describe: DescribeEcrImages;
  config: Pick<ExecutionConfig, 'cluster' | 'subnets' | 'securityGroups' | 'assignPublicIp'> & { soci: SociConverterConfig };
  now: () => number;
  log: (message: string, fields?: Record<string, unknown>) => void;
  /**
   * Fargate CPU units of the quota converters may still take this pass (core/scaling/decide-scale.ts,
   * converterRoomUnits: what waiting build stages leave): a converter starts only when its
   * SOCI_CONVERTER_CPU fits, and takes it from here.
   */
  room: { units: number };
}

export type IndexImageOutcome =
  | { kind: 'started'; taskArn: string; digest: string }
  | { kind: 'skipped'; reason: string }
  /** Converted, skipped or under way already: a duplicate. */
  | { kind: 'known' }
  /** ECS refused the task (failures[]): the claim is marked failed, a later event may try again. */
  | { kind: 'failed'; reason: string }
  /** Builds need the quota's vCPU: nothing claimed or started; the job is taken again later. */
  | { kind: 'deferred'; reason: string }
  /** No trusted build of this deployment named the image lately (a fork's pull request, say): nothing recorded. */
  | { kind: 'unnamed'; reason: string }
  /** The repository that named it has caused its conversions of the day: nothing recorded, a later event may convert it. */
  | { kind: 'over-budget'; reason: string };

/**
 * Throws on an error worth another delivery (the store, ECR or ECS did not answer): the message
 * stays on the queue. The job is keyed by the digest the event's tag points at when ECR is
 * asked (the one the planner looks up); without a tag, by the event's digest.
 */
export async function indexImage(event: IndexImageJob, deps: IndexImageDeps): Promise<IndexImageOutcome> {
  const { soci } = deps.config;
  // The tag as ECR describes it now: its size, and the digest the planner will find for it
  // (lambdas/planner/soci-images.ts asks the same question), whatever digest the event named.
  const image = event.tag !== undefined ? `${soci.registry}/${event.repository}:${event.tag}` : `${soci.registry}/${event.repository}@${event.digest}`;
  const detail = (await deps.describe([image])).get(image);
  const job: IndexImageJob = detail && detail.digest !== event.digest ? { ...event, digest: detail.digest } : event;
  if (job !== event) deps.log('the tag points at another digest than the event named: that one is indexed', { repository: event.repository, tag: event.tag, event: event.digest, now: job.digest });
  const record = await deps.store.get(job.digest);
  // A claim whose task is not recorded: its RunTask may have started one whose record was never
  // written (the write after it failed, or the pass ended between the two), and that task's
  // report is taken only once it is (soci-result.ts). RunTask again with that claim's token
  // returns the task it started, if any (clientToken, 24 h; a claim is stale after an hour), and
  // records it; a duplicate racing the claim's own RunTask gets that same task.
  if (record?.state === 'converting' && record.taskArn === undefined && deps.now() - record.claimedAt < SOCI_CLAIM_STALE_MS) {
    return deps.room.units < SOCI_CONVERTER_CPU ? deferred(deps) : startConverter(job, record, deps);
  }
  if (!claimable(record, deps.now())) return { kind: 'known' };

  const decision = indexDecision(detail?.sizeBytes);
  if (!decision.convert) {
    // Small is small for good; an image ECR does not describe now (not yet visible to
    // DescribeImages, or expired from the cache) is not recorded: a later event of it decides.
    if (detail) await deps.store.skip(job, decision.reason);
    return { kind: 'skipped', reason: decision.reason };
  }

  // Only an image a trusted build named lately (core/images/soci.ts, "Who can cause a conversion"):
  // what a fork's pull request alone pulls through the cache is never converted.
  const naming = sociNamingOf(await deps.store.namings(namedImageKeysOfJob(job, event.digest)), deps.now());
  if (naming === undefined) {
    const reason = `no build of this deployment other than a fork's named ${event.repository}${event.tag !== undefined ? `:${event.tag}` : `@${event.digest}`} in the last ${SOCI_NAMED_LIFETIME_MS / (24 * 3600_000)} days`;
    deps.log('SOCI conversion not started: no trusted build named the image', { repository: job.repository, tag: job.tag, digest: job.digest, reason });
    return { kind: 'unnamed', reason };
  }
  // Builds come first: the claim waits until the vCPU its converter needs is not wanted by a build.
  if (deps.room.units < SOCI_CONVERTER_CPU) return deferred(deps);
  // A stale claim (an hour without a report) is taken over only once ECS says its converter is
  // gone: under quota pressure a converter can wait or run that long, and a second one for the
  // same digest would hold another vCPU for nothing.
  if (record?.state === 'converting') {
    const active = await activeConverterOf(record, job, deps);
    if (active !== undefined) {
      const kept = await deps.store.kept(job.digest, record.claimedAt, active, deps.now());
      deps.log('SOCI claim kept: ECS still has its converter', { repository: job.repository, digest: job.digest, taskArn: active, claimedAt: record.claimedAt, refreshed: kept });
      return { kind: 'known' };
    }
  }
  const now = deps.now();
  // The claim and its unit of the day's budget are one write (SociIndexStore.claim): a duplicate
  // that loses the claim is charged nothing, and a spent day takes no claim.
  const day = conversionDay(now);
  const claim = await deps.store.claim(job, now, { repo: naming.repo, day, limit: SOCI_CONVERSIONS_PER_REPOSITORY_PER_DAY });
  if (claim === 'unclaimable') return { kind: 'known' };
  if (claim === 'over-budget') {
    const reason = `${naming.repo}'s builds have caused their ${SOCI_CONVERSIONS_PER_REPOSITORY_PER_DAY} conversions of ${day} (UTC); the cache's next sync of the image may convert it`;
    deps.log('SOCI conversion not started: the repository that named the image spent its day\'s conversions', { repository: job.repository, tag: job.tag, digest: job.digest, repo: naming.repo, day });
    return { kind: 'over-budget', reason };
  }
  // The claim's attempt number: a retried RunTask of this claim returns the same task.
  const claimed = await deps.store.get(job.digest);
  return startConverter(job, claimed?.state === 'converting' ? claimed : { attempts: 1 }, deps);
}

/**
 * The converter ECS still has for a stale claim, if any. The claim's task: DescribeTasks of it
 * (claimedConverterState: not STOPPED is active; STOPPED or MISSING is gone). A claim without a
 * recorded task (its RunTask's answer was never written): the digest's converters that ECS lists
 * (ListTasks by startedBy, which "must be the only filter that you use", so the default desired
 * status RUNNING: API_ListTasks.html). Throws when ECS
 * gives no answer to decide on: the message is read again.
 */
async function activeConverterOf(record: Extract<SociRecord, { state: 'converting' }>, job: IndexImageJob, deps: IndexImageDeps): Promise<string | undefined> {
  const { cluster } = deps.config;
  if (record.taskArn === undefined) {
    const listed = await deps.ecs.send(new ListTasksCommand({ cluster, startedBy: converterStartedBy(job.digest) }));
    return listed.taskArns?.[0];
  }
  const answer = await deps.ecs.send(new DescribeTasksCommand({ cluster, tasks: [record.taskArn] }));
  const state = claimedConverterState(record.taskArn, answer);
  if (state === undefined) {
    const failures = (answer.failures ?? []).map((f) => `${f.arn ?? '?'}: ${f.reason ?? '?'}${f.detail ? ` (${f.detail})` : ''}`).join('; ') || 'no task and no failure';
    throw new Error(`SOCI claim on ${job.digest}: ECS DescribeTasks neither describes its converter ${record.taskArn} nor says it is MISSING (${failures}); the job is read again`);
  }
  return state === 'active' ? record.taskArn : undefined;
}

function deferred(deps: IndexImageDeps): IndexImageOutcome {
  return { kind: 'deferred', reason: `needs ${SOCI_CONVERTER_CPU / 1024} vCPU of the Fargate quota, which running and waiting builds need (${deps.room.units / 1024} vCPU left for converters)` };
}

/** RunTask of the converter for the claim on `job.digest` (its attempt number, its charge), and its task recorded on the claim. */
async function startConverter(job: IndexImageJob, claim: Pick<Extract<SociRecord, { state: 'converting' }>, 'attempts' | 'charged'>, deps: IndexImageDeps): Promise<IndexImageOutcome> {
  const run = converterRun(job, deps.config.soci, claim.attempts, (text) => createHash('sha256').update(text).digest('hex'));
  // A RunTask that throws leaves the claim `converting` without a task: whether one started is
  // unknown (a throttle, a timeout after ECS took it), and the message's next delivery asks again
  // with this attempt's token, getting the task if there is one (see indexImage). Marking the
  // claim failed would spend one of its attempts on each throttled call, and leave a task that
  // did start unrecorded.
  const res = await deps.ecs.send(
    new RunTaskCommand({
      cluster: deps.config.cluster,
      count: 1,
      launchType: 'FARGATE',
      ...run,
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: deps.config.subnets,
          ...(deps.config.securityGroups.length > 0 ? { securityGroups: deps.config.securityGroups } : {}),
          assignPublicIp: deps.config.assignPublicIp,
        },
      },
    }),
  );
  const taskArn = res.tasks?.[0]?.taskArn;
  if (!taskArn) {
    const reason = describeRunTaskFailures(res.failures) || 'RunTask returned no task';
    // No capacity or quota (likeliest when builds fill the quota, as when the cache pulls new
    // images) says nothing of the image: the claim is let go without spending an attempt, and
    // its unit of the repository's budget is given back (nothing was converted).
    const failures = res.failures ?? [];
    if (failures.length > 0 && failures.every((f) => isEcsCapacityReason(f.reason ?? ''))) await deps.store.released(job.digest, `RunTask: ${reason}`, deps.now(), claim.charged);
    else await deps.store.failed(job.digest, `RunTask: ${reason}`, deps.now());
    return { kind: 'failed', reason };
  }
  deps.room.units -= SOCI_CONVERTER_CPU;
  await deps.store.started(job.digest, taskArn);
  deps.log('SOCI conversion started', { repository: job.repository, tag: job.tag, digest: job.digest, taskArn });
  return { kind: 'started', taskArn, digest: job.digest };
}
