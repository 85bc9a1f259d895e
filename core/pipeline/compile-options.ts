// What the compiler takes and gives: its options (the deployment's settings), a compiled
// stage, and the error that keeps a pipeline from becoming a task.

import type { PullSecretLoginsOf } from './docker-config.js';
import type { Ec2CapacityOptions } from './capacity.js';
import type { AgentPlan } from './contract.js';
import type { RunTaskInput, TaskDefinitionInput } from './ecs-task.js';
import type { ForkPulls } from './fork-pulls.js';
import type { ImageBuildOptions } from './image-build.js';
import type { ImageCommands } from './plugin-command.js';
import type { PullThroughCache } from './pull-through-cache.js';
import type { Arch, Diagnostic, Pipeline, SecretDocument } from './types.js';

export interface CompileOptions {
  /** Image of the agent (task-runner) for every architecture: a multi-arch image (manifest list). */
  agentImage?: string;
  /**
   * The agent image of each architecture (single-platform images, one per Fargate
   * runtimePlatform). When given it wins over `agentImage`, and a pipeline whose `platform.arch`
   * has none here is refused: ECS would stop its task with CannotPullContainerError.
   */
  agentImages?: Partial<Record<Arch, string>>;
  /** CloudWatch Logs group of every container. */
  logGroup: string;
  region: string;
  /**
   * Makes SSM secret references full ARNs (without it they are parameter names, same region);
   * Secrets Manager references (`kind: secret` documents) always need it.
   */
  accountId?: string;
  /** The account's partition (`aws`, `aws-cn`, `aws-us-gov`): every ARN the compiler writes is in it. Needed with `accountId`. */
  partition?: string;
  /**
   * Secret references (`valueFrom`, as the compiler writes them) that the planner found do not
   * exist. ECS fetches every secret of the task before any container starts, so one missing
   * reference would stop the whole task (ResourceInitializationError); these are left out
   * instead, the variable stays unset (Drone gives an empty value), and the stage notes say so.
   */
  absentSecrets?: ReadonlySet<string>;
  executionRoleArn?: string;
  /** Role the build's containers get; none (no AWS credentials) unless the repository is allowed one. */
  taskRoleArn?: string;
  /** Task size when the pipeline asks for nothing bigger (CPU units, MiB). */
  defaultCpu?: number;
  defaultMemory?: number;
  /** The stage id (build id + stage number): RunTask's clientToken. Defaults to repo/build/stage. */
  stageId?: (pipeline: Pipeline, stageNumber: number) => string;
  /** False for pull requests from forks: steps then get no `secrets`. Defaults to "not a fork". */
  withSecrets?: boolean;
  /** Where repository secrets live: `PREFIX/OWNER/NAME/SECRET`; default `/slipway`. */
  secretsPrefix?: string;
  /**
   * SSM parameter path of a repository secret; default `SECRETS_PREFIX/OWNER/NAME/SECRET`.
   * `secretPath(slug, '')` is the repository's own prefix: a `kind: secret` document may
   * only name a secret under it.
   */
  secretPath?: (repoSlug: string, secret: string) => string;
  cluster?: string;
  network?: { subnets: string[]; securityGroups: string[]; assignPublicIp?: boolean };
  /** Run on Fargate Spot (capacity provider strategy) instead of the FARGATE launch type. */
  spot?: boolean;
  /**
   * How the agent authenticates its clone (private repositories). The same for every run of
   * the repository, so it is part of the task definition: the machine and username as plain
   * environment, the password only as a `secrets` reference that ECS resolves at task start.
   * The agent alone gets it, forks included (it is the system's token, not a repository
   * secret); steps never do.
   */
  cloneCredentials?: CloneCredentials;
  /**
   * What plugin images run (their ENTRYPOINT and CMD), read from their registries by the
   * planner (plugin-command.ts, imageCommandQueries). A plugin step that receives secrets
   * runs under a masking wrapper that needs it; without an answer for its image (no lookup,
   * as in `slipway compile`) the step runs unmasked and the stage says so in its notes.
   */
  imageCommands?: ImageCommands;
  /**
   * The registry hosts each Docker config pull secret has a login for, as the planner read it
   * (docker-config.ts); the containers of those registries pull with its derived secret.
   * Absent (`slipway compile`, lint): such a pull secret is not applied, and the stage says so.
   */
  pullSecretLogins?: PullSecretLoginsOf;
  /** Image build steps (plugins/docker and its siblings, image-build.ts): the builder, push rights, cache. */
  imageBuilds?: ImageBuildOptions;
  /**
   * The deployment's ECR pull-through cache rules: service and step images of the registries
   * they cover are pulled through them (pull-through-cache.ts). Absent: images as written.
   */
  pullThroughCache?: PullThroughCache;
  /**
   * For a pull request from a fork: the repositories of the deployment's registry its execution
   * role may pull (fork-pulls.ts); an image of that registry outside them is the pipeline's error.
   * Absent: no such check (a trusted build, or a deployment whose account is not known).
   */
  forkPulls?: ForkPulls;
  /**
   * Compile a pipeline over ECS's 10 containers into consecutive tasks (core/pipeline/segments.ts,
   * CompiledStage.segments) instead of refusing it. Off until the control plane runs segments.
   */
  splitPipelines?: boolean;
  /**
   * The deployment's EC2 capacity and the repository's right to it (capacity.ts). Absent:
   * Fargate only, and what needs a Docker daemon stays a lint error.
   */
  ec2?: Ec2CapacityOptions;
}

/** Drone's DRONE_NETRC_* for the agent; `passwordFrom` is an ECS `valueFrom` (SSM parameter or Secrets Manager ARN[:key::]). */
export interface CloneCredentials {
  machine: string;
  username: string;
  passwordFrom: string;
}

export interface CompiledStage {
  name: string;
  dependsOn: string[];
  taskDefinition: TaskDefinitionInput;
  runTask: RunTaskInput;
  skippedSteps: { name: string; reason: string }[];
  plan: AgentPlan;
  /** Things a user should know that do not stop the stage (secrets withheld, packing). */
  notes: string[];
  /**
   * A pipeline split into consecutive tasks (CompileOptions.splitPipelines): every segment,
   * the first being the stage's own taskDefinition, runTask and plan above.
   */
  segments?: CompiledSegment[];
  /**
   * A split pipeline with services or detached steps: the task that runs them for the stage's
   * whole life (its agent in service mode, AgentPlan.role), started with the first segment.
   */
  serviceTask?: CompiledServiceTask;
}

/** The service task of a split pipeline. */
export interface CompiledServiceTask {
  taskDefinition: TaskDefinitionInput;
  runTask: RunTaskInput;
  plan: AgentPlan;
}

/** One task of a split pipeline: its own task definition (family), run and agent plan. */
export interface CompiledSegment {
  number: number;
  /** The steps it runs, in order. */
  steps: string[];
  taskDefinition: TaskDefinitionInput;
  runTask: RunTaskInput;
  plan: AgentPlan;
  /** What the segments after it hold: whether the next runs after a failure, or after an early exit (78). */
  later: { runOnFailure: boolean; runAlways: boolean };
}

/**
 * A pipeline of the build that cannot run: its own errors (from lint, or from compiling it).
 * It becomes a stage in status `error`; the others run.
 */
export interface ErroredStage {
  name: string;
  /** Its stage number: 1-based position in the file, as for compiled stages. */
  number: number;
  /** The running pipelines it waits for, as for compiled stages. */
  dependsOn: string[];
  diagnostics: Diagnostic[];
}

export interface CompileResult {
  stages: CompiledStage[];
  skipped: { name: string; reason: string }[];
  errors: ErroredStage[];
}

/** Prefix of every compiler message. */
export const COMPILE_PREFIX = 'compile: ';

/** What keeps a pipeline from becoming a task; `diagnostics` point into the file. */
export class CompileError extends Error {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`).join('\n'));
    this.name = 'CompileError';
    this.diagnostics = diagnostics;
  }
}

export interface PipelineSource {
  file?: string;
  secrets?: SecretDocument[];
  /** 1-based position of the pipeline in its file (DRONE_STAGE_NUMBER). */
  stageNumber?: number;
}
