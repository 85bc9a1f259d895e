// The autoscaler: an EventBridge schedule (every minute: a pass with reconciliation) and
// nudges from the planner (an async invoke `{ "nudge": true }`: a pass without it).

import { ECSClient } from '@aws-sdk/client-ecs';
import { executionDepsFromEnv } from '../task-events/wiring.js';
import { runPass, type AutoscalerDeps, type PassReport } from './autoscaler.js';
import { executionConfig } from './config.js';

let deps: AutoscalerDeps | undefined;

export interface AutoscalerEvent {
  nudge?: boolean;
  source?: string;
  'detail-type'?: string;
}

export async function handler(event: AutoscalerEvent = {}): Promise<PassReport> {
  deps ??= { ...executionDepsFromEnv('autoscaler'), ecs: new ECSClient({}), config: executionConfig() };
  const scheduled = event.nudge !== true && (event.source === 'aws.events' || event['detail-type'] === 'Scheduled Event');
  const report = await runPass(deps, { reconcile: scheduled });
  deps.log('pass', { scheduled, sampled: report.sampled, started: report.started.length, deferred: report.deferred.length, failed: report.failed.length, runTaskFailures: report.runTaskFailures.length });
  return report;
}
