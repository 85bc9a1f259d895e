// The optional EC2 capacity (lib/ec2-capacity.ts, issue 19) on the synthesized stack, with
// cdk-nag's AwsSolutions checks: off by default; on, groups from zero (min 0, no desired
// capacity), an optional stopped warm pool, IMDSv2 with hop limit 1, no inbound rule, the
// capacity providers with managed scaling off, and an instance role that is only an ECS agent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, settingsFromContext } from '../../lib/config.js';
import { DEFAULT_EC2_CAPACITY, type Ec2CapacitySettings } from '../../lib/ec2-capacity.js';
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
  { name: 'on-demand with a warm pool, Bottlerocket', settings: { ...DEFAULT_EC2_CAPACITY, spot: false, warmPool: 1, image: 'bottlerocket' }, warm: true },
];

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

    it('gives the instance role only the ECS agent calls, no ECR, SSM or EC2 rights', () => {
      const [roleId] = ofType(s, 'AWS::IAM::Role').find(([id]) => id.includes('Ec2CapacityInstanceRole'))!;
      const actions = iamStatements(s.json)
        .filter(({ owner }) => asList((s.json.Resources[owner]?.Properties?.Roles as { Ref: string }[] | undefined) ?? []).some((r) => r.Ref === roleId))
        .flatMap(({ statement }) => asList(statement.Action));
      expect(actions.filter((a) => !a.startsWith('ecs:') && !a.startsWith('logs:'))).toEqual([]);
      expect(actions).toContain('ecs:RegisterContainerInstance');
      expect(s.json.Resources[roleId]!.Properties!.ManagedPolicyArns).toBeUndefined();
    });

    it('lets the autoscaler size the groups and mark container instances, and tells the planner the capacity providers', () => {
      const statements = iamStatements(s.json).map((x) => x.statement);
      expect(statements.find((st) => st.Sid === 'SizeEc2Capacity')?.Action).toEqual(['autoscaling:SetDesiredCapacity', 'autoscaling:TerminateInstanceInAutoScalingGroup', 'autoscaling:UpdateAutoScalingGroup']);
      expect(statements.some((st) => st.Sid === 'ReadAndMarkContainerInstances')).toBe(true);
    });
  });
}

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

  it('refuses a warm pool on Spot, which AWS refuses (PutWarmPool)', () => {
    expect(() => synthSlipway(fixtureProps({ ec2Capacity: { ...DEFAULT_EC2_CAPACITY, warmPool: 1 } }), { ...fast, nag: false })).toThrow(/a warm pool needs on-demand instances/);
  });
});
