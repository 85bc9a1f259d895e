// The Ec2Fleet port (core/scaling/ec2-fleet.ts) on EC2 Auto Scaling and ECS: each
// architecture's Auto Scaling group (lib/ec2-capacity.ts) and the container instances its
// instances register with the cluster.
//
// - describe: DescribeAutoScalingGroups gives the group's instances and their lifecycle state
//   (Pending…, InService, Terminating…; warm-pool instances are not among them); the cluster's
//   container instances (ListContainerInstances + DescribeContainerInstances) say which are
//   registered and ACTIVE, how many tasks each runs or is placing, and which carry the spent
//   attribute. An InService instance not yet registered is still booting (its ECS agent starts).
// - apply: TerminateInstanceInAutoScalingGroup with ShouldDecrementDesiredCapacity (the group
//   neither replaces it nor picks another one to remove), then SetDesiredCapacity. The
//   termination is not idempotent: its retry after a lost answer counts "already terminating
//   or gone" as done (alreadyTerminated).
// - markSpent: PutAttributes on the container instance.
//
// Every call goes through the one retry helper (core/util/retry.ts): a throttle (Auto Scaling's
// `Throttling`, ECS's ThrottlingException) or a server fault is retried with back-off, whatever
// the client's own retries; anything else (a ValidationError) is thrown at once. The desired
// capacity is kept within the group's MinSize..MaxSize as last described: SetDesiredCapacity
// refuses a value outside them with a ValidationError
// (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_SetDesiredCapacity.html), which
// would fail every pass of a group whose maximum was lowered below the deployment's maxInstances;
// the stages beyond it wait (decide-scale.ts) instead.

import {
  type AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeContainerInstancesCommand, type ECSClient, ListContainerInstancesCommand, PutAttributesCommand } from '@aws-sdk/client-ecs';
import { SPENT_ATTRIBUTE } from '../../core/pipeline/ec2-task.js';
import { classifyAwsError } from '../../core/util/aws-errors.js';
import { type RetryOptions, withRetry } from '../../core/util/retry.js';
import type { Arch } from '../../core/pipeline/types.js';
import type { Ec2Fleet, FleetDecision, FleetInstance, FleetInstanceState } from '../../core/scaling/ec2-fleet.js';

export interface Ec2FleetConfig {
  cluster: string;
  /** Each architecture's Auto Scaling group. */
  groups: Partial<Record<Arch, string>>;
  /** The groups that launch Spot instances (a mixed instances policy at 0 % on-demand). */
  spot?: Partial<Record<Arch, boolean>>;
  maxInstances: number;
}

/** How calls are retried (core/util/retry.ts): a few attempts, within a pass of the autoscaler. */
export type FleetRetry = Pick<RetryOptions, 'attempts' | 'baseMs' | 'maxMs'> & Partial<Pick<RetryOptions, 'sleep' | 'random'>>;

export const FLEET_RETRY: FleetRetry = { attempts: 4, baseMs: 200, maxMs: 2_000 };

/** What the cluster knows of one EC2 instance. */
interface Registered {
  arn: string;
  active: boolean;
  tasks: number;
  spent: boolean;
}

export class AwsEc2Fleet implements Ec2Fleet {
  readonly arches: readonly Arch[];
  readonly maxInstances: number;
  readonly spot: Partial<Record<Arch, boolean>>;
  /** Each Spot group's on-demand share above base as last read (0: Spot, 100: the fallback). */
  private readonly onDemandShare = new Map<Arch, number>();
  /** When each instance was first seen without a task (kept between passes of a warm Lambda). */
  private readonly idleSince = new Map<string, number>();
  /** Each group's MinSize and MaxSize as last described. */
  private readonly bounds = new Map<Arch, { min: number; max: number }>();

  constructor(
    private readonly autoscaling: AutoScalingClient,
    private readonly ecs: ECSClient,
    private readonly config: Ec2FleetConfig,
    private readonly retry: FleetRetry = FLEET_RETRY,
  ) {
    this.arches = (Object.keys(config.groups) as Arch[]).sort();
    this.maxInstances = config.maxInstances;
    this.spot = config.spot ?? {};
  }

  async describe(now: number): Promise<FleetInstance[]> {
    const names = this.arches.map((a) => this.config.groups[a]!);
    const groups = (await this.call(() => this.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: names })))).AutoScalingGroups ?? [];
    const registered = await this.containerInstances();
    const out: FleetInstance[] = [];
    for (const arch of this.arches) {
      const group = groups.find((g) => g.AutoScalingGroupName === this.config.groups[arch]);
      if (!group) throw new Error(`EC2 capacity: the Auto Scaling group ${this.config.groups[arch]} (${arch}) does not exist; deploy the stack with ec2Capacity on`);
      this.bounds.set(arch, { min: group.MinSize ?? 0, max: group.MaxSize ?? Number.POSITIVE_INFINITY });
      const share = group.MixedInstancesPolicy?.InstancesDistribution?.OnDemandPercentageAboveBaseCapacity;
      if (share !== undefined) this.onDemandShare.set(arch, share);
      for (const i of group.Instances ?? []) {
        if (!i.InstanceId) continue;
        const known = registered.get(i.InstanceId);
        const state = fleetState(i.LifecycleState ?? '', known);
        const tasks = known?.tasks ?? 0;
        if (state !== 'ready' || tasks > 0) this.idleSince.delete(i.InstanceId);
        else if (!this.idleSince.has(i.InstanceId)) this.idleSince.set(i.InstanceId, now);
        out.push({ instanceId: i.InstanceId, arch, state, tasks, spent: known?.spent ?? false, ...(this.idleSince.has(i.InstanceId) ? { idleSince: this.idleSince.get(i.InstanceId)! } : {}) });
      }
    }
    return out;
  }

  async apply(decision: FleetDecision): Promise<void> {
    for (const t of decision.terminate) {
      await this.call(async (attempt) => {
        try {
          await this.autoscaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: t.instanceId, ShouldDecrementDesiredCapacity: true }));
        } catch (err) {
          // Not idempotent: a retry after an answer that was lost (the call took effect) finds the
          // instance terminating or gone, which is what was asked. On a first attempt the same
          // answer is an error (the instance was never ours to terminate).
          if (attempt > 1 && alreadyTerminated(err)) return;
          throw err;
        }
      });
      this.idleSince.delete(t.instanceId);
    }
    // Spot with on-demand fallback: the group's share of on-demand instances above its base
    // (0 or 100), changed only when it differs; instances already running stay as they are.
    // Only InstancesDistribution is sent (UpdateAutoScalingGroup keeps the policy's launch
    // template and overrides: to confirm against an AWS account).
    for (const [arch, onDemand] of Object.entries(decision.onDemand) as [Arch, boolean][]) {
      const share = onDemand ? 100 : 0;
      if (!this.spot[arch] || this.onDemandShare.get(arch) === share) continue;
      await this.call(() =>
        this.autoscaling.send(
          new UpdateAutoScalingGroupCommand({
            AutoScalingGroupName: this.config.groups[arch]!,
            MixedInstancesPolicy: { InstancesDistribution: { OnDemandPercentageAboveBaseCapacity: share } },
          }),
        ),
      );
      this.onDemandShare.set(arch, share);
    }
    for (const arch of this.arches) {
      const wanted = decision.desired[arch];
      if (wanted === undefined) continue;
      const bounds = this.bounds.get(arch);
      const desired = bounds ? Math.min(Math.max(wanted, bounds.min), bounds.max) : wanted;
      // HonorCooldown false: the decision is the autoscaler's, made from the jobs that wait.
      await this.call(() => this.autoscaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: this.config.groups[arch]!, DesiredCapacity: desired, HonorCooldown: false })));
    }
  }

  async markSpent(containerInstanceArn: string): Promise<void> {
    await this.call(() =>
      this.ecs.send(
        new PutAttributesCommand({ cluster: this.config.cluster, attributes: [{ name: SPENT_ATTRIBUTE, value: 'true', targetType: 'container-instance', targetId: containerInstanceArn }] }),
      ),
    );
  }

  /** One AWS call, retried by the one retry helper on throttles and server faults (core/util/aws-errors.ts decides). */
  private call<T>(send: (attempt: number) => Promise<T>): Promise<T> {
    return withRetry(send, this.retry);
  }

  /** The cluster's container instances by EC2 instance id (all pages; DescribeContainerInstances takes 100). */
  private async containerInstances(): Promise<Map<string, Registered>> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const token = nextToken;
      const page = await this.call(() => this.ecs.send(new ListContainerInstancesCommand({ cluster: this.config.cluster, ...(token ? { nextToken: token } : {}) })));
      arns.push(...(page.containerInstanceArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    const out = new Map<string, Registered>();
    for (let i = 0; i < arns.length; i += 100) {
      const batch = arns.slice(i, i + 100);
      const res = await this.call(() => this.ecs.send(new DescribeContainerInstancesCommand({ cluster: this.config.cluster, containerInstances: batch })));
      for (const c of res.containerInstances ?? []) {
        if (!c.ec2InstanceId || !c.containerInstanceArn) continue;
        out.set(c.ec2InstanceId, {
          arn: c.containerInstanceArn,
          active: c.status === 'ACTIVE' && c.agentConnected === true,
          tasks: (c.runningTasksCount ?? 0) + (c.pendingTasksCount ?? 0),
          spent: (c.attributes ?? []).some((a) => a.name === SPENT_ATTRIBUTE),
        });
      }
    }
    return out;
  }
}

/** The fleet's view of a group instance: its Auto Scaling lifecycle state and what the cluster knows of it. */
export function fleetState(lifecycle: string, registered: Registered | undefined): FleetInstanceState {
  if (lifecycle.startsWith('Warmed')) return 'warm';
  if (lifecycle === 'InService') return registered?.active ? 'ready' : registered ? 'leaving' : 'booting';
  if (lifecycle.startsWith('Pending')) return 'booting';
  return 'leaving';
}

/**
 * TerminateInstanceInAutoScalingGroup's answers for an instance already on its way out: gone
 * ("Instance Id not found - No managed instance found for instance ID …", as reported in
 * yaybu/touchdown#51) or no longer InService ("The instance … is not in InService or Standby",
 * as Auto Scaling words it for instances in other states, reproio/ecs_deploy#47). Both
 * ValidationError; the group's minimum-size refusal is not among them.
 */
export function alreadyTerminated(err: unknown): boolean {
  const info = classifyAwsError(err);
  return info.name === 'ValidationError' && /Instance Id not found|No managed instance found|is not in InService or Standby/i.test(info.message);
}
