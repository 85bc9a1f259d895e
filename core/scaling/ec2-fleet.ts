// The EC2 capacity's size: how many instances each architecture's Auto Scaling group should
// have, and which instances go, from the stages waiting for EC2 and the instances there are.
// Pure: the autoscaler describes the fleet, calls this, and does what it says
// (lambdas/autoscaler/ec2-fleet-pass.ts).
//
// Why the autoscaler drives the group and not ECS managed scaling: managed scaling is a
// target tracking policy on CapacityProviderReservation with a high and a low CloudWatch alarm
// that ECS creates (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cluster-auto-scaling.html):
// it reacts to metrics with CloudWatch's delays, sizes by the resources tasks reserve rather than
// "one build per instance", and scales in when its alarm says so, not when the last build ends.
// The autoscaler already knows exactly which stages wait for EC2 (it is the one that starts
// them), runs every minute and on every nudge, and must replace an instance after a build that
// was root on it, which managed scaling never does. So: managed scaling off ("If managed
// scaling is off, the user must manage the scaling of the Auto Scaling group",
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ManagedScaling.html), the
// capacity provider used only to place tasks (ec2-task.ts), and the desired capacity set here.
//
// Rules, per architecture:
// - An instance that ran a build with root on it (privileged, the Docker socket: `spent`) is
//   terminated as soon as it has no task: the next build gets a clean instance.
// - Idle instances serve the waiting stages first (images stay cached: warm starts); idle
//   instances beyond them are kept `keepIdleMs` (a build often follows another), then
//   terminated: nothing runs, nothing bills by the hour, while nothing waits.
// - Stages still without an instance (after idle and booting ones) raise the desired capacity,
//   within `maxInstances` across architectures. The group takes them from its warm pool of
//   stopped instances first, when it has one.
// - Spot with on-demand fallback: a Spot group whose oldest waiting stage has waited longer
//   than `spotPatienceMs` while the maximum was not what held it (so Spot did not deliver)
//   launches on-demand until nothing waits that long; then Spot again.

import type { Arch } from '../pipeline/types.js';

export type FleetInstanceState =
  /** Launching, or running but not yet registered with the cluster. */
  | 'booting'
  /** Registered with the cluster, ACTIVE: ECS may place a task on it. */
  | 'ready'
  /** Stopped in the group's warm pool: costs only its disk. */
  | 'warm'
  /** Terminating, stopping, or draining: counts for nothing. */
  | 'leaving';

export interface FleetInstance {
  instanceId: string;
  arch: Arch;
  state: FleetInstanceState;
  /** Tasks ECS runs or is placing on it. */
  tasks: number;
  /** It ran a build with root on it (ec2-task.ts, SPENT_ATTRIBUTE): replaced, never reused. */
  spent: boolean;
  /** Epoch ms since a ready instance has had no task. */
  idleSince?: number;
}

export interface FleetInput {
  now: number;
  instances: readonly FleetInstance[];
  /** Stages waiting for EC2 capacity, per architecture. */
  waiting: Partial<Record<Arch, number>>;
  /** Most instances at once, across architectures (booting, ready, busy). */
  maxInstances: number;
  /** How long an idle instance beyond what waits is kept for the next build. */
  keepIdleMs: number;
  /** The architectures whose group launches Spot instances. */
  spot?: Partial<Record<Arch, boolean>>;
  /** Epoch ms the oldest stage waiting for each architecture was queued. */
  oldestWaiting?: Partial<Record<Arch, number>>;
  /** How long a stage waits for Spot before its group launches on-demand instead. */
  spotPatienceMs?: number;
}

export interface FleetDecision {
  /** Each architecture's desired capacity once the terminations below are done. */
  desired: Partial<Record<Arch, number>>;
  /** Instances to terminate (decrementing the desired capacity), with why. */
  terminate: { instanceId: string; arch: Arch; why: string }[];
  /** Idle, clean, ready instances per architecture: how many waiting stages may start now. */
  free: Partial<Record<Arch, number>>;
  /** Stages per architecture that wait for an instance beyond maxInstances. */
  overLimit: Partial<Record<Arch, number>>;
  /** Spot groups that should launch on-demand instances now (true) or Spot again (false). */
  onDemand: Partial<Record<Arch, boolean>>;
}

export const DEFAULT_SPOT_PATIENCE_MS = 3 * 60_000;

export const DEFAULT_KEEP_IDLE_MS = 5 * 60_000;

const ARCHES: readonly Arch[] = ['amd64', 'arm64'];

export function decideFleet(input: FleetInput): FleetDecision {
  const terminate: FleetDecision['terminate'] = [];
  const free: FleetDecision['free'] = {};
  const counted: Partial<Record<Arch, number>> = {};
  const shortfall: Partial<Record<Arch, number>> = {};
  for (const arch of ARCHES) {
    const live = input.instances.filter((i) => i.arch === arch && (i.state === 'booting' || i.state === 'ready'));
    const need = input.waiting[arch] ?? 0;
    const idle: FleetInstance[] = [];
    let kept = 0;
    for (const i of live) {
      if (i.state === 'ready' && i.tasks === 0 && i.spent) {
        terminate.push({ instanceId: i.instanceId, arch, why: 'it ran a build with root on the instance (privileged or the Docker socket): replaced by a clean one' });
      } else if (i.state === 'ready' && i.tasks === 0) {
        idle.push(i);
      } else {
        kept += 1;
      }
    }
    const booting = live.filter((i) => i.state === 'booting').length;
    // The longest idle go first; those the waiting stages need stay.
    idle.sort((a, b) => (a.idleSince ?? input.now) - (b.idleSince ?? input.now) || (a.instanceId < b.instanceId ? -1 : 1));
    const surplus = Math.max(0, idle.length - need);
    const leaving = idle.slice(0, surplus).filter((i) => input.now - (i.idleSince ?? input.now) >= input.keepIdleMs);
    for (const i of leaving) terminate.push({ instanceId: i.instanceId, arch, why: `idle for ${Math.round((input.now - (i.idleSince ?? input.now)) / 1000)} s with no build waiting` });
    const idleKept = idle.length - leaving.length;
    free[arch] = idleKept;
    counted[arch] = kept + idleKept;
    shortfall[arch] = Math.max(0, need - idleKept - booting);
  }
  let room = Math.max(0, input.maxInstances - ARCHES.reduce((n, a) => n + (counted[a] ?? 0), 0));
  const desired: FleetDecision['desired'] = {};
  const overLimit: FleetDecision['overLimit'] = {};
  for (const arch of ARCHES) {
    const add = Math.min(shortfall[arch] ?? 0, room);
    room -= add;
    desired[arch] = (counted[arch] ?? 0) + add;
    if ((shortfall[arch] ?? 0) > add) overLimit[arch] = (shortfall[arch] ?? 0) - add;
  }
  const onDemand: FleetDecision['onDemand'] = {};
  for (const arch of ARCHES) {
    if (!input.spot?.[arch]) continue;
    const since = input.oldestWaiting?.[arch];
    const starved = since !== undefined && input.now - since >= (input.spotPatienceMs ?? DEFAULT_SPOT_PATIENCE_MS) && overLimit[arch] === undefined;
    onDemand[arch] = starved;
  }
  return { desired, terminate, free, overLimit, onDemand };
}

/** The EC2 capacity as the autoscaler drives it (adapters/ec2/fleet.ts: ECS and EC2 Auto Scaling). */
export interface Ec2Fleet {
  /** The architectures the deployment has an Auto Scaling group (and capacity provider) for. */
  readonly arches: readonly Arch[];
  /** Most instances at once, across architectures. */
  readonly maxInstances: number;
  /** Every instance of the groups, as the group and the cluster see it. */
  describe(now: number): Promise<FleetInstance[]>;
  /** Spot groups, per architecture (each may fall back to on-demand: FleetDecision.onDemand). */
  readonly spot: Partial<Record<Arch, boolean>>;
  /** Terminates what the decision says (decrementing the desired capacity), switches Spot groups to on-demand and back, then sets each group's desired capacity. */
  apply(decision: FleetDecision): Promise<void>;
  /** Marks the container instance a build with root on it was placed on (ec2-task.ts, SPENT_ATTRIBUTE). */
  markSpent(containerInstanceArn: string): Promise<void>;
}
