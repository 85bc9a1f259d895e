// EventBridge "ECS Task State Change" → step, stage and build status (see apply-event.ts).
// A thrown error makes EventBridge retry the event; duplicates are harmless.

import type { TaskStateChangeEvent } from '../../core/builds/task-event.js';
import { applyTaskEvent, type ApplyResult } from './apply-event.js';
import { autoscalerNudge } from '../shared/nudge.js';
import { executionDepsFromEnv } from './wiring.js';
import type { ExecutionDeps } from './deps.js';

let deps: ExecutionDeps | undefined;

export async function handler(event: TaskStateChangeEvent): Promise<ApplyResult> {
  // A stage that ended freed capacity or queued dependents: the autoscaler looks now.
  deps ??= executionDepsFromEnv('task-events', process.env, (log) => autoscalerNudge(process.env, 'task-events', log));
  const result = await applyTaskEvent(deps, event.detail);
  deps.log(result.applied ? 'event applied' : 'event ignored', { taskArn: event.detail.taskArn, version: event.detail.version, lastStatus: event.detail.lastStatus, ...result });
  return result;
}
