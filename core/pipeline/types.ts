// The pipeline as written in `.drone.yml`, after parsing and defaulting.
// One definition shared by the linter, the conditions, the compiler, the planner,
// the agent, the CLI and the dashboard.

/** Where a node sits in its file (1-based), kept for every diagnostic. */
export interface Position {
  line: number;
  column: number;
}

/** `note`: what a user should know that is neither wrong nor risky (how a pipeline will run). */
export type Severity = 'error' | 'warning' | 'note';

/** One finding about a file; printed as `FILE:LINE:COLUMN: message`. */
export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  severity: Severity;
  message: string;
}

/** One include/exclude filter of a `when:` or `trigger:` block (glob patterns). */
export interface Condition {
  include: string[];
  exclude: string[];
}

/** Every field Drone filters on; an empty Condition matches everything. */
export interface Conditions {
  action: Condition;
  branch: Condition;
  cron: Condition;
  event: Condition;
  instance: Condition;
  paths: Condition;
  ref: Condition;
  repo: Condition;
  status: Condition;
  target: Condition;
}

export type ConditionField = keyof Conditions;

/** An environment value: a literal, or the name of a secret resolved at run time. */
export type EnvValue = { value: string } | { fromSecret: string };

/** A plugin setting: any YAML value (strings, numbers, lists, maps) or a secret. */
export type SettingValue = { value: unknown } | { fromSecret: string };

export interface VolumeMount {
  name: string;
  path: string;
}

/** Pipeline-level volume. Only temporary volumes exist on Fargate. */
export interface Volume {
  name: string;
  temp: boolean;
  /**
   * `host: { path }`: a path of the machine the task runs on. Fargate has none; on EC2
   * capacity only the Docker socket is given (core/pipeline/capacity.ts).
   */
  hostPath?: string;
  pos: Position;
}

/**
 * Slipway's readiness extension for services (and detached steps):
 * `ready: { ports: [5432], command: "pg_isready -U postgres", timeout: 60 }`.
 * `ports` defaults from the image for well-known images (postgres → 5432, …).
 */
export interface Readiness {
  ports: number[];
  /** Run inside the service's own container (an ECS health check). */
  command?: string;
  /** Seconds until a service that is not ready fails the build. */
  timeout: number;
  /** Seconds between health-command runs. */
  interval: number;
}

/**
 * `fail-fast` is Drone's `failure: fast` (also `fast-fail`, `fail-fast`): a failure of the
 * step cancels the rest of the pipeline (runner-go pipeline/runtime/execer.go).
 */
export type FailurePolicy = 'always' | 'ignore' | 'fail-fast';
export type PullPolicy = 'always' | 'never' | 'if-not-exists' | 'default';

/** A step or a service: Drone uses the same shape for both. */
export interface Step {
  name: string;
  pos: Position;
  image: string;
  pull: PullPolicy;
  commands: string[];
  entrypoint?: string[];
  command?: string[];
  environment: Record<string, EnvValue>;
  settings: Record<string, SettingValue>;
  dependsOn: string[];
  detach: boolean;
  failure: FailurePolicy;
  when: Conditions;
  volumes: VolumeMount[];
  privileged: boolean;
  user?: string;
  workingDir?: string;
  shell?: string;
  /** Services and detached steps only: how readiness is decided. */
  ready?: Readiness;
  /** Fargate resources for this container (CPU units, MiB). */
  resources?: { cpu?: number; memory?: number };
}

export interface CloneSettings {
  disable: boolean;
  depth?: number;
  tags: boolean;
  skipVerify: boolean;
  submodules: boolean;
  retries: number;
}

export type Arch = 'amd64' | 'arm64';

export interface Pipeline {
  kind: 'pipeline';
  type: 'docker';
  name: string;
  pos: Position;
  /** Where its `steps:` key is (its own position without one): what a finding about all of its steps points at. */
  stepsPos?: Position;
  platform: { os: 'linux'; arch: Arch };
  /**
   * Drone's workspace (drone-runner-docker engine/compiler/workspace.go): the shared volume
   * is mounted at `base`; `path` is the working directory, `base` joined with the relative
   * path of the file (an absolute `path` alone is both).
   */
  workspace: { base: string; path: string };
  clone: CloneSettings;
  steps: Step[];
  services: Step[];
  volumes: Volume[];
  trigger: Conditions;
  dependsOn: string[];
  concurrency?: { limit: number };
  node: Record<string, string>;
  imagePullSecrets: string[];
  environment: Record<string, EnvValue>;
  /**
   * Task-level Fargate size requested by the pipeline (CPU units, MiB) and its ephemeral
   * storage (GiB; Fargate's default of 20 GiB without it).
   */
  resources?: { cpu?: number; memory?: number; storage?: number };
  /** Minutes before the agent stops the task. */
  timeout: number;
}

/** A `kind: secret` document: where a named secret's value comes from. */
export interface SecretDocument {
  name: string;
  pos: Position;
  /** `get: { path, name }` — an external secret reference. */
  get?: { path: string; name?: string };
  /** `data:` — an encrypted inline value (not supported: linted as an error). */
  data?: string;
}

/** A pipeline of another type or platform, left to other runners as Drone would. */
export interface SkippedPipeline {
  name: string;
  reason: string;
  /** Its `depends_on`: what its dependents wait for in its place (pipeline-graph.ts). */
  dependsOn: string[];
  /**
   * A docker pipeline for a platform Slipway cannot serve (32-bit `arm`, Windows): a pipeline a
   * user expects to see in the build, skipped with its reason (core/builds/new-build.ts). Absent
   * for a pipeline of another runner type, which is left to that runner as Drone leaves it.
   */
  platform?: true;
}

/**
 * A docker pipeline that cannot run because of an error of its own: it becomes a stage in
 * status `error` with these diagnostics, and the other pipelines of the file still run.
 */
export interface PipelineError {
  /** Its index in `Manifest.pipelines` (names may repeat: a duplicate name is one of the errors). */
  index: number;
  name: string;
  /** Its error diagnostics, in file order; never empty. */
  diagnostics: Diagnostic[];
  /**
   * Its `trigger:` was read without error: it still decides whether the pipeline belongs to
   * a build (a tag-only pipeline with an error does not fail every push). When false, the
   * pipeline is part of every build, so that its error is seen.
   */
  triggerSound: boolean;
}

/** Everything one `.drone.yml` yields. */
export interface Manifest {
  file: string;
  /** Every docker pipeline, in file order (its stage number is its position + 1), errored ones included. */
  pipelines: Pipeline[];
  secrets: SecretDocument[];
  skipped: SkippedPipeline[];
  /** The pipelines of `pipelines` that have errors of their own. */
  errors: PipelineError[];
  /**
   * Every finding, for `slipway lint`. The errors not in `errors` are the file's own (YAML
   * syntax, a document that is no pipeline, a bad secret document): they fail the whole file.
   */
  diagnostics: Diagnostic[];
}

export const DEFAULT_WORKSPACE = '/drone/src';
export const DEFAULT_TIMEOUT_MINUTES = 60;
