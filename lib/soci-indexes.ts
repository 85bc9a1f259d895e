// SOCI-enabled copies of the large images builds pull through the cache (core/images/soci.ts,
// docs/design/soci-indexes.md): the EventBridge rule that puts the cache's "ECR Pull Through
// Cache Action" events for the stack's prefixes on the jobs queue (the autoscaler takes them as
// index-image jobs, lambdas/autoscaler/index-image.ts), the converter's task definition and
// roles, and the `slipway-soci/…` repositories' settings. Nothing of it runs while nothing is
// pulled: a rule, a task definition, roles and a repository creation template cost nothing idle.
//
// - Events: https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-eventbridge.html (sent on a
//   best-effort basis: an image whose event is lost is converted at the cache's next sync of it).
// - The copies' repositories are created by the converter's first push (ECR's create-on-push,
//   a repository creation template applied for CREATE_ON_PUSH, the pusher needing
//   ecr:CreateRepository). Their lifecycle: ECR can select by last pull only to archive
//   (`sinceImagePulled` with the `transition` action), an archived image cannot be pulled and
//   stays billed for 90 days (archive-image.html); so a copy expires 30 days after its push
//   (`sinceImagePushed`), and the planner stops naming it a day before
//   (core/images/soci.ts SOCI_COPY_LIFETIME_MS), when the cache's next event converts it again.
import { Aws, Duration, Stack } from 'aws-cdk-lib';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { ENV } from '../core/config/lambda-env.js';
import type { SociConverterConfig } from '../core/images/soci.js';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { LOG_STREAM_PREFIX } from '../core/pipeline/log-configuration.js';
import { SOCI_CONVERTER_CONTAINER, SOCI_CONVERTER_CPU, SOCI_REPOSITORY_PREFIX } from '../core/images/soci.js';
import { type BuildCluster, TASK_FAMILY_PREFIX } from './build-cluster.js';
import { PUSH_ACTIONS } from './image-builds.js';
import { acknowledgeWildcardResource } from './nag.js';

/** The converter's family: under the build tasks' prefix, so the autoscaler's RunTask right covers it. */
export const SOCI_CONVERTER_FAMILY = `${TASK_FAMILY_PREFIX}soci-converter`;
/** Days after its push that ECR expires a copy. */
export const SOCI_COPY_EXPIRY_DAYS = 30;
/** The soci release the converter image installs (task-runner/soci-converter/Dockerfile). */
export const SOCI_RELEASE = '0.15.0';

export interface SociIndexesProps {
  readonly cluster: ecs.ICluster;
  readonly logGroup: logs.ILogGroup;
  /** The jobs queue: the autoscaler reads the index-image jobs there. */
  readonly jobsQueue: sqs.IQueue;
  /** The cache rules' repository prefixes (`slipway-docker-hub`, …): only their images are converted. */
  readonly cachePrefixes: readonly string[];
  /** The converter image's source folder (task-runner/soci-converter). */
  readonly converterDirectory: string;
  /** The sha256 of the soci release's linux/amd64 static tarball: the converter image installs it only if it matches. */
  readonly releaseSha256: string;
}

export class SociIndexes extends Construct {
  readonly taskDefinition: ecs.FargateTaskDefinition;
  /** What the autoscaler passes to RunTask (iam:PassRole). */
  readonly roles: iam.IRole[];

  constructor(scope: Construct, id: string, props: SociIndexesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const repositoryArn = (name: string) => stack.formatArn({ service: 'ecr', resource: 'repository', resourceName: name });
    const nagPattern = (name: string) => `arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/${name}`;

    // 1 vCPU / 2 GB (docs/design/soci-indexes.md: one to two minutes for a 400 MB image); the
    // storage holds the image's layout three times over (the copy soci reads, its work copy, the
    // output), every platform of its index.
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Converter', {
      family: SOCI_CONVERTER_FAMILY,
      cpu: SOCI_CONVERTER_CPU,
      memoryLimitMiB: 2048,
      ephemeralStorageGiB: 50,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    this.taskDefinition.addContainer('Convert', {
      containerName: SOCI_CONVERTER_CONTAINER,
      image: ecs.ContainerImage.fromAsset(props.converterDirectory, {
        platform: Platform.LINUX_AMD64,
        buildArgs: { SOCI_VERSION: SOCI_RELEASE, SOCI_SHA256_AMD64: props.releaseSha256 },
      }),
      essential: true,
      // Its report line is read from here by the task-events Lambda (lambdas/task-events/soci-result.ts).
      logging: ecs.LogDrivers.awsLogs({ logGroup: props.logGroup, streamPrefix: LOG_STREAM_PREFIX }),
    });

    // The task role: read the cache's repositories (pulling through for a platform not cached
    // yet), and push only to `slipway-soci/*`, creating its repositories on the first push.
    const cached = props.cachePrefixes.map((p) => `${p}/*`);
    const role = this.taskDefinition.taskRole;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadCache',
        actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchImportUpstreamImage'],
        resources: cached.map(repositoryArn),
      }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'PushCopies', actions: [...PUSH_ACTIONS, 'ecr:CreateRepository'], resources: [repositoryArn(`${SOCI_REPOSITORY_PREFIX}/*`)] }));
    const policy = role.node.tryFindChild('DefaultPolicy')!;
    acknowledgeWildcardResource(policy, '*', 'ecr:GetAuthorizationToken has no resource-level permission; what may be read and pushed is limited per repository.');
    for (const name of [...cached, `${SOCI_REPOSITORY_PREFIX}/*`]) {
      acknowledgeWildcardResource(policy, nagPattern(name), 'The cache creates a repository per upstream image, and the converter one per cached repository: the prefixes bound them.');
    }
    const executionRole = this.taskDefinition.obtainExecutionRole();
    const executionPolicy = executionRole.node.tryFindChild('DefaultPolicy');
    if (executionPolicy) acknowledgeWildcardResource(executionPolicy, '*', "ecr:GetAuthorizationToken has no resource-level permission (CDK's grant to pull the converter's own image).");
    this.roles = [this.taskDefinition.taskRole, executionRole];

    // The copies' repositories, as the converter's first push creates them.
    new ecr.CfnRepositoryCreationTemplate(this, 'CopiesTemplate', {
      prefix: SOCI_REPOSITORY_PREFIX,
      appliedFor: ['CREATE_ON_PUSH'],
      description: 'Slipway: SOCI-enabled copies of cached images (expire 30 days after their push)',
      // A conversion that ran again (its report lost) pushes the same tag: mutable.
      imageTagMutability: 'MUTABLE',
      encryptionConfiguration: { encryptionType: 'AES256' },
      lifecyclePolicy: JSON.stringify(sociCopiesLifecyclePolicy()),
    });

    // The cache's events for the stack's prefixes only, as index-image jobs on the jobs queue.
    new events.Rule(this, 'CachePulls', {
      description: 'Slipway: images the pull-through cache pulled, to index the large ones (SOCI)',
      eventPattern: {
        source: ['aws.ecr'],
        detailType: ['ECR Pull Through Cache Action'],
        detail: { 'sync-status': ['SUCCESS'], 'ecr-repository-prefix': [...props.cachePrefixes] },
      },
      targets: [new targets.SqsQueue(props.jobsQueue, { retryAttempts: 8, maxEventAge: Duration.hours(2) })],
    });
  }
}

/** Expire a copy 30 days after its push (the closest ECR's lifecycle rules come to "unused for 30 days": see above). */
export function sociCopiesLifecyclePolicy(): { rules: unknown[] } {
  return {
    rules: [
      {
        rulePriority: 1,
        description: `Expire SOCI-enabled copies ${SOCI_COPY_EXPIRY_DAYS} days after their push; the planner stops naming them a day before`,
        selection: { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'days', countNumber: SOCI_COPY_EXPIRY_DAYS },
        action: { type: 'expire' },
      },
    ],
  };
}

/**
 * The control plane's part: the autoscaler starts the converter (RunTask is within its
 * `slipway-*` families; PassRole of the converter's roles) and sizes the cache's images; the
 * planner reads the tags' digests and the copies' push times; both read ENV.sociIndexes. The task-events Lambda needs
 * nothing more: the build table and the build log group are already its.
 */
export function connectSociIndexes(
  soci: SociIndexes,
  functions: { planner: lambda.Function; autoscaler: lambda.Function },
  buildCluster: Pick<BuildCluster, 'grantSociCopyPulls'>,
  cachePrefixes: readonly string[],
): void {
  const stack = Stack.of(soci);
  // Build tasks pull the copies the planner names, whatever pullRepositories limits them to.
  buildCluster.grantSociCopyPulls();
  const config: SociConverterConfig = {
    taskDefinition: SOCI_CONVERTER_FAMILY,
    registry: `${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.${Aws.URL_SUFFIX}`,
    prefixes: [...cachePrefixes],
  };
  const env = stack.toJsonString(config);
  functions.planner.addEnvironment(ENV.sociIndexes, env);
  functions.autoscaler.addEnvironment(ENV.sociIndexes, env);
  const cached = cachePrefixes.map((p) => stack.formatArn({ service: 'ecr', resource: 'repository', resourceName: `${p}/*` }));
  for (const [fn, sid] of [
    [functions.planner, 'DigestsOfCachedImages'],
    [functions.autoscaler, 'SizesOfCachedImages'],
  ] as const) {
    // Metadata only: DescribeImages pulls nothing.
    fn.role!.addToPrincipalPolicy(new iam.PolicyStatement({ sid, actions: ['ecr:DescribeImages'], resources: cached }));
    const policy = fn.role!.node.tryFindChild('DefaultPolicy')!;
    for (const p of cachePrefixes) acknowledgeWildcardResource(policy, `arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/${p}/*`, 'The cache creates a repository per upstream image: its prefix bounds them; DescribeImages reads metadata only.');
  }
  // The planner names a copy only while ECR holds it, its push within the copies' lifetime (soci-images.ts).
  functions.planner.role!.addToPrincipalPolicy(
    new iam.PolicyStatement({ sid: 'PushTimesOfSociCopies', actions: ['ecr:DescribeImages'], resources: [stack.formatArn({ service: 'ecr', resource: 'repository', resourceName: `${SOCI_REPOSITORY_PREFIX}/*` })] }),
  );
  acknowledgeWildcardResource(
    functions.planner.role!.node.tryFindChild('DefaultPolicy')!,
    `arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/${SOCI_REPOSITORY_PREFIX}/*`,
    'The converter creates a repository per cached repository under this prefix; DescribeImages reads metadata only.',
  );
  functions.autoscaler.role!.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'PassSociConverterRoles',
      actions: ['iam:PassRole'],
      resources: soci.roles.map((r) => r.roleArn),
      conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    }),
  );
}
