// EC2 Auto Scaling groups and the ECS cluster their instances register with, on loopback, as
// the real SDK clients speak them: Auto Scaling's query protocol (a form body with Action and
// Version, an XML answer, errors as <ErrorResponse><Error><Code>…) and ECS's JSON 1.1 for the
// container instances (local/aws-json.ts). What the EC2 fleet adapter (adapters/ec2/fleet.ts)
// calls, as strict as AWS where the API reference says what AWS refuses:
//
// - DescribeAutoScalingGroups: groups by name (unknown names are left out, no error);
//   MaxRecords 1–100. Warm pool instances are not among Instances (they are DescribeWarmPool's).
//   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeAutoScalingGroups.html
// - SetDesiredCapacity: "This number must be greater than or equal to the minimum size of the
//   group and less than or equal to the maximum size of the group"
//   (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_SetDesiredCapacity.html,
//   DesiredCapacity); outside, ValidationError "New SetDesiredCapacity value N is above max value
//   M for the AutoScalingGroup." (… below min value …), as AWS words it. An unknown group:
//   ValidationError "AutoScalingGroup name not found - AutoScalingGroup NAME not found".
// - TerminateInstanceInAutoScalingGroup: ShouldDecrementDesiredCapacity is required; an instance
//   not in a group is a ValidationError; decrementing below the group's minimum is refused
//   (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html);
//   without decrementing, the group launches a replacement.
// - UpdateAutoScalingGroup: sizes as SetDesiredCapacity checks them; the mixed instances
//   policy's InstancesDistribution merged into the group's (OnDemandPercentageAboveBaseCapacity
//   0–100, https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_InstancesDistribution.html).
// - Throttling: HTTP 400, Code `Throttling`, "Rate exceeded", as the query APIs answer it
//   (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/CommonErrors.html lists the
//   throttling error; the SDK classifies `Throttling` as a throttle).
// - A lost answer (`loseAnswer`): the call takes effect, then the connection drops, as when an
//   answer is lost on the way; its caller retries a call that already happened.
// - ECS ListContainerInstances (pages), DescribeContainerInstances (at most 100 per call,
//   unknown ARNs as failures[] "MISSING"), PutAttributes (an unknown target:
//   TargetNotFoundException), https://docs.aws.amazon.com/AmazonECS/latest/APIReference/.
//
// Time is the test's: instances change state only when `advance()` runs (what AWS does between
// two calls, a scaling activity later): terminating instances go, pending ones come into
// service and their ECS agent registers, the group launches (warm pool first) or terminates
// toward its desired capacity, and the warm pool is refilled. Every call is recorded.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsJsonError, createAwsJsonServer } from '../../local/aws-json.js';

const NAMESPACE = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';
const REGION = 'us-east-1';
const ACCOUNT = '000000000000';

export type LifecycleState = 'Pending' | 'InService' | 'Terminating' | 'Warmed:Stopped';

export interface StandInInstance {
  instanceId: string;
  lifecycleState: LifecycleState;
  /** Spot or on-demand, as the group's distribution said when it was launched. */
  market: 'spot' | 'on-demand';
  launchedAt: number;
}

export interface StandInContainerInstance {
  containerInstanceArn: string;
  ec2InstanceId: string;
  status: 'ACTIVE' | 'DRAINING' | 'INACTIVE';
  agentConnected: boolean;
  runningTasksCount: number;
  pendingTasksCount: number;
  attributes: { name: string; value?: string }[];
}

export interface StandInGroup {
  name: string;
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  instances: StandInInstance[];
  /** Stopped instances ready to start (their disks cost only): the group launches from here first. */
  warmPool?: { minSize: number; maxGroupPreparedCapacity: number; instances: StandInInstance[] };
  /** Present on a Spot group (a mixed instances policy). */
  onDemandPercentageAboveBaseCapacity?: number;
}

export interface GroupSpec {
  name: string;
  minSize?: number;
  maxSize: number;
  desiredCapacity?: number;
  warmPool?: number;
  spot?: boolean;
}

export interface RecordedCall {
  service: 'autoscaling' | 'ecs';
  action: string;
  params: Record<string, string> | Record<string, unknown>;
}

export interface AutoScalingStandIn {
  /** Auto Scaling's endpoint (AutoScalingClient `endpoint`). */
  autoScalingUrl: string;
  /** The ECS endpoint for the cluster's container instances (ECSClient `endpoint`). */
  ecsUrl: string;
  cluster: string;
  groups: Map<string, StandInGroup>;
  /** The cluster's container instances by EC2 instance id. */
  containerInstances: Map<string, StandInContainerInstance>;
  calls: RecordedCall[];
  /** The next `times` calls of `action` answer as a throttled request. */
  throttle(action: string, times: number): void;
  /**
   * The next `times` calls of `action` take effect, then their answer is lost (the connection
   * drops: the SDK sees ECONNRESET, a network error its caller retries). `meanwhile` runs
   * between the effect and the loss: what AWS did before the retry (e.g. `advance`).
   */
  loseAnswer(action: string, times: number, meanwhile?: () => void): void;
  /** One round of what AWS does between calls (see the head of this file). */
  advance(): void;
  stop(): Promise<void>;
}

class QueryError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const validation = (message: string) => new QueryError('ValidationError', message);
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const tag = (name: string, value: string | number | boolean | undefined): string => (value === undefined ? '' : `<${name}>${typeof value === 'string' ? esc(value) : value}</${name}>`);

export async function startAutoScalingStandIn(options: { cluster?: string; groups: GroupSpec[]; ecsPageSize?: number }): Promise<AutoScalingStandIn> {
  const cluster = options.cluster ?? 'slipway';
  const groups = new Map<string, StandInGroup>();
  const containerInstances = new Map<string, StandInContainerInstance>();
  const calls: RecordedCall[] = [];
  const throttled = new Map<string, number>();
  const lostAnswers = new Map<string, { times: number; meanwhile?: () => void }>();
  let instanceCounter = 0;
  let clock = 0;
  const newInstance = (state: LifecycleState, market: StandInInstance['market']): StandInInstance => ({
    instanceId: `i-${(++instanceCounter).toString(16).padStart(17, '0')}`,
    lifecycleState: state,
    market,
    launchedAt: ++clock,
  });
  const marketOf = (g: StandInGroup): StandInInstance['market'] => (g.onDemandPercentageAboveBaseCapacity === undefined || g.onDemandPercentageAboveBaseCapacity >= 100 ? 'on-demand' : 'spot');
  const warmPoolTarget = (g: StandInGroup) => (g.warmPool ? Math.max(g.warmPool.minSize, g.warmPool.maxGroupPreparedCapacity - g.desiredCapacity) : 0);

  for (const spec of options.groups) {
    const minSize = spec.minSize ?? 0;
    const desired = spec.desiredCapacity ?? minSize;
    const group: StandInGroup = {
      name: spec.name,
      minSize,
      maxSize: spec.maxSize,
      desiredCapacity: desired,
      instances: [],
      ...(spec.warmPool ? { warmPool: { minSize: spec.warmPool, maxGroupPreparedCapacity: spec.warmPool, instances: [] } } : {}),
      ...(spec.spot ? { onDemandPercentageAboveBaseCapacity: 0 } : {}),
    };
    groups.set(spec.name, group);
    for (let i = 0; i < warmPoolTarget(group); i++) group.warmPool!.instances.push(newInstance('Warmed:Stopped', 'on-demand'));
  }

  const groupNamed = (name: string | undefined): StandInGroup => {
    if (!name) throw validation('1 validation error detected: Value null at \'autoScalingGroupName\' failed to satisfy constraint: Member must not be null');
    const g = groups.get(name);
    if (!g) throw validation(`AutoScalingGroup name not found - AutoScalingGroup ${name} not found`);
    return g;
  };
  const checkSizes = (min: number, max: number, desired: number, verb: string): void => {
    if (min > max) throw validation(`Max bound, ${max}, must be greater than or equal to min bound, ${min}`);
    if (desired > max) throw validation(`New ${verb} value ${desired} is above max value ${max} for the AutoScalingGroup.`);
    if (desired < min) throw validation(`New ${verb} value ${desired} is below min value ${min} for the AutoScalingGroup.`);
  };
  const intParam = (params: Record<string, string>, name: string, required: boolean): number | undefined => {
    const raw = params[name];
    if (raw === undefined) {
      if (required) throw validation(`1 validation error detected: Value null at '${name[0]!.toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`);
      return undefined;
    }
    const n = Number(raw);
    if (!Number.isInteger(n)) throw validation(`Invalid value '${raw}' for ${name}`);
    return n;
  };
  const activity = (g: StandInGroup, description: string) =>
    `<Activity>${tag('ActivityId', randomUUID())}${tag('AutoScalingGroupName', g.name)}${tag('Description', description)}${tag('Cause', `At ${new Date().toISOString()} ${description.toLowerCase()}.`)}${tag('StartTime', new Date().toISOString())}${tag('StatusCode', 'InProgress')}${tag('Progress', 0)}</Activity>`;

  function groupXml(g: StandInGroup): string {
    const instances = g.instances
      .map((i) => `<member>${tag('InstanceId', i.instanceId)}${tag('InstanceType', 'm7g.large')}${tag('AvailabilityZone', `${REGION}a`)}${tag('LifecycleState', i.lifecycleState)}${tag('HealthStatus', 'Healthy')}${tag('ProtectedFromScaleIn', false)}</member>`)
      .join('');
    const mixed = g.onDemandPercentageAboveBaseCapacity === undefined ? '' : `<MixedInstancesPolicy><InstancesDistribution>${tag('OnDemandBaseCapacity', 0)}${tag('OnDemandPercentageAboveBaseCapacity', g.onDemandPercentageAboveBaseCapacity)}${tag('SpotAllocationStrategy', 'price-capacity-optimized')}</InstancesDistribution></MixedInstancesPolicy>`;
    const warm = g.warmPool ? `${tag('WarmPoolSize', g.warmPool.instances.length)}<WarmPoolConfiguration>${tag('MinSize', g.warmPool.minSize)}${tag('MaxGroupPreparedCapacity', g.warmPool.maxGroupPreparedCapacity)}${tag('PoolState', 'Stopped')}${tag('Status', '')}</WarmPoolConfiguration>` : '';
    return `<member>${tag('AutoScalingGroupName', g.name)}${tag('AutoScalingGroupARN', `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:${randomUUID()}:autoScalingGroupName/${g.name}`)}${tag('MinSize', g.minSize)}${tag('MaxSize', g.maxSize)}${tag('DesiredCapacity', g.desiredCapacity)}${tag('DefaultCooldown', 300)}<AvailabilityZones><member>${REGION}a</member></AvailabilityZones>${tag('HealthCheckType', 'EC2')}${tag('HealthCheckGracePeriod', 0)}${tag('CreatedTime', '2030-01-01T00:00:00.000Z')}<Instances>${instances}</Instances>${mixed}${warm}</member>`;
  }

  function autoScaling(action: string, params: Record<string, string>): string {
    switch (action) {
      case 'DescribeAutoScalingGroups': {
        const max = intParam(params, 'MaxRecords', false) ?? 50;
        if (max < 1 || max > 100) throw validation(`1 validation error detected: Value '${max}' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to 100`);
        const names = Object.keys(params).filter((k) => /^AutoScalingGroupNames\.member\.\d+$/.test(k)).map((k) => params[k]!);
        const found = names.length ? names.flatMap((n) => (groups.has(n) ? [groups.get(n)!] : [])) : [...groups.values()];
        return `<AutoScalingGroups>${found.slice(0, max).map(groupXml).join('')}</AutoScalingGroups>`;
      }
      case 'SetDesiredCapacity': {
        const g = groupNamed(params.AutoScalingGroupName);
        const desired = intParam(params, 'DesiredCapacity', true)!;
        checkSizes(g.minSize, g.maxSize, desired, 'SetDesiredCapacity');
        g.desiredCapacity = desired;
        return '';
      }
      case 'TerminateInstanceInAutoScalingGroup': {
        const id = params.InstanceId;
        if (params.ShouldDecrementDesiredCapacity === undefined) throw validation("1 validation error detected: Value null at 'shouldDecrementDesiredCapacity' failed to satisfy constraint: Member must not be null");
        const g = [...groups.values()].find((x) => x.instances.some((i) => i.instanceId === id));
        const instance = g?.instances.find((i) => i.instanceId === id);
        if (!g || !instance) throw validation(`Instance Id not found - No managed instance found for instance ID: ${id}`);
        const decrement = params.ShouldDecrementDesiredCapacity === 'true';
        if (instance.lifecycleState === 'Terminating') return activity(g, `Terminating EC2 instance: ${id}`);
        if (decrement && g.desiredCapacity - 1 < g.minSize) {
          throw validation(`Currently, desiredSize equals minSize (${g.minSize}). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.`);
        }
        instance.lifecycleState = 'Terminating';
        if (decrement) g.desiredCapacity -= 1;
        return activity(g, `Terminating EC2 instance: ${id}`);
      }
      case 'UpdateAutoScalingGroup': {
        const g = groupNamed(params.AutoScalingGroupName);
        const min = intParam(params, 'MinSize', false) ?? g.minSize;
        const max = intParam(params, 'MaxSize', false) ?? g.maxSize;
        const desired = intParam(params, 'DesiredCapacity', false) ?? Math.min(Math.max(g.desiredCapacity, min), max);
        checkSizes(min, max, desired, 'DesiredCapacity');
        const share = intParam(params, 'MixedInstancesPolicy.InstancesDistribution.OnDemandPercentageAboveBaseCapacity', false);
        if (share !== undefined) {
          if (share < 0 || share > 100) throw validation(`1 validation error detected: Value '${share}' at 'mixedInstancesPolicy.instancesDistribution.onDemandPercentageAboveBaseCapacity' failed to satisfy constraint: Member must have value between 0 and 100`);
          if (g.onDemandPercentageAboveBaseCapacity === undefined) throw validation('The specified MixedInstancesPolicy must contain a launch template; this group has no mixed instances policy to update');
          g.onDemandPercentageAboveBaseCapacity = share;
        }
        Object.assign(g, { minSize: min, maxSize: max, desiredCapacity: desired });
        return '';
      }
      default:
        throw new QueryError('InvalidAction', `The action ${action} is not valid for this web service (the stand-in answers what the EC2 fleet adapter calls).`);
    }
  }

  const autoScalingServer = createServer((req, res) => void serveQuery(req, res));
  async function serveQuery(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    const action = params.Action ?? '';
    calls.push({ service: 'autoscaling', action, params });
    res.setHeader('content-type', 'text/xml');
    res.setHeader('x-amzn-requestid', requestId);
    try {
      if (req.method !== 'POST' || params.Version !== '2011-01-01') throw new QueryError('InvalidAction', `expected POST with Action and Version=2011-01-01, got ${req.method} Version=${params.Version}`);
      const left = throttled.get(action) ?? 0;
      if (left > 0) {
        throttled.set(action, left - 1);
        throw new QueryError('Throttling', 'Rate exceeded');
      }
      const result = autoScaling(action, params);
      const lost = lostAnswers.get(action);
      if (lost && lost.times > 0) {
        lost.times -= 1;
        lost.meanwhile?.();
        req.socket.destroy();
        return;
      }
      res.writeHead(200);
      res.end(`<${action}Response xmlns="${NAMESPACE}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`);
    } catch (err) {
      const e = err instanceof QueryError ? err : new QueryError('InternalFailure', (err as Error).message, 500);
      res.writeHead(e.status);
      res.end(`<ErrorResponse xmlns="${NAMESPACE}"><Error><Type>${e.status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${e.code}</Code><Message>${esc(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`);
    }
  }

  const pageSize = options.ecsPageSize ?? 100;
  const ecsError = (type: string, message: string) => new AwsJsonError(type, message, 400);
  const byArn = () => new Map([...containerInstances.values()].map((c) => [c.containerInstanceArn, c]));
  const ecsServer = createAwsJsonServer({
    name: 'auto-scaling-stand-in-ecs',
    targetPrefix: 'AmazonEC2ContainerServiceV20141113.',
    notJsonType: 'ClientException',
    internalErrorType: 'ServerException',
    handle(operation, input) {
      calls.push({ service: 'ecs', action: operation, params: input });
      const left = throttled.get(operation) ?? 0;
      if (left > 0) {
        throttled.set(operation, left - 1);
        throw ecsError('ThrottlingException', 'Rate exceeded');
      }
      if (input.cluster !== cluster) throw ecsError('ClusterNotFoundException', 'Cluster not found.');
      switch (operation) {
        case 'ListContainerInstances': {
          const all = [...containerInstances.values()].filter((c) => c.status !== 'INACTIVE').map((c) => c.containerInstanceArn);
          const start = input.nextToken === undefined ? 0 : Number(String(input.nextToken).replace(/^page-/, ''));
          if (!Number.isInteger(start)) throw ecsError('InvalidParameterException', 'Invalid nextToken');
          const size = Math.min(Number(input.maxResults ?? pageSize), pageSize);
          const page = all.slice(start, start + size);
          return { containerInstanceArns: page, ...(start + size < all.length ? { nextToken: `page-${start + size}` } : {}) };
        }
        case 'DescribeContainerInstances': {
          const arns = (input.containerInstances ?? []) as string[];
          if (arns.length === 0 || arns.length > 100) throw ecsError('InvalidParameterException', 'containerInstances can have at most 100 items and at least 1.');
          const known = byArn();
          return {
            containerInstances: arns.flatMap((a) => (known.has(a) ? [structuredClone(known.get(a)!)] : [])),
            failures: arns.filter((a) => !known.has(a)).map((arn) => ({ arn, reason: 'MISSING' })),
          };
        }
        case 'PutAttributes': {
          const attributes = (input.attributes ?? []) as { name: string; value?: string; targetType?: string; targetId?: string }[];
          const known = byArn();
          for (const a of attributes) {
            const target = known.get(a.targetId ?? '');
            if (a.targetType !== 'container-instance' || !target) throw ecsError('TargetNotFoundException', `Could not find ${a.targetId}.`);
            target.attributes = [...target.attributes.filter((x) => x.name !== a.name), { name: a.name, ...(a.value !== undefined ? { value: a.value } : {}) }];
          }
          return { attributes };
        }
        default:
          throw ecsError('UnknownOperationException', `the stand-in answers ListContainerInstances, DescribeContainerInstances and PutAttributes, not ${operation}`);
      }
    },
  });

  function advance(): void {
    for (const g of groups.values()) {
      for (const i of g.instances.filter((x) => x.lifecycleState === 'Terminating')) {
        const c = containerInstances.get(i.instanceId);
        if (c) Object.assign(c, { status: 'INACTIVE', agentConnected: false });
      }
      g.instances = g.instances.filter((i) => i.lifecycleState !== 'Terminating');
      for (const i of g.instances.filter((x) => x.lifecycleState === 'Pending')) {
        i.lifecycleState = 'InService';
        // Its ECS agent starts and registers the instance with the cluster.
        containerInstances.set(i.instanceId, {
          containerInstanceArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:container-instance/${cluster}/${randomUUID().replace(/-/g, '')}`,
          ec2InstanceId: i.instanceId,
          status: 'ACTIVE',
          agentConnected: true,
          runningTasksCount: 0,
          pendingTasksCount: 0,
          attributes: [],
        });
      }
      let live = g.instances.length;
      while (live < g.desiredCapacity) {
        const warm = g.warmPool?.instances.shift();
        g.instances.push(warm ? Object.assign(warm, { lifecycleState: 'Pending' as const }) : newInstance('Pending', marketOf(g)));
        live += 1;
      }
      // Scale in: pending instances first, then the newest (a stand-in's termination policy).
      const order = [...g.instances].sort((a, b) => Number(b.lifecycleState === 'Pending') - Number(a.lifecycleState === 'Pending') || b.launchedAt - a.launchedAt);
      for (const i of order.slice(0, Math.max(0, live - g.desiredCapacity))) i.lifecycleState = 'Terminating';
      while (g.warmPool && g.warmPool.instances.length < warmPoolTarget(g)) g.warmPool.instances.push(newInstance('Warmed:Stopped', 'on-demand'));
    }
  }

  const listen = (server: Server) => new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
  const [autoScalingUrl, ecsUrl] = [await listen(autoScalingServer), await listen(ecsServer)];
  const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    autoScalingUrl,
    ecsUrl,
    cluster,
    groups,
    containerInstances,
    calls,
    throttle: (action, times) => void throttled.set(action, times),
    loseAnswer: (action, times, meanwhile) => void lostAnswers.set(action, { times, ...(meanwhile ? { meanwhile } : {}) }),
    advance,
    stop: async () => {
      await Promise.all([close(autoScalingServer), close(ecsServer)]);
    },
  };
}
