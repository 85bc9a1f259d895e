// The Lambdas' metrics: Powertools Metrics, written as CloudWatch embedded metric format
// (EMF) lines on standard output, which CloudWatch Logs turns into metrics without an API
// call (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
// Namespace: POWERTOOLS_METRICS_NAMESPACE (the stack sets it from `metricsNamespace`), else
// `Slipway`. Every metric has the `service` dimension (one service, `slipway`, for all five
// Lambdas, so a count is one series whichever Lambda emitted it). The handlers' code takes
// the `SlipwayMetrics` port below; each handler flushes what an invocation stored at its end.

import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { ENV } from '../../../core/config/lambda-env.js';
import type { Env } from '../config.js';
import { SERVICE_NAME } from './logger.js';

export const DEFAULT_METRICS_NAMESPACE = 'Slipway';

/** Metric names, as dashboards and alarms find them (README, "Logs and metrics"). */
export const METRIC = {
  /** Count: a build was created (planner). */
  buildsStarted: 'BuildsStarted',
  /** Count, dimension `status` (success, failure, error, killed): a build finished. */
  buildsFinished: 'BuildsFinished',
  /** Milliseconds from a stage being queued to its task being started (autoscaler). */
  queueWait: 'QueueWait',
  /** Milliseconds from the webhook's arrival to the stage's RunTask (autoscaler; first stages). */
  webhookToRunTask: 'WebhookToRunTask',
  /** Count, dimension `reason` (ECS's failure reason or the exception's name): a RunTask that started nothing. */
  runTaskFailures: 'RunTaskFailures',
  /** Count, dimensions `host` and `operation` (fetch-config, post-status): a Git host call that failed. */
  gitHostErrors: 'GitHostErrors',
  /** Count: an index-image job dropped past its age limit, its image left unconverted (autoscaler; core/images/soci.ts, INDEX_JOB_MAX_AGE_MS). */
  sociJobsExpired: 'SociJobsExpired',
} as const;

export type GitHostOperation = 'fetch-config' | 'post-status';

/** The metrics port the handlers' code depends on. */
export interface SlipwayMetrics {
  buildStarted(): void;
  buildFinished(status: string): void;
  stageStarted(times: { queueWaitMs: number; webhookToRunTaskMs?: number }): void;
  runTaskFailure(reason: string): void;
  gitHostError(host: string, operation: GitHostOperation): void;
  sociJobExpired(): void;
}

/** CloudWatch takes dimension values of 1 to 1024 characters. */
const MAX_DIMENSION_VALUE = 250;

/** The port over a Powertools Metrics: dimensionless values are stored until the flush, dimensioned counts go out at once. */
export function slipwayMetrics(metrics: Metrics): SlipwayMetrics {
  const count = (name: string, dimensions: Record<string, string>) => {
    const one = metrics.singleMetric();
    for (const [key, value] of Object.entries(dimensions)) one.addDimension(key, value.slice(0, MAX_DIMENSION_VALUE) || 'unknown');
    one.addMetric(name, MetricUnit.Count, 1);
  };
  return {
    buildStarted: () => metrics.addMetric(METRIC.buildsStarted, MetricUnit.Count, 1),
    buildFinished: (status) => count(METRIC.buildsFinished, { status }),
    stageStarted: ({ queueWaitMs, webhookToRunTaskMs }) => {
      metrics.addMetric(METRIC.queueWait, MetricUnit.Milliseconds, queueWaitMs);
      if (webhookToRunTaskMs !== undefined) metrics.addMetric(METRIC.webhookToRunTask, MetricUnit.Milliseconds, webhookToRunTaskMs);
    },
    runTaskFailure: (reason) => count(METRIC.runTaskFailures, { reason }),
    gitHostError: (host, operation) => count(METRIC.gitHostErrors, { host, operation }),
    sociJobExpired: () => metrics.addMetric(METRIC.sociJobsExpired, MetricUnit.Count, 1),
  };
}

const shared = new Map<string, Metrics>();

/** The process's Metrics (one per Lambda container and namespace), built on first use. */
export function lambdaMetrics(env: Env = process.env): Metrics {
  const namespace = env[ENV.powertoolsMetricsNamespace] || DEFAULT_METRICS_NAMESPACE;
  const serviceName = env[ENV.powertoolsServiceName] || SERVICE_NAME;
  const key = `${namespace}\n${serviceName}`;
  let metrics = shared.get(key);
  if (!metrics) {
    metrics = new Metrics({ namespace, serviceName });
    shared.set(key, metrics);
  }
  return metrics;
}

/** End of an invocation: what it stored goes out as one EMF line (nothing when it stored nothing). */
export function flushMetrics(metrics: Metrics): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}

/** Runs one invocation and flushes its metrics, whether it returned or threw. */
export async function withMetricsFlushed<T>(metrics: Metrics, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } finally {
    flushMetrics(metrics);
  }
}
