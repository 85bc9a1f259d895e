// The planner, for one events-queue message: pipeline file at the commit → manifest →
// triggers → build, stages and steps in one transaction → ready stages on the jobs queue and
// a nudge to the autoscaler, with the pending commit status sent beside them (start-build.ts).
//
// Idempotent on the delivery id: a retried message finds the build its first attempt
// created (the delivery → build claim is part of the build's transaction) and only
// repeats the effects after it (enqueue, status, nudge), which are safe to repeat.

import type { BuildCreator, BuildStore, DeliveryStore, RepositoryStore, StageStore } from '../../core/builds/ports.js';
import { buildRecord, newBuildRecords } from '../../core/builds/new-build.js';
import { repositoryVisibility, type Build, type Repository } from '../../core/builds/types.js';
import type { BuildContext, RepoInfo } from '../../core/pipeline/context.js';
import { compileManifest, type CompileResult } from '../../core/pipeline/compile.js';
import { SecretCheckError, secretReferencesOf, type SecretCheck } from './secret-check.js';
import { buildCompileOptions, buildPullThroughCache, type BuildCompileInput, type DeploymentCompileOptions } from './compile-options.js';
import { conditionInput, conditionsMatch } from '../../core/pipeline/conditions.js';
import { formatDiagnostic } from '../../core/pipeline/format.js';
import { substitutionLookup } from '../../core/pipeline/environment.js';
import { withStageSubstitution } from '../../core/pipeline/stage-substitution.js';
import { fileErrors, isReadable, loadManifest } from '../../core/pipeline/load.js';
import { imageCommandQueries, type ImageCommands } from '../../core/pipeline/plugin-command.js';
import type { PullSecretLoginsOf } from '../../core/pipeline/docker-config.js';
import { derivePullLogins, type PullSecretStore } from '../../core/pipeline/pull-logins.js';
import { classifyAwsError } from '../../core/util/aws-errors.js';
import type { Diagnostic } from '../../core/pipeline/types.js';
import { WorkLimitExceeded, WorkMeter, metered } from '../../core/pipeline/work.js';
import type { JobQueue } from '../../core/scaling/job-queue.js';
import { buildContextOf } from '../../core/scm/build-context.js';
import { buildCommitStatus, buildLink } from '../../core/scm/commit-state.js';
import { RepositoryNameError, ScmConfigError } from '../../core/scm/locate.js';
import { describeConfigFailure } from '../../core/scm/config-failure.js';
import type { BuildHook, EventMessage } from '../../core/scm/types.js';
import { isRepositoryAllowed } from '../shared/config.js';
import type { CloneDecision } from '../shared/clone-credentials.js';
import type { ScmAccess, ScmRepo } from '../shared/scm.js';
import type { ImageCommandLookup } from '../../core/images/types.js';
import { resolveImageCommands } from './image-commands.js';
import { cachedImagesOf, type SociImageLookup, type SociImageNamer } from './soci-images.js';
import type { ConvertedImages } from '../../core/images/soci.js';
import type { Log } from '../shared/observability/logger.js';
import type { SlipwayMetrics } from '../shared/observability/metrics.js';
import type { RetryOptions } from '../../core/util/retry.js';
import { startBuild } from './start-build.js';

export interface PlannerDeps {
  store: BuildStore & BuildCreator & RepositoryStore & DeliveryStore;
  stages: Pick<StageStore, 'putStageJobs' | 'getStageJob'>;
  scm: ScmAccess;
  /** Where ready stages are announced (the jobs queue). */
  jobs: JobQueue;
  /** Asks the autoscaler for a pass now. */
  nudge: () => Promise<void>;
  /** Compiler settings of this deployment (compile-options.ts); the stage id, secrets and clone credentials are set per build. */
  compile: DeploymentCompileOptions;
  /** The agent's clone credentials for a repository (private ones); none: anonymous clones. */
  cloneCredentials?: (repo: BuildContext['repo']) => Promise<CloneDecision>;
  /**
   * What a plugin image runs, from its registry: plugin steps that receive secrets are
   * compiled to run masked, which needs it. Without it they run unmasked (the stage notes say so).
   */
  imageLookup?: ImageCommandLookup;
  /**
   * The SOCI-enabled copies of cached images (soci-images.ts): a task definition names the copy
   * of an image that has one. Without it (SOCI indexes off, local mode) the cached tags.
   */
  sociImages?: SociImageLookup;
  /**
   * Records the cached images a build that is not a fork's names (soci-images.ts): only those are
   * converted. With sociImages; without it nothing is converted from this deployment's builds.
   */
  sociNamer?: SociImageNamer;
  /**
   * Where Docker config pull secrets are read and their derived logins written
   * (core/pipeline/pull-logins.ts). Without it such a pull secret is applied to no image
   * (the stage notes say the planner reads it).
   */
  pullSecrets?: PullSecretStore;
  /**
   * Which secret references do not exist (secret-check.ts). Without it the task definitions
   * name every secret, and one missing stops the task before any step runs.
   */
  secretCheck?: SecretCheck;
  /** Work units (core/pipeline/work.ts) one message may spend on its pipeline file; default DEFAULT_WORK_LIMIT. */
  workLimit?: number;
  /** How often the events queue delivers a message before its dead-letter queue (EVENTS_MAX_RECEIVES). */
  maxReceives?: number;
  publicUrl?: string;
  allowedRepositories?: readonly string[];
  system: BuildContext['system'];
  now: () => number;
  log: Log;
  /** Builds started, Git host errors (lambdas/shared/observability/metrics.ts); absent: nothing is counted. */
  metrics?: SlipwayMetrics;
  /** Replaces parts of the pending status's retry (start-build.ts PENDING_STATUS_RETRY): tests pass their own sleep. */
  statusRetry?: Partial<Pick<RetryOptions, 'attempts' | 'sleep' | 'random'>>;
}

export type PlanOutcome =
  | { kind: 'created'; buildId: string; enqueued: number[] }
  | { kind: 'invalid'; buildId: string; error: string }
  | { kind: 'resumed'; buildId: string; enqueued: number[] }
  | { kind: 'skipped'; reason: string };

/** The build's error text: every error diagnostic as `FILE:LINE:COLUMN: message`, one per line. */
export function diagnosticsText(diagnostics: readonly Diagnostic[]): string {
  return diagnostics
    .filter((d) => d.severity === 'error')
    .map(formatDiagnostic)
    .join('\n');
}

/** A registry that did not answer: the message is retried (SQS redelivers it) before anything is recorded. */
export class RegistryUnavailableError extends Error {}

/**
 * `finalAttempt`: no further delivery of this message is worth waiting for (process-batch.ts
 * allows a registry one retry; a restart planned in-process has none). A registry that does
 * not answer then makes an error build saying so, instead of another retry.
 */
export async function planEvent(message: EventMessage, deps: PlannerDeps, attempt: { finalAttempt: boolean } = { finalAttempt: true }): Promise<PlanOutcome> {
  const { deliveryId } = message;
  const fields = { deliveryId, repo: message.hook.repo.slug, sha: message.hook.commit.sha };

  const existing = await deps.store.buildForDelivery(deliveryId);
  if (existing) return resume(existing, deps);

  if (!isRepositoryAllowed(deps.allowedRepositories ?? [], message.hook.repo.slug)) {
    return { kind: 'skipped', reason: `repository ${message.hook.repo.slug} is not in ALLOWED_REPOSITORIES` };
  }
  // The repository is what activation stored, located by configuration: the event only names it.
  const trusted = await trustedRepository(message, deps);
  if ('skipped' in trusted) {
    deps.log('not planned', { ...fields, reason: trusted.skipped });
    return { kind: 'skipped', reason: trusted.skipped };
  }
  const { repository } = trusted;
  const hook: BuildHook = { ...message.hook, repo: trusted.repo };
  if ('unlocated' in trusted) return unreadableConfig(trusted.unlocated, message, hook, repository.configPath, undefined, deps, attempt);
  const { scmRepo } = trusted;

  // The one Git host call on the way to RunTask: what runs is in this file.
  let text: string | null;
  try {
    text = await deps.scm.fetchConfig(scmRepo, repository.configPath, hook.commit.sha);
  } catch (err) {
    return unreadableConfig(err, message, hook, repository.configPath, scmRepo, deps, attempt);
  }
  if (text === null) {
    deps.log('no pipeline file: nothing to build', { ...fields, path: repository.configPath });
    return { kind: 'skipped', reason: `${repository.configPath} does not exist at ${hook.commit.sha}` };
  }
  // One work budget for reading, triggers and compilation (core/pipeline/work.ts): a file
  // that needs more ends as an error build, never as a retry that delays other repositories.
  const meter = new WorkMeter(deps.workLimit);
  const split = deps.compile.splitPipelines === true ? { splitPipelines: true } : {};
  const manifest = metered(meter, () => loadManifest(repository.configPath, text, split));
  const fork = hook.pullRequest?.fork ?? false;
  const contextFor = (number: number, createdAt: number): BuildContext => contextOf(message, hook, deps, number, createdAt);

  // Only the file's own errors fail it as a whole; a pipeline's errors become its stage's.
  let invalid = diagnosticsText(fileErrors(manifest));
  if (!invalid) {
    // Triggers first, so that a push nothing runs for does not use up a build number. A
    // pipeline whose trigger has an error is part of every build (compileManifest).
    const input = conditionInput(contextFor(0, deps.now()));
    const unsoundTrigger = new Set(manifest.errors.filter((e) => !e.triggerSound).map((e) => e.index));
    try {
      if (!metered(meter, () => manifest.pipelines.some((p, i) => unsoundTrigger.has(i) || conditionsMatch(p.trigger, input)))) {
        return { kind: 'skipped', reason: `no pipeline of ${repository.configPath} is triggered by this ${hook.event}` };
      }
    } catch (err) {
      if (!(err instanceof WorkLimitExceeded)) throw err;
      invalid = `${repository.configPath}:1:1: ${err.message}`;
    }
  }

  // Before the build number: a lookup that throws (a bug, not a registry's answer) retries the
  // message without using a number up.
  // Drone reads triggers from the file as written (above) and runs the file with `${…}`
  // substituted by the build's values: the images to look up are those of the substituted
  // file, with a provisional build number (an image named after the build number is looked
  // up under the one it gets here, and misses).
  let imageCommands: ImageCommands | undefined;
  let pullSecretLogins: PullSecretLoginsOf | undefined;
  const derivePulls = deps.pullSecrets !== undefined && !fork;
  if (!invalid && (deps.imageLookup || derivePulls)) {
    const provisional = metered(meter, () => loadManifest(repository.configPath, text, { ...split, substitute: substitutionLookup(contextFor(0, deps.now())) }));
    const source = isReadable(provisional) ? provisional : manifest;
    const errored = new Set(source.errors.map((e) => e.index));
    const sound = { ...source, pipelines: source.pipelines.filter((_, i) => !errored.has(i)) };
    const queries = deps.imageLookup ? imageCommandQueries(sound, !fork) : [];
    if (deps.imageLookup && queries.length > 0) {
      const resolved = await resolveImageCommands(queries, deps.imageLookup);
      imageCommands = resolved.commands;
      deps.log('plugin images looked up', { ...fields, images: queries.length, failures: resolved.failures });
      if (resolved.transient.length > 0 && !attempt.finalAttempt) {
        throw new RegistryUnavailableError(`planner: a registry did not answer, the message is retried: ${resolved.transient.join('; ')}`);
      }
    }
    // Docker config pull secrets: each registry's login an image needs goes to a derived secret
    // in ECS's form before compiling (the secret check then finds it). Never for a fork: it gets
    // no secrets. A store that fails throws, and the message is asked again without using a
    // build number up; on the last attempt the pull secret is the pipeline's error, saying why.
    // Only the repository's slug of the context matters here, which the provisional one has.
    if (derivePulls) {
      const derived = await derivePullLogins(sound, contextFor(0, deps.now()), deps.compile, deps.pullSecrets!, (error) => (attempt.finalAttempt ? classifyAwsError(error).message : undefined));
      pullSecretLogins = derived.logins;
      if (derived.written.length > 0) deps.log('pull secrets derived', { ...fields, secrets: derived.written.map((w) => `${w.name} ${w.outcome}`) });
    }
  }

  const number = await deps.store.nextBuildNumber(hook.repo.slug);
  const now = deps.now();
  const ctx = contextFor(number, now);
  // The installation the file was just read with (GitHub's answer if the record's was refused or
  // absent), else the record's: the autoscaler mints the clone token with it in one call.
  const githubInstallation = (await deps.scm.githubInstallation?.(scmRepo)) ?? repository.githubInstallation;
  const base = { ctx, deliveryId, fork, now, receivedAt: message.receivedAt, ...(githubInstallation ? { githubInstallation } : {}) };

  if (invalid) return createInvalid(buildRecord(base, { status: 'error', error: invalid, finishedAt: now }), scmRepo, deps);
  // loadManifest reports a file over the work budget as a diagnostic, never by throwing.
  // Each pipeline that names a `${DRONE_STAGE_…}` is read again with its own stage's values, as Drone does.
  const substituted = metered(meter, () =>
    withStageSubstitution(repository.configPath, text, ctx, loadManifest(repository.configPath, text, { ...split, substitute: substitutionLookup(ctx) }), split),
  );
  const substitutedInvalid = diagnosticsText(fileErrors(substituted));
  if (substitutedInvalid) return createInvalid(buildRecord(base, { status: 'error', error: substitutedInvalid, finishedAt: now }), scmRepo, deps);

  // A reference to the clone token, for forks too: only the agent gets it, never a step.
  const clone = deps.cloneCredentials ? await deps.cloneCredentials(hook.repo) : {};
  if (clone.warning) deps.log('no clone credentials', { ...fields, reason: clone.warning });

  // The settings of the record read above (trustedRepository): a change applies from the next build planned.
  const repositorySettings: BuildCompileInput['repository'] = {
    ...(repository.trusted ? { trusted: true } : {}),
    ...(repository.capacity ? { capacity: repository.capacity } : {}),
    ...(repository.pullThroughCache === false ? { pullThroughCache: false } : {}),
  };
  let records;
  try {
    const compile = (absentSecrets?: ReadonlySet<string>, sociImages?: ConvertedImages) =>
      metered(meter, () =>
        compileManifest(
          substituted,
          ctx,
          buildCompileOptions(deps.compile, {
            repoSlug: ctx.repo.slug,
            buildNumber: number,
            fork,
            repository: repositorySettings,
            ...(imageCommands ? { imageCommands } : {}),
            ...(pullSecretLogins ? { pullSecretLogins } : {}),
            ...(clone.credentials ? { cloneCredentials: clone.credentials } : {}),
            ...(absentSecrets ? { absentSecrets } : {}),
            ...(sociImages ? { sociImages } : {}),
          }),
        ),
      );
    let absent: ReadonlySet<string> | undefined;
    let compiled = compile();
    const withoutAbsent = (missing: ReadonlySet<string>) => {
      absent = missing;
      return compile(missing);
    };
    compiled = await withoutMissingSecrets(compiled, withoutAbsent, clone.credentials?.passwordFrom, deps, fields);
    compiled = await withSociImages(compiled, (converted) => compile(absent, converted), buildPullThroughCache(deps.compile, { repoSlug: ctx.repo.slug, fork, repository: repositorySettings }), deps, { ...fields, repo: ctx.repo.slug, fork });
    records = newBuildRecords(base, substituted, compiled);
  } catch (err) {
    if (err instanceof WorkLimitExceeded) {
      return createInvalid(buildRecord(base, { status: 'error', error: `${repository.configPath}:1:1: ${err.message}`, finishedAt: now }), scmRepo, deps);
    }
    throw err;
  }

  // One transaction creates the build with all its stages: more pipelines than it holds is the
  // file's problem, an error build that says so, not a message retried into the DLQ.
  if (records.stages.length > deps.store.maxStagesPerBuild) {
    const error = `${repository.configPath}: ${records.stages.length} pipelines run for this ${hook.event}; a build holds at most ${deps.store.maxStagesPerBuild} (split the pipeline file, or use fewer pipelines with more steps)`;
    return createInvalid(buildRecord(base, { status: 'error', error, finishedAt: now }), scmRepo, deps);
  }

  // Jobs first: they are invisible until the build exists, and a stage must never exist
  // without the job that starts it.
  await deps.stages.putStageJobs(records.jobs);
  const result = await deps.store.createBuild(records);
  if (!result.created) return resume(result.buildId, deps);

  const enqueued = await startBuild(scmRepo, records.build, records.stages, deps, records.jobs);
  deps.log('build created', { ...fields, buildId: records.build.id, stages: records.stages.length, enqueued });
  deps.metrics?.buildStarted();
  // Created finished (every pipeline skipped or in error, new-build.ts decideAtCreation): no
  // stage end will ever count it, so it is counted finished here, as createInvalid does, and
  // started and finished builds add up.
  if (records.build.finishedAt !== undefined) deps.metrics?.buildFinished(records.build.status);
  return { kind: 'created', buildId: records.build.id, enqueued };
}

function contextOf(message: EventMessage, hook: BuildHook, deps: PlannerDeps, number: number, createdAt: number): BuildContext {
  return buildContextOf(hook, {
    number,
    createdAt,
    link: buildLink(deps.publicUrl, hook.repo.slug, number) ?? hook.commit.link,
    system: deps.system,
    ...(message.parent !== undefined ? { parent: message.parent } : {}),
  });
}

/** The Git host did not give the pipeline file, and another delivery may: the message is retried before anything is recorded. */
export class GitHostUnavailableError extends Error {
  override readonly name = 'GitHostUnavailableError';
}

/**
 * The pipeline file could not be read (host unreachable, credentials missing or refused, a
 * host without configuration): an `error` build that says why, seen in `slipway builds`, the
 * dashboard and the commit status, instead of a message that only a log or the dead-letter
 * queue knows about. A host that may answer later gets the message's next delivery first.
 */
async function unreadableConfig(
  err: unknown,
  message: EventMessage,
  hook: BuildHook,
  path: string,
  scmRepo: ScmRepo | undefined,
  deps: PlannerDeps,
  attempt: { finalAttempt: boolean },
): Promise<PlanOutcome> {
  const failure = describeConfigFailure(err, { host: hook.repo.scm, slug: hook.repo.slug, path, sha: hook.commit.sha });
  if (failure.retryable && !attempt.finalAttempt) throw new GitHostUnavailableError(`planner: ${failure.reason} (the message is retried)`, { cause: err });
  deps.log('pipeline file not read', { deliveryId: message.deliveryId, repo: hook.repo.slug, sha: hook.commit.sha, error: failure.reason });
  return createErrorBuild(message, hook, failure.reason, scmRepo, deps);
}

/** A build that ended before it began, in `error` with `reason`; idempotent on the delivery id. */
async function createErrorBuild(message: EventMessage, hook: BuildHook, reason: string, scmRepo: ScmRepo | undefined, deps: PlannerDeps): Promise<PlanOutcome> {
  const number = await deps.store.nextBuildNumber(hook.repo.slug);
  const now = deps.now();
  const base = { ctx: contextOf(message, hook, deps, number, now), deliveryId: message.deliveryId, fork: hook.pullRequest?.fork ?? false, now, receivedAt: message.receivedAt };
  return createInvalid(buildRecord(base, { status: 'error', error: reason, finishedAt: now }), scmRepo, deps);
}

/**
 * The planner failed on a message's last delivery for a reason nothing above turned into a
 * build (a bug, a store that refused a write): before the message goes to the dead-letter
 * queue, the build is recorded in `error` with that reason, so the push is not silently lost.
 * Only for an activated repository of that host, as any build; throws when it cannot record it.
 */
export async function recordPlannerFailure(message: EventMessage, deps: PlannerDeps, err: unknown): Promise<PlanOutcome> {
  const existing = await deps.store.buildForDelivery(message.deliveryId);
  if (existing) return { kind: 'resumed', buildId: existing, enqueued: [] };
  const trusted = await trustedRepository(message, deps);
  if ('skipped' in trusted) return { kind: 'skipped', reason: trusted.skipped };
  const hook: BuildHook = { ...message.hook, repo: trusted.repo };
  const reason = `the planner could not plan this ${hook.event} (${hook.commit.sha.slice(0, 12)}): ${(err as Error)?.message ?? String(err)}`;
  return createErrorBuild(message, hook, reason, 'scmRepo' in trusted ? trusted.scmRepo : undefined, deps);
}

/**
 * Drone gives a secret that does not exist an empty value; ECS would stop the whole task. So
 * the missing ones are left out (their variables unset) and the stage notes name them. The
 * clone token is Slipway's own and not checked. A check that cannot answer leaves the build
 * as compiled, with a note: the task then fails at start only if a secret really is missing.
 */
async function withoutMissingSecrets(
  compiled: CompileResult,
  compile: (absent: ReadonlySet<string>) => CompileResult,
  cloneToken: string | undefined,
  deps: PlannerDeps,
  fields: Record<string, unknown>,
): Promise<CompileResult> {
  if (!deps.secretCheck) return compiled;
  const references = secretReferencesOf(compiled, [cloneToken]);
  if (references.length === 0) return compiled;
  let missing: ReadonlySet<string>;
  try {
    missing = await deps.secretCheck(references);
  } catch (err) {
    if (!(err instanceof SecretCheckError)) throw err;
    deps.log('secrets not checked', { ...fields, error: err.message });
    for (const stage of compiled.stages) {
      stage.notes.push(`the secrets were not checked (${err.message}): one that does not exist stops the task before any step runs`);
    }
    return compiled;
  }
  if (missing.size === 0) return compiled;
  deps.log('secrets not found, left out', { ...fields, missing: [...missing] });
  return compile(missing);
}

/**
 * The build compiled again to name the SOCI-enabled copy of each cached image that has one
 * (soci-images.ts), or as it is: no cache for this build, no copy, or a lookup that failed
 * (logged; the cached tags still run, pulled whole).
 */
async function withSociImages(
  compiled: CompileResult,
  compile: (converted: ConvertedImages) => CompileResult,
  cache: ReturnType<typeof buildPullThroughCache>,
  deps: PlannerDeps,
  fields: Record<string, unknown> & { repo: string; fork: boolean },
): Promise<CompileResult> {
  if (!deps.sociImages || !cache) return compiled;
  const images = cachedImagesOf(compiled, cache);
  if (images.length === 0) return compiled;
  // A build that is not a fork's lets the cache's events of its images be converted; written beside
  // the lookup (the event follows the task's pull, well after), and a write that fails only means
  // no conversion for now: logged, never a reason to fail or delay the build.
  const naming = fields.fork || !deps.sociNamer
    ? Promise.resolve()
    : deps.sociNamer(images, fields.repo).catch((err: unknown) => deps.log('SOCI: the images this build names not recorded; their pulls are not converted', { ...fields, images: images.length, error: classifyAwsError(err).message }));
  let converted: ConvertedImages;
  try {
    converted = await deps.sociImages(images);
  } catch (err) {
    deps.log('SOCI copies not looked up; the cached tags are named', { ...fields, images: images.length, error: classifyAwsError(err).message });
    await naming;
    return compiled;
  }
  await naming;
  if (converted.size === 0) return compiled;
  deps.log('SOCI-enabled copies named', { ...fields, images: [...converted.values()] });
  return compile(converted);
}

/**
 * The repository of a message as activation stored it and configuration locates it, or
 * why nothing is built: not activated, activated on another host, or a host whose
 * configuration cannot locate it. Nothing of it is taken from the webhook's body but the
 * name (and the default branch, which is only shown to steps).
 */
async function trustedRepository(
  message: EventMessage,
  deps: PlannerDeps,
): Promise<{ repository: Repository; repo: RepoInfo; scmRepo: ScmRepo } | { repository: Repository; repo: RepoInfo; unlocated: Error } | { skipped: string }> {
  const slug = message.hook.repo.slug;
  const repository = await deps.store.getRepository(slug);
  const add = message.host === 'local' ? '' : ` (slipway repo add ${slug} --host ${message.host})`;
  if (!repository || !repository.active) return { skipped: `repository ${slug} is not activated${add}` };
  if (repository.scm !== message.host) return { skipped: `repository ${slug} is activated on ${repository.scm}, not on ${message.host}` };
  let location: { httpUrl: string; link: string };
  try {
    location = await deps.scm.locate(repository);
  } catch (err) {
    // An activated repository whose host's configuration is missing: the push is an error build that says what to set.
    if (err instanceof ScmConfigError || err instanceof RepositoryNameError) return { repository, repo: repoInfoOf(message, repository, repository), unlocated: err };
    throw err;
  }
  if (repository.scm !== 'local' && (repository.httpUrl !== location.httpUrl || repository.link !== location.link)) {
    await deps.store.setRepositoryLocation(slug, location);
  }
  const repo = repoInfoOf(message, repository, location);
  return { repository, repo, scmRepo: { ...repository, ...location, visibility: repo.visibility } };
}

function repoInfoOf(message: EventMessage, repository: Repository, location: { httpUrl: string; link: string }): RepoInfo {
  const slug = repository.slug;
  const visibility = repositoryVisibility(repository);
  const cut = slug.lastIndexOf('/');
  return {
    slug,
    owner: slug.slice(0, cut),
    name: slug.slice(cut + 1),
    scm: repository.scm,
    httpUrl: location.httpUrl,
    link: location.link,
    defaultBranch: message.hook.repo.defaultBranch || repository.defaultBranch,
    private: visibility !== 'public',
    visibility,
  };
}

/** `repo` undefined: a host Slipway cannot locate, so no commit status can be posted. */
async function createInvalid(build: Build, repo: ScmRepo | undefined, deps: PlannerDeps): Promise<PlanOutcome> {
  const result = await deps.store.createBuild({ build, stages: [], steps: [] });
  if (!result.created) return resume(result.buildId, deps);
  if (repo) await postStatus(repo, build, deps);
  deps.log('invalid pipeline file', { buildId: build.id, error: build.error });
  // Created and finished at once: counted as both, so started and finished builds add up.
  deps.metrics?.buildStarted();
  deps.metrics?.buildFinished(build.status);
  return { kind: 'invalid', buildId: build.id, error: build.error ?? '' };
}

/** Repeats what follows the build's creation; all of it is safe to do twice. */
async function resume(buildIdValue: string, deps: PlannerDeps): Promise<PlanOutcome> {
  const detail = await deps.store.getBuildDetail(buildIdValue);
  if (!detail) throw new Error(`planner: delivery points at build ${buildIdValue}, which does not exist`);
  const repository = await deps.store.getRepository(detail.repo);
  if (detail.status === 'pending' || detail.status === 'running') {
    // A running build's commit already had its pending status (nothing posts "running").
    const enqueued = await startBuild(detail.status === 'pending' ? (repository ?? undefined) : undefined, detail, detail.stages, deps);
    return { kind: 'resumed', buildId: buildIdValue, enqueued };
  }
  // A finished build's status, again: the attempt before may have failed to post it.
  if (repository) await postStatus(repository, detail, deps);
  return { kind: 'resumed', buildId: buildIdValue, enqueued: [] };
}

/** Commit statuses are for people: a host that refuses one must not stop the build. */
async function postStatus(repo: ScmRepo, build: Build, deps: PlannerDeps): Promise<void> {
  try {
    await deps.scm.postStatus(repo, build.commit, buildCommitStatus(build, deps.publicUrl));
  } catch (err) {
    deps.log('commit status not posted', { buildId: build.id, status: build.status, error: (err as Error).message });
  }
}
