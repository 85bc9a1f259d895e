// The agent's `SLIPWAY_RESULT {json}` line read back by the control plane. The agent has
// two channels only, its exit code and its log stream: the exit code says how the stage
// ended, this line says it in the agent's own words (which service, which port, git's
// reason). Lines come from a log a user's build wrote into, so nothing is trusted that
// does not have the shape the agent writes.

import { AGENT_EXIT, REPORT_PREFIX, type AgentResult, type AgentSetupTimes } from '../pipeline/contract.js';

const EXIT_CODES = new Set<number>(Object.values(AGENT_EXIT));
const CHECKS = new Set(['port', 'health', 'exited']);

/** The result a line carries, or undefined when it is not a well-formed result line. */
export function parseAgentResultLine(line: string): AgentResult | undefined {
  const text = line.replace(/\r?\n$/, '');
  if (!text.startsWith(REPORT_PREFIX.result)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text.slice(REPORT_PREFIX.result.length));
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.outcome !== 'string' || typeof v.message !== 'string' || typeof v.finishedAt !== 'string') return undefined;
  if (typeof v.exitCode !== 'number' || !EXIT_CODES.has(v.exitCode)) return undefined;
  const result = { outcome: v.outcome, exitCode: v.exitCode, message: v.message, finishedAt: v.finishedAt } as AgentResult;
  const service = serviceOf(v.service);
  const stopped = Array.isArray(v.stopped) && v.stopped.every((c) => typeof c === 'string') ? (v.stopped as string[]) : undefined;
  const skipped = skippedOf(v.skipped);
  const clone = Number.isInteger(v.cloneExitCode) && (v.cloneExitCode as number) >= 0 && (v.cloneExitCode as number) <= 255 ? { cloneExitCode: v.cloneExitCode as number } : {};
  const setup = setupOf(v.setup);
  const started = containerTimesOf(v.started);
  const ended = containerTimesOf(v.ended);
  return { ...result, ...(service ? { service } : {}), ...(stopped && stopped.length > 0 ? { stopped } : {}), ...(skipped ? { skipped } : {}), ...(started ? { started } : {}), ...(ended ? { ended } : {}), ...clone, ...(setup ? { setup } : {}) };
}

/** `started` and `ended`: each a container and an ISO time. */
function containerTimesOf(value: unknown): AgentResult['started'] {
  if (!Array.isArray(value)) return undefined;
  const out: NonNullable<AgentResult['started']> = [];
  for (const entry of value) {
    if (typeof entry !== 'object' || entry === null) continue;
    const e = entry as Record<string, unknown>;
    if (typeof e.container !== 'string' || typeof e.at !== 'string' || Number.isNaN(Date.parse(e.at))) continue;
    out.push({ container: e.container, at: e.at });
  }
  return out.length > 0 ? out : undefined;
}

/** Longest skip reason a step record keeps from the agent's line. */
const SKIP_REASON_MAX = 400;

function skippedOf(value: unknown): AgentResult['skipped'] {
  if (!Array.isArray(value)) return undefined;
  const out: NonNullable<AgentResult['skipped']> = [];
  for (const entry of value) {
    if (typeof entry !== 'object' || entry === null) continue;
    const e = entry as Record<string, unknown>;
    if (typeof e.container !== 'string' || typeof e.reason !== 'string') continue;
    out.push({ container: e.container, reason: agentMessageForRecord(e.reason).slice(0, SKIP_REASON_MAX) });
  }
  return out.length > 0 ? out : undefined;
}

const isTime = (value: unknown): value is string => typeof value === 'string' && value.length <= 40 && !Number.isNaN(Date.parse(value));

/** The agent's phase times, when each is a time; anything else is left out. */
function setupOf(value: unknown): AgentSetupTimes | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const s = value as Record<string, unknown>;
  if (!isTime(s.startedAt)) return undefined;
  return { startedAt: s.startedAt, ...(isTime(s.clonedAt) ? { clonedAt: s.clonedAt } : {}), ...(isTime(s.readyAt) ? { readyAt: s.readyAt } : {}) };
}

function serviceOf(value: unknown): AgentResult['service'] {
  if (typeof value !== 'object' || value === null) return undefined;
  const s = value as Record<string, unknown>;
  if (typeof s.name !== 'string' || typeof s.container !== 'string' || typeof s.check !== 'string' || !CHECKS.has(s.check)) return undefined;
  if (!Array.isArray(s.ports) || !s.ports.every((p) => Number.isInteger(p))) return undefined;
  return { name: s.name, container: s.container, ports: s.ports as number[], check: s.check as 'port' | 'health' | 'exited' };
}

/** The last result line among `lines` (the agent writes one, at its end). */
export function lastAgentResult(lines: readonly string[]): AgentResult | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const result = parseAgentResultLine(lines[i]!);
    if (result) return result;
  }
  return undefined;
}

/** Longest agent message a stage record keeps: the first line, cut to this many characters. */
export const AGENT_MESSAGE_MAX = 400;

/**
 * The agent's message as a stage or step record shows it: its first line (an internal
 * error carries a stack trace below it), cut to AGENT_MESSAGE_MAX characters.
 */
export function agentMessageForRecord(message: string): string {
  const first = message.split('\n', 1)[0]!.trim();
  return first.length > AGENT_MESSAGE_MAX ? `${first.slice(0, AGENT_MESSAGE_MAX - 1)}…` : first;
}
