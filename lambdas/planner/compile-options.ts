// The compiler's options as the planner builds them: the deployment's part from the
// environment (the stack sets it, local mode sets it), then the part that belongs to one
// build. The golden tests build theirs with these same two functions, so that what they
// check is what production compiles.

import type { PullSecretLoginsOf } from '../../core/pipeline/docker-config.js';
import { buildId as makeBuildId, repositoryUsesPullThroughCache, stageKey, type Repository } from '../../core/builds/types.js';
import type { CompileOptions } from '../../core/pipeline/compile.js';
import type { ImageCommands } from '../../core/pipeline/plugin-command.js';
import { ecrRegistry, withoutCredentialedRules, type PullThroughCache } from '../../core/pipeline/pull-through-cache.js';
import type { Arch } from '../../core/pipeline/types.js';
import { SOCI_REPOSITORY_PREFIX, type ConvertedImages } from '../../core/images/soci.js';
import { ecrImageOf } from '../../core/images/ecr-image.js';
import type { ForkPulls } from '../../core/pipeline/fork-pulls.js';
import { jsonEnv, numberEnv, type Env } from '../shared/config.js';
import { ENV } from '../../core/config/lambda-env.js';
import { ec2CapacityFromEnv } from '../shared/ec2-capacity.js';
import type { CloneCredentials } from '../../core/pipeline/compile.js';

/** One repository's image builds as the stack describes them (lib/image-builds.ts, ENV.imageBuilds). */
export interface RepositoryImageBuilds {
  taskRoleArn: string;
  pushRepositories: string[];
  cacheRepository: string;
}

/** What is the same for every build of the deployment. */
export type DeploymentCompileOptions = Omit<CompileOptions, 'stageId' | 'withSecrets' | 'cloneCredentials' | 'imageCommands' | 'pullSecretLogins' | 'absentSecrets' | 'imageBuilds' | 'ec2'> & {
  /** The EC2 capacity provider of each architecture (ENV.ec2Capacity); absent: Fargate only. */
  ec2CapacityProviders?: Partial<Record<Arch, string>>;
  /** Image builds per repository (`owner/name`): its task role, the ECR repositories it may push to, its cache. */
  imageBuildsByRepository?: Record<string, RepositoryImageBuilds>;
  /** The builder image, when the stack names one. */
  imageBuilder?: string;
  /**
   * Repositories (`owner/name`) whose images are pulled as written, not through the cache (a
   * deploy-time list; the repository's own setting, Repository.pullThroughCache, opts out too).
   */
  pullThroughCacheOptOut?: readonly string[];
  /** The operator's further ECR repositories a fork's pull request may pull (ENV.forkPullRepositories). */
  forkPullRepositories?: readonly string[];
};

/** The agent image of each architecture (single-platform images). */
const AGENT_IMAGE_ENV = { amd64: ENV.agentImageAmd64, arm64: ENV.agentImageArm64 } satisfies Record<Arch, string>;

const PARTITIONS = /^aws(-[a-z]+)*$/;

/**
 * The deployment's options. ACCOUNT_ID and PARTITION make every secret reference a full ARN
 * (a `kind: secret` document cannot be read without them); the stack sets both from its own
 * environment, so no partition is assumed.
 */
export function compileOptionsFromEnv(env: Env): DeploymentCompileOptions {
  const prefix = (env[ENV.secretsPrefix] ?? '/slipway').replace(/\/+$/, '');
  const accountId = env[ENV.accountId];
  const partition = env[ENV.partition];
  if (accountId !== undefined && !/^\d{12}$/.test(accountId)) {
    throw new Error(`config: ${ENV.accountId}=${JSON.stringify(accountId)} is not a 12-digit AWS account id`);
  }
  if (partition !== undefined && !PARTITIONS.test(partition)) {
    throw new Error(`config: ${ENV.partition}=${JSON.stringify(partition)} is not an AWS partition (aws, aws-cn, aws-us-gov)`);
  }
  if ((accountId === undefined) !== (partition === undefined)) {
    throw new Error(`config: set both ${ENV.accountId} and ${ENV.partition} (the stack sets them from its own account), or neither`);
  }
  const perArch = Object.fromEntries(
    (Object.entries(AGENT_IMAGE_ENV) as [Arch, string][]).filter(([, name]) => env[name]).map(([arch, name]) => [arch, env[name]!]),
  ) as Partial<Record<Arch, string>>;
  const anyArch = env[ENV.agentImage];
  const executionRoleArn = env[ENV.taskExecutionRoleArn];
  const taskRoleArn = env[ENV.taskRoleArn];
  const imageBuilds = imageBuildsFromEnv(env);
  const imageBuilder = env[ENV.imageBuilder];
  const ec2 = ec2CapacityFromEnv(env);
  const pullThroughCache = pullThroughCacheFromEnv(env, accountId, env[ENV.awsRegion], partition);
  const optOut = (env[ENV.pullThroughCacheOptOut] ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const forkPulls = (env[ENV.forkPullRepositories] ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return {
    ...(ec2 ? { ec2CapacityProviders: Object.fromEntries(Object.entries(ec2).map(([arch, c]) => [arch, c.capacityProvider])) } : {}),
    ...(pullThroughCache ? { pullThroughCache } : {}),
    ...(optOut.length > 0 ? { pullThroughCacheOptOut: optOut } : {}),
    ...(forkPulls.length > 0 ? { forkPullRepositories: forkPulls } : {}),
    ...(imageBuilds ? { imageBuildsByRepository: imageBuilds } : {}),
    ...(imageBuilder ? { imageBuilder } : {}),
    logGroup: env[ENV.buildLogGroup] ?? '/slipway/builds',
    region: env[ENV.awsRegion] ?? 'us-east-1',
    ...(accountId ? { accountId, partition } : {}),
    ...(Object.keys(perArch).length > 0 ? { agentImages: perArch } : {}),
    ...(anyArch ? { agentImage: anyArch } : {}),
    ...(executionRoleArn ? { executionRoleArn } : {}),
    ...(taskRoleArn ? { taskRoleArn } : {}),
    defaultCpu: numberEnv(env, ENV.defaultCpu, 1024),
    defaultMemory: numberEnv(env, ENV.defaultMemory, 2048),
    secretsPrefix: prefix,
  };
}

export interface BuildCompileInput {
  repoSlug: string;
  buildNumber: number;
  /** A pull request from a fork: no secrets. */
  fork: boolean;
  cloneCredentials?: CloneCredentials;
  imageCommands?: ImageCommands;
  /** The registries of each Docker config pull secret the planner read (see CompileOptions.pullSecretLogins). */
  pullSecretLogins?: PullSecretLoginsOf;
  /** References the planner found missing (see CompileOptions.absentSecrets). */
  absentSecrets?: ReadonlySet<string>;
  /**
   * The repository's settings, from the record the planner read for this build: EC2 capacity
   * (Repository.trusted, Repository.capacity) and its pull-through cache (Repository.pullThroughCache).
   */
  repository?: Pick<Repository, 'trusted' | 'capacity' | 'pullThroughCache'>;
  /** Cached references with a SOCI-enabled copy, as the planner found them (soci-images.ts). */
  sociImages?: ConvertedImages;
}

/**
 * The cache a build's images go through: none for a repository opted out (by the deployment's
 * list or by its own setting; a fork's pull request follows its base repository's); for a fork's pull
 * request, not through a rule that fetches with the deployment's registry token (a file its
 * author wrote must not choose what that token fetches: withoutCredentialedRules). A fork's
 * always carries the refused rules (PullThroughCache.refused), opted out or not, so that the
 * compiler refuses an image naming them directly (refusedCacheImage).
 */
export function buildPullThroughCache(
  deployment: Pick<DeploymentCompileOptions, 'pullThroughCache' | 'pullThroughCacheOptOut'>,
  build: Pick<BuildCompileInput, 'repoSlug' | 'fork' | 'repository'>,
): PullThroughCache | undefined {
  const { pullThroughCache, pullThroughCacheOptOut } = deployment;
  if (!pullThroughCache) return undefined;
  const optedOut = pullThroughCacheOptOut?.includes(build.repoSlug) === true || (build.repository !== undefined && !repositoryUsesPullThroughCache(build.repository));
  if (build.fork) {
    const cache = withoutCredentialedRules(pullThroughCache);
    return optedOut ? { ...cache, prefixes: {} } : cache;
  }
  if (optedOut) return undefined;
  return Object.keys(pullThroughCache.prefixes).length > 0 ? pullThroughCache : undefined;
}

/**
 * What a fork's execution role may pull from the deployment's registry, as the stack grants it
 * (lib/build-cluster.ts grantForkPulls): the cache rules without credentials and their
 * SOCI-enabled copies, and the operator's forkPullRepositories; and the images the stack puts
 * into a fork's task itself (the agent of each architecture, the image builder), the only images
 * a fork may name in their repositories (core/pipeline/fork-pulls.ts). Undefined without the
 * account (nothing to tell apart).
 */
export function forkPullsOf(
  deployment: Pick<DeploymentCompileOptions, 'accountId' | 'region' | 'agentImages' | 'agentImage' | 'imageBuilder' | 'pullThroughCache' | 'forkPullRepositories'>,
): ForkPulls | undefined {
  const { accountId, region } = deployment;
  if (accountId === undefined) return undefined;
  const images = [...Object.values(deployment.agentImages ?? {}), deployment.agentImage, deployment.imageBuilder].filter(
    (image): image is string => image !== undefined && ecrImageOf(image) !== undefined,
  );
  const anonymous = deployment.pullThroughCache ? Object.values(withoutCredentialedRules(deployment.pullThroughCache).prefixes) : [];
  const cached = anonymous.flatMap((prefix) => [`${prefix}/*`, `${SOCI_REPOSITORY_PREFIX}/${prefix}/*`]);
  return { accountId, region, repositories: [...new Set([...cached, ...(deployment.forkPullRepositories ?? [])])], images: [...new Set(images)] };
}

/** The options of one build: the deployment's plus the build's stage ids, secrets and lookups. */
export function buildCompileOptions(deployment: DeploymentCompileOptions, build: BuildCompileInput): CompileOptions {
  const forkPulls = build.fork ? forkPullsOf(deployment) : undefined;
  const { imageBuildsByRepository, imageBuilder, ec2CapacityProviders, pullThroughCacheOptOut, pullThroughCache, forkPullRepositories: _forkPullRepositories, ...options } = deployment;
  const cache = buildPullThroughCache({ ...(pullThroughCache ? { pullThroughCache } : {}), ...(pullThroughCacheOptOut ? { pullThroughCacheOptOut } : {}) }, build);
  // A repository the stack lists builds under its own role (push rights, cache); any other
  // may push to no ECR repository (the compiler refuses plugins/ecr steps naming one). A pull
  // request from a fork never gets that role: every container of a task gets the task role
  // (RunTask takes no session policy), so its steps could push to the repository's images or
  // poison its build cache; Drone likewise gives a fork's pull request no secrets to push with.
  const own = build.fork ? undefined : imageBuildsByRepository?.[build.repoSlug];
  return {
    ...options,
    ...(cache ? { pullThroughCache: build.sociImages && build.sociImages.size > 0 ? { ...cache, converted: build.sociImages } : cache } : {}),
    ...(own ? { taskRoleArn: own.taskRoleArn } : {}),
    imageBuilds: {
      pushRepositories: own?.pushRepositories ?? [],
      ...(own ? { cacheRepository: own.cacheRepository } : {}),
      ...(options.accountId ? { ecrAccount: options.accountId } : {}),
      ...(imageBuilder ? { builderImage: imageBuilder } : {}),
    },
    withSecrets: !build.fork,
    ...(forkPulls ? { forkPulls } : {}),
    ...(ec2CapacityProviders
      ? {
          ec2: {
            capacityProviders: ec2CapacityProviders,
            trusted: build.repository?.trusted === true,
            ...(build.repository?.capacity ? { defaultCapacity: build.repository.capacity } : {}),
          },
        }
      : {}),
    ...(build.imageCommands ? { imageCommands: build.imageCommands } : {}),
    ...(build.pullSecretLogins ? { pullSecretLogins: build.pullSecretLogins } : {}),
    ...(build.cloneCredentials ? { cloneCredentials: build.cloneCredentials } : {}),
    ...(build.absentSecrets && build.absentSecrets.size > 0 ? { absentSecrets: build.absentSecrets } : {}),
    stageId: (_pipeline, stageNumber) => stageKey(makeBuildId(build.repoSlug, build.buildNumber), stageNumber),
  };
}

/** ENV.imageBuilds: `{"owner/name": {taskRoleArn, pushRepositories, cacheRepository}}`. */
function imageBuildsFromEnv(env: Env): Record<string, RepositoryImageBuilds> | undefined {
  const value = jsonEnv(env, ENV.imageBuilds, 'expected {"owner/name": {"taskRoleArn": …, "pushRepositories": […], "cacheRepository": …}}');
  if (value === undefined) return undefined;
  const fail = (why: string): never => {
    throw new Error(`config: ${ENV.imageBuilds}: ${why}; expected {"owner/name": {"taskRoleArn": …, "pushRepositories": […], "cacheRepository": …}}`);
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('not an object');
  const out: Record<string, RepositoryImageBuilds> = {};
  for (const [slug, entry] of Object.entries(value as Record<string, unknown>)) {
    const e = entry as Partial<RepositoryImageBuilds> | null;
    if (!e || typeof e.taskRoleArn !== 'string' || typeof e.cacheRepository !== 'string' || !Array.isArray(e.pushRepositories) || !e.pushRepositories.every((r) => typeof r === 'string')) {
      fail(`the entry of ${slug} is incomplete`);
    }
    out[slug] = { taskRoleArn: e!.taskRoleArn!, pushRepositories: [...e!.pushRepositories!], cacheRepository: e!.cacheRepository! };
  }
  return out;
}

/**
 * The cache rules the stack created (ENV.pullThroughCache) on this account's registry. They
 * need the account and Region: without ACCOUNT_ID the images are left as written.
 */
function pullThroughCacheFromEnv(env: Env, accountId: string | undefined, region: string | undefined, partition: string | undefined): PullThroughCache | undefined {
  const prefixes = jsonEnv(env, ENV.pullThroughCache, 'expected registry domains mapped to ECR repository prefixes, e.g. {"docker.io": "docker-hub"}');
  if (prefixes === undefined) return undefined;
  if (typeof prefixes !== 'object' || prefixes === null || Array.isArray(prefixes) || !Object.values(prefixes).every((p) => typeof p === 'string' && /^[a-z0-9][a-z0-9._/-]*$/.test(p))) {
    throw new Error(`config: ${ENV.pullThroughCache} must map registry domains to ECR repository prefixes, e.g. {"docker.io": "docker-hub"}`);
  }
  if (accountId === undefined || region === undefined) return undefined;
  return { registry: ecrRegistry(accountId, region, partition), prefixes: prefixes as Record<string, string> };
}
