// Where build tasks run: a VPC that costs nothing while idle (no NAT gateway) and a
// security group that lets nothing into build tasks; split pipelines' service tasks have
// their own, which lets in build tasks only.
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface NetworkProps {
  /**
   * false (default): public subnets, each task gets a public IP to pull images and clone.
   * true: private isolated subnets reaching AWS through VPC endpoints only. Interface
   * endpoints are billed per hour, so this mode costs money while idle, and build
   * containers cannot reach the internet (Docker Hub, public Git hosts) at all.
   */
  readonly privateSubnets: boolean;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  readonly buildSecurityGroup: ec2.SecurityGroup;
  /** The service tasks of split pipelines (lambdas/autoscaler/service-task.ts): build tasks may connect to them. */
  readonly serviceTaskSecurityGroup: ec2.SecurityGroup;
  readonly subnets: ec2.ISubnet[];
  /** RunTask's awsvpcConfiguration.assignPublicIp for build tasks. */
  readonly assignPublicIp: 'ENABLED' | 'DISABLED';
  /** The interface endpoints' group (privateSubnets only): HTTPS from the groups let in, nothing else. */
  private endpointSecurityGroup: ec2.SecurityGroup | undefined;
  private readonly subnetType: ec2.SubnetType;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const subnetType = props.privateSubnets ? ec2.SubnetType.PRIVATE_ISOLATED : ec2.SubnetType.PUBLIC;
    this.subnetType = subnetType;
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      // A NAT gateway bills by the hour whether or not a build runs: never create one.
      natGateways: 0,
      maxAzs: 2,
      subnetConfiguration: [{ name: props.privateSubnets ? 'Isolated' : 'Public', subnetType, cidrMask: 20 }],
      // The restriction is a custom-resource Lambda; nothing is placed in the default group.
      restrictDefaultSecurityGroup: false,
    });
    this.subnets = this.vpc.selectSubnets({ subnetType }).subnets;
    this.assignPublicIp = props.privateSubnets ? 'DISABLED' : 'ENABLED';

    // Flow logs of rejected traffic only: enough to debug a blocked build, and a quiet
    // network writes (and costs) almost nothing.
    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.vpc.addFlowLog('RejectedTraffic', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });

    this.buildSecurityGroup = new ec2.SecurityGroup(this, 'BuildSecurityGroup', {
      vpc: this.vpc,
      // Unchanged since the first release: CloudFormation replaces a group whose description changes.
      description: 'Slipway build tasks: no inbound traffic; outbound to clone, pull images and reach AWS',
      allowAllOutbound: true,
    });
    // A pipeline split into consecutive tasks runs its services in a task of their own, which
    // the segments' steps reach at its private IP on the services' ports (any: they are the
    // pipeline's), and their agents on the readiness port (docs/design/split-pipelines.md).
    // Only service tasks get this group, so an ordinary build task still lets nothing in; a
    // service task lets in build tasks' traffic only
    // (https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html, "a security
    // group ID as the source": traffic from network interfaces associated with that group).
    this.serviceTaskSecurityGroup = new ec2.SecurityGroup(this, 'ServiceTaskSecurityGroup', {
      vpc: this.vpc,
      description: 'Slipway service tasks of split pipelines: inbound only from build tasks; outbound to pull images',
      allowAllOutbound: true,
    });
    this.serviceTaskSecurityGroup.addIngressRule(this.buildSecurityGroup, ec2.Port.allTcp(), 'Segments of a split pipeline reach its service task');

    if (props.privateSubnets) this.addEndpoints(subnetType);
  }

  /** What a build task needs from AWS when it has no route to the internet. */
  private addEndpoints(subnetType: ec2.SubnetType): void {
    this.vpc.addGatewayEndpoint('S3', {
      // ECR serves image layers from S3.
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [{ subnetType }],
    });
    const endpointGroup = (this.endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: 'Slipway VPC endpoints: HTTPS from build tasks only',
      allowAllOutbound: false,
    }));
    endpointGroup.addIngressRule(this.buildSecurityGroup, ec2.Port.tcp(443), 'HTTPS from build tasks');
    endpointGroup.addIngressRule(this.serviceTaskSecurityGroup, ec2.Port.tcp(443), 'HTTPS from service tasks');
    const services: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
      EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
      EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
      Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
      Ssm: ec2.InterfaceVpcEndpointAwsService.SSM,
      SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      // Pipelines that assume a role (a task role an administrator allowed) need STS.
      Sts: ec2.InterfaceVpcEndpointAwsService.STS,
    };
    this.addInterfaceEndpoints(services);
    Validations.of(endpointGroup).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: 'The endpoint group allows 443 only from Slipway security groups (build and service tasks, EC2 build instances), never from an IP range.',
    });
  }

  /**
   * With privateSubnets, what the optional EC2 capacity's instances need besides what build tasks
   * already reach (nothing is added in public subnets, where instances reach AWS at its public
   * endpoints). The instances' group is let into every endpoint: the ECS agent pulls images
   * (ECR, S3), fetches secrets (SSM, Secrets Manager) and ships logs (CloudWatch Logs) for its
   * tasks, and host-network build tasks use the instance's interfaces, so they reach AWS as the
   * instance, not as the build task group. Only an instance calls the rest:
   * - ECS: `ecs` (DiscoverPollEndpoint, RegisterContainerInstance), `ecs-agent` (the agent's poll
   *   session), `ecs-telemetry`; without all three the agent cannot register
   *   (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/vpc-endpoints.html,
   *   "You must have the following Region-specific VPC endpoints").
   * - Auto Scaling, only for a launch lifecycle hook (a warm pool): the instance completes it
   *   with CompleteLifecycleAction (lib/ec2-launch-hook.sh, lib/ec2-prepull.sh).
   * The AWS CLI those scripts install comes from Amazon Linux 2023's repositories, buckets in S3:
   * the S3 gateway endpoint carries it (the scripts ask dnf for the regional, not the dual-stack,
   * S3 host).
   */
  admitContainerInstances(instances: ec2.ISecurityGroup, options: { readonly launchHook: boolean }): void {
    const endpointGroup = this.endpointSecurityGroup;
    if (!endpointGroup) return;
    endpointGroup.addIngressRule(instances, ec2.Port.tcp(443), 'HTTPS from EC2 build instances and their host-network tasks');
    this.addInterfaceEndpoints({
      Ecs: ec2.InterfaceVpcEndpointAwsService.ECS,
      EcsAgent: ec2.InterfaceVpcEndpointAwsService.ECS_AGENT,
      EcsTelemetry: ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY,
      ...(options.launchHook ? { AutoScaling: ec2.InterfaceVpcEndpointAwsService.AUTOSCALING } : {}),
    });
  }

  private addInterfaceEndpoints(services: Record<string, ec2.InterfaceVpcEndpointAwsService>): void {
    for (const [id, service] of Object.entries(services)) {
      this.vpc.addInterfaceEndpoint(id, {
        service,
        subnets: { subnetType: this.subnetType },
        securityGroups: [this.endpointSecurityGroup!],
        privateDnsEnabled: true,
        open: false,
      });
    }
  }
}
