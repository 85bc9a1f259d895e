// EventBridge "ECS Task State Change" → step, stage and build status (see lambdas/shared/execution/apply-event.ts).
// A thrown error makes EventBridge retry the event; duplicates are harmless.
// A stage the agent ended (service not ready, clone failed, …) gets the agent's own
// message from its log stream (agent-result.ts).

import type { Context } from 'aws-lambda';
import type { TaskStateChangeEvent } from '../../core/builds/task-event.js';
import type { LogTailReader } from '../../core/logs/log-reader.js';
import { cloudWatchLogReader } from '../../adapters/cloudwatch-logs/log-reader.js';
import { ENV } from '../../core/config/lambda-env.js';
import { dynamoDocument, logsClient } from '../shared/clients.js';
import { applyTaskEvent, stageKeyOf, type ApplyResult } from '../shared/execution/apply-event.js';
import { lambdaLogger, stageKeys, startInvocation, withKeys } from '../shared/observability/logger.js';
import { lambdaMetrics, withMetricsFlushed } from '../shared/observability/metrics.js';
import { agentResultSource } from './agent-result.js';
import { autoscalerNudge } from '../shared/nudge.js';
import { executionDepsFromEnv } from '../shared/execution/wiring.js';
import type { ExecutionDeps } from '../shared/execution/deps.js';
import { SOCI_STARTED_BY_PREFIX } from '../../core/images/soci.js';
import { DynamoSociIndexStore } from '../../adapters/dynamodb/soci-store.js';
import { requireEnv, type Env } from '../shared/config.js';
import { recordSociResult, type SociResultDeps } from './soci-result.js';

/** A reader of the build log group (the agent's result lines), from the environment. */
export type LogsOf = (env: Env) => LogTailReader | undefined;

/** Deployed: CloudWatch Logs' BUILD_LOG_GROUP. */
export const cloudWatchLogsOf: LogsOf = (env) => {
  const group = env[ENV.buildLogGroup];
  return group ? cloudWatchLogReader(logsClient(), group) : undefined;
};

export function taskEventsDepsFromEnv(env: Env = process.env, logs: LogsOf = cloudWatchLogsOf): ExecutionDeps {
  // A stage that ended freed capacity or queued dependents: the autoscaler looks now.
  const base = executionDepsFromEnv('task-events', env, (log) => autoscalerNudge(env, 'task-events', log));
  const reader = logs(env);
  if (!reader) base.log(`${ENV.buildLogGroup} is not set: stages the agent ended keep the generic message`);
  return reader ? { ...base, agentResults: agentResultSource(reader) } : base;
}

/**
 * The handler over a given reader of the build log group: local mode passes the ECS
 * stand-in's log store; AWS, CloudWatch Logs (`handler`).
 */
export function taskEventsHandler(logs: LogsOf = cloudWatchLogsOf): (event: TaskStateChangeEvent, context?: Context) => Promise<ApplyResult> {
  let deps: ExecutionDeps | undefined;
  let soci: SociResultDeps | undefined;
  const logger = lambdaLogger('task-events');
  return async (event, context) => {
    startInvocation(logger, context);
    deps ??= taskEventsDepsFromEnv(process.env, logs);
    // A SOCI converter's task (lambdas/autoscaler/index-image.ts) is no stage: its report goes to the SOCI store.
    if (event.detail.startedBy?.startsWith(SOCI_STARTED_BY_PREFIX)) {
      soci ??= sociResultDeps(logs, deps.log);
      const result = await recordSociResult(event.detail, soci);
      return { applied: false, reason: `SOCI converter task: ${result.recorded === 'nothing' ? result.reason : result.recorded}` };
    }
    // One task, so one stage, per event: every line about it names it (keys per event, not on
    // the shared logger: local mode applies several events at once).
    const stageId = stageKeyOf(event.detail);
    const ready = { ...deps, log: withKeys(deps.log, { ...(stageId ? stageKeys(stageId) : {}), taskArn: event.detail.taskArn }) };
    return withMetricsFlushed(lambdaMetrics(), async () => {
      const result = await applyTaskEvent(ready, event.detail);
      ready.log(result.applied ? 'event applied' : 'event ignored', { version: event.detail.version, lastStatus: event.detail.lastStatus, ...result });
      return result;
    });
  };
}

/** The SOCI store and the build log group's reader, for converter tasks' reports. */
function sociResultDeps(logs: LogsOf, log: SociResultDeps['log']): SociResultDeps {
  const reader = logs(process.env);
  return { store: new DynamoSociIndexStore(dynamoDocument(), requireEnv(process.env, ENV.tableName, 'the build table')), ...(reader ? { logs: reader } : {}), now: Date.now, log };
}

export const handler = taskEventsHandler();
