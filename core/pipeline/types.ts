// The pipeline as written in `.drone.yml`, after parsing and defaulting.
// One definition shared by the linter, the conditions, the compiler, the planner,
// the agent, the CLI and the dashboard.

/** Where a node sits in its file (1-based), kept for every diagnostic. */
export interface Position {
  line: number;
  column: number;
}

export type Severity = 'error' | 'warning';

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

export type FailurePolicy = 'always' | 'ignore';
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
  platform: { os: 'linux'; arch: Arch };
  workspace: { path: string };
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

/** A pipeline of another type, left to other runners as Drone would. */
export interface SkippedPipeline {
  name: string;
  reason: string;
}

/** Everything one `.drone.yml` yields. */
export interface Manifest {
  file: string;
  pipelines: Pipeline[];
  secrets: SecretDocument[];
  skipped: SkippedPipeline[];
  diagnostics: Diagnostic[];
}

export const DEFAULT_WORKSPACE = '/drone/src';
export const DEFAULT_TIMEOUT_MINUTES = 60;
