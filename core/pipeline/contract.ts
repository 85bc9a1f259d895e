// The contract between the compiler (which writes the task definition), the agent
// (task-runner, which runs inside it) and the ECS stand-in (which runs it locally).
// Names and paths here are the only ones any of them may use.

import { createHash } from 'node:crypto';
import type { CloneSettings, FailurePolicy } from './types.js';

/** The one essential container of every task. */
export const AGENT_CONTAINER = 'slipway-agent';

/** Default image of the agent; deployments override it with the CDK asset's URI. */
export const DEFAULT_AGENT_IMAGE = 'slipway/task-runner:latest';

/** Task volume holding the clone, mounted at the pipeline's workspace path. */
export const WORKSPACE_VOLUME = 'workspace';

/**
 * Task volume shared by the agent and the steps for run-time state (never the clone):
 * the steps' exit records (STEP_RECORD_DIR), which steps write.
 */
export const STATE_VOLUME = 'slipway-state';
export const STATE_DIR = '/slipway';

/**
 * Task volume of what the agent writes for the steps to run with (the env file, the
 * busybox of the masks, the ready file), mounted inside STATE_DIR: read-write in the
 * agent, read-only in every other container, so that no step can change what a later
 * step runs with (ECS MountPoint `readOnly`:
 * https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_MountPoint.html).
 * Nested read-only inside read-write, never the reverse: a runtime creates a nested
 * mount point in its parent, which fails under a read-only parent
 * (https://github.com/docker/for-linux/issues/128).
 */
export const AGENT_STATE_VOLUME = 'slipway-agent';
export const AGENT_STATE_DIR = `${STATE_DIR}/agent`;

/** Written by the agent once clone and service readiness are done; its health check tests it. */
export const READY_FILE = `${AGENT_STATE_DIR}/ready`;

/**
 * Written by the agent when the plan has image build steps: the builder's script
 * (image-build-script.ts), which those steps source. Once per task, rather than once per
 * step container in the task definition (whose 64 KiB it would soon fill).
 */
export const IMAGE_BUILD_SCRIPT_FILE = `${AGENT_STATE_DIR}/image-build.sh`;

/**
 * The agent's own exit record, as Drone's clone step has one: written once, atomically, when
 * the setup is over — `0` once the clone is done and the services are ready, else the agent's
 * exit code for what failed (AGENT_EXIT.cloneFailed, AGENT_EXIT.serviceNotReady). Steps that
 * run on a status start with the agent (ECS `START`), wait for this record, and count a
 * non-zero value as a failure of the build, so that they still run after a failed clone
 * (drone/runner-go pipeline/runtime/execer.go: a step that runs on failure runs once the
 * stage has failed, and the clone is a step of the stage like any other).
 */
export const SETUP_RECORD = `${AGENT_STATE_DIR}/setup.exit`;

/**
 * A segment of a split pipeline whose services run in the service task: the agent writes
 * that task's private IP here (AGENT_ENV.servicesHost) before it reports ready, and each
 * step's wrapper maps the services' names to it in /etc/hosts (script.ts, hostsLines).
 * A file rather than a variable: a plugin's wrapper sources no env file.
 */
export const SERVICES_HOST_FILE = `${AGENT_STATE_DIR}/services-host`;

/**
 * The port on which the agent of a service task (AgentPlan.role `services`) answers whether
 * its services are ready: one JSON line (ServicesReadiness), then it closes. The agents of
 * the segments ask it before they report ready, since they cannot see the other task's
 * health checks. A service may not listen on it (the compiler refuses one that says so).
 */
export const SERVICES_READY_PORT = 7467;

/** What the service task's agent leaves at AGENT_ENV.servicesAddressOut: its task's private IP. */
export interface ServicesAddress {
  address: string;
}

/** What the service task's agent answers on SERVICES_READY_PORT. */
export type ServicesReadiness =
  | { ready: true }
  | { ready: false; waiting: string }
  | { ready: false; failed: { message: string; service?: AgentResult['service'] } };

/** Written by the agent: `export NAME='value'` lines (DRONE_* of this run) that each step sources. */
export const ENV_FILE = `${AGENT_STATE_DIR}/env`;

/**
 * Written by the agent and rewritten as steps end: `export NAME='value'` lines of what
 * changes while the stage runs (DRONE_BUILD_STATUS, DRONE_STAGE_STATUS, DRONE_FAILED_STEPS,
 * DRONE_FAILED_STAGES, the start and finish times), plus `slipway_status_ended`: the step
 * containers whose end it accounts for. Each step's wrapper sources it after ENV_FILE; a
 * step that runs on a status first waits until it accounts for the steps it came after.
 */
export const STATUS_FILE = `${AGENT_STATE_DIR}/status`;

/** The shell variable of STATUS_FILE listing the containers it accounts for (` a b `). */
export const STATUS_ENDED_VAR = 'slipway_status_ended';

/**
 * Final records of the step containers. Each step's wrapper writes `<container>.exit` (its
 * exit code) when it ends; the agent writes it for a container that ended without one (a
 * plugin, which has no wrapper, or a wrapper killed outright), from the exit code ECS
 * reports (`unknown` when ECS gives none). Steps that run on a status wait for these
 * records (script.ts), so every step container that is over has one.
 *
 * Each step container's records live in a directory of their own, `<container>/` here,
 * which is a task volume of its own (stepRecordVolume): writable in that container (and in
 * its gate, which may mark it skipped) and in the agent, read-only in every other step
 * container, so that no step can write or change another step's result. A record is only
 * read from its own container's directory (`<c>/<c>.exit`). Nested in the state volume,
 * which stays writable (a runtime creates the mount point in its parent).
 */
export const STEP_RECORD_DIR = `${STATE_DIR}/steps`;

/** The task volume of one step container's records, mounted at `STEP_RECORD_DIR/<container>`. */
export const STEP_RECORD_VOLUME_PREFIX = 'slipway-rec-';
export function stepRecordVolume(container: string): string {
  // ECS volume names: up to 255 letters, digits, hyphens and underscores, as container names
  // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/specify-bind-mount-config.html);
  // a name too long for the prefix is hashed, so that two containers never share one.
  const name = `${STEP_RECORD_VOLUME_PREFIX}${container}`;
  return name.length <= 255 ? name : `${STEP_RECORD_VOLUME_PREFIX}${createHash('sha256').update(container).digest('hex')}`;
}

/**
 * A static busybox the agent installs (copied from its own image before the first step
 * starts) wherever a step's output is masked. A plugin step's images may have no shell at
 * all (Drone's plugins are often built FROM scratch), so its wrapper runs under this one
 * and then execs the image's own entrypoint (script.ts, pluginScript); and every mask runs
 * as awk under it, far faster than its portable shell fallback (script.ts, maskFunction).
 */
export const STATE_BUSYBOX = `${AGENT_STATE_DIR}/bin/busybox`;

/**
 * Written beside `<container>.exit` when a step's status gate (or the early-exit check)
 * decided not to run it; its content, when there is one, is the reason, for people.
 */
export const STEP_SKIPPED_SUFFIX = '.skipped';

/**
 * Written by the wrapper of a step that runs on a status once its waits and gates are over,
 * just before the step's commands run: until then the container runs but the step is
 * pending, as Drone sees it (a cancel skips it rather than kill it). Its time is the step's start.
 */
export const STEP_STARTED_SUFFIX = '.started';

/**
 * `<container>.unreachable`: written by the agent, once and atomically, when it knows a
 * step container can never start (a dependency failed or never started). Its content is
 * the reason, for people. Not a failure by itself: the failure that blocked it counts.
 */
export const STEP_UNREACHABLE_SUFFIX = '.unreachable';

/**
 * `<container>.up`: written by the wrapper of a step container that names another step's
 * container in an ECS `START` dependsOn, as its very first action: its container is up. Each
 * upstream so named (AgentStepPlan / ScriptInput.startDependents) does not exit until every
 * such dependent has written it, or has the agent's `.unreachable` (it stopped without
 * starting, so it never will), or the task stops: an ECS agent before aws/amazon-ecs-agent
 * commit 51e94bfbe (September 2023) meets START only while the upstream is RUNNING, so a
 * dependent still pulling when its upstream exits would wait for ever (script.ts, lingerLines).
 */
export const STEP_UP_SUFFIX = '.up';

/**
 * The agent's clone credentials (Drone's names; task-runner/credentials.ts reads them): the
 * machine and username are plain environment of the task definition, the password only a
 * `secrets` reference that ECS resolves at task start. The agent container alone gets them.
 */
export const NETRC_ENV = {
  machine: 'DRONE_NETRC_MACHINE',
  username: 'DRONE_NETRC_USERNAME',
  password: 'DRONE_NETRC_PASSWORD',
} as const;

/** Environment variables the agent reads. */
export const AGENT_ENV = {
  /** JSON AgentPlan: structural, lives in the task definition. */
  plan: 'SLIPWAY_PLAN',
  /** JSON BuildContext of this run: per run, passed as a RunTask override. */
  build: 'SLIPWAY_BUILD',
  /** The stage id of this run (build id + stage number), per run. */
  stageId: 'SLIPWAY_STAGE_ID',
  /** Local runs and tests: where the state volume is (default STATE_DIR); see statePaths. */
  stateDir: 'SLIPWAY_STATE_DIR',
  /** Local runs and tests: where the workspace is (default: the plan's workspace path). */
  workspaceDir: 'SLIPWAY_WORKSPACE_DIR',
  /** Tests: the pipeline timeout in seconds, replacing the plan's timeoutMinutes. */
  timeoutSeconds: 'SLIPWAY_TIMEOUT_SECONDS',
  /** Milliseconds between two polls of the task metadata endpoint (default 1000). */
  pollMs: 'SLIPWAY_POLL_MS',
  /** The static busybox the agent installs at STATE_BUSYBOX (default: the image's, see task-runner/busybox.ts). */
  busybox: 'SLIPWAY_BUSYBOX',
  /** JSON UpstreamState: what the build knew when this stage was released (RunTask override, optional). */
  upstream: 'SLIPWAY_UPSTREAM',
  /**
   * Segments of a split pipeline (AgentPlan.segment), per run, in the agent container's
   * override only: a presigned GET URL of the previous segment's workspace snapshot, and a
   * presigned PUT URL (signed with `If-None-Match: *`) for this segment's. They are
   * credentials: never logged, never given to a step.
   */
  snapshotIn: 'SLIPWAY_SNAPSHOT_IN',
  snapshotOut: 'SLIPWAY_SNAPSHOT_OUT',
  /**
   * Segments of a split pipeline with services (AgentPlan.remoteServices), per run, in the
   * agent container's override only: the private IP of the stage's service task, which the
   * control plane reads from DescribeTasks once that task is RUNNING. A first segment started
   * in the same pass as its service task gets `servicesAddressIn` instead.
   */
  servicesHost: 'SLIPWAY_SERVICES_HOST',
  /**
   * The service task of a split pipeline, per run, in the agent container's override only: a
   * presigned PUT URL (signed with `If-None-Match: *`) at which its agent leaves its task's
   * private IP as one ServicesAddress JSON line, read from the task metadata endpoint as soon as
   * it runs. A credential: never logged, never given to a step.
   */
  servicesAddressOut: 'SLIPWAY_SERVICES_ADDRESS_OUT',
  /**
   * The first segment of a split pipeline started together with its service task (whose address
   * does not exist yet): a presigned GET URL of what the service task's agent leaves at
   * `servicesAddressOut`. The segment's agent clones meanwhile, then reads it before its gate.
   */
  servicesAddressIn: 'SLIPWAY_SERVICES_ADDRESS_IN',
  /** Tests: the port of the services' readiness instead of SERVICES_READY_PORT (both agents must agree). */
  servicesReadyPort: 'SLIPWAY_SERVICES_READY_PORT',
} as const;

/**
 * What the rest of the build had done when a stage was released (its dependencies ended):
 * the stages that had failed (DRONE_FAILED_STAGES: names only, never a secret) and when the
 * build started (DRONE_BUILD_STARTED, Unix seconds). The autoscaler passes it to the agent.
 */
export interface UpstreamState {
  failedStages: string[];
  buildStarted?: number;
}

/** The state files under a state directory: READY_FILE, ENV_FILE, SETUP_RECORD, STEP_RECORD_DIR, AGENT_STATE_DIR when it is STATE_DIR. */
export function statePaths(stateDir: string = STATE_DIR): { ready: string; env: string; status: string; setup: string; steps: string; agent: string; servicesHost: string } {
  const agent = `${stateDir}${AGENT_STATE_DIR.slice(STATE_DIR.length)}`;
  return { ready: `${agent}/ready`, env: `${agent}/env`, status: `${agent}/status`, setup: `${agent}/setup.exit`, steps: `${stateDir}/steps`, agent, servicesHost: `${agent}/services-host` };
}

/** The directory of one step container's records (its own volume). */
export function stepRecordDir(stepsDir: string, container: string): string {
  return `${stepsDir}/${container}`;
}

/** The file a step's wrapper writes its exit code to (a decimal number, newline optional). */
export function stepExitFile(stepsDir: string, container: string): string {
  return `${stepRecordDir(stepsDir, container)}/${container}.exit`;
}

/**
 * The agent's progress lines (`slipway-agent: ` + message) that the control plane and the CLI
 * read while the stage runs: the clone's end shows in them before any step ends (the steps
 * that start with the task wait for the setup, and ECS's events carry no health).
 */
export const AGENT_LINE = {
  prefix: 'slipway-agent: ',
  /** The clone is done: `clone: checked out <sha>`. */
  cloned: 'clone: checked out ',
  /** The pipeline asked for no clone (`clone: disable: true`). */
  cloneDisabled: 'clone: disabled by the pipeline',
  /** Every line about the clone starts so; a clone that failed says why in a line `clone: …` + setupFailedStepsGoOn. */
  clone: 'clone: ',
  /** Ends the line of a failed setup after which steps still run: `<what failed>` + this. */
  setupFailedStepsGoOn: ': the steps that run on failure still run, the others are skipped',
  /**
   * A step started: `step <container>` + this + its start (ISO time), then ` (detached)` for a
   * detached step. For a step that waits in its wrapper, its start is when its commands started
   * (its `.started` marker), which ECS's events cannot tell from its container's.
   */
  stepStartedAt: ' started at ',
  /** A step started, its start unknown to the agent: `step <container>` + this. */
  stepStarted: ' started',
  /**
   * A step's exit record was read: `step <container>` + this + its exit code (`unknown` when ECS
   * gave none), then stepEndedAt + its end (ISO time) when the agent knows it. For a step that
   * waits in its wrapper, its end is its exit record's, its commands' end, which its container
   * may outlive (core/pipeline/script.ts, lingerLines) and AgentResult.ended says again.
   */
  stepExited: ' exited with code ',
  /** Follows stepExited's code: ` at <ISO time>`. */
  stepEndedAt: ' at ',
  /** Every line about one step starts so: `step <container> …`. */
  step: 'step ',
} as const;

/** Lines the agent prints on its log stream so the control plane can reconcile. */
export const REPORT_PREFIX = {
  step: 'SLIPWAY_STEP ',
  result: 'SLIPWAY_RESULT ',
} as const;

/**
 * Drone's early exit: a step that exits 78 passes, and every step still pending is skipped
 * (drone/runner-go pipeline/runtime/execer.go, "if the exit code is 78 the system will skip
 * all subsequent pending steps"; pipeline/state.go, finish: 0 and 78 are passing).
 */
export const EARLY_EXIT_CODE = 78;

/**
 * The clone's depth when the pipeline sets no `clone.depth`: the commit alone, which is all a
 * build needs and the least to fetch (the fetch of a branch, tag or pull request ref, then of
 * the commit by id if the ref moved on, task-runner/clone.ts). `clone: { depth: 0 }` asks for
 * the whole history (`git describe`, changelogs), as in Drone.
 */
export const DEFAULT_CLONE_DEPTH = 1;

/**
 * The exit of a step's wrapper that skipped the step before its commands (AgentStepPlan.afterSetup),
 * beside its `.skipped` marker: the setup failed (the clone, or a service not ready), or a step
 * it comes after can no longer let it run (script.ts, upstreamLines). Non-zero, so that ECS
 * starts none of its SUCCESS dependents (plugin steps keep ECS's order), and never read as a
 * user's exit, since the step's commands did not run: the agent decides such a step as one ECS
 * held back, and the control plane reads it as skipped with the agent's reason.
 */
export const SETUP_SKIPPED_EXIT_CODE = 79;

/** Agent exit codes; the task-events handler maps them to stage outcomes. */
export const AGENT_EXIT = {
  success: 0,
  stepFailed: 1,
  serviceNotReady: 2,
  timedOut: 3,
  interrupted: 4,
  cloneFailed: 5,
  internalError: 6,
} as const;
export type AgentExitCode = (typeof AGENT_EXIT)[keyof typeof AGENT_EXIT];

export interface AgentServicePlan {
  name: string;
  container: string;
  ports: number[];
  /** The container has an ECS health check (the service's `ready.command`). */
  healthCommand: boolean;
  /** Seconds before a service that is not ready fails the build. */
  timeout: number;
}

/** A condition of an ECS container dependency (`dependsOn[].condition`). */
export type ContainerDependencyCondition = 'START' | 'COMPLETE' | 'SUCCESS' | 'HEALTHY';

export interface AgentStepPlan {
  /** The container's name (the step's name made safe for ECS). */
  container: string;
  /** Step names run by this container, in order (more than one when packed). */
  steps: string[];
  detach: boolean;
  failure: FailurePolicy;
  /** Containers this one waits for. */
  dependsOn: string[];
  /**
   * The condition of each entry of `dependsOn`, by container name (START, COMPLETE, SUCCESS,
   * HEALTHY): the task definition's `dependsOn` for this container, or, for a plain step with
   * commands (afterSetup), the conditions its wrapper waits on instead, with ECS's rules
   * (script.ts, upstreamLines), plus any ECS keeps (a detached step's HEALTHY). The agent declares a step unreachable only through what ECS would do: a
   * SUCCESS dependency that exited non-zero, or any dependency that never starts (which
   * blocks COMPLETE, START and HEALTHY too). A COMPLETE dependency that exited (any code)
   * lets the step start, so the agent waits for it — e.g. a `when: status: [failure]`
   * step after a failed one. Optional: an older plan without it makes the agent infer
   * the conditions, and where it cannot tell it waits for ECS's own verdict.
   */
  dependsOnConditions?: Record<string, ContainerDependencyCondition>;
  /**
   * The gate container of a plugin step that runs only while the build is failing: it exits
   * 0 to let the step run and 1 to skip it (the step then never starts: report it skipped).
   */
  gate?: string;
  /**
   * A step that runs on a status: `failure` (`when: status: [failure]`) or `always` (on
   * success and failure). Such a step depends on the agent with START, not HEALTHY, and
   * waits for SETUP_RECORD in its wrapper (or gate), so that it runs after a failed clone
   * too; it proves nothing about the clone by running. Absent: it runs while the build passes.
   */
  whenStatus?: 'failure' | 'always';
  /**
   * A step that runs while the build passes and has a wrapper (commands): it has no ECS
   * dependency on the agent nor on the steps before it (but a detached step's HEALTHY), so it
   * starts with the task (its image pulled at once) and waits for SETUP_RECORD, then for the
   * steps in `dependsOn`, in its wrapper. After a failed setup, or once a step before it can no
   * longer let it run, it skips itself: it leaves `<container>.skipped` and exits
   * SETUP_SKIPPED_EXIT_CODE, so ECS starts none of its SUCCESS dependents (plugin steps also
   * wait for the agent's HEALTHY, which never comes after a failed setup). Absent: the step
   * waits for ECS (HEALTHY on the agent).
   */
  afterSetup?: boolean;
  /**
   * A detached step with a readiness command (an ECS health check that later steps wait for
   * with HEALTHY): seconds after its start by which it must be healthy. ECS itself would let
   * those steps wait for ever (an UNHEALTHY dependency is not final, and the compiler sets
   * no startTimeout), so the agent declares them unreachable once this has passed.
   */
  readyTimeout?: number;
}

/** What the agent needs to know about the pipeline; the same for every run of it. */
export interface AgentPlan {
  version: 1;
  pipeline: string;
  /** The working directory: the clone goes here. */
  workspace: string;
  /** Where the workspace volume is mounted (DRONE_WORKSPACE_BASE); absent in older plans: `workspace`. */
  workspaceBase?: string;
  timeoutMinutes: number;
  clone: CloneSettings;
  services: AgentServicePlan[];
  steps: AgentStepPlan[];
  /**
   * This pipeline as a stage of its build: `number` is its 1-based position in the
   * configuration file (DRONE_STAGE_NUMBER), `dependsOn` the names of the pipelines it
   * waits for (its `depends_on`, DRONE_STAGE_DEPENDS_ON). Optional: without it the agent
   * takes the number from the end of the stage id (`…/2` → 2) and leaves depends_on empty.
   */
  stage?: { number: number; dependsOn: string[] };
  /**
   * Some step's output is masked (it receives secrets) or some plugin step runs under the
   * launcher (masked or not), so the agent installs STATE_BUSYBOX before it reports ready, and
   * fails the stage when it cannot: both run under it (compile.ts).
   */
  installBusybox?: boolean;
  /** Some step builds an image: the agent writes IMAGE_BUILD_SCRIPT_FILE before it reports ready. */
  imageBuildScript?: boolean;
  /**
   * A pipeline split into consecutive tasks (core/pipeline/segments.ts): this task runs
   * segment `number` of `count`. Every segment but the first starts from the previous one's
   * workspace snapshot instead of a clone (AGENT_ENV.snapshotIn), every one but the last
   * leaves its own (AGENT_ENV.snapshotOut).
   */
  segment?: { number: number; count: number };
  /**
   * The service task of a split pipeline (docs/design/split-pipelines.md): its containers are
   * the services and the detached steps. Its agent waits for their readiness as any agent
   * does, answers on SERVICES_READY_PORT, and keeps the task up until it is stopped (after
   * the stage's last segment) or the pipeline's timeout.
   */
  role?: 'services';
  /**
   * A segment of a split pipeline whose `services` run in the service task: the agent waits
   * for them by asking that task's agent (SERVICES_READY_PORT at AGENT_ENV.servicesHost)
   * instead of probing localhost, and writes the host to SERVICES_HOST_FILE for the steps.
   */
  remoteServices?: boolean;
}

/** One line per step in the agent's report. Times are ISO-8601. */
export interface StepReport {
  name: string;
  container: string;
  status: 'success' | 'failure' | 'skipped' | 'killed';
  exitCode: number | null;
  startedAt?: string;
  finishedAt?: string;
  /** Why it did not run or was stopped, for people. */
  reason?: string;
}

export type AgentOutcome =
  | 'success'
  | 'failure'
  | 'service-not-ready'
  | 'timed-out'
  | 'interrupted'
  | 'clone-failed'
  | 'error';

export interface AgentResult {
  outcome: AgentOutcome;
  exitCode: AgentExitCode;
  message: string;
  finishedAt: string;
  /**
   * `service-not-ready` only: the service that failed the gate, as data, so the control
   * plane can mark that service's own record failed without parsing `message`. `ports`
   * are the ones that were not accepting connections (all of its ports when `check` is
   * not `port`); `check` is what failed: a port stayed closed, the health command did not
   * report HEALTHY, or the container exited before it was ready.
   */
  service?: { name: string; container: string; ports: number[]; check: 'port' | 'health' | 'exited' };
  /**
   * `clone-failed` only: the exit code of the git command that failed, when one did — what
   * Drone's clone step (a container running git) would record as the clone's exit code.
   */
  cloneExitCode?: number;
  /**
   * The step containers still running (or waiting in their wrapper) when the agent ended the
   * stage without them — after a step with `failure: fast` failed, or after a failed setup:
   * the task's stop ends them by a signal, so the control plane records them `killed`, not failed.
   * Detached steps and services are listed only after `failure: fast` (Drone's cancel kills
   * every step still running); otherwise their end with the task is their normal end.
   */
  stopped?: string[];
  /**
   * The step containers the agent reports skipped, with why: those whose containers ran but
   * whose commands did not (a status gate or the early-exit check skipped them, or a step
   * that runs on a status was still waiting when the stage ended), which ECS's exit codes
   * cannot tell from a pass or a kill, and those that never started.
   */
  skipped?: { container: string; reason: string }[];
  /**
   * When the commands of each step that runs on a status started (its `.started` marker):
   * such a container starts with the agent and waits, so ECS's times do not say it.
   */
  started?: { container: string; at: string }[];
  /**
   * When the commands of those steps ended (their wrapper's exit record): a container that
   * another names in an ECS START stays up after its commands until that one is up
   * (STEP_UP_SUFFIX), so its stop is not the step's end.
   */
  ended?: { container: string; at: string }[];
  /**
   * When the agent's own phases ended (ISO times): its start, the clone's end (or the
   * workspace's restore), the setup's end (the services ready, the setup record written).
   * Absent fields: the phase did not end. Read into the stage's timeline (core/builds/stage-timeline.ts).
   */
  setup?: AgentSetupTimes;
}

export interface AgentSetupTimes {
  startedAt: string;
  clonedAt?: string;
  readyAt?: string;
}
