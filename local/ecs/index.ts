// The local ECS stand-in: an HTTP server speaking the ECS API (AWS JSON 1.1) that the real
// @aws-sdk/client-ecs talks to, running each task's containers as host processes.
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskStateChangeEvent } from '../../core/builds/task-event.js';
import type { CatalogueOptions } from '../images.js';
import { EcsApi, type Capacity } from './api.js';
import { EcsApiError, type EcsErrorType } from './errors.js';
import { createAwsJsonServer } from '../aws-json.js';
import { TaskEventBus, type EventDeliveryOptions, type TaskEventListener } from './events.js';
import { LogStore, type LogEvent, type LogListener } from './logs.js';
import { MetadataService } from './metadata.js';
import { namespaceSupport, sweepOrphanedNetworks } from './netns.js';
import { TaskDefinitionRegistry } from './registry.js';
import { taskJson, taskStateChangeEvent } from './shapes.js';
import { LocalTask, type StartCondition, type TaskHost } from './task.js';
import { startReaper } from './reaper.js';
import { slipwayHome } from '../secrets.js';
import type { RegistryPushGrant } from '../push-grant.js';

export interface LocalEcsOptions {
  /** Port of the API; a free one when omitted. */
  port?: number;
  region?: string;
  accountId?: string;
  /** Capacity: at most this many tasks at once (default 50). */
  maxTasks?: number;
  /** vCPUs of all provisioning/running tasks together (default 6, a new account's Fargate quota). */
  vcpuQuota?: number;
  /**
   * How long the API still describes and lists a STOPPED task (default one hour: ECS keeps them
   * "for at least one hour", API_DescribeTasks); the stand-in's own accessors (logs, events) keep them.
   */
  stoppedTaskRetentionMs?: number;
  /** 'auto' (default): namespaces when the host allows; false: always share the host network. */
  namespaces?: 'auto' | boolean;
  /** Where logs are kept (default: inside the stand-in's temp dir, removed by stop()). */
  logsDir?: string;
  /** Duplicate / reorder task state change events, to test their consumers. */
  eventDelivery?: EventDeliveryOptions;
  /** Images that run the agent (besides contract.DEFAULT_AGENT_IMAGE), project root. */
  catalogue?: CatalogueOptions;
  /**
   * Resolves a container's `secrets[].valueFrom` and `repositoryCredentials` (SSM names and
   * ARNs, Secrets Manager ARNs); throws SecretNotFoundError for one that does not exist.
   */
  resolveSecret?: (valueFrom: string) => Promise<string>;
  /** Architecture of single-platform images (e.g. the agent image of each arch): a task of the other arch cannot pull them. */
  imagePlatforms?: Readonly<Record<string, 'amd64' | 'arm64'>>;
  /**
   * The USER of an image's configuration (`1000`, `nobody`, `app:app`), for the images the
   * stand-in is told of: ECS runs a container without `user` as its image's USER
   * (API_ContainerDefinition `user`: Docker's --user), so such a container runs as that user
   * here too (container-user.ts). Images it is not told of run as root, as images without a
   * USER do. Nothing is pulled here, so nothing else tells it.
   */
  imageUser?: (image: string) => string | undefined;
  /**
   * How long pulling an image takes (ms), to show the order ECS pulls in: nothing is pulled
   * here, so by default a pull takes no time. Each container's pull starts once its
   * dependsOn conditions hold, as on ECS (see LocalTask.pullThenLaunch).
   */
  pullMs?: (image: string) => number;
  /**
   * When an ECS `START` dependency holds (TaskHost.startCondition): 'while-running', the default,
   * as ECS agents before aws/amazon-ecs-agent commit 51e94bfbe (September 2023) decide it, or
   * 'ever-started', as later ones do. Which agent Fargate runs cannot be told, so the stricter
   * rule is the default.
   */
  startCondition?: StartCondition;
  /** Grace for containers when stop() shuts everything down (default 2000 ms). */
  shutdownGraceMs?: number;
  /**
   * Host paths that no container may see, besides the stand-in's own task and log
   * directories, which are always hidden (each task sees only its own). Default: the
   * local secret store (SLIPWAY_HOME, ~/.slipway), which holds every repository's
   * secrets. A container's root holds nothing of the host but its programs and a few /etc
   * entries (rootfs.ts); a hidden path that lies under them is covered by an empty tmpfs.
   * Namespace mode only: without a mount namespace a container sees the host.
   */
  hiddenPaths?: string[];
  /**
   * Host directories every container sees read-only at their own path (tests hand steps a
   * file they wait for). Namespace mode only: without namespaces the whole host is visible.
   */
  sharedPaths?: string[];
  /**
   * Ports of host services that listen on loopback only (the local image registry): a task in
   * its own network namespace reaches each at its host-side address (HOST_ALIAS), relayed to
   * 127.0.0.1 for as long as it runs (host-relay.ts). Tasks sharing the host's network reach
   * them on loopback anyway.
   */
  hostPorts?: number[];
  /**
   * What a task role may push to the local registry (push-grant.ts), if anything: given to the
   * image builder and manifest containers of tasks with that role, and to no other container.
   */
  pushGrant?: (taskRoleArn: string) => RegistryPushGrant | undefined;
}

export interface LocalEcs {
  endpoint: string;
  port: number;
  region: string;
  /** 'namespace': a network + mount namespace per task; 'host': shared host network. */
  isolation: 'namespace' | 'host';
  /** Why namespaces are not used, when they are not. */
  isolationNote?: string;
  logsDir: string;
  /** Subscribes to "ECS Task State Change" events; returns the unsubscribe function. */
  onTaskStateChange(listener: TaskEventListener): () => void;
  /** Events produced so far (in production order), optionally for one task. */
  events(taskArn?: string): TaskStateChangeEvent[];
  /** Resolves when every event so far has been delivered to every subscriber. */
  eventsDelivered(): Promise<void>;
  /** A container's log lines (its awslogs stream), oldest first. */
  logs(taskArn: string, container: string): LogEvent[];
  /** Where a container's stream is: CloudWatch-like group and stream names and the file. */
  logStream(taskArn: string, container: string): { group: string; stream: string; file: string } | undefined;
  /** Every new log line of every task, as it is written. */
  onLog(listener: LogListener): () => void;
  /** DescribeTasks-shaped snapshots of all tasks, stopped ones included. */
  tasks(): Record<string, unknown>[];
  /** Resolves with the task's final DescribeTasks shape once it is STOPPED. */
  waitForStopped(taskArn: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** How a task is isolated: its namespace and addresses (for diagnostics and leak checks). */
  sandboxOf(taskArn: string): { isolation: 'namespace' | 'host'; network?: string; hostInterface?: string; hostAddress: string; taskAddress: string } | undefined;
  /** Each container's image pull (epoch ms), in definition order: which were pulled side by side; and when the container started (the metadata endpoint's StartedAt). */
  pullsOf(taskArn: string): { container: string; startedAt?: number; stoppedAt?: number; containerStartedAt?: number }[];
  setCapacity(capacity: Partial<Capacity>): void;
  /**
   * The next `times` calls of `operation` fail with this error before doing anything, as
   * ECS's throttles and server faults do (tests of callers' retries). Note that the SDK
   * itself retries throttling and server errors (3 calls in all by default).
   */
  injectFault(operation: string, fault: { type: EcsErrorType; message: string; status?: number; fields?: Record<string, unknown> }, times?: number): void;
  /**
   * AWS takes a running task back, as Fargate Spot does (stopCode SpotInterruption,
   * stoppedReason "Your Spot Task was interrupted.") or as a termination notice does to
   * an on-demand task (stopCode TerminationNotice): SIGTERM to its containers, SIGKILL
   * after their stopTimeout. The default stop code follows the task's capacity provider;
   * a SpotInterruption of a task not on FARGATE_SPOT is refused, as AWS never does it.
   */
  interrupt(taskArn: string, options?: { stopCode?: InterruptionCode; reason?: string }): Record<string, unknown>;
  /** Stops every task (bounded grace), tears down namespaces and temp dirs, closes servers. */
  stop(): Promise<void>;
}

export type InterruptionCode = 'SpotInterruption' | 'TerminationNotice';

/** ECS's stoppedReason for a Spot interruption. */
export const SPOT_INTERRUPTION_REASON = 'Your Spot Task was interrupted.';
/** The stand-in's own words for a termination notice (a retired Fargate host). */
export const TERMINATION_NOTICE_REASON = 'Task stopped due to a termination notice: the Fargate host is being retired';

export async function startLocalEcs(options: LocalEcsOptions = {}): Promise<LocalEcs> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  const arnPrefix = `arn:aws:ecs:${region}:${accountId}`;
  const wanted = options.namespaces ?? 'auto';
  const whyNot = wanted === false ? 'disabled by the namespaces option' : await namespaceSupport();
  if (wanted === true && whyNot) throw new Error(`local-ecs: network namespaces were required but are not available: ${whyNot}`);
  const namespaces = whyNot === undefined;
  // A stand-in killed before its stop() leaves namespaces behind: remove them (never another live one's).
  const swept = namespaces ? await sweepOrphanedNetworks() : [];
  if (swept.length > 0) console.error(`local-ecs: removed ${swept.length} network namespace(s) left by a stand-in that is gone: ${swept.join(', ')}`);

  const workDir = mkdtempSync(join(tmpdir(), 'slipway-ecs-'));
  const logs = new LogStore(options.logsDir ?? join(workDir, 'logs'));

  const bus = new TaskEventBus(options.eventDelivery);
  const metadata = new MetadataService();
  const tasks = new Map<string, LocalTask>();
  const capacity: Capacity = { maxTasks: options.maxTasks ?? 50, vcpuQuota: options.vcpuQuota ?? 6 };
  let shuttingDown = false;

  const logsDir = options.logsDir ?? join(workDir, 'logs');
  const hiddenPaths = [...new Set([...(options.hiddenPaths ?? [slipwayHome(process.env)]), workDir, logsDir])];
  const host: TaskHost = {
    region,
    namespaces,
    workDir,
    hiddenPaths,
    sharedPaths: options.sharedPaths ?? [],
    hostPorts: options.hostPorts ?? [],
    ...(options.pushGrant ? { pushGrant: options.pushGrant } : {}),
    logs,
    catalogue: options.catalogue ?? {},
    resolveSecret: options.resolveSecret,
    ...(options.imagePlatforms ? { imagePlatforms: options.imagePlatforms } : {}),
    ...(options.imageUser ? { imageUser: options.imageUser } : {}),
    ...(options.pullMs ? { pullMs: options.pullMs } : {}),
    startCondition: options.startCondition ?? 'while-running',
    attachMetadata: (task) => metadata.attach(task),
    onChange: (task) => bus.publish(taskStateChangeEvent(task, accountId)),
    maxStopTimeoutMs: () => (shuttingDown ? (options.shutdownGraceMs ?? 2000) : undefined),
  };
  const api = new EcsApi({
    registry: new TaskDefinitionRegistry(arnPrefix),
    tasks,
    capacity,
    stoppedTaskRetentionMs: options.stoppedTaskRetentionMs ?? 60 * 60_000,
    clusterArn: (name) => (name?.startsWith('arn:') ? name : `${arnPrefix}:cluster/${name ?? 'default'}`),
    createTask: (params) => {
      if (shuttingDown) throw new EcsApiError('ServerException', 'The local ECS stand-in is shutting down');
      const task = new LocalTask(host, params);
      tasks.set(task.arn, task);
      void task.start();
      return task;
    },
  });

  const server = createAwsJsonServer({
    name: 'local-ecs',
    targetPrefix: 'AmazonEC2ContainerServiceV20141113.',
    notJsonType: 'ClientException',
    internalErrorType: 'ServerException',
    handle: (operation, input) => api.handle(operation, input),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const reaper = namespaces ? startReaper() : undefined;

  const findTask = (taskArn: string): LocalTask | undefined => tasks.get(taskArn) ?? [...tasks.values()].find((t) => t.id === taskArn);

  const logStream = (taskArn: string, container: string) => {
    const task = findTask(taskArn);
    const c = task?.containers.find((x) => x.def.name === container);
    if (!task || !c) return undefined;
    const { group, stream } = task.logStream(c);
    return { group, stream, file: logs.file(group, stream) };
  };

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    region,
    isolation: namespaces ? 'namespace' : 'host',
    isolationNote: whyNot,
    logsDir: logs.dir,
    onTaskStateChange: (listener) => bus.subscribe(listener),
    events: (taskArn) => bus.history(taskArn),
    eventsDelivered: () => bus.idle(),
    logs(taskArn, container) {
      const where = logStream(taskArn, container);
      return where ? logs.read(where.group, where.stream) : [];
    },
    logStream,
    onLog: (listener) => logs.onLine(listener),
    tasks: () => [...tasks.values()].map(taskJson),
    async waitForStopped(taskArn, timeoutMs = 60_000) {
      const task = findTask(taskArn);
      if (!task) throw new Error(`local-ecs: no task ${taskArn}`);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`local-ecs: task ${taskArn} not STOPPED after ${timeoutMs} ms (is ${task.lastStatus})`)), timeoutMs);
      });
      try {
        await Promise.race([task.done, timeout]);
      } finally {
        clearTimeout(timer);
      }
      return taskJson(task);
    },
    sandboxOf(taskArn) {
      const sandbox = findTask(taskArn)?.sandbox;
      if (!sandbox) return undefined;
      return { isolation: sandbox.mode, network: sandbox.networkName, hostInterface: sandbox.hostInterface, hostAddress: sandbox.hostAddress, taskAddress: sandbox.taskAddress };
    },
    pullsOf(taskArn) {
      return (findTask(taskArn)?.containers ?? []).map((c) => ({
        container: c.def.name,
        ...(c.pullStartedAt ? { startedAt: c.pullStartedAt.getTime() } : {}),
        ...(c.pullStoppedAt ? { stoppedAt: c.pullStoppedAt.getTime() } : {}),
        ...(c.startedAt ? { containerStartedAt: c.startedAt.getTime() } : {}),
      }));
    },
    interrupt(taskArn, options = {}) {
      const task = findTask(taskArn);
      if (!task) throw new Error(`local-ecs: no task ${taskArn}`);
      if (task.stopRequested) throw new Error(`local-ecs: task ${taskArn} is already stopping (${task.stopCode}: ${task.stoppedReason})`);
      const onSpot = task.params.capacityProviderName === 'FARGATE_SPOT';
      const stopCode = options.stopCode ?? (onSpot ? 'SpotInterruption' : 'TerminationNotice');
      if (stopCode === 'SpotInterruption' && !onSpot) {
        throw new Error(
          `local-ecs: task ${taskArn} runs on ${task.params.capacityProviderName ?? 'the FARGATE launch type'}, not FARGATE_SPOT: AWS interrupts only Spot tasks (a TerminationNotice can stop any task)`,
        );
      }
      task.interrupt(stopCode, options.reason ?? (stopCode === 'SpotInterruption' ? SPOT_INTERRUPTION_REASON : TERMINATION_NOTICE_REASON));
      return taskJson(task);
    },
    setCapacity(update) {
      Object.assign(capacity, update);
    },
    injectFault(operation, fault, times = 1) {
      api.injectFault(operation, new EcsApiError(fault.type, fault.message, fault.status, fault.fields), times);
    },
    async stop() {
      shuttingDown = true;
      for (const task of tasks.values()) {
        task.beginStop('UserInitiated', 'The local ECS stand-in was stopped');
        // A stop already under way may wait for a long stopTimeout: shorten it.
        for (const c of task.containers) task.terminate(c);
      }
      await Promise.all([...tasks.values()].map((t) => t.done));
      await bus.idle();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await metadata.close();
      await reaper?.release();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

