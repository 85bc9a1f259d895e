// Where pipelines run: an ECS cluster with Fargate and Fargate Spot capacity, the two
// roles every build task uses, the build log group, and the agent (task-runner) image.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ArnFormat, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from './nag.js';

/** Every task definition Slipway registers has a family starting with this (core/pipeline/family.ts). */
export const TASK_FAMILY_PREFIX = 'slipway-';

/** The agent image: built from a Dockerfile at deploy time, or an image that already exists. */
export type AgentImageSource =
  | { readonly directory: string; readonly file?: string; readonly exclude?: string[]; readonly platform?: 'linux/amd64' | 'linux/arm64' }
  | { readonly uri: string };

export interface BuildClusterProps {
  readonly vpc: ec2.IVpc;
  readonly agentImage: AgentImageSource;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** SSM path prefix of repository secrets, e.g. `/slipway` → `/slipway/<owner>/<repo>/<NAME>`. */
  readonly secretsPrefix: string;
  /** `owner/name` of the repositories whose secrets tasks may read; empty: every repository. */
  readonly allowedRepositories: readonly string[];
}

export class BuildCluster extends Construct {
  readonly cluster: ecs.Cluster;
  /** Pulls images, writes logs, resolves the task definition's `secrets` (SSM under the prefix, the clone tokens). */
  readonly executionRole: iam.Role;
  /** The build containers' own identity: no permission at all unless an administrator adds some. */
  readonly taskRole: iam.Role;
  readonly logGroup: logs.LogGroup;
  /** URI of the agent image, as the compiler must write it into task definitions. */
  readonly agentImageUri: string;

  constructor(scope: Construct, id: string, props: BuildClusterProps) {
    super(scope, id);
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      enableFargateCapacityProviders: true,
    });
    Validations.of(this.cluster).acknowledge({
      id: 'AwsSolutions-ECS4',
      reason: 'Container Insights bills per metric every month, including idle ones; Slipway keeps the idle cost at zero and records build metrics itself.',
    });

    this.logGroup = new logs.LogGroup(this, 'BuildLogs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });

    const tasksPrincipal = new iam.ServicePrincipal('ecs-tasks.amazonaws.com', {
      // Only ECS tasks of this account may assume the roles (confused-deputy guard).
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
    });
    this.executionRole = new iam.Role(this, 'TaskExecutionRole', {
      assumedBy: tasksPrincipal,
      description: 'Slipway build tasks: pull images, write build logs, read repository secrets',
    });
    this.taskRole = new iam.Role(this, 'BuildTaskRole', {
      assumedBy: tasksPrincipal,
      description: 'Slipway build containers: no permissions by default',
    });

    this.logGroup.grantWrite(this.executionRole);
    this.grantSecretsRead(props);
    this.agentImageUri = this.agentImage(props.agentImage);
  }

  /**
   * Lets ECS resolve the agent's clone token: a top-level key of this secret
   * (`<arn>:githubCloneToken::`, lambdas/shared/clone-credentials.ts). IAM cannot narrow a
   * grant to one JSON key, so it is this one secret, read only (no DescribeSecret, no
   * versions listing); ECS injects only the key a task definition names, and only the
   * compiler writes task definitions, each naming its repository's own secrets.
   */
  grantCloneTokenRead(secret: secretsmanager.ISecret): void {
    this.executionRole.addToPolicy(
      new iam.PolicyStatement({ sid: 'CloneTokens', actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }),
    );
    // A customer managed key: decrypt it only on behalf of Secrets Manager (the AWS managed
    // key needs no grant).
    if (secret.encryptionKey) {
      this.executionRole.addToPolicy(
        new iam.PolicyStatement({
          sid: 'DecryptCloneTokens',
          actions: ['kms:Decrypt'],
          resources: [secret.encryptionKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
        }),
      );
    }
  }

  private grantSecretsRead(props: BuildClusterProps): void {
    const stack = Stack.of(this);
    const prefix = props.secretsPrefix.replace(/^\/+|\/+$/g, '');
    const paths = props.allowedRepositories.length > 0 ? props.allowedRepositories.map((repo) => `${prefix}/${repo}/*`) : [`${prefix}/*`];
    const parameterArns = paths.map((path) =>
      stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: path, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }),
    );
    this.executionRole.addToPolicy(
      new iam.PolicyStatement({ sid: 'RepositorySecrets', actions: ['ssm:GetParameters'], resources: parameterArns }),
    );
    // SecureString parameters are encrypted with a KMS key whose id is not known here
    // (aws/ssm or the user's own): allow decrypting only on behalf of SSM in this region.
    this.executionRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DecryptSecretsViaSsm',
        actions: ['kms:Decrypt'],
        resources: [stack.formatArn({ service: 'kms', resource: 'key', resourceName: '*' })],
        conditions: { StringEquals: { 'kms:ViaService': `ssm.${stack.region}.amazonaws.com` } },
      }),
    );
    const policy = this.executionRole.node.tryFindChild('DefaultPolicy');
    if (!policy) throw new Error('SLIPWAY-CDK: the execution role has no default policy');
    for (const path of paths) {
      acknowledgeWildcardResource(
        policy,
        `arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/${path}`,
        'Build secrets are one SSM parameter per repository and name under this prefix; the set is open by design.',
      );
    }
    acknowledgeWildcardResource(
      policy,
      'arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*',
      'The SecureString key is chosen by whoever writes the parameter; kms:ViaService restricts use to SSM reads.',
    );
  }

  private agentImage(source: AgentImageSource): string {
    if ('uri' in source) return source.uri;
    const file = source.file ?? 'Dockerfile';
    if (!existsSync(join(source.directory, file))) {
      throw new Error(
        `SLIPWAY-CDK: agent image: ${join(source.directory, file)} does not exist; ` +
          'expected the task-runner Dockerfile there, or give agentImage: { uri } for an image built elsewhere',
      );
    }
    // Synth only fingerprints the directory; Docker builds and pushes the image at deploy.
    const asset = new ecrAssets.DockerImageAsset(this, 'AgentImage', {
      directory: source.directory,
      file,
      exclude: source.exclude,
      platform: source.platform === 'linux/arm64' ? ecrAssets.Platform.LINUX_ARM64 : ecrAssets.Platform.LINUX_AMD64,
    });
    asset.repository.grantPull(this.executionRole);
    acknowledgeWildcardResource(
      this.executionRole.node.tryFindChild('DefaultPolicy')!,
      '*',
      'ecr:GetAuthorizationToken has no resource-level permission; image pulls are limited to the agent image repository.',
    );
    return asset.imageUri;
  }
}
