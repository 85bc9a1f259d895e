// task-events: ECS task state changes of the build cluster → step, stage and build records.
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ENV } from '../../core/config/lambda-env.js';
import { DDB_READ, DDB_WRITE, type FunctionContext, acknowledgeTableIndexes, defaultPolicy, roleOf, setEnvironment } from './context.js';

export function configureTaskEvents(ctx: FunctionContext): void {
  const fn = ctx.functions['task-events'];
  const { table, queues, buildCluster } = ctx;
  const autoscaler = ctx.functions.autoscaler;
  setEnvironment(fn, {
    [ENV.tableName]: table.table.tableName,
    [ENV.jobsQueueUrl]: queues.jobs.queue.queueUrl,
    // A finished build's commit status goes to the planner, which posts it (retried, then dead-lettered).
    [ENV.eventsQueueUrl]: queues.events.queue.queueUrl,
    // Nudged when a stage's end makes dependent stages ready.
    [ENV.autoscalerFunctionName]: autoscaler.functionName,
    // A stage the agent ended gets the agent's own message from its result line.
    [ENV.buildLogGroup]: buildCluster.logGroup.logGroupName,
    // A stopped task's usage: whether it was billed for a public IPv4 address (core/cost).
    [ENV.assignPublicIp]: ctx.network.assignPublicIp,
    ...(ctx.settings.prices ? { [ENV.pricesOverride]: JSON.stringify(ctx.settings.prices) } : {}),
  });
  // Its own Region's refreshed prices (one item, PRICES#<region>): within the table grant below.

  table.table.grant(fn, ...DDB_READ, ...DDB_WRITE);
  queues.jobs.queue.grantSendMessages(fn);
  queues.events.queue.grantSendMessages(fn);
  // The nudge: an asynchronous invoke of the unqualified function (grantInvoke would also
  // allow every version and alias, `<arn>:*`).
  roleOf(fn).addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'NudgeAutoscaler', actions: ['lambda:InvokeFunction'], resources: [autoscaler.functionArn] }));
  // The agent's result line (the end of its stream), from the build log group.
  buildCluster.logGroup.grant(fn, 'logs:GetLogEvents', 'logs:FilterLogEvents');

  new events.Rule(ctx.scope, 'TaskStateChanges', {
    description: 'Slipway: ECS task state changes of the build cluster',
    eventPattern: {
      source: ['aws.ecs'],
      detailType: ['ECS Task State Change'],
      // Only this cluster's tasks: other workloads in the account never reach Slipway.
      detail: { clusterArn: [buildCluster.cluster.clusterArn] },
    },
    targets: [new targets.LambdaFunction(fn, { retryAttempts: 8, maxEventAge: Duration.hours(2) })],
  });

  acknowledgeTableIndexes(ctx, defaultPolicy('task-events', fn));
}
