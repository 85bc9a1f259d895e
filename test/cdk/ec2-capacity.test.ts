// The optional EC2 capacity (lib/ec2-capacity.ts, issue 19) on the synthesized stack, with
// cdk-nag's AwsSolutions checks: off by default; on, groups from zero (min 0, no desired
// capacity), an optional stopped warm pool, IMDSv2 with hop limit 1, no inbound rule, the
// capacity providers with managed scaling off, and an instance role that is only an ECS agent.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, settingsFromContext } from '../../lib/config.js';
import { DEFAULT_EC2_CAPACITY, type Ec2CapacitySettings, ecrRepositoryArnsOf } from '../../lib/ec2-capacity.js';
import { type Synthesized, asList, fixtureProps, iamStatements, synthSlipway } from './synth.js';

const fast = { bundle: false, validate: false } as const;
type Resource = { Type: string; Properties?: Record<string, any> };

function ofType(s: Synthesized, type: string): [string, Resource][] {
  return Object.entries(s.json.Resources).filter(([, r]) => r.Type === type) as [string, Resource][];
}

describe('EC2 capacity is off by default', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthSlipway(fixtureProps(), { ...fast, nag: false });
  });
  afterAll(() => s?.cleanup());

  it('has no Auto Scaling group, launch template or EC2 capacity provider', () => {
    expect(ofType(s, 'AWS::AutoScaling::AutoScalingGroup')).toEqual([]);
    expect(ofType(s, 'AWS::EC2::LaunchTemplate')).toEqual([]);
    expect(ofType(s, 'AWS::ECS::CapacityProvider')).toEqual([]);
  });
});

const variants: { name: string; settings: Ec2CapacitySettings; warm: boolean }[] = [
  { name: 'Spot, both architectures', settings: { ...DEFAULT_EC2_CAPACITY, architectures: ['amd64', 'arm64'] }, warm: false },
  { name: 'on-demand, Bottlerocket', settings: { ...DEFAULT_EC2_CAPACITY, spot: false, image: 'bottlerocket', prepull: false }, warm: false },
  { name: 'on-demand with a warm pool, ECS-optimized', settings: { ...DEFAULT_EC2_CAPACITY, spot: false, warmPool: 1 }, warm: true },
  { name: 'on-demand with a warm pool, ECS-optimized, prepull off', settings: { ...DEFAULT_EC2_CAPACITY, spot: false, warmPool: 1, prepull: false }, warm: true },
];

/** The user data of a launch template as the instance gets it, with CloudFormation references shown as <Ref>. */
function userDataText(t: Resource): string {
  const data = t.Properties!.LaunchTemplateData.UserData as { 'Fn::Base64': unknown };
  const flat = (v: unknown): string => {
    if (typeof v === 'string') return v;
    if (v && typeof v === 'object' && 'Fn::Join' in v) {
      const [sep, parts] = (v as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
      return parts.map(flat).join(sep);
    }
    return '<Ref>';
  };
  return flat(data['Fn::Base64']);
}

for (const variant of variants) {
  describe(`EC2 capacity on (${variant.name})`, () => {
    let s: Synthesized;
    beforeAll(() => {
      s = synthSlipway(fixtureProps({ ec2Capacity: variant.settings }), { ...fast, nag: true });
    });
    afterAll(() => s?.cleanup());

    it('synthesizes cdk-nag clean', () => {
      expect(s.error).toBeUndefined();
      expect(s.findings.filter((f) => f.severity === 'error')).toEqual([]);
    });

    it('scales from zero: min 0, no desired capacity for a deploy to reset, at most maxInstances', () => {
      const groups = ofType(s, 'AWS::AutoScaling::AutoScalingGroup');
      expect(groups).toHaveLength(variant.settings.architectures.length);
      for (const [, g] of groups) {
        expect(g.Properties!.MinSize).toBe('0');
        expect(g.Properties!.MaxSize).toBe(String(variant.settings.maxInstances));
        expect(g.Properties!.DesiredCapacity).toBeUndefined();
      }
    });

    it(variant.warm ? 'keeps a warm pool of stopped instances' : 'has no warm pool', () => {
      const pools = ofType(s, 'AWS::AutoScaling::WarmPool');
      if (!variant.warm) return expect(pools).toEqual([]);
      expect(pools).toHaveLength(1);
      // Never back to the pool after a build: it refills with fresh instances.
      expect(pools[0]![1].Properties).toMatchObject({ PoolState: 'Stopped', MinSize: 1, InstanceReusePolicy: { ReuseOnScaleIn: false } });
    });

    it('requires IMDSv2 with a hop limit of 1, encrypts the disk, and gives a public IP only for the public subnets', () => {
      const templates = ofType(s, 'AWS::EC2::LaunchTemplate');
      expect(templates).toHaveLength(variant.settings.architectures.length);
      for (const [, t] of templates) {
        const data = t.Properties!.LaunchTemplateData;
        expect(data.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
        expect(data.BlockDeviceMappings[0].Ebs).toMatchObject({ Encrypted: true, VolumeType: 'gp3' });
        expect(data.NetworkInterfaces?.[0]?.AssociatePublicIpAddress).toBe(true);
      }
    });

    it('lets nothing in: the instances security group has no inbound rule', () => {
      const groups = ofType(s, 'AWS::EC2::SecurityGroup').filter(([id]) => id.includes('Ec2Capacity'));
      expect(groups).toHaveLength(1);
      expect(groups[0]![1].Properties!.SecurityGroupIngress).toBeUndefined();
      const ingress = ofType(s, 'AWS::EC2::SecurityGroupIngress').filter(([, r]) => JSON.stringify(r.Properties).includes(groups[0]![0]));
      expect(ingress).toEqual([]);
    });

    it('registers one capacity provider per architecture with managed scaling and termination protection off', () => {
      const providers = ofType(s, 'AWS::ECS::CapacityProvider');
      expect(providers).toHaveLength(variant.settings.architectures.length);
      for (const [, p] of providers) {
        expect(p.Properties!.AutoScalingGroupProvider).toMatchObject({ ManagedScaling: { Status: 'DISABLED' }, ManagedTerminationProtection: 'DISABLED' });
      }
    });

    it('pulls cached images first (prefer-cached) in the instances user data', () => {
      for (const [, t] of ofType(s, 'AWS::EC2::LaunchTemplate')) {
        const userData = JSON.stringify(t.Properties!.LaunchTemplateData.UserData);
        expect(userData).toMatch(variant.settings.image === 'bottlerocket' ? /image-pull-behavior = \\"prefer-cached\\"/ : /ECS_IMAGE_PULL_BEHAVIOR=prefer-cached/);
      }
    });

    const prepull = variant.settings.image === 'ecs-optimized' && variant.settings.prepull;
    const instanceRoleStatements = () => {
      const [roleId] = ofType(s, 'AWS::IAM::Role').find(([id]) => id.includes('Ec2CapacityInstanceRole'))!;
      expect(s.json.Resources[roleId]!.Properties!.ManagedPolicyArns).toBeUndefined();
      return iamStatements(s.json)
        .filter(({ owner }) => asList((s.json.Resources[owner]?.Properties?.Roles as { Ref: string }[] | undefined) ?? []).some((r) => r.Ref === roleId))
        .map(({ statement }) => statement);
    };

    it(prepull ? 'gives the instance role the ECS agent calls, its list and the cache and agent images to pull, no more' : 'gives the instance role only the ECS agent calls, no ECR, SSM or EC2 rights', () => {
      const statements = instanceRoleStatements();
      const actions = statements.flatMap((st) => asList(st.Action));
      expect(actions).toContain('ecs:RegisterContainerInstance');
      const other = statements.filter((st) => asList(st.Action).some((a) => !a.startsWith('ecs:') && !a.startsWith('logs:')));
      if (!prepull) {
        // With a warm pool, completing its own group's launch hook and nothing else.
        expect(other.map((st) => st.Action)).toEqual(variant.warm ? ['autoscaling:CompleteLifecycleAction'] : []);
        return;
      }
      const lists = ofType(s, 'AWS::SSM::Parameter').map(([id]) => id);
      expect(lists).toHaveLength(variant.settings.architectures.length);
      for (const st of other) {
        const resources = JSON.stringify(st.Resource);
        const acts = asList(st.Action);
        if (acts.includes('ssm:GetParameter')) {
          // Only its list, only GetParameter: no other parameter, not even their names.
          expect(acts).toEqual(['ssm:GetParameter']);
          expect(lists.some((id) => resources.includes(id))).toBe(true);
          expect(asList(st.Resource)).toHaveLength(1);
        } else if (acts.includes('ecr:GetAuthorizationToken')) {
          expect(acts).toEqual(['ecr:GetAuthorizationToken']);
        } else if (acts.includes('ecr:BatchGetImage')) {
          expect([...acts].sort()).toEqual(['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer']);
          // The cache's repositories (no import or create: nothing new is fetched upstream) and the agent's.
          expect(resources).toMatch(/repository\/slipway-ecr-public\/\*/);
          expect(resources).toMatch(/container-assets/);
          expect(resources).not.toMatch(/repository\/\*"/);
        } else {
          expect(acts).toEqual(['autoscaling:CompleteLifecycleAction']);
          expect(variant.warm).toBe(true);
          expect(resources).toMatch(/autoScalingGroupName\/.*-slipway-ec2-amd64/);
        }
      }
      expect(actions).not.toContain('ecr:BatchImportUpstreamImage');
      expect(actions).not.toContain('ssm:PutParameter');
    });

    it(variant.warm ? 'holds each instance launching into the warm pool with a launch hook its boot script completes after the rest of the user data' : 'has no launch hook', () => {
      // Auto Scaling stops an instance as soon as it launched into the pool, whatever its user data
      // still does, unless a launch hook holds it
      // (https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html).
      const hooks = ofType(s, 'AWS::AutoScaling::LifecycleHook');
      if (!variant.warm) return expect(hooks).toEqual([]);
      expect(hooks).toHaveLength(variant.settings.architectures.length);
      const name = prepull ? 'slipway-prepull' : 'slipway-launch';
      // Past the script's bounds (10 minutes of pulls, or 5 of installing the AWS CLI, plus margin) Auto Scaling goes on anyway.
      expect(hooks[0]![1].Properties).toMatchObject({ LifecycleHookName: name, LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING', DefaultResult: 'CONTINUE', HeartbeatTimeout: prepull ? 900 : 420 });
      // The pool launches its first instances as soon as it is created: the hook exists by then.
      const [, pool] = ofType(s, 'AWS::AutoScaling::WarmPool')[0]!;
      expect((pool as { DependsOn?: string[] }).DependsOn).toContain(hooks[0]![0]);
      const complete = instanceRoleStatements().find((st) => asList(st.Action).includes('autoscaling:CompleteLifecycleAction'))!;
      expect(JSON.stringify(complete.Resource)).toMatch(/autoScalingGroupName\/.*-slipway-ec2-amd64/);
      for (const [, t] of ofType(s, 'AWS::EC2::LaunchTemplate')) {
        const text = userDataText(t);
        if (prepull) {
          // The prepull script completes it (its own tests: test/cdk/ec2-prepull-script.test.ts).
          expect(text).toMatch(/SLIPWAY_PREPULL_LIFECYCLE_HOOK=slipway-prepull\n/);
          expect(text).not.toMatch(/slipway-launch-hook/);
          continue;
        }
        // The script as tested (test/cdk/ec2-prepull-script.test.ts), byte for byte, for the hook and group it holds.
        expect(text).toContain(readFileSync(new URL('../../lib/ec2-launch-hook.sh', import.meta.url), 'utf8').trimEnd());
        expect(text).toMatch(/SLIPWAY_LAUNCH_HOOK=slipway-launch\nSLIPWAY_LAUNCH_HOOK_GROUP=\S+-slipway-ec2-amd64\nSLIPWAY_LAUNCH_HOOK_REGION=<Ref>\n/);
        expect(text).toMatch(/WantedBy=multi-user\.target/);
        expect(text).toMatch(/ECS_WARM_POOLS_CHECK=true/);
        // Started by the last line: every line before it (the ECS agent's settings) has run by then.
        expect(text.trimEnd().split('\n').at(-1)).toBe('systemctl start --no-block slipway-launch-hook.service');
        expect(text).toMatch(/systemctl enable slipway-launch-hook\.service\n/);
      }
    });

    it(prepull ? 'pulls the common images ahead: the boot script as a unit started without blocking the ECS agent' : 'pulls nothing ahead (Bottlerocket, or prepull off)', () => {
      for (const [, t] of ofType(s, 'AWS::EC2::LaunchTemplate')) {
        const text = userDataText(t);
        if (!prepull) {
          expect(text).not.toMatch(/slipway-prepull/);
          continue;
        }
        // EC2 takes 16 KB of user data; the references resolve to a few dozen characters each.
        expect(Buffer.byteLength(text) + (text.match(/<Ref>/g) ?? []).length * 200).toBeLessThan(16 * 1024);
        // The script as tested (test/cdk/ec2-prepull-script.test.ts), byte for byte.
        expect(text).toContain(readFileSync(new URL('../../lib/ec2-prepull.sh', import.meta.url), 'utf8').trimEnd());
        expect(text).toMatch(/Type=simple/);
        expect(text).toMatch(/systemctl enable slipway-prepull\.service\nsystemctl start --no-block slipway-prepull\.service/);
        expect(text).toMatch(/SLIPWAY_PREPULL_PARAMETER=<Ref>/);
        expect(text).toMatch(/SLIPWAY_PREPULL_DEADLINE_SECONDS=600\nSLIPWAY_PREPULL_PARALLEL=3\nSLIPWAY_PREPULL_MAX_IMAGES=12\n/);
        if (variant.warm) {
          expect(text).toMatch(/ECS_WARM_POOLS_CHECK=true/);
          expect(text).toMatch(/SLIPWAY_PREPULL_LIFECYCLE_HOOK=slipway-prepull\nSLIPWAY_PREPULL_GROUP=\S+-slipway-ec2-amd64/);
        } else {
          expect(text).not.toMatch(/^SLIPWAY_PREPULL_GROUP=/m);
        }
      }
      const hooks = ofType(s, 'AWS::AutoScaling::LifecycleHook').filter(([id]) => id.includes('Prepull'));
      if (!prepull || !variant.warm) return expect(hooks).toEqual([]);
      // Warm pool: a new instance keeps running until its pulls are done, then is stopped in the pool.
      expect(hooks).toHaveLength(1);
      expect(hooks[0]![1].Properties).toMatchObject({ LifecycleHookName: 'slipway-prepull', LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING', DefaultResult: 'CONTINUE', HeartbeatTimeout: 900 });
    });

    it(prepull ? 'lets the autoscaler read and rewrite the lists, and tells it where they are' : 'keeps no lists', () => {
      const lists = ofType(s, 'AWS::SSM::Parameter');
      const autoscaler = Object.entries(s.json.Resources).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.includes('Autoscaler'))![1];
      const env = (autoscaler.Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
      if (!prepull) {
        expect(lists).toEqual([]);
        return expect(env.EC2_PREPULL).toBeUndefined();
      }
      const write = iamStatements(s.json).map((x) => x.statement).find((st) => st.Sid === 'WritePrepullLists')!;
      expect(write.Action).toEqual(['ssm:GetParameter', 'ssm:PutParameter']);
      expect(asList(write.Resource)).toHaveLength(lists.length);
      // Sizes of the cache's images only: metadata, no pull.
      const size = iamStatements(s.json).map((x) => x.statement).find((st) => st.Sid === 'SizePrepullImages')!;
      expect(size.Action).toBe('ecr:DescribeImages');
      expect(JSON.stringify(size.Resource)).toMatch(/repository\/slipway-ecr-public\/\*/);
      expect(JSON.stringify(size.Resource)).not.toMatch(/repository\/\*"/);
      expect(JSON.stringify(env.EC2_PREPULL)).toMatch(/repositoryPrefixes/);
      // The stack writes the agent image first; the autoscaler adds the rest.
      for (const [, p] of lists) expect(JSON.stringify(p.Properties!.Value)).toMatch(/container-assets/);
    });

    it('lets the autoscaler size the groups and mark container instances, and tells the planner the capacity providers', () => {
      const statements = iamStatements(s.json).map((x) => x.statement);
      expect(statements.find((st) => st.Sid === 'SizeEc2Capacity')?.Action).toEqual(['autoscaling:SetDesiredCapacity', 'autoscaling:TerminateInstanceInAutoScalingGroup', 'autoscaling:UpdateAutoScalingGroup']);
      expect(statements.some((st) => st.Sid === 'ReadAndMarkContainerInstances')).toBe(true);
    });
  });
}

describe('pulling ahead with an agent outside ECR and no pull-through cache', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthSlipway(
      fixtureProps({ agentImage: { uris: { amd64: 'ghcr.io/acme/slipway-agent:1' } }, pullThroughCache: false, ec2Capacity: { ...DEFAULT_EC2_CAPACITY, architectures: ['amd64', 'arm64'] } }),
      { ...fast, nag: false },
    );
  });
  afterAll(() => s?.cleanup());

  it('lists the agent alone, for the one architecture that has an agent, and grants no ECR pull', () => {
    const lists = ofType(s, 'AWS::SSM::Parameter');
    expect(lists.map(([, p]) => p.Properties!.Value)).toEqual(['ghcr.io/acme/slipway-agent:1']);
    const [roleId] = ofType(s, 'AWS::IAM::Role').find(([id]) => id.includes('Ec2CapacityInstanceRole'))!;
    const instanceActions = iamStatements(s.json)
      .filter(({ owner }) => asList((s.json.Resources[owner]?.Properties?.Roles as { Ref: string }[] | undefined) ?? []).some((r) => r.Ref === roleId))
      .flatMap(({ statement }) => asList(statement.Action));
    expect(instanceActions).not.toContain('ecr:BatchGetImage');
    expect(instanceActions).toContain('ssm:GetParameter');
  });
});

describe('ec2Capacity in CDK context', () => {
  const get = (value: unknown) => (key: string) => (key === 'ec2Capacity' ? value : undefined);
  it('is off unless set; true takes the defaults; JSON overrides them', () => {
    expect(settingsFromContext(get(undefined)).ec2Capacity).toBeUndefined();
    expect(settingsFromContext(get('false')).ec2Capacity).toBeUndefined();
    expect(settingsFromContext(get('true')).ec2Capacity).toEqual(DEFAULT_EC2_CAPACITY);
    expect(settingsFromContext(get('{"maxInstances": 2, "architectures": ["arm64"]}')).ec2Capacity).toMatchObject({ maxInstances: 2, architectures: ['arm64'], spot: true });
  });

  it('refuses what it cannot use, saying what is expected', () => {
    expect(() => settingsFromContext(get('{"maxInstance": 2}'))).toThrow(ConfigError);
    expect(() => settingsFromContext(get('{"maxInstance": 2}'))).toThrow(/unknown setting "maxInstance"/);
    expect(() => settingsFromContext(get('{"architectures": ["arm"]}'))).toThrow(/expected a list of amd64 and arm64/);
  });

  it('pulls ahead by default, except on Bottlerocket, and turns off with prepull: false', () => {
    expect(settingsFromContext(get('true')).ec2Capacity?.prepull).toBe(true);
    expect(settingsFromContext(get('{"prepull": false}')).ec2Capacity?.prepull).toBe(false);
    expect(settingsFromContext(get('{"image": "bottlerocket"}')).ec2Capacity?.prepull).toBe(false);
    expect(() => settingsFromContext(get('{"image": "bottlerocket", "prepull": true}'))).toThrow(/Bottlerocket runs no boot script/);
    expect(() => settingsFromContext(get('{"prepull": "yes"}'))).toThrow(/ec2Capacity.prepull: "yes"; expected true or false/);
  });

  it('lets instances pull an agent image given by URI from its ECR repository, and from nowhere else', () => {
    expect(ecrRepositoryArnsOf('123456789012.dkr.ecr.eu-west-1.amazonaws.com/tools/slipway-agent:1.2')).toEqual(['arn:aws:ecr:eu-west-1:123456789012:repository/tools/slipway-agent']);
    expect(ecrRepositoryArnsOf(`123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/agent@sha256:${'a'.repeat(64)}`)).toEqual(['arn:aws-cn:ecr:cn-north-1:123456789012:repository/agent']);
    expect(ecrRepositoryArnsOf('ghcr.io/acme/slipway-agent:1')).toEqual([]);
  });

  it('refuses a warm pool on Bottlerocket, which runs no boot script to complete the launch hook', () => {
    expect(() => synthSlipway(fixtureProps({ ec2Capacity: { ...DEFAULT_EC2_CAPACITY, spot: false, warmPool: 1, image: 'bottlerocket', prepull: false } }), { ...fast, nag: false })).toThrow(
      /a warm pool needs "image": "ecs-optimized"/,
    );
  });

  it('refuses a warm pool on Spot, which AWS refuses (PutWarmPool)', () => {
    expect(() => synthSlipway(fixtureProps({ ec2Capacity: { ...DEFAULT_EC2_CAPACITY, warmPool: 1 } }), { ...fast, nag: false })).toThrow(/a warm pool needs on-demand instances/);
  });
});

/** The interface endpoints of the template, by the service their name ends with (`ecs-agent`, `autoscaling`, …). */
function interfaceEndpointServices(s: Synthesized): string[] {
  return ofType(s, 'AWS::EC2::VPCEndpoint')
    .filter(([, r]) => r.Properties!.VpcEndpointType === 'Interface')
    .map(([, r]) => /\},"\.([a-z.-]+)"\]\]\}$/.exec(JSON.stringify(r.Properties!.ServiceName))?.[1] ?? JSON.stringify(r.Properties!.ServiceName))
    .sort();
}

describe('EC2 capacity in private subnets (isolated, VPC endpoints only)', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthSlipway(fixtureProps({ privateSubnets: true, ec2Capacity: { ...DEFAULT_EC2_CAPACITY, spot: false, warmPool: 1 } }), { ...fast, nag: true });
  });
  afterAll(() => s?.cleanup());

  it('synthesizes cdk-nag clean', () => {
    expect(s.error).toBeUndefined();
    expect(s.findings.filter((f) => f.severity === 'error')).toEqual([]);
  });

  it('adds the endpoints an ECS container instance registers through, and Auto Scaling for the launch hook', () => {
    // "You must have the following Region-specific VPC endpoints: ecs-agent, ecs-telemetry, ecs"
    // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/vpc-endpoints.html).
    expect(interfaceEndpointServices(s)).toEqual(['autoscaling', 'ecr.api', 'ecr.dkr', 'ecs', 'ecs-agent', 'ecs-telemetry', 'logs', 'secretsmanager', 'ssm', 'sts']);
    // dnf reaches Amazon Linux's repositories (S3 buckets) through the gateway endpoint.
    expect(ofType(s, 'AWS::EC2::VPCEndpoint').filter(([, r]) => r.Properties!.VpcEndpointType === 'Gateway')).toHaveLength(1);
  });

  it('lets the instances (and so their host-network build tasks) into every endpoint on 443, and still nothing into the instances', () => {
    const [instanceGroup] = ofType(s, 'AWS::EC2::SecurityGroup').find(([id]) => id.includes('Ec2Capacity'))!;
    const endpoints = ofType(s, 'AWS::EC2::VPCEndpoint').filter(([, r]) => r.Properties!.VpcEndpointType === 'Interface');
    const endpointGroups = new Set(endpoints.flatMap(([, r]) => (r.Properties!.SecurityGroupIds as { 'Fn::GetAtt': [string, string] }[]).map((g) => g['Fn::GetAtt'][0])));
    expect(endpointGroups.size).toBe(1);
    const [endpointGroup] = [...endpointGroups];
    const fromInstances = ofType(s, 'AWS::EC2::SecurityGroupIngress').filter(
      ([, r]) => JSON.stringify(r.Properties!.GroupId).includes(`"${endpointGroup}"`) && JSON.stringify(r.Properties!.SourceSecurityGroupId).includes(`"${instanceGroup}"`),
    );
    expect(fromInstances.map(([, r]) => [r.Properties!.IpProtocol, r.Properties!.FromPort, r.Properties!.ToPort])).toEqual([['tcp', 443, 443]]);
    const intoInstances = ofType(s, 'AWS::EC2::SecurityGroupIngress').filter(([, r]) => JSON.stringify(r.Properties!.GroupId).includes(`"${instanceGroup}"`));
    expect(intoInstances).toEqual([]);
    expect(s.json.Resources[instanceGroup]!.Properties!.SecurityGroupIngress).toBeUndefined();
  });

  it('gives the instances no public IP', () => {
    for (const [, t] of ofType(s, 'AWS::EC2::LaunchTemplate')) {
      expect(t.Properties!.LaunchTemplateData.NetworkInterfaces?.[0]?.AssociatePublicIpAddress).toBe(false);
    }
  });
});

describe('endpoints that bill by the hour only where they are used', () => {
  it('no Auto Scaling endpoint without a warm pool (no launch hook), no ECS endpoints without EC2 capacity', () => {
    const spot = synthSlipway(fixtureProps({ privateSubnets: true, ec2Capacity: DEFAULT_EC2_CAPACITY }), { ...fast, nag: false });
    const fargateOnly = synthSlipway(fixtureProps({ privateSubnets: true }), { ...fast, nag: false });
    const publicSubnets = synthSlipway(fixtureProps({ ec2Capacity: { ...DEFAULT_EC2_CAPACITY, spot: false, warmPool: 1 } }), { ...fast, nag: false });
    try {
      expect(interfaceEndpointServices(spot)).toEqual(['ecr.api', 'ecr.dkr', 'ecs', 'ecs-agent', 'ecs-telemetry', 'logs', 'secretsmanager', 'ssm', 'sts']);
      expect(interfaceEndpointServices(fargateOnly)).toEqual(['ecr.api', 'ecr.dkr', 'logs', 'secretsmanager', 'ssm', 'sts']);
      expect(interfaceEndpointServices(publicSubnets)).toEqual([]);
    } finally {
      for (const x of [spot, fargateOnly, publicSubnets]) x.cleanup();
    }
  });
});
