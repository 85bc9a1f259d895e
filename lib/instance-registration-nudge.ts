// With EC2 capacity: an instance that joins the build cluster nudges the autoscaler, so that
// the stage it was started or launched for (from the warm pool, or new) is placed on it at
// once rather than by the next scheduled pass, up to a minute later
// (core/scaling/pass-schedule.ts, SCHEDULED_PASS_SECONDS). Nothing else tells the autoscaler:
// no task of that stage exists yet, so no task event comes.
//
// ECS sends "ECS Container Instance State Change" for container instances only (EC2 capacity):
// when the agent registers an instance for the first time, when it connects or disconnects
// (several times an hour as part of normal operation), and when a task placed or stopped on it
// changes its remaining resources
// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_container_instance_events.html).
// The pattern keeps those of this cluster with an ACTIVE instance whose agent is connected: what
// the fleet counts as ready (adapters/ec2/fleet.ts). Its other matches (a task starting or
// stopping, which the task-events handler nudges for already; a reconnect) cost one more pass
// each, a few hundred milliseconds of Lambda.
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

/** The autoscaler's event for such a nudge (lambdas/autoscaler/handler.ts: a pass without reconciliation). */
export const INSTANCE_NUDGE = { nudge: true, source: 'ec2-instance' } as const;

export function nudgeOnInstanceRegistration(scope: Construct, cluster: ecs.ICluster, autoscaler: lambda.IFunction): events.Rule {
  return new events.Rule(scope, 'InstanceRegistrationNudge', {
    description: 'Slipway: an EC2 container instance ready in the build cluster nudges the autoscaler',
    eventPattern: {
      source: ['aws.ecs'],
      detailType: ['ECS Container Instance State Change'],
      detail: { clusterArn: [cluster.clusterArn], status: ['ACTIVE'], agentConnected: [true] },
    },
    // A lost nudge is replaced by the scheduled pass: no retries pile up behind reserved concurrency 1.
    targets: [new targets.LambdaFunction(autoscaler, { event: events.RuleTargetInput.fromObject(INSTANCE_NUDGE), retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
  });
}
