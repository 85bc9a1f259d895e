// The autoscaler's nudge: an async Lambda invoke (AUTOSCALER_FUNCTION_NAME), so work that
// became startable (a queued stage, a freed slot) does not wait for the one-minute
// schedule. Without the variable it does nothing (local mode nudges in-process).

import { InvokeCommand } from '@aws-sdk/client-lambda';
import { lambdaClient } from './clients.js';
import { ENV } from '../../core/config/lambda-env.js';
import type { Env } from './config.js';

export type Log = (message: string, fields?: Record<string, unknown>) => void;

/** Who nudged (the payload's `source`): the autoscaler's pass after a planner's nudge reads the queue differently (its handler, receiveWaitSeconds). */
export const NUDGE_SOURCE = { planner: 'planner' } as const;

/** The autoscaler's event for a nudge from `source` (lambdas/autoscaler/handler.ts, AutoscalerEvent). */
export function nudgePayload(source: string): string {
  return JSON.stringify({ nudge: true, source });
}

/** Never throws: the scheduled pass is the fallback, so a failed nudge is only logged. */
export function autoscalerNudge(env: Env, source: string, log: Log): () => Promise<void> {
  const functionName = env[ENV.autoscalerFunctionName];
  if (!functionName) return async () => undefined;
  const payload = nudgePayload(source);
  return async () => {
    try {
      await lambdaClient().send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: payload }));
    } catch (err) {
      log('autoscaler nudge failed; the scheduled pass will pick the work up', { error: (err as Error).message });
    }
  };
}
