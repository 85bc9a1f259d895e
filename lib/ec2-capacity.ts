// Optional EC2 capacity for the build cluster (off by default): per architecture an Auto
// Scaling group of ECS container instances from zero, with its capacity provider, for the
// pipelines Fargate cannot run (privileged, docker.sock, dind) of trusted repositories and for
// warm starts (core/pipeline/capacity.ts). The autoscaler Lambda sizes the groups
// (core/scaling/ec2-fleet.ts says why not ECS managed scaling); nothing here scales by itself.
//
// - min 0, no desired capacity in the template (a deploy never resets what the autoscaler set):
//   $0 of compute while idle. An optional warm pool keeps stopped instances (their disks bill).
// - the ECS-optimized Amazon Linux 2023 AMI or Bottlerocket, through AWS's SSM parameters.
// - IMDSv2 required, hop limit 1: a container behind a Docker bridge (a dind build's inner
//   containers) cannot reach the instance's credentials; host-mode steps share the instance's
//   network, which is why EC2 is for trusted repositories only and the instance role can do
//   nothing but be an ECS container instance.
// - no inbound rule; public IP in the public subnets (no NAT gateway), none in isolated ones.
// - Spot by default (several instance types per architecture), or on-demand.
// - ECS_IMAGE_PULL_BEHAVIOR=prefer-cached: an image already on the instance is not pulled again.
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV } from '../core/config/lambda-env.js';
import type { AgentArch } from './build-cluster.js';
import { acknowledgeWildcardResource, nagRef } from './nag.js';

export interface Ec2CapacitySettings {
  /** Architectures to have instances for (each its own group and capacity provider). */
  readonly architectures: readonly AgentArch[];
  /** Most instances at once across architectures (each runs one build). */
  readonly maxInstances: number;
  /** Instance types per architecture, in order of preference. */
  readonly instanceTypes: Readonly<Record<AgentArch, readonly string[]>>;
  /** Spot (about 70 % cheaper; a reclaimed instance's stage runs again once) or on-demand. */
  readonly spot: boolean;
  /** Stopped instances kept ready per architecture (on-demand only: AWS refuses a warm pool on a Spot or mixed-instances group). */
  readonly warmPool: number;
  readonly image: 'ecs-optimized' | 'bottlerocket';
  /** The root volume (GiB, gp3, encrypted): images and workspaces of builds. */
  readonly diskGiB: number;
}

export const DEFAULT_EC2_CAPACITY: Ec2CapacitySettings = {
  architectures: ['amd64'],
  maxInstances: 4,
  instanceTypes: { amd64: ['m7i.large', 'm6i.large', 'm5.large'], arm64: ['m7g.large', 'm6g.large'] },
  spot: true,
  warmPool: 0,
  image: 'ecs-optimized',
  diskGiB: 50,
};

export interface Ec2CapacityProps {
  readonly cluster: ecs.Cluster;
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.ISubnet[];
  /** Public subnets (no NAT gateway): instances need a public IP to reach Git hosts and registries. */
  readonly publicIp: boolean;
  /** The build log group: Bottlerocket's agent writes to it with the instance role. */
  readonly logGroup: logs.ILogGroup;
  readonly settings: Ec2CapacitySettings;
}

/** One architecture's group and capacity provider, as the Lambdas read them (ENV.ec2Capacity). */
export interface Ec2CapacityGroup {
  readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  readonly capacityProvider: ecs.AsgCapacityProvider;
}

export class Ec2Capacity extends Construct {
  readonly groups: Partial<Record<AgentArch, Ec2CapacityGroup>> = {};
  readonly securityGroup: ec2.SecurityGroup;
  readonly instanceRole: iam.Role;
  readonly maxInstances: number;
  /** Spot groups (with on-demand fallback by the autoscaler). */
  readonly spot: boolean;

  constructor(scope: Construct, id: string, props: Ec2CapacityProps) {
    super(scope, id);
    const { settings } = props;
    if (settings.warmPool > 0 && settings.spot) {
      // PutWarmPool "cannot be called on an Auto Scaling group that has a mixed instances policy or a
      // launch template or launch configuration that requests Spot Instances" (Auto Scaling API Reference).
      throw new Error('SLIPWAY-CONFIG: ec2Capacity: a warm pool needs on-demand instances (AWS refuses one on a Spot group): set "spot": false, or "warmPool": 0');
    }
    this.maxInstances = settings.maxInstances;
    this.spot = settings.spot;
    this.securityGroup = new ec2.SecurityGroup(this, 'InstanceSecurityGroup', {
      vpc: props.vpc,
      description: 'Slipway EC2 build instances: no inbound traffic; outbound to clone, pull images and reach AWS',
      allowAllOutbound: true,
    });
    this.instanceRole = this.containerInstanceRole(props);

    for (const arch of settings.architectures) {
      const arm = arch === 'arm64';
      const image =
        settings.image === 'bottlerocket'
          ? new ecs.BottleRocketImage({ architecture: arm ? ec2.InstanceArchitecture.ARM_64 : ec2.InstanceArchitecture.X86_64 })
          : ecs.EcsOptimizedImage.amazonLinux2023(arm ? ecs.AmiHardwareType.ARM : ecs.AmiHardwareType.STANDARD);
      const types = settings.instanceTypes[arch];
      if (types.length === 0) throw new Error(`SLIPWAY-CONFIG: ec2Capacity: no instance types for ${arch}`);
      const launchTemplate = new ec2.LaunchTemplate(this, `LaunchTemplate-${arch}`, {
        machineImage: image,
        ...(settings.spot ? {} : { instanceType: new ec2.InstanceType(types[0]!) }),
        userData: settings.image === 'bottlerocket' ? ec2.UserData.custom('') : ec2.UserData.forLinux(),
        // Immutable here: CDK's cluster wiring adds the managed role's broader rights (ECR, logs on
        // every resource) to the group's role; the instance role keeps only its own below.
        role: iam.Role.fromRoleArn(this, `InstanceRoleRef-${arch}`, this.instanceRole.roleArn, { mutable: false }),
        securityGroup: this.securityGroup,
        requireImdsv2: true,
        httpPutResponseHopLimit: 1,
        associatePublicIpAddress: props.publicIp,
        blockDevices: [
          {
            deviceName: settings.image === 'bottlerocket' ? '/dev/xvdb' : '/dev/xvda',
            volume: ec2.BlockDeviceVolume.ebs(settings.diskGiB, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true, deleteOnTermination: true }),
          },
        ],
      });
      const group = new autoscaling.AutoScalingGroup(this, `Group-${arch}`, {
        vpc: props.vpc,
        vpcSubnets: { subnets: props.subnets },
        minCapacity: 0,
        maxCapacity: settings.maxInstances,
        ...(settings.spot
          ? {
              mixedInstancesPolicy: {
                launchTemplate,
                launchTemplateOverrides: types.map((t) => ({ instanceType: new ec2.InstanceType(t) })),
                instancesDistribution: {
                  onDemandBaseCapacity: 0,
                  onDemandPercentageAboveBaseCapacity: 0,
                  spotAllocationStrategy: autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
                },
              },
            }
          : { launchTemplate }),
        // The autoscaler picks which instances go (an idle or spent one, never a busy one).
        newInstancesProtectedFromScaleIn: false,
        defaultInstanceWarmup: Duration.seconds(60),
      });
      const capacityProvider = new ecs.AsgCapacityProvider(this, `CapacityProvider-${arch}`, {
        autoScalingGroup: group,
        machineImageType: settings.image === 'bottlerocket' ? ecs.MachineImageType.BOTTLEROCKET : ecs.MachineImageType.AMAZON_LINUX_2,
        // Sized by the autoscaler from the jobs that wait (core/scaling/ec2-fleet.ts).
        enableManagedScaling: false,
        enableManagedTerminationProtection: false,
        // ECS's own draining (a lifecycle hook ECS manages), instead of CDK's drain hook (a Lambda
        // and a topic per group); the autoscaler terminates idle instances only anyway.
        enableManagedDraining: true,
        spotInstanceDraining: settings.spot,
      });
      // Stated, not left to the API's default: the autoscaler alone sizes the group.
      (capacityProvider.node.children.find((c) => c instanceof ecs.CfnCapacityProvider) as ecs.CfnCapacityProvider).addPropertyOverride('AutoScalingGroupProvider.ManagedScaling', { Status: 'DISABLED' });
      props.cluster.addAsgCapacityProvider(capacityProvider, {
        machineImageType: settings.image === 'bottlerocket' ? ecs.MachineImageType.BOTTLEROCKET : ecs.MachineImageType.AMAZON_LINUX_2,
        spotInstanceDraining: settings.spot,
      });
      if (settings.image === 'bottlerocket') {
        // Appended inside the [settings.ecs] table CDK opened with the cluster's name.
        group.addUserData('image-pull-behavior = "prefer-cached"', ...(settings.spot ? ['enable-spot-instance-draining = true'] : []));
      } else {
        group.addUserData(
          'echo ECS_IMAGE_PULL_BEHAVIOR=prefer-cached >> /etc/ecs/ecs.config',
          // Build logs are written with the task execution role, not the instance's.
          'echo ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE=true >> /etc/ecs/ecs.config',
        );
      }
      if (settings.warmPool > 0) {
        // No reuse on scale in: an instance that ran a build goes, never back to the pool (a root
        // build may have changed anything on it); the pool refills with fresh instances.
        group.addWarmPool({ minSize: settings.warmPool, maxGroupPreparedCapacity: settings.warmPool, poolState: autoscaling.PoolState.STOPPED, reuseOnScaleIn: false });
      }
      Validations.of(group).acknowledge(
        { id: 'AwsSolutions-AS3', reason: 'The autoscaler Lambda sizes this group and logs every change; scaling notifications would add a topic per deployment for no reader.' },
        { id: 'AwsSolutions-EC26', reason: 'The root volume is encrypted (gp3, encrypted: true); cdk-nag does not read launch template block devices.' },
      );
      this.groups[arch] = { autoScalingGroup: group, capacityProvider };
    }
  }

  /**
   * What an ECS container instance needs and no more (the agent's calls, from the managed
   * AmazonEC2ContainerServiceforEC2Role, scoped to this cluster): no ECR, no logs (images and
   * logs go through the task execution role), no SSM, no EC2 API.
   */
  private containerInstanceRole(props: Ec2CapacityProps): iam.Role {
    const role = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'Slipway EC2 build instances: the ECS agent of this cluster only',
    });
    const stack = Stack.of(this);
    const instances = stack.formatArn({ service: 'ecs', resource: 'container-instance', resourceName: `${props.cluster.clusterName}/*` });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RegisterWithTheBuildCluster',
        actions: ['ecs:RegisterContainerInstance', 'ecs:DeregisterContainerInstance', 'ecs:SubmitContainerStateChange', 'ecs:SubmitTaskStateChange', 'ecs:SubmitAttachmentStateChanges'],
        resources: [props.cluster.clusterArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'RunAsContainerInstance', actions: ['ecs:Poll', 'ecs:StartTelemetrySession', 'ecs:UpdateContainerInstancesState'], resources: [instances] }),
    );
    // DiscoverPollEndpoint has no resource-level permission.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'FindTheEcsEndpoint', actions: ['ecs:DiscoverPollEndpoint'], resources: ['*'] }));
    if (props.settings.image === 'bottlerocket') props.logGroup.grantWrite(role);
    const policy = role.node.tryFindChild('DefaultPolicy');
    if (policy) {
      acknowledgeWildcardResource(policy, `arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:container-instance/<${Stack.of(this).resolve((props.cluster.node.defaultChild as ecs.CfnCluster).logicalId)}>/*`, 'Container instance ids exist only once an instance registers; the ARN is limited to the build cluster.');
      acknowledgeWildcardResource(policy, '*', 'ecs:DiscoverPollEndpoint has no resource-level permissions.');
    }
    return role;
  }
}

/** ENV.ec2Capacity's value: each architecture's capacity provider and Auto Scaling group. */
export function ec2CapacityEnv(capacity: Ec2Capacity): string {
  return Stack.of(capacity).toJsonString(
    Object.fromEntries(
      Object.entries(capacity.groups).map(([arch, g]) => [
        arch,
        { capacityProvider: g!.capacityProvider.capacityProviderName, autoScalingGroup: g!.autoScalingGroup.autoScalingGroupName, ...(capacity.spot ? { spot: true } : {}) },
      ]),
    ),
  );
}

/** `ec2Capacity` from CDK context: unset or false (off), true (the defaults), or a JSON object of settings. */
export function ec2CapacityFromContext(raw: unknown): Ec2CapacitySettings | undefined {
  if (raw === undefined || raw === false || raw === 'false' || raw === '') return undefined;
  if (raw === true || raw === 'true') return DEFAULT_EC2_CAPACITY;
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new Error(`SLIPWAY-CONFIG: context ec2Capacity: not JSON (${(error as Error).message}); expected true or {"maxInstances": 4, "architectures": ["amd64"], …}`);
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`SLIPWAY-CONFIG: context ec2Capacity: ${JSON.stringify(raw)}; expected true, false or an object`);
  const v = value as Partial<Record<keyof Ec2CapacitySettings, unknown>>;
  const known = Object.keys(DEFAULT_EC2_CAPACITY);
  const unknown = Object.keys(v).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new Error(`SLIPWAY-CONFIG: context ec2Capacity: unknown setting ${unknown.map((k) => `"${k}"`).join(', ')} (known: ${known.join(', ')})`);
  const out = { ...DEFAULT_EC2_CAPACITY, ...v } as Ec2CapacitySettings;
  const whole = (key: 'maxInstances' | 'warmPool' | 'diskGiB', min: number) => {
    if (!Number.isInteger(out[key]) || (out[key] as number) < min) throw new Error(`SLIPWAY-CONFIG: context ec2Capacity.${key}: ${JSON.stringify(out[key])} is not an integer ≥ ${min}`);
  };
  whole('maxInstances', 1);
  whole('warmPool', 0);
  whole('diskGiB', 30);
  if (!Array.isArray(out.architectures) || out.architectures.length === 0 || !out.architectures.every((a) => a === 'amd64' || a === 'arm64')) {
    throw new Error(`SLIPWAY-CONFIG: context ec2Capacity.architectures: ${JSON.stringify(out.architectures)}; expected a list of amd64 and arm64`);
  }
  if (typeof out.spot !== 'boolean') throw new Error(`SLIPWAY-CONFIG: context ec2Capacity.spot: ${JSON.stringify(out.spot)}; expected true or false`);
  if (out.image !== 'ecs-optimized' && out.image !== 'bottlerocket') throw new Error(`SLIPWAY-CONFIG: context ec2Capacity.image: ${JSON.stringify(out.image)}; expected ecs-optimized or bottlerocket`);
  return out;
}

/**
 * Tells the planner (capacity providers) and the autoscaler (groups, maximum) where the EC2
 * capacity is, and lets the autoscaler size the groups and read and mark the cluster's
 * container instances (adapters/ec2/fleet.ts): nothing else.
 */
export function connectEc2Capacity(capacity: Ec2Capacity, functions: { planner: lambda.Function; autoscaler: lambda.Function }, cluster: ecs.Cluster): void {
  const env = ec2CapacityEnv(capacity);
  functions.planner.addEnvironment(ENV.ec2Capacity, env);
  functions.autoscaler.addEnvironment(ENV.ec2Capacity, env);
  functions.autoscaler.addEnvironment(ENV.ec2MaxInstances, String(capacity.maxInstances));
  const role = functions.autoscaler.role!;
  const groups = Object.values(capacity.groups).map((g) => g!.autoScalingGroup);
  const stack = Stack.of(capacity);
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'SizeEc2Capacity',
      // UpdateAutoScalingGroup: the on-demand share of a Spot group (its fallback), nothing else is changed.
      actions: ['autoscaling:SetDesiredCapacity', 'autoscaling:TerminateInstanceInAutoScalingGroup', 'autoscaling:UpdateAutoScalingGroup'],
      resources: groups.map((g) => g.autoScalingGroupArn),
    }),
  );
  // DescribeAutoScalingGroups has no resource-level permission.
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'DescribeEc2Capacity', actions: ['autoscaling:DescribeAutoScalingGroups'], resources: ['*'] }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ListContainerInstances', actions: ['ecs:ListContainerInstances'], resources: [cluster.clusterArn] }));
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadAndMarkContainerInstances',
      actions: ['ecs:DescribeContainerInstances', 'ecs:PutAttributes'],
      resources: [cluster.clusterArn, stack.formatArn({ service: 'ecs', resource: 'container-instance', resourceName: `${cluster.clusterName}/*` })],
    }),
  );
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (policy) {
    acknowledgeWildcardResource(policy, `arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:container-instance/<${stack.resolve((cluster.node.defaultChild as ecs.CfnCluster).logicalId)}>/*`, 'Container instance ids exist only once an instance registers; the ARN is limited to the build cluster.');
    for (const g of groups) {
      acknowledgeWildcardResource(policy, `arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/${nagRef(g)}`, "The group's id is AWS's, unknown at synth; its name pins the one group.");
    }
  }
}
