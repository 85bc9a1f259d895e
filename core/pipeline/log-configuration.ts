// The awslogs log configuration of the task's containers, and the stream names it gives their output.

import type { CompileOptions } from './compile-options.js';
import type { LogConfiguration } from './ecs-task.js';

/** awslogs names a container's stream `<prefix>/<container>/<task id>`. */
export const LOG_STREAM_PREFIX = 'slipway';

export function taskIdOf(taskArn: string): string {
  return taskArn.slice(taskArn.lastIndexOf('/') + 1);
}

/**
 * Where a step's output is: the awslogs stream of its container in the build log group,
 * `awslogs-stream-prefix/container-name/ecs-task-id`
 * (https://docs.aws.amazon.com/prescriptive-guidance/latest/implementing-logging-monitoring-cloudwatch/ec2-fargate-logs.html:
 * "<awslogs-stream-prefix>/<container_name>/<task_id>").
 */
export function logStreamName(container: string, taskArn: string): string {
  return `${LOG_STREAM_PREFIX}/${container}/${taskIdOf(taskArn)}`;
}

/**
 * The awslogs options of a container. On Fargate the log driver is the shim logger
 * (aws/shim-loggers-for-containerd, which wraps Docker's awslogs driver).
 *
 * Steps, services and gates: `non-blocking`, so that a CloudWatch Logs slowdown never
 * stalls a build's output; lines are dropped only when the in-memory ring buffer is full.
 * Its default is 1 MiB in the shim logger (10 MiB in ECS's documentation since June 2025):
 * 25 MiB is what AWS measured as losing no lines up to about 5 MB/s in-Region
 * (https://aws.amazon.com/blogs/containers/preventing-log-loss-with-non-blocking-mode-in-the-awslogs-container-log-driver/).
 * The buffer is memory, used only while delivery lags.
 *
 * The agent: `blocking`. Its `SLIPWAY_RESULT` line is what the task-events handler reads
 * back to tell users why a stage ended (lambdas/task-events/agent-result.ts); in
 * non-blocking mode a full buffer could drop it. The cost of blocking mode: a write blocks
 * only once the driver holds 4096 undelivered events (Docker's awslogs driver,
 * daemon/logger/awslogs/cloudwatchlogs.go, defaultMaxBufferedEvents), and the agent writes
 * a few lines per step, so only a long CloudWatch Logs outage would stall it — then the
 * agent's own output waits, not the steps (each has its own log stream); the pipeline
 * timeout and StopTask still end the task.
 */
export const STEP_LOG_BUFFER = '25m';

export function logConfiguration(options: Pick<CompileOptions, 'logGroup' | 'region'>, agent = false): LogConfiguration {
  return {
    logDriver: 'awslogs',
    options: {
      'awslogs-group': options.logGroup,
      'awslogs-region': options.region,
      'awslogs-stream-prefix': LOG_STREAM_PREFIX,
      ...(agent ? { mode: 'blocking' } : { mode: 'non-blocking', 'max-buffer-size': STEP_LOG_BUFFER }),
    },
  };
}
