// When a stage's clone ended, read from its agent's log while the stage runs. Pure.
//
// A stage's steps may start with its task and wait in their wrappers for the agent's setup
// (StepRecord.afterSetup), and ECS's events carry no health ("Task health is not provided in
// task state change events", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html):
// nothing ECS sends says the clone is over until a step passes. The agent's own lines do, with
// their times (task-runner/clone.ts, agent.ts): the clone's record takes its end from them.

import { AGENT_LINE } from '../pipeline/contract.js';
import type { StepRecord } from './types.js';

/** A log line with its time (epoch ms). */
export interface TimedText {
  time: number;
  text: string;
}

export type CloneEnd =
  | { status: 'success'; at: number }
  /** `reason`: the agent's words (git's error); git's exit code comes with the stage's end. */
  | { status: 'failure'; at: number; reason: string };

/** How the clone ended by the agent's lines, when they say it did. */
export function cloneEndFromAgentLog(lines: readonly TimedText[]): CloneEnd | undefined {
  for (const line of lines) {
    if (!line.text.startsWith(AGENT_LINE.prefix)) continue;
    const message = line.text.slice(AGENT_LINE.prefix.length);
    if (message.startsWith(AGENT_LINE.cloned) || message === AGENT_LINE.cloneDisabled) return { status: 'success', at: line.time };
    if (message.startsWith(AGENT_LINE.clone) && message.endsWith(AGENT_LINE.setupFailedStepsGoOn)) {
      return { status: 'failure', at: line.time, reason: message.slice(0, -AGENT_LINE.setupFailedStepsGoOn.length) };
    }
  }
  return undefined;
}

/**
 * The clone's record with the end its agent's lines show (its start too, when no event gave
 * it one: the agent's first line), or the record as it is when they show none or it is done.
 */
export function withCloneEnd(clone: StepRecord, end: CloneEnd | undefined, agentFirstLineAt?: number): StepRecord {
  if (!end || clone.status !== 'pending' && clone.status !== 'running') return clone;
  const startedAt = clone.startedAt ?? Math.min(agentFirstLineAt ?? end.at, end.at);
  return end.status === 'success'
    ? { ...clone, status: 'success', startedAt, finishedAt: end.at }
    : { ...clone, status: 'failure', startedAt, finishedAt: end.at, reason: end.reason };
}
