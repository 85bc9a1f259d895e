// What a build used and what that cost: one definition for the control plane that records
// it, the API that returns it, and the CLI and dashboard that show it. Pure types.

/** Fargate's CPU architectures, spelled as the task definition's runtimePlatform spells them. */
export type CpuArchitecture = 'X86_64' | 'ARM64';

/**
 * The capacity a task ran on: the capacity provider's name. Fargate's two are priced here;
 * another (an EC2 capacity provider, later) is recorded as it is and priced by whatever
 * knows its instances, never as Fargate.
 */
export type Capacity = 'FARGATE' | 'FARGATE_SPOT' | (string & {});

/** One ECS task of a stage, as it was billed: a stage runs several after a Spot interruption or when split. */
export interface TaskUsage {
  taskArn: string;
  /** Task size as ECS ran it: CPU units (1024 = 1 vCPU) and MiB. */
  cpu: number;
  memory: number;
  /** GiB of ephemeral storage configured (Fargate's default, and free part, is 20). */
  storageGiB: number;
  architecture: CpuArchitecture;
  capacity: Capacity;
  /**
   * Epoch ms. Fargate bills "from the time you start to download your container image until
   * the Amazon ECS Task terminates" (https://aws.amazon.com/fargate/pricing/): ECS's
   * pullStartedAt (else createdAt) to stoppedAt.
   */
  billedFrom: number;
  billedTo: number;
  /** The task's ENI had a public IPv4 address (assignPublicIp ENABLED): billed per hour. */
  publicIpv4: boolean;
  /** Its containers (agent, services, steps): each writes a log stream. */
  containers: number;
  /** ECS state changes of the task (detail.version): each is one task-events invocation. */
  events: number;
}

/** One priced line: quantity × rate = usd. */
export interface CostLine {
  /** What it is, in words: `Fargate vCPU (ARM64, Spot)`, `Lambda requests`, … */
  item: string;
  quantity: number;
  /** `vCPU-hours`, `GB-hours`, `requests`, … */
  unit: string;
  /** USD per unit. */
  rate: number;
  usd: number;
  /** The quantity is an estimate (see BuildCost.estimates), not a measurement. */
  estimated?: boolean;
}

/** A build's cost: stored with the build when it finishes, shown by the API, the CLI and the dashboard. */
export interface BuildCost {
  currency: 'USD';
  /** The AWS Region whose prices were applied. */
  region: string;
  /** When the price table applied was current (ISO date), and where it came from. */
  pricesAsOf: string;
  pricesSource: string;
  total: number;
  /** The shares of `total`. */
  fargate: number;
  storage: number;
  publicIpv4: number;
  /** Lambda, SQS and DynamoDB requests of the control plane for this build (estimated). */
  controlPlane: number;
  /** CloudWatch Logs ingestion of the build's logs. */
  logs: number;
  lines: CostLine[];
  /** What was estimated rather than measured, each in words (empty when nothing was). */
  estimates: string[];
  /** Tasks on a capacity the price table does not price (an EC2 capacity provider): not in the total. */
  unpriced?: string[];
}
