// The agent's SLIPWAY_RESULT line, read from the end of its log stream when its task has
// stopped, so the stage says what the agent said (core/builds/status.ts, stageOutcome).
// Bounded: a few short tries (result-line.ts), then the generic text; a read that fails never
// fails the event.

import { lastAgentResult } from '../../core/builds/agent-result.js';
import { AGENT_CONTAINER } from '../../core/pipeline/contract.js';
import type { AgentResultSource } from '../shared/execution/deps.js';
import { logStreamName } from '../../core/pipeline/log-configuration.js';
import type { LogTailReader } from '../../core/logs/log-reader.js';
import { readResultLine, type ResultLineOptions } from './result-line.js';

export type AgentResultOptions = ResultLineOptions;

export function agentResultSource(logs: LogTailReader, options: AgentResultOptions = {}): AgentResultSource {
  return async (taskArn) => {
    const read = await readResultLine(logs, logStreamName(AGENT_CONTAINER, taskArn), lastAgentResult, { line: 'SLIPWAY_RESULT', stream: "the agent's log stream" }, options);
    return 'result' in read ? { result: read.result } : { missing: read.missing };
  };
}
