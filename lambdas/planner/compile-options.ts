// The compiler's options as the planner builds them: the deployment's part from the
// environment (the stack sets it, local mode sets it), then the part that belongs to one
// build. The golden tests build theirs with these same two functions, so that what they
// check is what production compiles.

import { buildId as makeBuildId, stageKey } from '../../core/builds/types.js';
import type { CompileOptions } from '../../core/pipeline/compile.js';
import type { ImageCommands } from '../../core/pipeline/plugin-command.js';
import type { Arch } from '../../core/pipeline/types.js';
import { numberEnv, type Env } from '../shared/config.js';
import type { CloneCredentials } from '../../core/pipeline/compile.js';

/** What is the same for every build of the deployment. */
export type DeploymentCompileOptions = Omit<CompileOptions, 'stageId' | 'withSecrets' | 'cloneCredentials' | 'imageCommands' | 'absentSecrets'>;

/** The environment names, defined once (lib/functions.ts sets them). */
export const COMPILE_ENV = {
  /** The agent image of each architecture (single-platform images). */
  agentImage: { amd64: 'AGENT_IMAGE_AMD64', arm64: 'AGENT_IMAGE_ARM64' } satisfies Record<Arch, string>,
  /** One multi-arch agent image (a manifest list) for every architecture, instead of the two above. */
  agentImageAnyArch: 'AGENT_IMAGE',
  accountId: 'ACCOUNT_ID',
  partition: 'PARTITION',
} as const;

const PARTITIONS = /^aws(-[a-z]+)*$/;

/**
 * The deployment's options. ACCOUNT_ID and PARTITION make every secret reference a full ARN
 * (a `kind: secret` document cannot be read without them); the stack sets both from its own
 * environment, so no partition is assumed.
 */
export function compileOptionsFromEnv(env: Env): DeploymentCompileOptions {
  const prefix = (env.SECRETS_PREFIX ?? '/slipway').replace(/\/+$/, '');
  const accountId = env[COMPILE_ENV.accountId];
  const partition = env[COMPILE_ENV.partition];
  if (accountId !== undefined && !/^\d{12}$/.test(accountId)) {
    throw new Error(`config: ${COMPILE_ENV.accountId}=${JSON.stringify(accountId)} is not a 12-digit AWS account id`);
  }
  if (partition !== undefined && !PARTITIONS.test(partition)) {
    throw new Error(`config: ${COMPILE_ENV.partition}=${JSON.stringify(partition)} is not an AWS partition (aws, aws-cn, aws-us-gov)`);
  }
  if ((accountId === undefined) !== (partition === undefined)) {
    throw new Error(`config: set both ${COMPILE_ENV.accountId} and ${COMPILE_ENV.partition} (the stack sets them from its own account), or neither`);
  }
  const perArch = Object.fromEntries(
    (Object.entries(COMPILE_ENV.agentImage) as [Arch, string][]).filter(([, name]) => env[name]).map(([arch, name]) => [arch, env[name]!]),
  ) as Partial<Record<Arch, string>>;
  return {
    logGroup: env.BUILD_LOG_GROUP ?? '/slipway/builds',
    region: env.AWS_REGION ?? 'us-east-1',
    ...(accountId ? { accountId, partition } : {}),
    ...(Object.keys(perArch).length > 0 ? { agentImages: perArch } : {}),
    ...(env[COMPILE_ENV.agentImageAnyArch] ? { agentImage: env[COMPILE_ENV.agentImageAnyArch] } : {}),
    ...(env.TASK_EXECUTION_ROLE_ARN ? { executionRoleArn: env.TASK_EXECUTION_ROLE_ARN } : {}),
    ...(env.TASK_ROLE_ARN ? { taskRoleArn: env.TASK_ROLE_ARN } : {}),
    defaultCpu: numberEnv(env, 'DEFAULT_CPU', 1024),
    defaultMemory: numberEnv(env, 'DEFAULT_MEMORY', 2048),
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
  /** References the planner found missing (see CompileOptions.absentSecrets). */
  absentSecrets?: ReadonlySet<string>;
}

/** The options of one build: the deployment's plus the build's stage ids, secrets and lookups. */
export function buildCompileOptions(deployment: DeploymentCompileOptions, build: BuildCompileInput): CompileOptions {
  return {
    ...deployment,
    withSecrets: !build.fork,
    ...(build.imageCommands ? { imageCommands: build.imageCommands } : {}),
    ...(build.cloneCredentials ? { cloneCredentials: build.cloneCredentials } : {}),
    ...(build.absentSecrets && build.absentSecrets.size > 0 ? { absentSecrets: build.absentSecrets } : {}),
    stageId: (_pipeline, stageNumber) => stageKey(makeBuildId(build.repoSlug, build.buildNumber), stageNumber),
  };
}
