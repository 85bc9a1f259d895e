// The two queues of the flow (webhook → events → planner; planner → jobs → autoscaler),
// each with a dead-letter queue whose depth raises an alarm: a poison message is visible,
// never silently dropped.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { JOBS_MAX_RECEIVES } from '../core/scaling/job.js';
import { EVENTS_MAX_RECEIVES } from '../core/scm/types.js';

export interface QueuesProps {
  /** The planner's timeout: the events queue hides a message six times as long (AWS guidance). */
  readonly plannerTimeout: Duration;
}

const COMMON = {
  encryption: sqs.QueueEncryption.SQS_MANAGED,
  enforceSSL: true,
  retentionPeriod: Duration.days(14),
} as const;

export interface QueueWithDlq {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly alarm: cloudwatch.Alarm;
}

export class Queues extends Construct {
  readonly events: QueueWithDlq;
  readonly jobs: QueueWithDlq;
  /** Task state changes whose handling failed after Lambda's async retries (the task-events DLQ). */
  readonly taskEventsFailed: { readonly queue: sqs.Queue; readonly alarm: cloudwatch.Alarm };

  constructor(scope: Construct, id: string, props: QueuesProps) {
    super(scope, id);
    this.events = this.queueWithDlq('Events', {
      visibilityTimeout: Duration.seconds(props.plannerTimeout.toSeconds() * 6),
      // A webhook that failed five times will fail a sixth: park it for a human. The planner
      // knows the count: its last attempt makes an error build rather than fail again.
      maxReceiveCount: EVENTS_MAX_RECEIVES,
    });
    this.jobs = this.queueWithDlq('Jobs', {
      visibilityTimeout: Duration.minutes(2),
      // The autoscaler deletes a job on the pass that reads it (the stage waits in the
      // table, where a wait costs nothing), so only a job whose passes keep dying is received
      // again: parked after a few.
      maxReceiveCount: JOBS_MAX_RECEIVES,
    });
    const failed = new sqs.Queue(this, 'TaskEventsFailed', COMMON);
    this.taskEventsFailed = { queue: failed, alarm: this.depthAlarm('TaskEventsFailed', failed, 'task-events failures') };
  }

  private queueWithDlq(name: string, options: { visibilityTimeout: Duration; maxReceiveCount: number }): QueueWithDlq {
    const common = COMMON;
    const deadLetterQueue = new sqs.Queue(this, `${name}DeadLetter`, common);
    const queue = new sqs.Queue(this, name, {
      ...common,
      visibilityTimeout: options.visibilityTimeout,
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: options.maxReceiveCount },
    });
    const alarm = this.depthAlarm(`${name}DeadLetter`, deadLetterQueue, `${name.toLowerCase()} dead-letter queue`);
    return { queue, deadLetterQueue, alarm };
  }

  private depthAlarm(id: string, queue: sqs.Queue, what: string): cloudwatch.Alarm {
    return new cloudwatch.Alarm(this, `${id}Alarm`, {
      alarmDescription: `Slipway: messages in the ${what} (a message failed repeatedly; inspect and redrive it)`,
      metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
