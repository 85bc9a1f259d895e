// The agent's log stream: human progress lines, one machine line per step
// (`SLIPWAY_STEP {json}`) and a final `SLIPWAY_RESULT {json}`. Each step is reported
// once, as soon as its record is final, so an agent killed later has still told what it knew.

import { parseAgentResultLine } from '../core/builds/agent-result.js';
import { AGENT_LINE, REPORT_PREFIX, type AgentResult, type StepReport } from '../core/pipeline/contract.js';

export function stepLine(report: StepReport): string {
  return `${REPORT_PREFIX.step}${JSON.stringify(report)}`;
}

export function resultLine(result: AgentResult): string {
  return `${REPORT_PREFIX.result}${JSON.stringify(result)}`;
}

/** Reads the report lines back from a log (tests use it; the control plane reads the result line alone). */
export function parseReportLines(log: string): { steps: StepReport[]; result?: AgentResult } {
  const steps: StepReport[] = [];
  let result: AgentResult | undefined;
  for (const line of log.split('\n')) {
    if (line.startsWith(REPORT_PREFIX.step)) steps.push(JSON.parse(line.slice(REPORT_PREFIX.step.length)) as StepReport);
    if (line.startsWith(REPORT_PREFIX.result)) result = parseAgentResultLine(line) ?? result;
  }
  return result === undefined ? { steps } : { steps, result };
}

export class Reporter {
  private readonly reported = new Set<string>();
  private finished = false;

  constructor(private readonly write: (line: string) => void) {}

  progress(message: string): void {
    this.write(`${AGENT_LINE.prefix}${message}`);
  }

  /** Prints each step's record once; later calls for the same step are ignored. */
  step(report: StepReport): void {
    if (this.reported.has(report.name)) return;
    this.reported.add(report.name);
    this.write(stepLine(report));
  }

  hasReported(name: string): boolean {
    return this.reported.has(name);
  }

  /** The last line; only the first result counts (a signal may race the normal end). */
  result(result: AgentResult): boolean {
    if (this.finished) return false;
    this.finished = true;
    this.write(resultLine(result));
    return true;
  }
}
