// The control-plane Lambdas' environment variables, named once: the CDK construct sets them
// (lib/functions/), the handlers' wiring reads them (lambdas/*), local mode sets them for
// its runtime (local/up.ts). Pure data, so that lib/ can import it without runtime code.
// test/cdk/lambda-env.test.ts synthesizes the stack and checks, per function, that what the
// wiring reads is what the construct sets, and the reverse.

export const LAMBDA_NAMES = ['webhook', 'planner', 'autoscaler', 'task-events', 'api', 'prices'] as const;
export type LambdaName = (typeof LAMBDA_NAMES)[number];

export const ENV = {
  /** The build table (core/builds/keys.ts). */
  tableName: 'TABLE_NAME',
  /** Webhook deliveries, restarts and finished builds' commit statuses, for the planner. */
  eventsQueueUrl: 'EVENTS_QUEUE_URL',
  /** Stages ready to start, for the autoscaler. */
  jobsQueueUrl: 'JOBS_QUEUE_URL',
  /** Where the autoscaler parks a job message it cannot decode. */
  jobsDeadLetterQueueUrl: 'JOBS_DLQ_URL',
  /** The build cluster (name or ARN). */
  cluster: 'CLUSTER',
  /** Comma-separated subnets of build tasks. */
  subnetIds: 'SUBNET_IDS',
  /** Comma-separated security groups of build tasks. */
  securityGroupIds: 'SECURITY_GROUP_IDS',
  /** The security groups of split pipelines' service tasks (lib/network.ts): they let in build tasks. */
  serviceSecurityGroupIds: 'SERVICE_SECURITY_GROUP_IDS',
  /** `ENABLED` or `DISABLED` (awsvpc's assignPublicIp). */
  assignPublicIp: 'ASSIGN_PUBLIC_IP',
  taskExecutionRoleArn: 'TASK_EXECUTION_ROLE_ARN',
  /**
   * The execution role of a fork's pull request (lib/build-cluster.ts forkExecutionRole): the
   * autoscaler puts it in RunTask's overrides of a fork's stage.
   */
  forkTaskExecutionRoleArn: 'FORK_TASK_EXECUTION_ROLE_ARN',
  taskRoleArn: 'TASK_ROLE_ARN',
  /**
   * The task role of a fork's pull request (lib/build-cluster.ts forkTaskRole): the autoscaler
   * puts it in RunTask's overrides of a fork's stage, so that no right given the build task role
   * reaches a fork's containers.
   */
  forkTaskRoleArn: 'FORK_TASK_ROLE_ARN',
  /**
   * Image builds per repository, JSON: `{"owner/name": {"taskRoleArn", "pushRepositories", "cacheRepository"}}`
   * (lib/image-builds.ts); unset: no repository may push to ECR, no layer cache.
   */
  imageBuilds: 'IMAGE_BUILDS',
  /** The image builder (kaniko) image; unset: the compiler's pinned default. */
  imageBuilder: 'IMAGE_BUILDER',
  /**
   * The stack's ECR pull-through cache rules, JSON: upstream registry domain → repository
   * prefix (`{"docker.io": "docker-hub", "public.ecr.aws": "ecr-public"}`); unset: images as written.
   */
  pullThroughCache: 'PULL_THROUGH_CACHE',
  /** Comma-separated `owner/name` whose builds pull their images as written (opted out of the cache). */
  pullThroughCacheOptOut: 'PULL_THROUGH_CACHE_OPT_OUT',
  /**
   * Comma-separated ECR repository names (`*` any characters) a fork's pull request may pull
   * besides the agent's, the builder's and the cache rules without credentials (stack setting
   * forkPullRepositories, lambdas/planner/compile-options.ts forkPullsOf).
   */
  forkPullRepositories: 'FORK_PULL_REPOSITORIES',
  /**
   * SOCI-enabled copies of large cached images (core/images/soci.ts, lib/soci-indexes.ts), JSON
   * `{"taskDefinition", "registry", "prefixes": [...]}`: the autoscaler converts, the planner
   * names the copies. Unset: off.
   */
  sociIndexes: 'SOCI_INDEXES',
  /** The log group of build containers (awslogs). */
  buildLogGroup: 'BUILD_LOG_GROUP',
  /**
   * The stack's `prices` setting, JSON (core/cost/price-table.ts PriceOverride): prices that win
   * over the defaults and the Price List refresh. Unset: none.
   */
  pricesOverride: 'PRICES_OVERRIDE',
  /** The Regions the price refresh reads (comma-separated); the stack's own Region at least. */
  priceRegions: 'PRICE_REGIONS',
  /** The agent image of each architecture (single-platform images). */
  agentImageAmd64: 'AGENT_IMAGE_AMD64',
  agentImageArm64: 'AGENT_IMAGE_ARM64',
  /** One multi-arch agent image (a manifest list) for every architecture, instead of the two above. */
  agentImage: 'AGENT_IMAGE',
  /** With PARTITION: secret references are full ARNs of this account. */
  accountId: 'ACCOUNT_ID',
  partition: 'PARTITION',
  /** SSM / Secrets Manager path of repository secrets. */
  secretsPrefix: 'SECRETS_PREFIX',
  defaultCpu: 'DEFAULT_CPU',
  defaultMemory: 'DEFAULT_MEMORY',
  /** Comma-separated `owner/name`; unset: every repository. */
  allowedRepositories: 'ALLOWED_REPOSITORIES',
  /** SSM path of each repository's webhook secret. */
  webhookSecretsPrefix: 'WEBHOOK_SECRETS_PREFIX',
  /** SSM path of the GitHub App clone tokens, one per repository (lambdas/shared/clone-tokens.ts). */
  cloneTokensPrefix: 'CLONE_TOKENS_PREFIX',
  /** Secrets Manager secret of the Git host tokens (deployed). */
  scmCredentialsSecretArn: 'SCM_CREDENTIALS_SECRET_ARN',
  /** The Git host tokens as plain JSON (local mode only: deployed, the secret above holds them). */
  scmCredentials: 'SCM_CREDENTIALS',
  /** Nudged by an asynchronous invoke when work is queued or capacity freed. */
  autoscalerFunctionName: 'AUTOSCALER_FUNCTION_NAME',
  /** `aws` or `off`: whether the planner checks that a build's secrets exist. */
  secretsCheck: 'SECRETS_CHECK',
  maxConcurrentBuilds: 'MAX_CONCURRENT_BUILDS',
  vcpuQuota: 'VCPU_QUOTA',
  /** `true`: stages run on Fargate Spot unless they ask otherwise. */
  useSpot: 'USE_SPOT',
  /**
   * The EC2 capacity (lib/ec2-capacity.ts), JSON: `{"amd64": {"capacityProvider", "autoScalingGroup"}, "arm64": …}`;
   * unset: Fargate only.
   */
  ec2Capacity: 'EC2_CAPACITY',
  /** Most EC2 instances at once, across architectures (each runs one build). */
  ec2MaxInstances: 'EC2_MAX_INSTANCES',
  /**
   * What EC2 instances pull ahead at boot (lib/ec2-capacity.ts), JSON: `{"parameters": {"amd64": <SSM name>},
   * "registry", "repositoryPrefixes", "agentImages": {"amd64": …}}`; unset: no lists kept.
   */
  ec2Prepull: 'EC2_PREPULL',
  /** The dashboard's address, for links in commit statuses. */
  publicUrl: 'PUBLIC_URL',
  /** Secrets Manager secret of the API's hashed bearer tokens. */
  apiTokenSecretArn: 'API_TOKEN_SECRET_ARN',
  /** The webhook's address, shown by `slipway repo add`. */
  webhookUrl: 'WEBHOOK_URL',
  /** Powertools for AWS Lambda: the `service` of every log line and metric (lambdas/shared/observability). */
  powertoolsServiceName: 'POWERTOOLS_SERVICE_NAME',
  /** Powertools Metrics: the CloudWatch namespace (the `metricsNamespace` setting). */
  powertoolsMetricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  /** Powertools Metrics reads it itself; local mode sets it (no CloudWatch to read metrics there). */
  powertoolsMetricsDisabled: 'POWERTOOLS_METRICS_DISABLED',
  /** `true`: the planner compiles pipelines over ECS's 10 containers into consecutive tasks (core/pipeline/segments.ts). */
  splitPipelines: 'SPLIT_PIPELINES',
  /** The bucket of split pipelines' workspace snapshots (lib/snapshot-bucket.ts), whose URLs the autoscaler signs. */
  snapshotBucket: 'SNAPSHOT_BUCKET',
  /**
   * Secrets Manager secret of the snapshot signer's access key, JSON `{"accessKeyId","secretAccessKey"}`:
   * long-term keys, so that a PUT URL outlives the autoscaler's own session (adapters/s3/snapshot-urls.ts).
   */
  snapshotSignerSecretArn: 'SNAPSHOT_SIGNER_SECRET_ARN',
  /**
   * Set by the Lambda runtime, never by the stack
   * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
   */
  awsRegion: 'AWS_REGION',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

export interface FunctionEnv {
  /** Set by the stack on every deployment, and read by the function's wiring. */
  readonly always: readonly EnvName[];
  /** Set by the stack only when the deployment's settings ask for it (e.g. an allow-list). */
  readonly optional: readonly EnvName[];
  /**
   * Set by the stack for a library in the bundle that reads process.env itself (e.g.
   * Powertools' POWERTOOLS_SERVICE_NAME), not through the wiring's environment.
   */
  readonly libraries?: readonly EnvName[];
}

/** Read by the wiring but never set by the stack: the Lambda runtime's own, and local mode's. */
export const NOT_SET_BY_STACK: readonly EnvName[] = [ENV.awsRegion, ENV.scmCredentials];

const AGENT_IMAGES: readonly EnvName[] = [ENV.agentImageAmd64, ENV.agentImageArm64, ENV.agentImage];
/** Every function logs through Powertools (lambdas/shared/observability); all but the webhook count too. */
const POWERTOOLS: readonly EnvName[] = [ENV.powertoolsServiceName, ENV.powertoolsMetricsNamespace];

/** What each function reads, and so what the stack sets for it. */
export const FUNCTION_ENV: Record<LambdaName, FunctionEnv> = {
  webhook: { always: [ENV.tableName, ENV.eventsQueueUrl, ENV.webhookSecretsPrefix, ENV.powertoolsServiceName], optional: [ENV.allowedRepositories] },
  planner: {
    always: [
      ENV.tableName,
      ENV.jobsQueueUrl,
      ENV.scmCredentialsSecretArn,
      ENV.autoscalerFunctionName,
      ENV.secretsCheck,
      ENV.publicUrl,
      // The compiler's options (lambdas/planner/compile-options.ts).
      ENV.taskExecutionRoleArn,
      ENV.taskRoleArn,
      ENV.buildLogGroup,
      ENV.accountId,
      ENV.partition,
      ENV.secretsPrefix,
      ENV.defaultCpu,
      ENV.defaultMemory,
      ...POWERTOOLS,
      // Where a GitHub App's clone token of each repository is (lambdas/shared/clone-credentials.ts).
      ENV.cloneTokensPrefix,
      // Pipelines over 10 containers run as consecutive tasks (the stack has the snapshot bucket).
      ENV.splitPipelines,
    ],
    optional: [...AGENT_IMAGES, ENV.allowedRepositories, ENV.imageBuilds, ENV.imageBuilder, ENV.pullThroughCache, ENV.pullThroughCacheOptOut, ENV.forkPullRepositories, ENV.ec2Capacity, ENV.sociIndexes],
  },
  autoscaler: {
    always: [
      ENV.tableName,
      ENV.jobsQueueUrl,
      ENV.jobsDeadLetterQueueUrl,
      ENV.eventsQueueUrl,
      ENV.cluster,
      ENV.subnetIds,
      ENV.securityGroupIds,
      ENV.assignPublicIp,
      ENV.taskExecutionRoleArn,
      ENV.forkTaskExecutionRoleArn,
      ENV.taskRoleArn,
      ENV.forkTaskRoleArn,
      ENV.defaultCpu,
      ENV.maxConcurrentBuilds,
      ENV.vcpuQuota,
      ENV.useSpot,
      ...POWERTOOLS,
      // GitHub App clone tokens, minted as a stage starts (lambdas/shared/clone-tokens.ts).
      ENV.scmCredentialsSecretArn,
      ENV.cloneTokensPrefix,
      // Split pipelines: the snapshot URLs each segment gets (adapters/s3/snapshot-urls.ts).
      ENV.snapshotBucket,
      ENV.snapshotSignerSecretArn,
      // Split pipelines: the service task's security group, which the segments may reach.
      ENV.serviceSecurityGroupIds,
    ],
    // The cost of a build it finishes (reconciliation): the stack's `prices` setting, when given;
    // the EC2 capacity, when the stack has it (lib/ec2-capacity.ts).
    optional: [ENV.pricesOverride, ENV.ec2Capacity, ENV.ec2MaxInstances, ENV.ec2Prepull, ENV.sociIndexes],
  },
  'task-events': {
    // ASSIGN_PUBLIC_IP: whether a build's task is billed for a public IPv4 address (core/cost).
    always: [ENV.tableName, ENV.jobsQueueUrl, ENV.eventsQueueUrl, ENV.autoscalerFunctionName, ENV.buildLogGroup, ENV.assignPublicIp, ...POWERTOOLS],
    optional: [ENV.pricesOverride],
  },
  api: {
    always: [ENV.tableName, ENV.eventsQueueUrl, ENV.cluster, ENV.buildLogGroup, ENV.apiTokenSecretArn, ENV.webhookSecretsPrefix, ENV.webhookUrl, ...POWERTOOLS],
    optional: [],
  },
  // The daily Price List refresh (lambdas/prices): where it writes, and which Regions it reads.
  prices: { always: [ENV.tableName, ENV.priceRegions, ENV.powertoolsServiceName], optional: [] },
};
