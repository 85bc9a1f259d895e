// The EventBridge "ECS Task State Change" event, as ECS emits it and as the local
// ECS stand-in reproduces it (an example from AWS: test/fixtures/aws/ecs-TaskStateChange-event.json).
// Only the fields Slipway reads are typed. A task's lastStatus is the minimum of its
// containers': it stays PENDING until its last container has started, so a container's
// own lastStatus is what tells that a stage runs.

export interface TaskStateChangeContainer {
  containerArn?: string;
  name: string;
  lastStatus: 'PENDING' | 'RUNNING' | 'STOPPED' | string;
  exitCode?: number;
  reason?: string;
  /**
   * Never in an EventBridge event ("Events don't provide task health", ecs_task_events.html):
   * only a detail rebuilt from DescribeTasks (the reconciler) has it.
   */
  healthStatus?: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';
  taskArn?: string;
}

export interface TaskStateChangeDetail {
  clusterArn: string;
  taskArn: string;
  taskDefinitionArn: string;
  group?: string;
  /** `startedBy` of RunTask: Slipway puts the stage id here. */
  startedBy?: string;
  lastStatus: 'PROVISIONING' | 'PENDING' | 'ACTIVATING' | 'RUNNING' | 'DEACTIVATING' | 'STOPPING' | 'DEPROVISIONING' | 'STOPPED' | string;
  desiredStatus: 'RUNNING' | 'STOPPED' | string;
  /** Increases with every change of the task; events may arrive twice or out of order. */
  version: number;
  createdAt?: string;
  /** When the network interface was attached (Fargate), before the pulls. */
  connectivityAt?: string;
  /** When the first image pull began (Fargate bills from here: core/cost/task-usage.ts) and the last one ended (ecs_task_events.html example). */
  pullStartedAt?: string;
  pullStoppedAt?: string;
  startedAt?: string;
  stoppingAt?: string;
  stoppedAt?: string;
  /** ISO time of the change this event reports (the example in ecs_task_events.html has it). */
  updatedAt?: string;
  stopCode?: 'TaskFailedToStart' | 'EssentialContainerExited' | 'UserInitiated' | 'ServiceSchedulerInitiated' | 'SpotInterruption' | 'TerminationNotice' | string;
  stoppedReason?: string;
  capacityProviderName?: string;
  launchType?: string;
  /** The task's size as it ran: CPU units and MiB, as strings ("1024", "2048"). */
  cpu?: string;
  memory?: string;
  /** Configured ephemeral storage (absent: Fargate's 20 GiB). */
  ephemeralStorage?: { sizeInGiB?: number };
  /** Task attributes, e.g. `ecs.cpu-architecture` = `x86_64` or `arm64`. */
  attributes?: { name: string; value?: string }[];
  containers: TaskStateChangeContainer[];
  overrides?: { containerOverrides?: { name: string; environment?: { name: string; value: string }[] }[] };
}

export interface TaskStateChangeEvent {
  version: '0';
  id: string;
  'detail-type': 'ECS Task State Change';
  source: 'aws.ecs';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: TaskStateChangeDetail;
}
