// The planner: consumes the events queue, turns a push into a build and its stages (the
// compiler's task definitions), posts commit statuses, and nudges the autoscaler.
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { ENV } from '../../core/config/lambda-env.js';
import { DERIVED_TAG } from '../../core/pipeline/docker-config.js';
import { acknowledgeWildcardResource } from '../nag.js';
import { DDB_READ, DDB_WRITE, type FunctionContext, acknowledgeTableIndexes, defaultPolicy, roleOf, setEnvironment } from './context.js';

/** The events queue's visibility timeout derives from it. */
export const PLANNER_TIMEOUT = Duration.seconds(60);

export function configurePlanner(ctx: FunctionContext): void {
  const fn = ctx.functions.planner;
  const { table, queues, buildCluster, settings } = ctx;
  const stack = Stack.of(ctx.scope);
  setEnvironment(fn, {
    [ENV.tableName]: table.table.tableName,
    [ENV.jobsQueueUrl]: queues.jobs.queue.queueUrl,
    [ENV.scmCredentialsSecretArn]: ctx.scmCredentialsSecret.secretArn,
    [ENV.autoscalerFunctionName]: ctx.functions.autoscaler.functionName,
    // Secrets that do not exist are left out of task definitions (lambdas/planner/secret-check.ts).
    [ENV.secretsCheck]: 'aws',
    // The compiler's options (lambdas/planner/compile-options.ts).
    [ENV.taskExecutionRoleArn]: buildCluster.executionRole.roleArn,
    [ENV.taskRoleArn]: buildCluster.taskRole.roleArn,
    [ENV.buildLogGroup]: buildCluster.logGroup.logGroupName,
    // One image per architecture, or one multi-arch image.
    ...(buildCluster.agentImages.byArch.amd64 ? { [ENV.agentImageAmd64]: buildCluster.agentImages.byArch.amd64 } : {}),
    ...(buildCluster.agentImages.byArch.arm64 ? { [ENV.agentImageArm64]: buildCluster.agentImages.byArch.arm64 } : {}),
    ...(buildCluster.agentImages.anyArch ? { [ENV.agentImage]: buildCluster.agentImages.anyArch } : {}),
    // Secret references are full ARNs of this account and partition (never assumed `aws`).
    [ENV.accountId]: stack.account,
    [ENV.partition]: stack.partition,
    [ENV.secretsPrefix]: settings.secretsPrefix,
    [ENV.defaultCpu]: String(settings.defaultCpu),
    [ENV.defaultMemory]: String(settings.defaultMemory),
    // Where a GitHub App's clone token of each repository is written (by the autoscaler, at start).
    [ENV.cloneTokensPrefix]: settings.cloneTokensPrefix,
    // The stack has the snapshot bucket (lib/snapshot-bucket.ts): pipelines over ECS's 10
    // containers are compiled into consecutive tasks instead of being refused.
    [ENV.splitPipelines]: 'true',
    ...(settings.allowedRepositories.length > 0 ? { [ENV.allowedRepositories]: settings.allowedRepositories.join(',') } : {}),
    // Which repositories' builds may push to ECR, with which role, and their layer caches.
    ...(Object.keys(buildCluster.imageBuilds.byRepository).length > 0 ? { [ENV.imageBuilds]: stack.toJsonString(buildCluster.imageBuilds.byRepository) } : {}),
    ...(settings.imageBuilder ? { [ENV.imageBuilder]: settings.imageBuilder } : {}),
    // Images of these registries are pulled through the stack's cache rules, but for these repositories.
    ...(settings.pullThroughCacheRules && Object.keys(settings.pullThroughCacheRules).length > 0 ? { [ENV.pullThroughCache]: JSON.stringify(settings.pullThroughCacheRules) } : {}),
    ...(settings.pullThroughCacheRules && (settings.pullThroughCacheOptOut ?? []).length > 0 ? { [ENV.pullThroughCacheOptOut]: settings.pullThroughCacheOptOut!.join(',') } : {}),
    // A fork's pull request may pull these of the account's repositories besides its own (lib/build-cluster.ts grantForkPulls).
    ...((settings.forkPullRepositories ?? []).length > 0 ? { [ENV.forkPullRepositories]: settings.forkPullRepositories!.join(',') } : {}),
  });

  table.table.grant(fn, ...DDB_READ, ...DDB_WRITE);
  queues.jobs.queue.grantSendMessages(fn);
  ctx.scmCredentialsSecret.grantRead(fn);
  // Build agents of private repositories clone with a top-level key of it (the planner
  // writes the reference into their task definitions).
  buildCluster.grantCloneTokenRead(ctx.scmCredentialsSecret);
  const role = roleOf(fn);
  // The nudge: an asynchronous invoke of the unqualified function (grantInvoke would also
  // allow every version and alias, `<arn>:*`).
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'NudgeAutoscaler', actions: ['lambda:InvokeFunction'], resources: [ctx.functions.autoscaler.functionArn] }));

  // Plugin images' ENTRYPOINT/CMD, private ECR ones with a token from ECR. Any account's
  // repository may grant this role by its repository policy, so the repositories are not
  // limited to this account or region.
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'EcrReadImageConfigs',
      actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
      resources: [`arn:${stack.partition}:ecr:*:*:repository/*`],
    }),
  );

  // Before a build, the planner checks that the secrets its task definitions name exist
  // (ECS stops the whole task on one missing secret), reading metadata, never a value:
  // ssm:DescribeParameters has no resource-level permission; DescribeSecret is limited to
  // the repository secrets' prefix.
  const secretsPrefix = settings.secretsPrefix.replace(/^\/+|\/+$/g, '');
  const secretPaths = settings.allowedRepositories.length > 0 ? settings.allowedRepositories.map((r) => `${secretsPrefix}/${r}/*`) : [`${secretsPrefix}/*`];
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'SecretsExist', actions: ['ssm:DescribeParameters'], resources: ['*'] }));
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'SecretsManagerSecretsExist',
      actions: ['secretsmanager:DescribeSecret'],
      resources: secretPaths.map((path) => stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `/${path}`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })),
    }),
  );

  // image_pull_secrets holding a Docker config (core/pipeline/pull-logins.ts): the planner reads
  // the repository's pull secret (an SSM parameter, or a Secrets Manager secret's JSON key) and
  // keeps each registry's login in a derived secret `<repository prefix>/slipway-pull.*` in ECS's
  // {"username","password"} form, which the execution role already reads (build-cluster.ts). It
  // may create such a secret only with the tag slipway:derived (CreateSecret with tags needs
  // secretsmanager:TagResource too,
  // https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html) and
  // change only secrets that carry it, so a secret a person keeps under that name is never overwritten.
  const derivedPaths = settings.allowedRepositories.length > 0 ? settings.allowedRepositories.map((r) => `${secretsPrefix}/${r}/slipway-pull.*`) : [`${secretsPrefix}/*/slipway-pull.*`];
  const secretArnOf = (path: string) => stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `/${path}`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'PullSecretsReadParameters',
      actions: ['ssm:GetParameter'],
      resources: secretPaths.map((path) => stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: path, arnFormat: ArnFormat.SLASH_RESOURCE_NAME })),
    }),
  );
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'PullSecretsReadSecrets', actions: ['secretsmanager:GetSecretValue'], resources: secretPaths.map(secretArnOf) }));
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'PullSecretsDecrypt',
      actions: ['kms:Decrypt'],
      resources: [stack.formatArn({ service: 'kms', resource: 'key', resourceName: '*' })],
      conditions: { StringEquals: { 'kms:ViaService': [`ssm.${stack.region}.amazonaws.com`, `secretsmanager.${stack.region}.amazonaws.com`] } },
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'DerivedPullSecretsCreate',
      actions: ['secretsmanager:CreateSecret', 'secretsmanager:TagResource'],
      resources: derivedPaths.map(secretArnOf),
      conditions: {
        StringEquals: { [`aws:RequestTag/${DERIVED_TAG.key}`]: DERIVED_TAG.value },
        'ForAllValues:StringEquals': { 'aws:TagKeys': [DERIVED_TAG.key] },
      },
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'DerivedPullSecretsUpdate',
      actions: ['secretsmanager:PutSecretValue'],
      resources: derivedPaths.map(secretArnOf),
      conditions: { StringEquals: { [`secretsmanager:ResourceTag/${DERIVED_TAG.key}`]: DERIVED_TAG.value } },
    }),
  );

  fn.addEventSource(
    new SqsEventSource(queues.events.queue, {
      batchSize: 10,
      maxBatchingWindow: Duration.seconds(0),
      reportBatchItemFailures: true,
      // Bounds the planner's concurrency (and its load on the Git host API) without
      // reserving account concurrency.
      maxConcurrency: 5,
    }),
  );

  const policy = defaultPolicy('planner', fn);
  acknowledgeTableIndexes(ctx, policy);
  acknowledgeWildcardResource(
    policy,
    '*',
    'ecr:GetAuthorizationToken and ssm:DescribeParameters have no resource-level permission; the first only mints a login, the second reads parameter names and metadata, never values.',
  );
  for (const path of secretPaths) {
    acknowledgeWildcardResource(
      policy,
      `arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:/${path}`,
      "DescribeSecret and GetSecretValue on the repository secrets' prefix: the planner checks that a secret exists, and reads the Docker config of a pull secret to derive its registry logins.",
    );
    acknowledgeWildcardResource(
      policy,
      `arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/${path}`,
      "GetParameter on the repository secrets' prefix: a repository secret named in image_pull_secrets holds a Docker config, which the planner reads to derive its registry logins.",
    );
  }
  for (const path of derivedPaths) {
    acknowledgeWildcardResource(
      policy,
      `arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:/${path}`,
      'Derived pull credentials, one secret per pull secret and registry under each repository prefix; created only with the tag slipway:derived, changed only when they carry it.',
    );
  }
  acknowledgeWildcardResource(
    policy,
    'arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*',
    "A pull secret's KMS key is the user's choice (aws/ssm, aws/secretsmanager or their own): decrypting is allowed only through SSM and Secrets Manager in this region.",
  );
  acknowledgeWildcardResource(
    policy,
    'arn:<AWS::Partition>:ecr:*:*:repository/*',
    'Plugin images may be in any ECR repository a pipeline names, in any account or region whose repository policy grants this role; reads of image manifests and config blobs only.',
  );
}
