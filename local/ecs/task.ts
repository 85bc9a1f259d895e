// One local task: starts its containers as host processes in its sandbox, honouring the
// task definition's semantics (essential, dependsOn, healthCheck, startTimeout,
// stopTimeout), and reports every change (version + 1) to its host.
import type { ContainerDefinition, ContainerOverride, KeyValuePair, TaskOverride } from '@aws-sdk/client-ecs';
import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomUUID, randomInt } from 'node:crypto';
import { AGENT_CODE_DIR, resolveImage, postgresBinDir, type CatalogueOptions } from '../images.js';
import { findBinary } from '../require-binary.js';
import { isListening } from '../ports.js';
import type { TaskDefinitionRecord } from './registry.js';
import type { LogStore } from './logs.js';
import { createSandbox, type SandboxMount, type TaskSandbox } from './sandbox.js';
import { CONTAINER_DATA_DIR, mountsUnder } from './rootfs.js';
import { CANNOT_START, type ContainerState } from './container.js';
import { resolveContainerUser } from './container-user.js';
import { SecretNotFoundError } from './errors.js';
import { healthSettings, killGroup, runProbe, signalNumber } from './health.js';
import { relayHostPorts, type HostRelays } from './host-relay.js';
import { writePushGrant, type RegistryPushGrant } from '../push-grant.js';

export type TaskStatus = 'PROVISIONING' | 'PENDING' | 'RUNNING' | 'STOPPING' | 'DEPROVISIONING' | 'STOPPED';

export interface MetadataAttachment {
  /** `http://<host>/v4`: a container's URI is this plus `/<runtimeId>`. */
  baseUrl: string;
  close(): Promise<void>;
}

export interface TaskHost {
  region: string;
  namespaces: boolean;
  /** Parent of every task's private directory. */
  workDir: string;
  /** Host paths no container sees (namespace mode): see LocalEcsOptions.hiddenPaths. */
  hiddenPaths: string[];
  /** Host directories every container sees read-only (namespace mode): see LocalEcsOptions.sharedPaths. */
  sharedPaths: string[];
  /** Loopback ports relayed to each namespaced task's host-side address: see LocalEcsOptions.hostPorts. */
  hostPorts?: readonly number[];
  /** A task role's push rights to the local registry: see LocalEcsOptions.pushGrant. */
  pushGrant?: (taskRoleArn: string) => RegistryPushGrant | undefined;
  logs: LogStore;
  catalogue: CatalogueOptions;
  resolveSecret?: (valueFrom: string) => Promise<string>;
  /**
   * The architecture of the single-platform images the stand-in knows (e.g. the agent images
   * it is told about): a task whose runtimePlatform differs cannot pull them.
   */
  imagePlatforms?: Readonly<Record<string, 'amd64' | 'arm64'>>;
  /** The USER of an image's configuration, when the stand-in is told it: see LocalEcsOptions.imageUser. */
  imageUser?: (image: string) => string | undefined;
  /** How long the pull of an image takes here (ms); none when absent. See LocalEcsOptions.pullMs. */
  pullMs?: (image: string) => number;
  /**
   * When a `START` dependency holds. 'while-running' (the default): only while the dependency
   * is RUNNING, when the dependent's pull begins and again when it is to start; one whose
   * dependency stopped first waits for ever, neither started nor stopped, as an ECS agent before
   * aws/amazon-ecs-agent commit 51e94bfbe ("START dependency: return true if 'dependsOn'
   * container's known status is STOPPED", September 2023) leaves it:
   * agent/engine/dependencygraph/graph.go, containerOrderingDependenciesIsResolved, met START
   * only by `dependsOnContainer.IsKnownSteadyState()` whether the dependent desired CREATED or
   * RUNNING, and a stopped dependency is no terminal error there. 'ever-started': once the
   * dependency has started, whatever it did next, as that commit made it.
   */
  startCondition?: StartCondition;
  attachMetadata(task: LocalTask): Promise<MetadataAttachment>;
  onChange(task: LocalTask): void;
  /** Upper bound on stop timeouts (used when the whole stand-in shuts down). */
  maxStopTimeoutMs?: () => number | undefined;
}

export interface RunTaskParams {
  definition: TaskDefinitionRecord;
  clusterArn: string;
  startedBy?: string;
  group?: string;
  overrides?: TaskOverride;
  cpu: string;
  memory: string;
  /** FARGATE or FARGATE_SPOT when RunTask named a capacity provider strategy. */
  capacityProviderName?: string;
}

/** See TaskHost.startCondition. */
export type StartCondition = 'while-running' | 'ever-started';

/** Exit code ECS reports for a container stopped unstarted by a dependency (what SIGTERM gives). */
const DEPENDENCY_EXIT_CODE = 143;

// What ECS gives every container besides its definition's environment.
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class LocalTask {
  readonly id: string;
  readonly arn: string;
  readonly containers: ContainerState[];
  lastStatus: TaskStatus = 'PROVISIONING';
  desiredStatus: 'RUNNING' | 'STOPPED' = 'RUNNING';
  version = 0;
  readonly createdAt = new Date();
  startedAt?: Date;
  stoppingAt?: Date;
  stoppedAt?: Date;
  stopCode?: string;
  stoppedReason?: string;
  sandbox?: TaskSandbox;
  metadataBaseUrl?: string;
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly taskDir: string;
  private volumeDirs = new Map<string, string>();
  private metadata?: MetadataAttachment;
  private relays?: HostRelays;
  private scheduleTimer?: NodeJS.Timeout;
  private finishing = false;
  private provisioning?: Promise<void>;

  constructor(
    readonly host: TaskHost,
    readonly params: RunTaskParams,
  ) {
    this.id = randomUUID().replace(/-/g, '');
    this.arn = `${params.clusterArn.replace(':cluster/', ':task/')}/${this.id}`;
    this.taskDir = join(host.workDir, 'tasks', this.id);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    const overrides = new Map((params.overrides?.containerOverrides ?? []).map((o) => [o.name, o]));
    this.containers = (params.definition.input.containerDefinitions ?? []).map((def, index) =>
      this.initialState(def as ContainerState['def'], overrides.get(def.name), index),
    );
  }

  get clusterArn(): string {
    return this.params.clusterArn;
  }

  get stopRequested(): boolean {
    return this.desiredStatus === 'STOPPED';
  }

  get definition(): TaskDefinitionRecord {
    return this.params.definition;
  }

  private initialState(def: ContainerState['def'], override: ContainerOverride | undefined, index: number): ContainerState {
    // Overrides: command replaces, environment merges by name (ECS semantics).
    const environment: Record<string, string> = {};
    for (const kv of [...(def.environment ?? []), ...(override?.environment ?? [])] as KeyValuePair[]) {
      if (kv.name !== undefined) environment[kv.name] = kv.value ?? '';
    }
    const effective = { ...def, command: override?.command ?? def.command };
    return {
      def: effective,
      essential: def.essential !== false,
      containerArn: `${this.params.clusterArn.replace(':cluster/', ':container/')}/${this.id}/${randomUUID()}`,
      runtimeId: `${this.id}-${String(randomInt(1e9)).padStart(9, '0')}${index}`,
      lastStatus: 'PENDING',
      launching: false,
      everStarted: false,
      health: 'UNKNOWN',
      createdAt: new Date(),
      dataDir: join(this.taskDir, 'containers', def.name),
      environment,
    };
  }

  /** Provisions the sandbox, then lets the scheduler start containers. Never throws. */
  async start(): Promise<void> {
    this.changed();
    this.provisioning = this.provision();
    try {
      await this.provisioning;
    } catch (error) {
      this.beginStop('TaskFailedToStart', error instanceof TaskStartError ? error.reason : `ResourceInitializationError: ${(error as Error).message}`);
      return;
    }
    if (this.desiredStatus === 'STOPPED') {
      this.maybeFinish();
      return;
    }
    this.lastStatus = 'PENDING';
    this.changed();
    this.schedule();
  }

  private async provision(): Promise<void> {
    // As Fargate: images are pulled and every secret of every container is fetched with the
    // execution role before any container starts; one failure stops the whole task.
    this.checkImagePlatforms();
    this.checkDockerDaemon();
    await this.fetchSecrets();
    mkdirSync(this.taskDir, { recursive: true });
    // Database servers run as their own users: they must be able to reach their data dirs.
    for (let dir = this.taskDir; dir.startsWith(this.host.workDir) && dir !== dirname(this.host.workDir); dir = dirname(dir)) chmodSync(dir, 0o755);
    for (const volume of this.definition.input.volumes ?? []) {
      // ECS bind-mount task volumes: an empty directory, mode 0755, owned by root.
      const dir = join(this.taskDir, 'volumes', volume.name!);
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      this.volumeDirs.set(volume.name!, dir);
    }
    for (const c of this.containers) mkdirSync(c.dataDir, { recursive: true, mode: 0o755 });
    const targets = [...new Set(this.containers.flatMap((c) => this.mountsOf(c).map((m) => m.target)))];
    this.sandbox = await createSandbox({
      namespaces: this.host.namespaces,
      taskDir: this.taskDir,
      mountTargets: targets,
      hiddenPaths: this.host.hiddenPaths,
      sharedPaths: this.host.sharedPaths,
    });
    this.metadata = await this.host.attachMetadata(this);
    this.metadataBaseUrl = this.metadata.baseUrl;
    if (this.sandbox.mode === 'namespace' && this.host.hostPorts?.length) this.relays = await relayHostPorts(this.sandbox.hostAddress, this.host.hostPorts);
  }

  /** The task's role: the override's, else the definition's (RunTask's TaskOverride.taskRoleArn). */
  get taskRoleArn(): string | undefined {
    return this.params.overrides?.taskRoleArn ?? this.definition.input.taskRoleArn;
  }

  /**
   * An image of another architecture than the task's runtimePlatform cannot be pulled: an
   * essential container's stops the task, another's stops that container (and, through
   * dependsOn, what waits for it). Fargate's words, as an ECS service event recorded them:
   * "CannotPullContainerError: pull image manifest has been retried 7 time(s): image Manifest
   * does not contain descriptor matching platform 'linux/amd64'"
   * (https://github.com/aviswerdlow/relay/issues/71; also aws/containers-roadmap#1120).
   * Only images the stand-in was told the platform of are checked.
   */
  private checkImagePlatforms(): void {
    const wanted = this.definition.input.runtimePlatform?.cpuArchitecture === 'ARM64' ? 'arm64' : 'amd64';
    for (const c of this.containers) {
      const has = this.host.imagePlatforms?.[c.def.image];
      if (has === undefined || has === wanted) continue;
      const reason = `${CANNOT_PULL}: pull image manifest has been retried 5 time(s): image Manifest does not contain descriptor matching platform 'linux/${wanted}' (image ${c.def.image} is linux/${has})`;
      c.reason = reason;
      if (c.essential) throw new TaskStartError(reason);
      c.launching = true;
      c.lastStatus = 'STOPPED';
      c.finishedAt = new Date();
    }
  }

  /**
   * A task in its EC2 form (core/pipeline/ec2-task.ts) runs here like a Fargate one, each in its
   * own network namespace as it would have its own instance, except what needs the instance's
   * Docker daemon: a privileged container or a host volume (the Docker socket). Local mode has
   * no daemon to give, so such a task does not start, and says why.
   */
  private checkDockerDaemon(): void {
    const privileged = this.containers.filter((c) => c.def.privileged === true).map((c) => `container '${c.def.name}' is privileged`);
    const sockets = (this.definition.input.volumes ?? []).filter((v) => v.host?.sourcePath).map((v) => `volume '${v.name}' is the host's ${v.host!.sourcePath}`);
    const needs = [...privileged, ...sockets];
    if (needs.length === 0) return;
    throw new TaskStartError(
      `local mode has no Docker daemon to give this task (${needs.join('; ')}): a pipeline that needs one (privileged, docker.sock, dind) runs only on a deployment's EC2 capacity for a trusted repository (README, "EC2 capacity")`,
    );
  }

  /**
   * Every `secrets[].valueFrom` and `repositoryCredentials` of the task, fetched at once as
   * the ECS agent does before any container starts. A missing one stops the task with ECS's
   * stop code and reason: SSM's "invalid parameters: NAME,…" (aws/amazon-ecs-agent
   * agent/ssm/ssm.go, extractSSMValues), Secrets Manager's ResourceNotFoundException, behind
   * "ResourceInitializationError: unable to pull secrets or registry auth: execution resource
   * retrieval failed" (stopped reasons quoted in aws/copilot-cli#2095, Releem/releem-agent#195).
   */
  private async fetchSecrets(): Promise<void> {
    const wanted = this.containers.flatMap((c) => [
      ...(c.def.secrets ?? []).map((s) => ({ c, env: s.name!, valueFrom: s.valueFrom! })),
      ...(c.def.repositoryCredentials?.credentialsParameter ? [{ c, env: undefined, valueFrom: c.def.repositoryCredentials.credentialsParameter }] : []),
    ]);
    if (wanted.length === 0) return;
    const resolve = this.host.resolveSecret;
    if (!resolve) {
      throw new TaskStartError(`${RESOURCE_INIT}: the local ECS stand-in was started without resolveSecret, so it cannot fetch ${wanted.map((w) => w.valueFrom).join(', ')}`);
    }
    const results = await Promise.all(wanted.map(async (w) => ({ w, result: await resolve(w.valueFrom).then((value) => ({ value }), (error: unknown) => ({ error })) })));
    const missing = results.flatMap(({ result }) => ('error' in result && result.error instanceof SecretNotFoundError ? [result.error] : []));
    const ssm = [...new Set(missing.filter((e) => e.source === 'ssm').map((e) => e.reference))];
    const hints = [...new Set(missing.map((e) => e.hint).filter(Boolean))];
    const local = hints.length > 0 ? ` [local: ${hints.join('; ')}]` : '';
    if (ssm.length > 0) {
      throw new TaskStartError(`${RESOURCE_INIT}: ${RETRIEVAL_FAILED}: unable to retrieve secrets from ssm: service call has been retried 1 time(s): invalid parameters: ${ssm.join(',')}${local}`);
    }
    const asm = missing.find((e) => e.source === 'asm');
    if (asm) {
      throw new TaskStartError(
        `${RESOURCE_INIT}: ${RETRIEVAL_FAILED}: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret ${asm.reference} from secrets manager: ResourceNotFoundException: Secrets Manager can't find the specified secret.${local}`,
      );
    }
    const other = results.find(({ result }) => 'error' in result);
    if (other && 'error' in other.result) throw new TaskStartError(`${RESOURCE_INIT}: ${RETRIEVAL_FAILED}: ${(other.result.error as Error).message}`);
    for (const { w, result } of results) {
      if (!('value' in result)) continue;
      if (w.env === undefined) {
        checkRegistryCredentials(w.valueFrom, result.value);
        continue;
      }
      (w.c.secretValues ??= {})[w.env] = result.value;
    }
  }

  private mountsOf(c: ContainerState): SandboxMount[] {
    const byName = new Map(this.containers.map((x) => [x.def.name, x]));
    const fromOthers = (c.def.volumesFrom ?? []).flatMap((v) => (byName.get(v.sourceContainer ?? '')?.def.mountPoints ?? []).map((m) => ({ ...m, readOnly: m.readOnly || v.readOnly })));
    return [...(c.def.mountPoints ?? []), ...fromOthers].map((m) => ({
      source: this.volumeDirs.get(m.sourceVolume!) ?? join(this.taskDir, 'volumes', m.sourceVolume!),
      target: m.containerPath!,
      readOnly: m.readOnly === true,
    }));
  }

  /** Re-evaluates which pending containers can start, cannot ever start, or must wait. */
  schedule(): void {
    clearTimeout(this.scheduleTimer);
    if (this.desiredStatus === 'STOPPED' || !this.sandbox) return;
    let nextDeadline = Infinity;
    for (const c of this.containers) {
      if (c.launching || c.lastStatus !== 'PENDING') continue;
      const verdict = this.dependencyVerdict(c);
      if (verdict.kind === 'ready') {
        // Nobody awaits a launch: what it did not expect fails the container, never the process.
        const next = c.pulled ? this.launch(c) : this.pullThenLaunch(c);
        next.catch((error: Error) => this.failToStart(c, `${CANNOT_START}: ${error.message}`));
      }
      // The ECS agent marks such a container stopped with exit code 143 although it never
      // ran (task_manager.go, handleTerminalDependencyError).
      else if (verdict.kind === 'blocked') this.failToStart(c, verdict.reason, DEPENDENCY_EXIT_CODE);
      else nextDeadline = Math.min(nextDeadline, verdict.deadline);
      if (this.stopRequested) return; // an essential container could not start
    }
    if (nextDeadline !== Infinity) {
      this.scheduleTimer = setTimeout(() => this.schedule(), Math.max(0, nextDeadline - Date.now()) + 5);
    }
  }

  /**
   * ECS's own order of checks (aws/amazon-ecs-agent agent/engine/dependencygraph/graph.go,
   * verifyContainerOrderingStatusResolvable), for every dependency before any verdict:
   * 1. startTimeout: while the dependent has not been created and the dependency has not
   *    stopped, a SUCCESS, COMPLETE or HEALTHY dependency times out once its startTimeout
   *    has passed since the dependency's own start — whether or not it has reached the
   *    condition (hasDependencyTimedOut). So a service that became healthy at once still
   *    stops a step that waits longer than that for another dependency (the agent).
   *    START dependencies never time out.
   * 2. SUCCESS on a dependency that exited non-zero: terminal.
   * 3. A dependency that never started and never will: terminal for every condition.
   * 4. Otherwise the dependent waits. START holds while its dependency runs, or once it has
   *    started, by TaskHost.startCondition. An UNHEALTHY dependency is not terminal: HEALTHY is
   *    simply not resolved yet (graph_test.go, TestContainerOrderingHealthyConditionIsResolved),
   *    and a later passing check resolves it; nor is one that exited before it was healthy.
   * A terminal verdict stops the dependent unstarted (task_manager.go,
   * handleTerminalDependencyError).
   */
  private dependencyVerdict(c: ContainerState): { kind: 'ready' } | { kind: 'blocked'; reason: string } | { kind: 'wait'; deadline: number } {
    let deadline = Infinity;
    let waiting = false;
    for (const dep of c.def.dependsOn ?? []) {
      const target = this.containers.find((x) => x.def.name === dep.containerName)!;
      const condition = dep.condition!;
      const blocked = (why: string) => ({ kind: 'blocked' as const, reason: `${CANNOT_START}: dependency '${target.def.name}' cannot reach ${condition}: ${why}` });
      if (condition !== 'START' && target.def.startTimeout !== undefined && target.def.startTimeout > 0 && target.startedAt && target.lastStatus !== 'STOPPED') {
        const limit = target.startedAt.getTime() + target.def.startTimeout * 1000;
        if (Date.now() > limit) {
          const state = condition === 'HEALTHY' ? `it is ${target.health}` : 'it is still running';
          return blocked(`its startTimeout of ${target.def.startTimeout} s (counted from its own start) passed while '${c.def.name}' was still waiting to start (${state})`);
        }
        deadline = Math.min(deadline, limit);
      }
      // A container that never started (say its image could not be pulled) has no exit code to name.
      if (target.lastStatus === 'STOPPED' && !target.everStarted) return blocked(`it never started (${target.reason ?? 'stopped'})`);
      if (condition === 'SUCCESS' && target.lastStatus === 'STOPPED' && target.exitCode !== 0) return blocked(`it exited with code ${target.exitCode ?? 'unknown'}`);
      let met = false;
      if (condition === 'START') met = this.host.startCondition === 'ever-started' ? target.everStarted : target.lastStatus === 'RUNNING';
      else if (condition === 'COMPLETE' || condition === 'SUCCESS') met = target.lastStatus === 'STOPPED';
      // HEALTHY on a container that has stopped is never resolved, and nothing makes it
      // terminal (a stopped dependency no longer times out): the dependent stays pending.
      else if (condition === 'HEALTHY') met = target.health === 'HEALTHY' && target.lastStatus !== 'STOPPED';
      if (!met) waiting = true;
    }
    return waiting ? { kind: 'wait', deadline } : { kind: 'ready' };
  }

  private failToStart(c: ContainerState, reason: string, exitCode?: number): void {
    if (c.lastStatus !== 'PENDING') return; // the task's stop got there first
    c.launching = true;
    c.lastStatus = 'STOPPED';
    c.reason = reason;
    if (exitCode !== undefined) c.exitCode = exitCode;
    c.finishedAt = new Date();
    this.logLine(c, 'stderr', `local-ecs: container did not start: ${reason}`);
    this.updateKnownStatus();
    this.changed();
    if (c.essential) this.beginStop('TaskFailedToStart', `Essential container '${c.def.name}' could not start: ${reason}`);
    else this.schedule();
    this.maybeFinish();
  }

  /**
   * As the ECS agent: a container's image is pulled only once its dependsOn conditions hold
   * (aws/amazon-ecs-agent agent/engine/dependencygraph/graph.go,
   * containerOrderingDependenciesIsResolved: ECS_PULL_DEPENDENT_CONTAINERS_UPFRONT is off by
   * default), so containers without dependencies pull at once, side by side, and a container
   * that waits for another's HEALTHY pulls only after it. Then it starts.
   */
  private async pullThenLaunch(c: ContainerState): Promise<void> {
    c.launching = true;
    c.pullStartedAt = new Date();
    const ms = this.host.pullMs?.(c.def.image) ?? 0;
    // A timer may fire a millisecond before the clock says `ms` have passed: the pull lasts at least `ms`.
    while (Date.now() - c.pullStartedAt.getTime() < ms) await new Promise((resolve) => setTimeout(resolve, ms - (Date.now() - c.pullStartedAt!.getTime())));
    // No event of its own: the next change (the container running) carries the pull's times.
    c.pullStoppedAt = new Date();
    if (c.lastStatus !== 'PENDING' || this.stopRequested) return; // stopped while pulling
    // The ECS agent checks the dependencies again at each of the container's steps (pulled,
    // created, running: graph.go, DependenciesAreResolved): a START whose dependency stopped
    // while this image pulled may no longer hold (startCondition). Then it waits again.
    const verdict = this.dependencyVerdict(c);
    if (verdict.kind === 'blocked') {
      c.launching = false;
      this.failToStart(c, verdict.reason, DEPENDENCY_EXIT_CODE);
      return;
    }
    if (verdict.kind === 'wait') {
      c.pulled = true;
      c.launching = false;
      this.schedule();
      return;
    }
    await this.launch(c);
  }

  /** When the first image pull began and the last one ended (ECS's task pullStartedAt / pullStoppedAt). */
  get pullStartedAt(): Date | undefined {
    const starts = this.containers.flatMap((c) => (c.pullStartedAt ? [c.pullStartedAt.getTime()] : []));
    return starts.length > 0 ? new Date(Math.min(...starts)) : undefined;
  }

  get pullStoppedAt(): Date | undefined {
    const stops = this.containers.flatMap((c) => (c.pullStoppedAt ? [c.pullStoppedAt.getTime()] : []));
    return stops.length > 0 ? new Date(Math.max(...stops)) : undefined;
  }

  private async launch(c: ContainerState): Promise<void> {
    c.launching = true;
    let environment: Record<string, string>;
    try {
      environment = await this.containerEnvironment(c);
    } catch (error) {
      this.failToStart(c, `ResourceInitializationError: ${(error as Error).message}`);
      return;
    }
    c.runEnvironment = environment;
    // As Docker runs it: the definition's `user`, else the image's USER (container-user.ts).
    const userSpec = c.def.user ?? this.host.imageUser?.(c.def.image);
    if (userSpec !== undefined && userSpec !== '') {
      const resolved = resolveContainerUser(userSpec, readIfPresent('/etc/passwd'), readIfPresent('/etc/group'));
      if (!resolved.ok) return this.failToStart(c, `${CANNOT_START}: Error response from daemon: ${resolved.reason}`);
      c.user = resolved.user;
    }
    // With namespaces the container has its own root: its data directory and what its image
    // brings (the agent's code) are mounted at fixed paths; without, they are host paths.
    const ownRoot = this.sandbox!.mode === 'namespace';
    const image = resolveImage(
      {
        image: c.def.image,
        entryPoint: c.def.entryPoint,
        command: c.def.command,
        environment,
        dataDir: ownRoot ? CONTAINER_DATA_DIR : c.dataDir,
        architecture: this.definition.input.runtimePlatform?.cpuArchitecture === 'ARM64' ? 'arm64' : 'amd64',
        ...(ownRoot ? { agentCodeDir: AGENT_CODE_DIR, listenAll: true } : {}),
      },
      this.host.catalogue,
    );
    if (!image.ok) return this.failToStart(c, `${CANNOT_START}: ${image.reason}`);
    const program = image.launch.argv[0];
    if (program === undefined) return this.failToStart(c, `${CANNOT_START}: empty command`);
    if (!program.includes('/') && !findBinary(program, [], environment.PATH)) {
      return this.failToStart(c, `${CANNOT_START}: image ${c.def.image} cannot run locally: '${program}' is not installed on this machine (executable file not found in $PATH)`);
    }
    if (this.sandbox!.mode === 'host') {
      // Tasks share the host network here: a second listener on a port would fail obscurely.
      const ports = [...image.launch.ports, ...(c.def.portMappings ?? []).map((p) => p.containerPort!).filter((p) => p !== undefined)];
      for (const port of ports) {
        if (await isListening(port)) {
          if (c.lastStatus !== 'PENDING') return;
          return this.failToStart(c, `${CANNOT_START}: port ${port} is already in use on this host; without network namespaces (run as root) local tasks share the host network`);
        }
      }
    }
    if (c.lastStatus !== 'PENDING') return; // stopped while secrets or ports were checked
    // The role's push right is written into the private directory of the containers whose
    // launch is a pushing program (images.ts): the image builder's, which runs its step script
    // with the executor beside it, and a plugins/manifest container that runs the stand-in itself
    // (not a commands step or a service of that image). Other containers never see it.
    const grant = image.launch.kind === 'image-builder' || image.launch.kind === 'plugin' ? this.pushGrantOfRole() : undefined;
    if (grant) writePushGrant(c.dataDir, grant);
    const mounts = [...this.mountsOf(c), ...(ownRoot ? [{ source: c.dataDir, target: CONTAINER_DATA_DIR }, ...image.launch.mounts] : [])];
    const child = this.sandbox!.spawn({ argv: image.launch.argv, env: environment, cwd: c.def.workingDirectory, ...(c.user ? { user: c.user } : {}), mounts });
    c.process = child;
    const log = this.logWriter(c);
    child.stdout?.on('data', (chunk: Buffer) => log.write('stdout', chunk));
    child.stderr?.on('data', (chunk: Buffer) => log.write('stderr', chunk));
    child.once('close', () => log.end());
    child.once('spawn', () => {
      c.lastStatus = 'RUNNING';
      c.everStarted = true;
      c.startedAt = new Date();
      this.updateKnownStatus();
      this.changed();
      this.startHealthChecks(c);
      this.schedule();
    });
    child.once('error', (error) => {
      if (c.everStarted) return;
      this.failToStart(c, `${CANNOT_START}: ${error.message}`);
    });
    child.once('exit', (code, signal) => this.exited(c, code ?? 128 + signalNumber(signal)));
  }

  private exited(c: ContainerState, exitCode: number): void {
    clearTimeout(c.stopTimer);
    clearTimeout(c.healthTimer);
    if (c.process) killGroup(c.process, 'SIGKILL'); // what the program left behind goes with it
    c.lastStatus = 'STOPPED';
    c.exitCode = exitCode;
    c.finishedAt = new Date();
    this.updateKnownStatus();
    this.changed();
    if (c.essential) this.beginStop('EssentialContainerExited', 'Essential container in task exited');
    this.schedule();
    this.maybeFinish();
  }

  private pushGrantOfRole(): RegistryPushGrant | undefined {
    const role = this.taskRoleArn;
    return role && this.host.pushGrant ? this.host.pushGrant(role) : undefined;
  }

  private async containerEnvironment(c: ContainerState): Promise<Record<string, string>> {
    const pgBin = postgresBinDir();
    const env: Record<string, string> = {
      PATH: [DEFAULT_PATH, dirname(process.execPath), pgBin].filter(Boolean).join(':'),
      HOME: '/root',
      HOSTNAME: `ip-${this.sandbox!.taskAddress.replace(/\./g, '-')}`,
      AWS_REGION: this.host.region,
      AWS_DEFAULT_REGION: this.host.region,
      AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE',
      ECS_CONTAINER_METADATA_URI_V4: `${this.metadataBaseUrl}/${c.runtimeId}`,
      ECS_CONTAINER_METADATA_URI: `${this.metadataBaseUrl}/${c.runtimeId}`,
      ...c.environment,
    };
    // Fetched at task start (fetchSecrets).
    Object.assign(env, c.secretValues ?? {});
    return env;
  }

  private startHealthChecks(c: ContainerState): void {
    if (!c.def.healthCheck) return;
    const settings = healthSettings(c.def.healthCheck);
    let failures = 0;
    const tick = async (): Promise<void> => {
      if (c.lastStatus !== 'RUNNING' || !this.sandbox || !c.process) return;
      // As Docker runs a health check: inside the container (its namespaces, its root), as its user.
      const probe = this.sandbox.exec(c.process, { argv: settings.argv, env: c.runEnvironment ?? c.environment, mounts: this.mountsOf(c), cwd: c.def.workingDirectory, ...(c.user ? { user: c.user } : {}) });
      const result = await runProbe(probe, settings.timeoutMs);
      if (c.lastStatus !== 'RUNNING') return;
      c.healthOutput = result.output;
      c.healthExitCode = result.exitCode;
      const inStartPeriod = Date.now() - c.startedAt!.getTime() < settings.startPeriodMs;
      let status = c.health;
      if (result.exitCode === 0) {
        failures = 0;
        status = 'HEALTHY';
      } else if (!inStartPeriod) {
        failures += 1;
        if (failures >= settings.retries) status = 'UNHEALTHY';
      }
      if (status !== c.health) {
        c.health = status;
        c.healthSince = new Date();
        // No task state change event: ECS's events carry no health, and a health change is
        // not a state change (ecs_task_events.html). DescribeTasks and the metadata show it.
        this.schedule();
      }
      c.healthTimer = setTimeout(() => void tick(), settings.intervalMs);
    };
    c.healthTimer = setTimeout(() => void tick(), settings.intervalMs);
  }

  /** Desired status STOPPED: SIGTERM to running containers, SIGKILL after their stopTimeout. */
  beginStop(stopCode: string, reason: string): void {
    if (this.desiredStatus === 'STOPPED') return;
    clearTimeout(this.scheduleTimer);
    this.desiredStatus = 'STOPPED';
    this.stopCode = stopCode;
    this.stoppedReason = reason;
    this.stoppingAt = new Date();
    if (this.lastStatus === 'RUNNING' || this.lastStatus === 'PENDING') this.lastStatus = 'STOPPING';
    for (const c of this.containers) {
      if (c.lastStatus === 'PENDING' && !c.process) {
        c.launching = true;
        c.lastStatus = 'STOPPED';
        c.reason ??= 'Task stopped before the container started';
        c.finishedAt = new Date();
      }
    }
    this.changed();
    for (const c of this.containers) this.terminate(c);
    this.maybeFinish();
  }

  /**
   * What AWS does to a task it takes back (Fargate Spot reclaiming capacity, or a
   * termination notice): the same stop as StopTask — SIGTERM to every running container,
   * SIGKILL after its stopTimeout (at most 120 s, the Spot warning) — under AWS's stop code.
   */
  interrupt(stopCode: 'SpotInterruption' | 'TerminationNotice', reason: string): void {
    this.beginStop(stopCode, reason);
  }

  /** SIGTERM then SIGKILL after stopTimeout (default 30 s), like `docker stop`. */
  terminate(c: ContainerState): void {
    if (c.lastStatus !== 'RUNNING' || !c.process?.pid) return;
    clearTimeout(c.stopTimer);
    const cap = this.host.maxStopTimeoutMs?.();
    const graceMs = Math.min((c.def.stopTimeout ?? 30) * 1000, cap ?? Infinity);
    // To the container's own program (PID 1 with namespaces, which ignores SIGTERM unless it
    // handles it, as in a Docker container: then the SIGKILL below ends it, exit code 137).
    this.sandbox?.signal(c.process, 'SIGTERM');
    c.stopTimer = setTimeout(() => killGroup(c.process!, 'SIGKILL'), graceMs);
  }

  private maybeFinish(): void {
    if (this.finishing || this.desiredStatus !== 'STOPPED') return;
    if (this.containers.some((c) => c.lastStatus !== 'STOPPED')) return;
    this.finishing = true;
    void this.finish();
  }

  private async finish(): Promise<void> {
    if (this.lastStatus !== 'PROVISIONING') {
      this.lastStatus = 'DEPROVISIONING';
      this.changed();
    }
    // A stop during provisioning: wait until the sandbox exists, then tear it down.
    // Provisioning's own failure is reported by start(); here only its end matters.
    await this.provisioning?.then(
      () => undefined,
      () => undefined,
    );
    const problems: string[] = [];
    await this.metadata?.close().catch((error: Error) => problems.push(error.message));
    await this.relays?.close().catch((error: Error) => problems.push(error.message));
    await this.sandbox?.destroy().catch((error: Error) => problems.push(error.message));
    // Containers' roots bind host directories; their mount namespaces are private and gone by
    // now. Should a mount be visible here all the same, removing the directory could reach
    // through it into the host's programs: keep it and say so.
    const mounted = mountsUnder(this.taskDir);
    if (mounted.length > 0) problems.push(`task directory ${this.taskDir} kept: it still has mounts (${mounted.join(', ')})`);
    else rmSync(this.taskDir, { recursive: true, force: true });
    if (problems.length > 0) console.error(`local-ecs: cleaning up task ${this.id}: ${problems.join('; ')}`);
    this.lastStatus = 'STOPPED';
    this.stoppedAt = new Date();
    this.changed();
    this.resolveDone();
  }

  /**
   * The task's lastStatus is the minimum of its containers' (aws/amazon-ecs-agent
   * agent/api/task/task.go, updateTaskKnownStatus: "Invariant: task known status is the
   * minimum of container known status"): PENDING while any container has not started —
   * a step waiting on its dependencies keeps the task PENDING — and RUNNING once every
   * container has started or stopped. startedAt is that moment (DescribeTasks: "the time
   * when the task transitioned from the PENDING state to the RUNNING state").
   */
  private updateKnownStatus(): void {
    if (this.lastStatus !== 'PENDING' || this.desiredStatus === 'STOPPED') return;
    if (this.containers.some((x) => x.lastStatus === 'PENDING')) return;
    this.lastStatus = 'RUNNING';
    this.startedAt = new Date();
  }

  /** When the last change happened (events carry it as `updatedAt`). */
  updatedAt = new Date();

  private changed(): void {
    this.updatedAt = new Date();
    this.version += 1;
    this.host.onChange(this);
  }

  /** The awslogs stream of a container: group and `prefix/container/task-id`. */
  logStream(c: ContainerState): { group: string; stream: string } {
    const options = c.def.logConfiguration?.options ?? {};
    const group = options['awslogs-group'] ?? `/ecs/${this.definition.family}`;
    const prefix = options['awslogs-stream-prefix'] ?? 'ecs';
    return { group, stream: `${prefix}/${c.def.name}/${this.id}` };
  }

  private writers = new Map<string, ReturnType<LogStore['writer']>>();
  private logWriter(c: ContainerState): ReturnType<LogStore['writer']> {
    let writer = this.writers.get(c.def.name);
    if (!writer) {
      writer = this.host.logs.writer({ ...this.logStream(c), taskArn: this.arn, container: c.def.name });
      this.writers.set(c.def.name, writer);
    }
    return writer;
  }

  private logLine(c: ContainerState, source: 'stdout' | 'stderr', message: string): void {
    this.logWriter(c).line(source, message);
  }

  /** The task's vCPUs, for the quota. */
  get vcpus(): number {
    return Number(this.params.cpu) / 1024;
  }
}

export type { ContainerDefinition };

const RESOURCE_INIT = 'ResourceInitializationError: unable to pull secrets or registry auth';
const RETRIEVAL_FAILED = 'execution resource retrieval failed';
const CANNOT_PULL = 'CannotPullContainerError';

/** Why a task could not start, worded as ECS's stoppedReason. */
export class TaskStartError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'TaskStartError';
  }
}

/**
 * A private registry's credentials secret must be JSON `{"username": …, "password": …}`
 * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/private-auth.html); ECS fails
 * the task when it is not.
 */
function checkRegistryCredentials(arn: string, value: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new TaskStartError(`${RESOURCE_INIT}: ${RETRIEVAL_FAILED}: unable to retrieve secret from asm: the registry credentials ${arn} are not JSON: ${(error as Error).message}`);
  }
  const creds = parsed as { username?: unknown; password?: unknown } | null;
  if (typeof creds?.username !== 'string' || typeof creds.password !== 'string') {
    throw new TaskStartError(`${RESOURCE_INIT}: ${RETRIEVAL_FAILED}: the registry credentials ${arn} must hold {"username": "…", "password": "…"}`);
  }
}

/** A file of the host's /etc that every container sees (rootfs.ts binds it read-only); empty when absent. */
function readIfPresent(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}
