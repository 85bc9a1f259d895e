// The autoscaler: every minute and on nudges, starts queued stages as ECS tasks within the
// deployment's limits, and reconciles what ECS runs with what the table says.
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ENV } from '../../core/config/lambda-env.js';
import { SCHEDULED_PASS_SECONDS } from '../../core/scaling/pass-schedule.js';
import { TASK_FAMILY_PREFIX } from '../build-cluster.js';
import { acknowledgeWildcardResource } from '../nag.js';
import { DDB_READ, DDB_WRITE, type FunctionContext, acknowledgeTableIndexes, buildTasks, defaultPolicy, roleOf, setEnvironment, taskPattern } from './context.js';

export function configureAutoscaler(ctx: FunctionContext): void {
  const fn = ctx.functions.autoscaler;
  const { table, queues, network, buildCluster, settings } = ctx;
  setEnvironment(fn, {
    [ENV.tableName]: table.table.tableName,
    [ENV.jobsQueueUrl]: queues.jobs.queue.queueUrl,
    // An undecodable job is parked here at once, not after maxReceiveCount failed passes.
    [ENV.jobsDeadLetterQueueUrl]: queues.jobs.deadLetterQueue.queueUrl,
    [ENV.cluster]: buildCluster.cluster.clusterArn,
    [ENV.subnetIds]: network.subnets.map((s) => s.subnetId).join(','),
    [ENV.securityGroupIds]: network.buildSecurityGroup.securityGroupId,
    [ENV.serviceSecurityGroupIds]: network.serviceTaskSecurityGroup.securityGroupId,
    [ENV.assignPublicIp]: network.assignPublicIp,
    ...(ctx.settings.prices ? { [ENV.pricesOverride]: JSON.stringify(ctx.settings.prices) } : {}),
    // Task definitions are registered with the build roles where the stored definition names none.
    [ENV.taskExecutionRoleArn]: buildCluster.executionRole.roleArn,
    [ENV.taskRoleArn]: buildCluster.taskRole.roleArn,
    // A fork's pull request runs with the execution role that is refused the credentialed cache rules.
    [ENV.forkTaskExecutionRoleArn]: buildCluster.forkExecutionRole.roleArn,
    // And with a task role of its own: nothing granted to the build task role reaches its containers.
    [ENV.forkTaskRoleArn]: buildCluster.forkTaskRole.roleArn,
    // The size of a stage that names none, for the vCPU quota.
    [ENV.defaultCpu]: String(settings.defaultCpu),
    // Its reconciling pass fails lost stages: their build's final commit status goes to the
    // planner through the events queue (retried, then dead-lettered).
    [ENV.eventsQueueUrl]: queues.events.queue.queueUrl,
    [ENV.maxConcurrentBuilds]: String(settings.maxConcurrentBuilds),
    [ENV.vcpuQuota]: String(settings.vcpuQuota),
    [ENV.useSpot]: String(settings.useSpot),
    // A GitHub App's clone token is minted as each stage starts, with the App's key from it.
    [ENV.scmCredentialsSecretArn]: ctx.scmCredentialsSecret.secretArn,
    [ENV.cloneTokensPrefix]: settings.cloneTokensPrefix,
    // Each segment of a split stage gets presigned URLs of its workspace snapshots, signed
    // with the snapshot signer's long-term keys (lib/snapshot-bucket.ts says why).
    [ENV.snapshotBucket]: ctx.snapshots.bucket.bucketName,
    [ENV.snapshotSignerSecretArn]: ctx.snapshots.signerSecret.secretArn,
  });

  table.table.grant(fn, ...DDB_READ, ...DDB_WRITE);
  // The signer's keys only: the autoscaler's own role has no right on the snapshots.
  ctx.snapshots.signerSecret.grantRead(fn);
  queues.events.queue.grantSendMessages(fn);
  // The autoscaler reads the jobs queue itself (no event source mapping) and deletes what
  // it read: the stages wait in the table.
  queues.jobs.queue.grantConsumeMessages(fn);
  // …and queues the dependents of a stage it ends (afterStageEnd).
  queues.jobs.queue.grantSendMessages(fn);
  queues.jobs.deadLetterQueue.grantSendMessages(fn);

  const { taskArns, familyArns, inCluster } = buildTasks(ctx);
  const role = roleOf(fn);
  // GitHub App clone tokens: minted with the App's key, then written, and only written (no
  // read back, no delete), under the clone tokens' prefix (lambdas/shared/clone-tokens.ts).
  ctx.scmCredentialsSecret.grantRead(fn);
  const cloneTokens = `${settings.cloneTokensPrefix.replace(/^\/+|\/+$/g, '')}/github/*`;
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'WriteCloneTokens',
      actions: ['ssm:PutParameter'],
      resources: [Stack.of(ctx.scope).formatArn({ service: 'ssm', resource: 'parameter', resourceName: cloneTokens, arnFormat: ArnFormat.SLASH_RESOURCE_NAME })],
    }),
  );
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'RunSlipwayTasks', actions: ['ecs:RunTask'], resources: [familyArns], conditions: inCluster }));
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'WatchSlipwayTasks',
      actions: ['ecs:DescribeTasks', 'ecs:StopTask'],
      resources: [taskArns],
      conditions: inCluster,
    }),
  );
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ListSlipwayTasks', actions: ['ecs:ListTasks'], resources: ['*'], conditions: inCluster }));
  // RegisterTaskDefinition and DescribeTaskDefinition support no resource-level permission.
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'RegisterSlipwayTaskDefinitions',
      actions: ['ecs:RegisterTaskDefinition', 'ecs:DescribeTaskDefinition'],
      resources: ['*'],
    }),
  );
  // Tags on RunTask / RegisterTaskDefinition need TagResource at creation time only.
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'TagOnCreate',
      actions: ['ecs:TagResource'],
      resources: [taskArns, familyArns],
      conditions: { StringEquals: { 'ecs:CreateAction': ['RunTask', 'RegisterTaskDefinition'] } },
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'PassBuildRoles',
      actions: ['iam:PassRole'],
      // Image-building repositories' task definitions name their own role (lib/image-builds.ts).
      resources: [buildCluster.executionRole.roleArn, buildCluster.forkExecutionRole.roleArn, buildCluster.taskRole.roleArn, buildCluster.forkTaskRole.roleArn, ...buildCluster.imageBuilds.roles.map((r) => r.roleArn)],
      conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    }),
  );

  new events.Rule(ctx.scope, 'AutoscalerSchedule', {
    description: 'Slipway: the autoscaler pass (start queued stages, reconcile)',
    schedule: events.Schedule.rate(Duration.seconds(SCHEDULED_PASS_SECONDS)),
    // A missed pass is replaced by the next one a minute later: no retries pile up.
    targets: [new targets.LambdaFunction(fn, { retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
  });

  const policy = defaultPolicy('autoscaler', fn);
  acknowledgeTableIndexes(ctx, policy);
  const familyPattern = `arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task-definition/${TASK_FAMILY_PREFIX}*`;
  acknowledgeWildcardResource(
    policy,
    `arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/${cloneTokens}`,
    'One clone token parameter per repository, written (PutParameter only) when a stage of that repository starts.',
  );
  acknowledgeWildcardResource(policy, familyPattern, 'Task definition families are content hashes named slipway-<pipeline>-<hash>, created at run time; RunTask is also limited to this cluster.');
  acknowledgeWildcardResource(policy, taskPattern(ctx), 'Task ids exist only at run time; the ARN is limited to the build cluster.');
  acknowledgeWildcardResource(policy, '*', 'ecs:RegisterTaskDefinition and ecs:DescribeTaskDefinition have no resource-level permissions; ecs:ListTasks is limited by the ecs:cluster condition.');
}
