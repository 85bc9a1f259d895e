// The EC2 fleet adapter (adapters/ec2/fleet.ts): its reading of an Auto Scaling instance and its
// container instance (fleetState), what the fleet decision (core/scaling/ec2-fleet.ts) sees; then
// the adapter against the Auto Scaling stand-in.
import { AutoScalingClient, SetDesiredCapacityCommand, TerminateInstanceInAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { ECSClient } from '@aws-sdk/client-ecs';
import { afterEach, describe, expect, it } from 'vitest';
import { AwsEc2Fleet, alreadyTerminated, type Ec2FleetConfig, type FleetRetry, fleetState } from '../../adapters/ec2/fleet.js';
import { SPENT_ATTRIBUTE } from '../../core/pipeline/ec2-task.js';
import { DEFAULT_KEEP_IDLE_MS, decideFleet, type FleetInput } from '../../core/scaling/ec2-fleet.js';
import { type AutoScalingStandIn, type GroupSpec, startAutoScalingStandIn } from '../support/auto-scaling-stand-in.js';

const registered = (active: boolean) => ({ arn: 'arn:ci', active, tasks: 0, spent: false });

describe('fleetState', () => {
  it.each([
    ['Pending', undefined, 'booting'],
    ['Pending:Wait', undefined, 'booting'],
    ['InService', undefined, 'booting'], // running, its ECS agent not registered yet
    ['InService', registered(true), 'ready'],
    ['InService', registered(false), 'leaving'], // draining or its agent disconnected
    ['Warmed:Stopped', undefined, 'warm'],
    ['Terminating', registered(true), 'leaving'],
    ['Terminating:Wait', undefined, 'leaving'],
  ] as const)('%s, registered %j → %s', (lifecycle, known, state) => {
    expect(fleetState(lifecycle, known)).toBe(state);
  });
});

// The adapter itself, with the real SDK clients, against a strict stand-in of Auto Scaling and
// the cluster's container instances (test/support/auto-scaling-stand-in.ts). The clients make one
// attempt each (maxAttempts 1): the retries seen are the adapter's, through core/util/retry.ts.
describe('AwsEc2Fleet against the Auto Scaling stand-in (real SDK clients)', () => {
  const credentials = { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'stand-in' };
  let standIn: AutoScalingStandIn | undefined;
  let slept: number[] = [];
  const retry: FleetRetry = { attempts: 4, baseMs: 10, maxMs: 80, random: () => 1, sleep: async (ms) => void slept.push(ms) };

  afterEach(async () => {
    await standIn?.stop();
    standIn = undefined;
    slept = [];
  });

  async function fleetOn(groups: GroupSpec[], config: Partial<Ec2FleetConfig> = {}, ecsPageSize?: number) {
    standIn = await startAutoScalingStandIn({ cluster: 'slipway', groups, ...(ecsPageSize ? { ecsPageSize } : {}) });
    const autoscaling = new AutoScalingClient({ endpoint: standIn.autoScalingUrl, region: 'us-east-1', credentials, maxAttempts: 1 });
    const ecs = new ECSClient({ endpoint: standIn.ecsUrl, region: 'us-east-1', credentials, maxAttempts: 1 });
    const fleet = new AwsEc2Fleet(autoscaling, ecs, { cluster: 'slipway', groups: { amd64: groups[0]!.name }, maxInstances: 4, ...config }, retry);
    return { fleet, autoscaling, standIn };
  }

  /** One autoscaler pass of the EC2 capacity: describe, decide, apply (lambdas/autoscaler/autoscaler.ts sizeEc2Capacity). */
  async function pass(fleet: AwsEc2Fleet, now: number, waiting: number, extra: Partial<FleetInput> = {}) {
    const instances = await fleet.describe(now);
    const decision = decideFleet({ now, instances, waiting: { amd64: waiting }, maxInstances: fleet.maxInstances, keepIdleMs: DEFAULT_KEEP_IDLE_MS, spot: fleet.spot, ...extra });
    await fleet.apply(decision);
    return decision;
  }

  const states = async (fleet: AwsEc2Fleet, now = 0) => (await fleet.describe(now)).map((i) => i.state);

  it('scales out from 0: the desired capacity is set, instances boot, register with the cluster and are ready', async () => {
    const { fleet, standIn: s } = await fleetOn([{ name: 'slipway-amd64', maxSize: 4 }]);
    expect(await fleet.describe(0)).toEqual([]);
    const decision = await pass(fleet, 0, 2);
    expect(decision.desired).toMatchObject({ amd64: 2 });
    expect(s.groups.get('slipway-amd64')!.desiredCapacity).toBe(2);
    expect(s.calls.filter((c) => c.service === 'autoscaling').map((c) => c.action)).toEqual(['DescribeAutoScalingGroups', 'DescribeAutoScalingGroups', 'SetDesiredCapacity']);
    expect(s.calls.at(-1)?.params).toMatchObject({ AutoScalingGroupName: 'slipway-amd64', DesiredCapacity: '2', HonorCooldown: 'false' });
    // AWS has not launched them yet: the next pass asks for the same absolute number again, never more.
    expect(await fleet.describe(1)).toEqual([]);
    expect((await pass(fleet, 1, 2)).desired).toMatchObject({ amd64: 2 });
    s.advance();
    expect(await states(fleet, 2)).toEqual(['booting', 'booting']);
    // Booting instances count for the waiting stages: no more are asked for.
    expect((await pass(fleet, 2, 2)).desired).toMatchObject({ amd64: 2 });
    s.advance();
    const ready = await fleet.describe(3);
    expect(ready.map((i) => [i.state, i.tasks, i.spent])).toEqual([['ready', 0, false], ['ready', 0, false]]);
    expect(ready.map((i) => i.instanceId).sort()).toEqual(s.groups.get('slipway-amd64')!.instances.map((i) => i.instanceId).sort());
  });

  it('scales back to 0 once idle past keepIdleMs: each instance terminated with the desired capacity decremented, then gone from group and cluster', async () => {
    const { fleet, standIn: s } = await fleetOn([{ name: 'slipway-amd64', maxSize: 4, desiredCapacity: 2 }]);
    s.advance();
    s.advance();
    const busy = [...s.containerInstances.values()][0]!;
    busy.runningTasksCount = 1;
    expect((await pass(fleet, 0, 0)).terminate).toEqual([]);
    // The idle one goes after keepIdleMs; the busy one stays while its build runs.
    const later = await pass(fleet, DEFAULT_KEEP_IDLE_MS, 0);
    expect(later.terminate.map((t) => t.instanceId)).toEqual([...s.containerInstances.values()].filter((c) => c !== busy).map((c) => c.ec2InstanceId));
    expect(s.groups.get('slipway-amd64')!.desiredCapacity).toBe(1);
    busy.runningTasksCount = 0;
    await pass(fleet, DEFAULT_KEEP_IDLE_MS + 1, 0);
    await pass(fleet, 2 * DEFAULT_KEEP_IDLE_MS + 1, 0);
    expect(s.groups.get('slipway-amd64')!.desiredCapacity).toBe(0);
    expect(s.calls.filter((c) => c.action === 'TerminateInstanceInAutoScalingGroup').map((c) => c.params)).toEqual([
      expect.objectContaining({ ShouldDecrementDesiredCapacity: 'true' }),
      expect.objectContaining({ InstanceId: busy.ec2InstanceId, ShouldDecrementDesiredCapacity: 'true' }),
    ]);
    expect(await states(fleet, 3 * DEFAULT_KEEP_IDLE_MS)).toEqual(['leaving', 'leaving']);
    s.advance();
    expect(await fleet.describe(3 * DEFAULT_KEEP_IDLE_MS)).toEqual([]);
    expect(s.groups.get('slipway-amd64')!.instances).toEqual([]);
  });

  it('replaces an instance a build was root on: markSpent tags its container instance, the next pass terminates it once idle', async () => {
    const { fleet, standIn: s } = await fleetOn([{ name: 'slipway-amd64', maxSize: 4, desiredCapacity: 1 }]);
    s.advance();
    s.advance();
    const [instance] = [...s.containerInstances.values()];
    await fleet.markSpent(instance!.containerInstanceArn);
    expect(instance!.attributes).toEqual([{ name: SPENT_ATTRIBUTE, value: 'true' }]);
    expect((await fleet.describe(0))[0]).toMatchObject({ state: 'ready', spent: true });
    const decision = await pass(fleet, 0, 1);
    expect(decision.terminate.map((t) => t.instanceId)).toEqual([instance!.ec2InstanceId]);
    // A clean one is asked for in its place, for the stage that waits.
    expect(s.groups.get('slipway-amd64')!.desiredCapacity).toBe(1);
    await expect(fleet.markSpent('arn:aws:ecs:us-east-1:000000000000:container-instance/slipway/none')).rejects.toMatchObject({ name: 'TargetNotFoundException' });
  });

  it('a group at its MaxSize: the desired capacity stops there, never a SetDesiredCapacity AWS refuses (ValidationError, as for an unknown group or instance)', async () => {
    const { fleet, autoscaling, standIn: s } = await fleetOn([{ name: 'slipway-amd64', maxSize: 2 }]);
    const decision = await pass(fleet, 0, 5);
    expect(decision.desired).toMatchObject({ amd64: 4 });
    expect(s.groups.get('slipway-amd64')!.desiredCapacity).toBe(2);
    expect(s.calls.filter((c) => c.action === 'SetDesiredCapacity').map((c) => c.params.DesiredCapacity)).toEqual(['2']);
    // What AWS answers the call the adapter avoided, and to an unknown group or instance.
    const refused = (sent: Promise<unknown>) => sent.then(() => 'accepted', (err) => ({ name: err.name, message: err.message, status: err.$metadata?.httpStatusCode }));
    expect(await refused(autoscaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'slipway-amd64', DesiredCapacity: 3 })))).toEqual({ name: 'ValidationError', message: 'New SetDesiredCapacity value 3 is above max value 2 for the AutoScalingGroup.', status: 400 });
    expect(await refused(autoscaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'slipway-amd64', DesiredCapacity: -1 })))).toMatchObject({ name: 'ValidationError', message: 'New SetDesiredCapacity value -1 is below min value 0 for the AutoScalingGroup.' });
    expect(await refused(autoscaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'nope', DesiredCapacity: 1 })))).toMatchObject({ name: 'ValidationError', message: 'AutoScalingGroup name not found - AutoScalingGroup nope not found' });
    expect(await refused(autoscaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: 'i-0000000000000dead', ShouldDecrementDesiredCapacity: true })))).toMatchObject({ name: 'ValidationError', message: 'Instance Id not found - No managed instance found for instance ID: i-0000000000000dead' });
    expect(s.groups.get('slipway-amd64')!.desiredCapacity).toBe(2);
  });

  it('an unknown group is a clear error, not an empty fleet', async () => {
    const { fleet } = await fleetOn([{ name: 'slipway-amd64', maxSize: 2 }], { groups: { amd64: 'slipway-amd64', arm64: 'slipway-arm64' } });
    await expect(fleet.describe(0)).rejects.toThrow('EC2 capacity: the Auto Scaling group slipway-arm64 (arm64) does not exist; deploy the stack with ec2Capacity on');
  });

  it('throttled calls are retried by the one retry helper with back-off; a ValidationError is not retried; a throttle past the attempts is thrown as it came', async () => {
    const { fleet, standIn: s } = await fleetOn([{ name: 'slipway-amd64', maxSize: 4 }]);
    s.throttle('DescribeAutoScalingGroups', 1);
    s.throttle('ListContainerInstances', 2);
    s.throttle('SetDesiredCapacity', 3);
    await pass(fleet, 0, 1);
    expect(s.groups.get('slipway-amd64')!.desiredCapacity).toBe(1);
    const count = (action: string) => s.calls.filter((c) => c.action === action).length;
    expect([count('DescribeAutoScalingGroups'), count('ListContainerInstances'), count('SetDesiredCapacity')]).toEqual([2, 3, 4]);
    // Full-jitter ceilings (random 1): 10, 20, 40 ms, capped at 80 (core/util/retry.ts backoffMs).
    expect(slept).toEqual([10, 10, 20, 10, 20, 40]);

    slept = [];
    s.throttle('SetDesiredCapacity', 4);
    await expect(fleet.apply({ desired: { amd64: 2 }, terminate: [], free: {}, overLimit: {}, onDemand: {} })).rejects.toMatchObject({ name: 'Throttling', message: 'Rate exceeded' });
    expect(slept).toHaveLength(3);
    expect(s.groups.get('slipway-amd64')!.desiredCapacity).toBe(1);

    const before = count('TerminateInstanceInAutoScalingGroup');
    await expect(fleet.apply({ desired: {}, terminate: [{ instanceId: 'i-00000000000000bad', arch: 'amd64', why: 'test' }], free: {}, overLimit: {}, onDemand: {} })).rejects.toMatchObject({ name: 'ValidationError' });
    expect(count('TerminateInstanceInAutoScalingGroup') - before).toBe(1);
  });

  it('a termination whose answer was lost is retried, and the retry finding the instance gone counts as done: the pass goes on, the capacity decremented once', async () => {
    const { fleet, standIn: s } = await fleetOn([{ name: 'slipway-amd64', maxSize: 4, desiredCapacity: 2 }]);
    s.advance();
    s.advance();
    const [first, second] = [...s.containerInstances.values()].map((c) => c.ec2InstanceId);
    // The first termination takes effect and the instance is gone before the retry (AWS finished it); its answer never came.
    s.loseAnswer('TerminateInstanceInAutoScalingGroup', 1, () => s.advance());
    await fleet.apply({ desired: { amd64: 0 }, terminate: [first!, second!].map((instanceId) => ({ instanceId, arch: 'amd64' as const, why: 'idle' })), free: {}, overLimit: {}, onDemand: {} });
    const terminations = s.calls.filter((c) => c.action === 'TerminateInstanceInAutoScalingGroup').map((c) => c.params.InstanceId);
    expect(terminations).toEqual([first, first, second]);
    expect(s.calls.filter((c) => c.action === 'SetDesiredCapacity').map((c) => c.params.DesiredCapacity)).toEqual(['0']);
    expect(s.groups.get('slipway-amd64')!.desiredCapacity).toBe(0);
    // A first attempt that finds no such instance is still an error.
    await expect(fleet.apply({ desired: {}, terminate: [{ instanceId: first!, arch: 'amd64', why: 'again' }], free: {}, overLimit: {}, onDemand: {} })).rejects.toMatchObject({ name: 'ValidationError', message: expect.stringContaining('Instance Id not found') });
  });

  it('recognises the answers of an instance already on its way out, and not the minimum-size refusal', () => {
    const validation = (message: string) => Object.assign(new Error(message), { name: 'ValidationError' });
    expect(alreadyTerminated(validation('Instance Id not found - No managed instance found for instance ID: i-0123'))).toBe(true);
    expect(alreadyTerminated(validation('The instance i-0123 is not in InService or Standby.'))).toBe(true);
    expect(alreadyTerminated(validation("Currently, desiredSize equals minSize (1). Terminating instance without replacement will violate group's min size constraint."))).toBe(false);
    expect(alreadyTerminated(Object.assign(new Error('Instance Id not found'), { name: 'Throttling' }))).toBe(false);
  });

  it('a Spot group that waited too long launches on-demand (UpdateAutoScalingGroup once), and Spot again when nothing waits', async () => {
    const { fleet, standIn: s } = await fleetOn([{ name: 'slipway-amd64', maxSize: 4, spot: true }], { spot: { amd64: true } });
    const patience = { oldestWaiting: { amd64: 0 }, spotPatienceMs: 60_000 };
    await pass(fleet, 0, 1, patience);
    s.advance();
    expect(s.groups.get('slipway-amd64')!.instances.map((i) => i.market)).toEqual(['spot']);
    // Spot delivered nothing for longer than the patience: on-demand from now on.
    await pass(fleet, 60_000, 2, patience);
    expect(s.groups.get('slipway-amd64')!.onDemandPercentageAboveBaseCapacity).toBe(100);
    await pass(fleet, 61_000, 2, patience);
    expect(s.calls.filter((c) => c.action === 'UpdateAutoScalingGroup')).toHaveLength(1);
    s.advance();
    expect(s.groups.get('slipway-amd64')!.instances.map((i) => i.market).sort()).toEqual(['on-demand', 'spot']);
    await pass(fleet, 62_000, 0);
    expect(s.groups.get('slipway-amd64')!.onDemandPercentageAboveBaseCapacity).toBe(0);
    expect(s.calls.filter((c) => c.action === 'UpdateAutoScalingGroup').map((c) => c.params['MixedInstancesPolicy.InstancesDistribution.OnDemandPercentageAboveBaseCapacity'])).toEqual(['100', '0']);
  });

  it('a group with a warm pool starts its stopped instance first (not listed while warm), and the pool is refilled', async () => {
    const { fleet, standIn: s } = await fleetOn([{ name: 'slipway-amd64', maxSize: 4, warmPool: 1 }]);
    const [warm] = s.groups.get('slipway-amd64')!.warmPool!.instances;
    expect(await fleet.describe(0)).toEqual([]);
    await pass(fleet, 0, 1);
    s.advance();
    expect((await fleet.describe(1)).map((i) => [i.instanceId, i.state])).toEqual([[warm!.instanceId, 'booting']]);
    const pool = s.groups.get('slipway-amd64')!.warmPool!.instances;
    expect(pool).toHaveLength(1);
    expect(pool[0]!.instanceId).not.toBe(warm!.instanceId);
  });

  it('reads every page of the cluster’s container instances', async () => {
    const { fleet, standIn: s } = await fleetOn([{ name: 'slipway-amd64', maxSize: 4, desiredCapacity: 3 }], {}, 2);
    s.advance();
    s.advance();
    expect(await states(fleet)).toEqual(['ready', 'ready', 'ready']);
    expect(s.calls.filter((c) => c.action === 'ListContainerInstances')).toHaveLength(2);
  });
});
