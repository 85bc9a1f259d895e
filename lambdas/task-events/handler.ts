// EventBridge "ECS Task State Change" → step, stage and build status (see lambdas/shared/execution/apply-event.ts).
// A thrown error makes EventBridge retry the event; duplicates are harmless.
// A stage the agent ended (service not ready, clone failed, …) gets the agent's own
// message from its log stream (agent-result.ts).

import type { TaskStateChangeEvent } from '../../core/builds/task-event.js';
import type { LogTailReader } from '../shared/log-stream.js';
import { cloudWatchLogReader } from '../shared/logs-cloudwatch.js';
import { logsClient } from '../shared/clients.js';
import { applyTaskEvent, type ApplyResult } from '../shared/execution/apply-event.js';
import { agentResultSource } from './agent-result.js';
import { autoscalerNudge } from '../shared/nudge.js';
import { executionDepsFromEnv } from '../shared/execution/wiring.js';
import type { ExecutionDeps } from '../shared/execution/deps.js';

/**
 * The handler over a given reader of the build log group (the agent's result lines):
 * local mode passes the ECS stand-in's log store; AWS, CloudWatch Logs (`handler`).
 */
export function taskEventsHandler(logs: () => LogTailReader | undefined): (event: TaskStateChangeEvent) => Promise<ApplyResult> {
  let deps: ExecutionDeps | undefined;
  return async (event) => {
    if (!deps) {
      // A stage that ended freed capacity or queued dependents: the autoscaler looks now.
      const base = executionDepsFromEnv('task-events', process.env, (log) => autoscalerNudge(process.env, 'task-events', log));
      const reader = logs();
      if (!reader) base.log('BUILD_LOG_GROUP is not set: stages the agent ended keep the generic message');
      deps = reader ? { ...base, agentResults: agentResultSource(reader) } : base;
    }
    const result = await applyTaskEvent(deps, event.detail);
    deps.log(result.applied ? 'event applied' : 'event ignored', { taskArn: event.detail.taskArn, version: event.detail.version, lastStatus: event.detail.lastStatus, ...result });
    return result;
  };
}

export const handler = taskEventsHandler(() => {
  const group = process.env.BUILD_LOG_GROUP;
  return group ? cloudWatchLogReader(logsClient(), group) : undefined;
});
