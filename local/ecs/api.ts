// The ECS operations the SDK sends (AmazonEC2ContainerServiceV20141113.<Op>), on the
// stand-in's state. Input and output are the JSON bodies of the AWS JSON 1.1 protocol.
import type {
  DescribeTasksRequest,
  ListTasksRequest,
  RegisterTaskDefinitionRequest,
  RunTaskRequest,
  StopTaskRequest,
} from '@aws-sdk/client-ecs';
import { clientError, EcsApiError, invalidParameter } from './errors.js';
import type { TaskDefinitionRegistry } from './registry.js';
import { taskDefinitionJson, taskJson } from './shapes.js';
import type { LocalTask, RunTaskParams } from './task.js';

export interface Capacity {
  /** Tasks that may be provisioning or running at once. */
  maxTasks: number;
  /** Like Fargate's On-Demand vCPU quota per account and region (6 for a new account). */
  vcpuQuota: number;
  /** Whether FARGATE_SPOT has spare capacity now (default true); false refuses every Spot task. */
  spotAvailable?: boolean;
  /**
   * How a RunTask that starts nothing for want of capacity is answered. ECS uses both shapes:
   * a `failures[]` reason in a 200 answer, or a ClientException carrying the same text
   * (https://repost.aws/knowledge-center/ecs-fargate-runtask-capacity: "the RunTask API
   * fails with the following error message"). 'alternate' (the default) answers one way then
   * the other, so a caller that handles only one shape fails its tests. A call that starts
   * some of its tasks always reports the others in failures[].
   */
  capacityErrors?: 'failures' | 'exception' | 'alternate';
}

export interface EcsState {
  registry: TaskDefinitionRegistry;
  tasks: Map<string, LocalTask>;
  capacity: Capacity;
  clusterArn(name: string | undefined): string;
  createTask(params: RunTaskParams): LocalTask;
  /**
   * How long a STOPPED task stays visible to DescribeTasks and ListTasks: ECS keeps stopped tasks
   * "for at least one hour" (API_DescribeTasks, API_ListTasks) and then answers MISSING / omits them.
   */
  stoppedTaskRetentionMs: number;
}

/** failures[] reasons of RunTask, as ECS words them. */
export const CAPACITY_UNAVAILABLE = 'Capacity is unavailable at this time. Please try again later or in a different availability zone';
export const VCPU_LIMIT = "You've reached the limit on the number of vCPUs you can run concurrently";

/** RunTask's ConflictException message (API_RunTask.html, Errors). */
export const CLIENT_TOKEN_CONFLICT =
  'The RunTask request could not be processed due to conflicts. The provided clientToken is already in use with a different RunTask request.';

/** RunTask parameter errors (InvalidParameterException), as ECS words them. */
/** An IAM role ARN, as RunTask's role overrides must be. */
const IAM_ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
export const BOTH_LAUNCH_TYPE_AND_STRATEGY = 'Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.';
export const AWSVPC_NEEDS_NETWORK = "Network Configuration must be provided when networkMode 'awsvpc' is specified.";
/** RunTask with a network configuration for a task definition not in awsvpc mode (host, bridge). */
export const NETWORK_NOT_AWSVPC = 'Network Configuration is not valid for the given networkMode of this task definition.';

type Json = Record<string, unknown>;

export class EcsApi {
  private readonly tokens = new Map<string, Json>();
  /** 'alternate': whether the next refusal of a whole call is a ClientException. */
  private nextRefusalThrows = false;

  constructor(private readonly state: EcsState) {}

  private readonly faults: { operation: string; error: EcsApiError }[] = [];

  /** The next `times` calls of `operation` throw `error` (see LocalEcs.injectFault). */
  injectFault(operation: string, error: EcsApiError, times: number): void {
    for (let i = 0; i < times; i++) this.faults.push({ operation, error });
  }

  handle(operation: string, input: Json): Json {
    const fault = this.faults.findIndex((f) => f.operation === operation);
    if (fault >= 0) throw this.faults.splice(fault, 1)[0]!.error;
    switch (operation) {
      case 'RegisterTaskDefinition':
        return { taskDefinition: taskDefinitionJson(this.state.registry.register(input as unknown as RegisterTaskDefinitionRequest)), tags: [] };
      case 'DescribeTaskDefinition':
        return { taskDefinition: taskDefinitionJson(this.state.registry.resolve(input.taskDefinition as string | undefined)), tags: [] };
      case 'RunTask':
        return this.runTask(input as unknown as RunTaskRequest);
      case 'DescribeTasks':
        return this.describeTasks(input as unknown as DescribeTasksRequest);
      case 'ListTasks':
        return this.listTasks(input as unknown as ListTasksRequest);
      case 'StopTask':
        return this.stopTask(input as unknown as StopTaskRequest);
      default:
        throw new EcsApiError('UnknownOperationException', `The local ECS stand-in does not implement ${operation}`);
    }
  }

  private runTask(input: RunTaskRequest): Json {
    if (input.clientToken !== undefined && input.clientToken.length > 64) {
      throw invalidParameter('clientToken can be at most 64 characters long');
    }
    if (input.clientToken && this.tokens.has(input.clientToken)) {
      // Idempotency: the same token with the same parameters returns the same tasks, in their
      // current state; with other parameters ECS refuses with ConflictException, naming the
      // tasks the token started (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html).
      const earlier = this.tokens.get(input.clientToken)!;
      if (earlier.request !== canonicalRequest(input)) {
        throw new EcsApiError('ConflictException', CLIENT_TOKEN_CONFLICT, 400, { resourceIds: earlier.taskArns });
      }
      return { failures: earlier.failures, tasks: (earlier.taskArns as string[]).map((arn) => taskJson(this.state.tasks.get(arn)!)) };
    }
    if (input.launchType !== undefined && (input.capacityProviderStrategy?.length ?? 0) > 0) {
      throw invalidParameter(BOTH_LAUNCH_TYPE_AND_STRATEGY);
    }
    const count = input.count ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > 10) throw invalidParameter(`count must be between 1 and 10, not ${count}`);
    // The roles a RunTask may put in its overrides (TaskOverride.executionRoleArn, taskRoleArn:
    // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_TaskOverride.html) are IAM
    // roles; the stand-in models no IAM, but records them (DescribeTasks shows them in the
    // task's overrides) and refuses what could not be one.
    for (const key of ['executionRoleArn', 'taskRoleArn'] as const) {
      const arn = input.overrides?.[key];
      if (arn !== undefined && !IAM_ROLE_ARN.test(arn)) throw invalidParameter(`overrides.${key} ${JSON.stringify(arn)} is not an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)`);
    }
    if (input.overrides && JSON.stringify(input.overrides).length > 8192) {
      throw invalidParameter(`Container Overrides length must be at most 8192 (is ${JSON.stringify(input.overrides).length})`);
    }
    const definition = this.state.registry.resolve(input.taskDefinition);
    if (definition.input.networkMode === 'awsvpc' && !input.networkConfiguration) throw invalidParameter(AWSVPC_NEEDS_NETWORK);
    // "If you specify NetworkConfiguration when the target ECS task does not use the awsvpc network mode, the task fails."
    if (definition.input.networkMode !== undefined && definition.input.networkMode !== 'awsvpc' && input.networkConfiguration) throw invalidParameter(NETWORK_NOT_AWSVPC);
    const names = new Set((definition.input.containerDefinitions ?? []).map((c) => c.name));
    for (const o of input.overrides?.containerOverrides ?? []) {
      if (!names.has(o.name)) throw invalidParameter(`Override for container named ${o.name ?? ''} is not a container in the TaskDefinition.`);
    }
    const clusterArn = this.state.clusterArn(input.cluster);
    const cpu = input.overrides?.cpu ?? definition.input.cpu ?? '256';
    const memory = input.overrides?.memory ?? definition.input.memory ?? '512';
    const tasks: Json[] = [];
    const failures: Json[] = [];
    const capacityProviderName = chosenProvider(input.capacityProviderStrategy);
    for (let i = 0; i < count; i += 1) {
      const reason = this.capacityProblem(Number(cpu) / 1024, capacityProviderName);
      if (reason) {
        failures.push({ arn: definition.arn, reason });
        continue;
      }
      const task = this.state.createTask({
        definition,
        clusterArn,
        startedBy: input.startedBy,
        group: input.group,
        overrides: input.overrides,
        cpu,
        memory,
        ...(capacityProviderName ? { capacityProviderName } : {}),
      });
      tasks.push(taskJson(task));
    }
    if (tasks.length === 0 && failures.length > 0 && this.refusalThrows()) {
      throw clientError(String(failures[0]!.reason));
    }
    // A token is remembered only when it started something, so a retry after a
    // capacity failure (same token: the stage id) can still succeed.
    if (input.clientToken && tasks.length > 0) {
      this.tokens.set(input.clientToken, { taskArns: tasks.map((t) => t.taskArn), failures, request: canonicalRequest(input) });
    }
    return { tasks, failures };
  }

  private refusalThrows(): boolean {
    const mode = this.state.capacity.capacityErrors ?? 'alternate';
    if (mode !== 'alternate') return mode === 'exception';
    const throws = this.nextRefusalThrows;
    this.nextRefusalThrows = !throws;
    return throws;
  }

  private capacityProblem(vcpus: number, provider: string | undefined): string | undefined {
    if (provider === 'FARGATE_SPOT' && this.state.capacity.spotAvailable === false) return CAPACITY_UNAVAILABLE;
    const active = [...this.state.tasks.values()].filter((t) => t.lastStatus !== 'STOPPED');
    if (active.length >= this.state.capacity.maxTasks) return CAPACITY_UNAVAILABLE;
    const used = active.reduce((sum, t) => sum + t.vcpus, 0);
    if (used + vcpus > this.state.capacity.vcpuQuota + 1e-9) return VCPU_LIMIT;
    return undefined;
  }

  private find(reference: string): LocalTask | undefined {
    const id = reference.split('/').pop() ?? reference;
    return this.visibleTasks().find((t) => t.id === id || t.arn === reference);
  }

  /** The tasks ECS still describes: a stopped one only within its retention. */
  private visibleTasks(): LocalTask[] {
    const now = Date.now();
    return [...this.state.tasks.values()].filter((t) => t.stoppedAt === undefined || now - t.stoppedAt.getTime() < this.state.stoppedTaskRetentionMs);
  }

  private describeTasks(input: DescribeTasksRequest): Json {
    if (!input.tasks || input.tasks.length === 0) throw invalidParameter('Tasks cannot be empty.');
    if (input.tasks.length > 100) throw invalidParameter('At most 100 tasks can be described at once.');
    const tasks: Json[] = [];
    const failures: Json[] = [];
    for (const reference of input.tasks) {
      const task = this.find(reference);
      if (task) tasks.push(taskJson(task));
      else failures.push({ arn: reference, reason: 'MISSING' });
    }
    return { tasks, failures };
  }

  private listTasks(input: ListTasksRequest): Json {
    // "When you specify startedBy as the filter, it must be the only filter that you use"
    // (API_ListTasks, startedBy): AWS refuses the mix rather than combining the filters.
    const others = (['containerInstance', 'desiredStatus', 'family', 'launchType', 'serviceName'] as const).filter((k) => input[k] !== undefined);
    if (input.startedBy !== undefined && others.length > 0) {
      throw invalidParameter(`startedBy must be the only filter of ListTasks; also given: ${others.join(', ')}`);
    }
    const clusterArn = this.state.clusterArn(input.cluster);
    // ECS lists RUNNING (desired status) by default; STOPPED must be asked for.
    const desired = input.desiredStatus ?? 'RUNNING';
    const arns = this.visibleTasks()
      .filter((t) => t.clusterArn === clusterArn)
      .filter((t) => t.desiredStatus === desired)
      .filter((t) => input.family === undefined || t.definition.family === input.family)
      .filter((t) => input.startedBy === undefined || t.params.startedBy === input.startedBy)
      .map((t) => t.arn);
    const start = input.nextToken ? Number(input.nextToken) : 0;
    const max = input.maxResults ?? 100;
    const page = arns.slice(start, start + max);
    return { taskArns: page, ...(start + max < arns.length ? { nextToken: String(start + max) } : {}) };
  }

  private stopTask(input: StopTaskRequest): Json {
    if (!input.task) throw invalidParameter('task must be given');
    const task = this.find(input.task);
    if (!task) throw invalidParameter('The referenced task was not found.');
    if (input.reason !== undefined && input.reason.length > 255) throw clientError('reason can be at most 255 characters long');
    task.beginStop('UserInitiated', input.reason ?? 'Task stopped by user');
    return { task: taskJson(task) };
  }
}

/** A RunTask request without its clientToken, keys sorted: two requests are "the same" when these are equal. */
function canonicalRequest(input: RunTaskRequest): string {
  const sort = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(sort)
      : value !== null && typeof value === 'object'
        ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, sort((value as Record<string, unknown>)[k])]))
        : value;
  const { clientToken: _token, ...rest } = input;
  return JSON.stringify(sort(rest));
}

/**
 * The capacity provider a task of this strategy lands on: ECS places the first `base`
 * tasks on the provider that has one, the rest by weight. One task at a time here: the
 * provider with a base, else the heaviest one.
 */
function chosenProvider(strategy: RunTaskRequest['capacityProviderStrategy']): string | undefined {
  if (!strategy || strategy.length === 0) return undefined;
  const withBase = strategy.find((s) => (s.base ?? 0) > 0);
  if (withBase) return withBase.capacityProvider;
  return [...strategy].sort((a, b) => (b.weight ?? 0) - (a.weight ?? 0))[0]!.capacityProvider;
}
