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
// - the common images of recent builds pulled ahead at boot (ECS-optimized AMI; `prepull`):
//   lib/ec2-prepull.sh, from one SSM parameter per architecture that the autoscaler keeps
//   (lambdas/autoscaler/prepull.ts); with a warm pool, before the instance is stopped in it.
// - a warm pool's groups hold each new instance with a launch lifecycle hook until its boot
//   script completes it (the prepull script, or lib/ec2-launch-hook.sh without prepull); hence
//   ECS-optimized only. In private subnets lib/network.ts adds the ECS (and Auto Scaling)
//   endpoints the instances need (Network.admitContainerInstances).
import { readFileSync } from 'node:fs';
import { ArnFormat, Aws, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { ENV } from '../core/config/lambda-env.js';
import { DEFAULT_COMMON_IMAGES_LIMITS } from '../core/scaling/common-images.js';
import type { AgentArch, AgentImages } from './build-cluster.js';
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
  /** Pull the common images of recent builds when an instance starts (ECS-optimized AMI only; lib/ec2-prepull.sh). */
  readonly prepull: boolean;
}

/** The boot script, embedded in the user data as it is in the repository (test/cdk/ec2-prepull-script.test.ts runs this file). */
const PREPULL_SCRIPT = readFileSync(new URL('./ec2-prepull.sh', import.meta.url), 'utf8');
/** With a warm pool and nothing to pull ahead: the script that completes the launch hook (tested in the same file). */
const LAUNCH_HOOK_SCRIPT = readFileSync(new URL('./ec2-launch-hook.sh', import.meta.url), 'utf8');

export const DEFAULT_EC2_CAPACITY: Ec2CapacitySettings = {
  architectures: ['amd64'],
  maxInstances: 4,
  instanceTypes: { amd64: ['m7i.large', 'm6i.large', 'm5.large'], arm64: ['m7g.large', 'm6g.large'] },
  spot: true,
  warmPool: 0,
  image: 'ecs-optimized',
  diskGiB: 50,
  prepull: true,
};

/** How the boot script pulls ahead (lib/ec2-prepull.sh): its bounds, and its lifecycle hook's name. */
export const PREPULL = {
  /** No pull starts after this many seconds from boot; the lifecycle hook waits this long plus a margin. */
  deadlineSeconds: 600,
  /** Pulls at a time: a few saturate an instance's network and disk without starving the ECS agent's own. */
  parallel: 3,
  /** As many references as the autoscaler ever lists (core/scaling/common-images.ts). */
  maxImages: DEFAULT_COMMON_IMAGES_LIMITS.maxImages,
  /** No pull starts once the disk holding Docker's data is this full: the builds need the rest. */
  maxDiskPercent: 60,
  lifecycleHookName: 'slipway-prepull',
} as const;

/** The launch hook of a warm pool's group when nothing is pulled ahead (lib/ec2-launch-hook.sh completes it). */
export const LAUNCH_HOOK = {
  lifecycleHookName: 'slipway-launch',
  /** The AWS CLI's install (at most 300 s) and a few tries; past it Auto Scaling goes on anyway. */
  heartbeatSeconds: 420,
} as const;

/** What the instances pull ahead, as the stack knows it. */
export interface Ec2PrepullSource {
  /** The agent images: the first line of each list, as the stack writes it. */
  readonly agentImages: AgentImages;
  /** The repositories of agent images built by the stack (the instance role may pull from them). */
  readonly agentRepositories: readonly ecr.IRepository[];
  /** ECR pull-through cache repository prefixes (the instance role may pull under them). */
  readonly cachePrefixes: readonly string[];
}

export interface Ec2CapacityProps {
  readonly cluster: ecs.Cluster;
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.ISubnet[];
  /** Public subnets (no NAT gateway): instances need a public IP to reach Git hosts and registries. */
  readonly publicIp: boolean;
  /** The build log group: Bottlerocket's agent writes to it with the instance role. */
  readonly logGroup: logs.ILogGroup;
  readonly settings: Ec2CapacitySettings;
  /** With settings.prepull on the ECS-optimized AMI: what the instances pull ahead. */
  readonly prepull?: Ec2PrepullSource;
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
  /** Each architecture's list of images to pull ahead (when prepull is on): the autoscaler rewrites it. */
  readonly prepullLists: Partial<Record<AgentArch, ssm.StringParameter>> = {};
  /** What the lists may hold (undefined: nothing is pulled ahead, as on Bottlerocket or with prepull off). */
  readonly prepullSource: Ec2PrepullSource | undefined;
  /** A warm pool's groups have a launch lifecycle hook their instances complete (with Auto Scaling's API). */
  readonly launchHook: boolean;
  private ecrLoginGranted = false;

  constructor(scope: Construct, id: string, props: Ec2CapacityProps) {
    super(scope, id);
    const { settings } = props;
    if (settings.warmPool > 0 && settings.spot) {
      // PutWarmPool "cannot be called on an Auto Scaling group that has a mixed instances policy or a
      // launch template or launch configuration that requests Spot Instances" (Auto Scaling API Reference).
      throw new Error('SLIPWAY-CONFIG: ec2Capacity: a warm pool needs on-demand instances (AWS refuses one on a Spot group): set "spot": false, or "warmPool": 0');
    }
    if (settings.warmPool > 0 && settings.image === 'bottlerocket') {
      // Auto Scaling stops an instance as soon as it launched into the pool, unless a launch hook
      // holds it until the instance completes it (warm-pool-instance-lifecycle.html); Bottlerocket
      // runs no boot script that could.
      throw new Error('SLIPWAY-CONFIG: ec2Capacity: a warm pool needs "image": "ecs-optimized" (its boot script completes the launch hook that keeps a new instance running until it is ready; Bottlerocket runs none): set "image": "ecs-optimized", or "warmPool": 0');
    }
    this.launchHook = settings.warmPool > 0;
    this.maxInstances = settings.maxInstances;
    this.spot = settings.spot;
    // Bottlerocket runs no user-data script (its settings are TOML): nothing is pulled ahead there.
    this.prepullSource = settings.prepull && settings.image === 'ecs-optimized' ? props.prepull : undefined;
    const stack = Stack.of(this);
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
      // A warm pool's instances complete the launch hook themselves, naming their group: a name
      // known at synth (the group's generated one would make the user data depend on the group).
      const groupName = this.launchHook ? `${stack.stackName}-slipway-ec2-${arch}` : undefined;
      const group = new autoscaling.AutoScalingGroup(this, `Group-${arch}`, {
        ...(groupName ? { autoScalingGroupName: groupName } : {}),
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
          // The agent does not register while the instance launches into the warm pool
          // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using-warm-pool.html).
          ...(settings.warmPool > 0 ? ['echo ECS_WARM_POOLS_CHECK=true >> /etc/ecs/ecs.config'] : []),
        );
        if (this.prepullSource) this.addPrepull(arch, group, groupName, this.prepullSource);
      }
      if (groupName) {
        // The prepull script completes the hook where it runs (an architecture with an agent image).
        if (!this.prepullLists[arch]) this.addLaunchHookScript(group, groupName);
        const hook = this.addLaunchHook(arch, group, groupName);
        // No reuse on scale in: an instance that ran a build goes, never back to the pool (a root
        // build may have changed anything on it); the pool refills with fresh instances.
        const pool = group.addWarmPool({ minSize: settings.warmPool, maxGroupPreparedCapacity: settings.warmPool, poolState: autoscaling.PoolState.STOPPED, reuseOnScaleIn: false });
        // The pool launches its instances as soon as it exists: the hook must hold them from the first.
        pool.node.addDependency(hook);
      }
      Validations.of(group).acknowledge(
        { id: 'AwsSolutions-AS3', reason: 'The autoscaler Lambda sizes this group and logs every change; scaling notifications would add a topic per deployment for no reader.' },
        { id: 'AwsSolutions-EC26', reason: 'The root volume is encrypted (gp3, encrypted: true); cdk-nag does not read launch template block devices.' },
      );
      this.groups[arch] = { autoScalingGroup: group, capacityProvider };
    }
  }

  /**
   * The list of images `arch`'s instances pull ahead (an SSM parameter the stack creates with
   * the agent image and the autoscaler rewrites), the boot script that pulls them as a systemd
   * unit started without blocking cloud-init (the ECS agent starts after it), the instance
   * role's rights to read that list and pull those images, and, with a warm pool, the launch
   * lifecycle hook that keeps a new instance running until its pulls are done.
   */
  private addPrepull(arch: AgentArch, group: autoscaling.AutoScalingGroup, groupName: string | undefined, source: Ec2PrepullSource): void {
    const stack = Stack.of(this);
    const agent = source.agentImages.byArch[arch] ?? source.agentImages.anyArch;
    // No agent of this architecture: its pipelines never reach ECS (the planner says why), nothing to pull ahead.
    if (!agent) return;
    const list = new ssm.StringParameter(this, `PrepullList-${arch}`, {
      description: `Slipway: images ${arch} EC2 build instances pull ahead at boot, one a line (written by the autoscaler)`,
      stringValue: agent,
      tier: ssm.ParameterTier.STANDARD,
    });
    this.prepullLists[arch] = list;
    // Reading its list and nothing else of the account's parameters (not even their names).
    this.instanceRole.addToPrincipalPolicy(new iam.PolicyStatement({ sid: `ReadPrepullList${arch === 'amd64' ? 'Amd64' : 'Arm64'}`, actions: ['ssm:GetParameter'], resources: [list.parameterArn] }));
    const registry = `${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.${Aws.URL_SUFFIX}`;
    const env = [
      `SLIPWAY_PREPULL_PARAMETER=${list.parameterName}`,
      `SLIPWAY_PREPULL_REGION=${Aws.REGION}`,
      `SLIPWAY_PREPULL_REGISTRY=${registry}`,
      `SLIPWAY_PREPULL_DEADLINE_SECONDS=${PREPULL.deadlineSeconds}`,
      `SLIPWAY_PREPULL_PARALLEL=${PREPULL.parallel}`,
      `SLIPWAY_PREPULL_MAX_IMAGES=${PREPULL.maxImages}`,
      `SLIPWAY_PREPULL_MAX_DISK_PERCENT=${PREPULL.maxDiskPercent}`,
      ...(groupName ? [`SLIPWAY_PREPULL_LIFECYCLE_HOOK=${PREPULL.lifecycleHookName}`, `SLIPWAY_PREPULL_GROUP=${groupName}`] : []),
    ];
    group.addUserData(
      "cat > /usr/local/bin/slipway-prepull <<'SLIPWAY_PREPULL_SCRIPT'",
      PREPULL_SCRIPT.trimEnd(),
      'SLIPWAY_PREPULL_SCRIPT',
      'chmod 0755 /usr/local/bin/slipway-prepull',
      "cat > /etc/slipway-prepull.env <<'SLIPWAY_PREPULL_ENV'",
      ...env,
      'SLIPWAY_PREPULL_ENV',
      "cat > /etc/systemd/system/slipway-prepull.service <<'SLIPWAY_PREPULL_UNIT'",
      '[Unit]',
      'Description=Slipway: pull the common images of recent builds ahead',
      'Wants=network-online.target docker.service',
      'After=network-online.target docker.service',
      '[Service]',
      // simple: started means running, so nothing ordered after multi-user.target (cloud-final,
      // hence the ECS agent) waits for the pulls at any boot.
      'Type=simple',
      'EnvironmentFile=/etc/slipway-prepull.env',
      'ExecStart=/usr/local/bin/slipway-prepull',
      '[Install]',
      'WantedBy=multi-user.target',
      'SLIPWAY_PREPULL_UNIT',
      'systemctl daemon-reload',
      'systemctl enable slipway-prepull.service',
      'systemctl start --no-block slipway-prepull.service',
    );

    const pull = ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'];
    const cached = source.cachePrefixes.map((p) => stack.formatArn({ service: 'ecr', resource: 'repository', resourceName: `${cachePrefix(p)}/*` }));
    const repositories = [...cached, ...source.agentRepositories.map((r) => r.repositoryArn), ...ecrRepositoryArnsOf(agent)];
    if (!this.ecrLoginGranted) {
      this.instanceRole.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'EcrLoginToPullAhead', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
      this.ecrLoginGranted = true;
    }
    // An agent outside ECR (and no cache) needs no ECR right: it is pulled anonymously.
    if (repositories.length > 0) this.instanceRole.addToPrincipalPolicy(new iam.PolicyStatement({ sid: `PullAhead${arch === 'amd64' ? 'Amd64' : 'Arm64'}`, actions: pull, resources: [...new Set(repositories)] }));
    const policy = this.instanceRole.node.tryFindChild('DefaultPolicy')!;
    for (const prefix of source.cachePrefixes) {
      acknowledgeWildcardResource(policy, `arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/${cachePrefix(prefix)}/*`, 'The pull-through cache creates one repository per upstream image under its prefix; the instance may only read them (no import, no create).');
    }
  }

  /**
   * The launch lifecycle hook of a warm pool's group, and the instance role's right to complete
   * it for that group alone. Without it Auto Scaling stops an instance as soon as it launched
   * into the pool, "does not wait for user data to finish running", and the interrupted script
   * never runs again (https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html).
   * The prepull script completes it once its pulls are done; otherwise lib/ec2-launch-hook.sh
   * does, once the rest of the user data has run.
   */
  private addLaunchHook(arch: AgentArch, group: autoscaling.AutoScalingGroup, groupName: string): autoscaling.LifecycleHook {
    const stack = Stack.of(this);
    const prepull = this.prepullLists[arch] !== undefined;
    const hook = group.addLifecycleHook(prepull ? 'PrepullHook' : 'LaunchHook', {
      lifecycleHookName: prepull ? PREPULL.lifecycleHookName : LAUNCH_HOOK.lifecycleHookName,
      lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_LAUNCHING,
      // Past the script's own bounds (the pulls' deadline, the AWS CLI's install) Auto Scaling goes on anyway.
      heartbeatTimeout: Duration.seconds(prepull ? PREPULL.deadlineSeconds + 300 : LAUNCH_HOOK.heartbeatSeconds),
      defaultResult: autoscaling.DefaultResult.CONTINUE,
    });
    this.instanceRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: `CompleteLaunchHook${arch === 'amd64' ? 'Amd64' : 'Arm64'}`,
        actions: ['autoscaling:CompleteLifecycleAction'],
        resources: [stack.formatArn({ service: 'autoscaling', resource: 'autoScalingGroup', resourceName: `*:autoScalingGroupName/${groupName}`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      }),
    );
    acknowledgeWildcardResource(
      this.instanceRole.node.tryFindChild('DefaultPolicy')!,
      `arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/${stack.resolve(groupName)}`,
      "The group's id is AWS's, unknown at synth; its name pins the one group whose launch hook the instance completes.",
    );
    return hook;
  }

  /**
   * With a warm pool and nothing to pull ahead: lib/ec2-launch-hook.sh as a systemd unit enabled
   * for every boot (a start from the pool pauses at the hook again) and started, without waiting,
   * by the user data's last line, so that at the first boot every line before it has run.
   */
  private addLaunchHookScript(group: autoscaling.AutoScalingGroup, groupName: string): void {
    group.addUserData(
      "cat > /usr/local/bin/slipway-launch-hook <<'SLIPWAY_LAUNCH_HOOK_SCRIPT'",
      LAUNCH_HOOK_SCRIPT.trimEnd(),
      'SLIPWAY_LAUNCH_HOOK_SCRIPT',
      'chmod 0755 /usr/local/bin/slipway-launch-hook',
      "cat > /etc/slipway-launch-hook.env <<'SLIPWAY_LAUNCH_HOOK_ENV'",
      `SLIPWAY_LAUNCH_HOOK=${LAUNCH_HOOK.lifecycleHookName}`,
      `SLIPWAY_LAUNCH_HOOK_GROUP=${groupName}`,
      `SLIPWAY_LAUNCH_HOOK_REGION=${Aws.REGION}`,
      'SLIPWAY_LAUNCH_HOOK_ENV',
      "cat > /etc/systemd/system/slipway-launch-hook.service <<'SLIPWAY_LAUNCH_HOOK_UNIT'",
      '[Unit]',
      "Description=Slipway: complete the warm pool's launch lifecycle action",
      'Wants=network-online.target',
      'After=network-online.target',
      '[Service]',
      // simple: nothing ordered after multi-user.target (cloud-final, hence the ECS agent) waits for it.
      'Type=simple',
      'EnvironmentFile=/etc/slipway-launch-hook.env',
      'ExecStart=/usr/local/bin/slipway-launch-hook',
      '[Install]',
      'WantedBy=multi-user.target',
      'SLIPWAY_LAUNCH_HOOK_UNIT',
      'systemctl daemon-reload',
      'systemctl enable slipway-launch-hook.service',
      'systemctl start --no-block slipway-launch-hook.service',
    );
  }

  /**
   * What an ECS container instance needs and no more (the agent's calls, from the managed
   * AmazonEC2ContainerServiceforEC2Role, scoped to this cluster): no logs (images and logs of
   * builds go through the task execution role), no EC2 API; with prepull, only reading its
   * architecture's list and pulling from the cache and agent repositories (addPrepull).
   */
  private containerInstanceRole(props: Ec2CapacityProps): iam.Role {
    const role = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: this.prepullSource
        ? 'Slipway EC2 build instances: the ECS agent of this cluster, and reading and pulling the images to pull ahead'
        : 'Slipway EC2 build instances: the ECS agent of this cluster only',
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
      acknowledgeWildcardResource(policy, '*', this.prepullSource ? 'ecs:DiscoverPollEndpoint and ecr:GetAuthorizationToken have no resource-level permissions; what may be pulled is limited per repository.' : 'ecs:DiscoverPollEndpoint has no resource-level permissions.');
    }
    return role;
  }
}

/** A pull-through cache rule's repository prefix as ARNs and image references name it: no slash at either end. */
function cachePrefix(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, '');
}

/** The ECR repository of an image given by URI (`<account>.dkr.ecr.<region>.amazonaws.com/<name>:<tag>`); none for other registries or unresolved tokens. */
export function ecrRepositoryArnsOf(image: string): string[] {
  const m = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?\/([a-z0-9._\/-]+?)(?::[\w.-]+)?(?:@sha256:[a-f0-9]{64})?$/.exec(image);
  if (!m) return [];
  return [`arn:${m[3] ? 'aws-cn' : 'aws'}:ecr:${m[2]}:${m[1]}:repository/${m[4]}`];
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
  if (typeof out.prepull !== 'boolean') throw new Error(`SLIPWAY-CONFIG: context ec2Capacity.prepull: ${JSON.stringify(out.prepull)}; expected true or false`);
  if (out.image === 'bottlerocket') {
    // Bottlerocket runs no user-data script: pulling ahead needs the ECS-optimized AMI.
    if (v.prepull === true) throw new Error('SLIPWAY-CONFIG: context ec2Capacity.prepull: Bottlerocket runs no boot script to pull images ahead; use "image": "ecs-optimized", or "prepull": false');
    return { ...out, prepull: false };
  }
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
  const lists = Object.entries(capacity.prepullLists) as [AgentArch, ssm.StringParameter][];
  if (capacity.prepullSource && lists.length > 0) {
    const source = capacity.prepullSource;
    functions.autoscaler.addEnvironment(
      ENV.ec2Prepull,
      Stack.of(capacity).toJsonString({
        parameters: Object.fromEntries(lists.map(([arch, p]) => [arch, p.parameterName])),
        registry: `${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.${Aws.URL_SUFFIX}`,
        repositoryPrefixes: source.cachePrefixes.map(cachePrefix),
        agentImages: Object.fromEntries(lists.map(([arch]) => [arch, source.agentImages.byArch[arch] ?? source.agentImages.anyArch])),
      }),
    );
    // Reads (to compare) and rewrites the lists, nothing else in SSM.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'WritePrepullLists', actions: ['ssm:GetParameter', 'ssm:PutParameter'], resources: lists.map(([, p]) => p.parameterArn) }));
    // The sizes of the cache's images (a list never holds one too large): metadata only, no pull.
    const prefixes = source.cachePrefixes.map(cachePrefix);
    if (prefixes.length > 0) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'SizePrepullImages',
          actions: ['ecr:DescribeImages'],
          resources: prefixes.map((p) => Stack.of(capacity).formatArn({ service: 'ecr', resource: 'repository', resourceName: `${p}/*` })),
        }),
      );
      const policy = role.node.tryFindChild('DefaultPolicy');
      for (const p of prefixes) {
        if (policy) acknowledgeWildcardResource(policy, `arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/${p}/*`, 'The pull-through cache creates one repository per upstream image under its prefix; the autoscaler only reads their images\' sizes.');
      }
    }
  }
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
