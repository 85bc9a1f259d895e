// `slipway build N [--repo R] [--json]`: one build's stages and steps with statuses and
// timings. Exit 0 shown, 1 not found or the API failed, 2 usage.

import type { BuildDetail } from '../../core/builds/types.js';
import { hasTimeline, stagePhases, type StagePhase } from '../../core/builds/stage-timeline.js';
import { shownStep } from '../../core/builds/step-times.js';
import { agentPhases, describePhases, firstStepStart, phaseDuration, type AgentPhase } from '../agent-phases.js';
import { ApiClientError, type ApiClient } from '../client.js';
import { runOnBuild } from '../command-kit.js';
import { formatCost } from '../cost.js';
import { duration, table, timestamp } from '../format.js';
import type { CliIO } from '../io.js';
import type { PhasesOf } from '../progress.js';

const USAGE = `usage: slipway build N [--repo OWNER/NAME] [--json]

Shows build N: its stages and their steps, with status and duration, and under
each stage what the compiler noted about it (e.g. secrets withheld from a fork)
and, once it ended, where its time went (control plane from the push, queued
and why, provisioning, pulls, clone, services ready, first step, steps,
teardown; pulls overlap the clone).
--repo defaults to SLIPWAY_REPO, else the server's only repository.

options:
  --repo OWNER/NAME   the repository
  --json              the API's JSON for scripts
  -h, --help          show this help

exit status: 0 ok, 1 not found or the API failed, 2 usage error`;

/** A table cell on one line: a cell with a line break would shift the rows under it. */
const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ');

/**
 * The build as text: a header line, then one table row per stage and per step under it;
 * the stage's notes (what the compiler said that did not stop it) follow its row, outside
 * the columns so that a long note does not widen the table.
 */
/** With `phasesOf`, a clone step's row shows the clone's own time, and the other phases of its span in its note. */
export function formatBuild(build: BuildDetail, now: number, phasesOf?: PhasesOf): string {
  const head = `${build.repo} #${build.number}  ${build.status}  ${build.event} ${build.branch} ${build.commit.slice(0, 8)}  ${duration(build.startedAt, build.finishedAt, now)}  (created ${timestamp(build.createdAt)})`;
  const rows: string[][] = [];
  /** Lines to print after the table row of the same index. */
  const after = new Map<number, string[]>();
  for (const stage of build.stages) {
    // A pipeline with errors of its own: its FILE:LINE:COLUMN diagnostics, one per line under its row.
    const invalid = stage.reason === 'invalid-config' && stage.message !== undefined;
    rows.push([`${stage.number}`, stage.name, stage.status, duration(stage.startedAt, stage.finishedAt, now), invalid ? 'invalid pipeline:' : oneLine(stage.message ?? '')]);
    const timeline = hasTimeline(stage) ? stagePhases(stage, stage.steps, build) : [];
    const below = [
      ...(invalid ? stage.message!.split('\n').map((line) => `    ${line}`) : []),
      ...(stage.notes ?? []).map((n) => `    note: ${oneLine(n)}`),
      ...timelineLines(timeline),
    ];
    if (below.length > 0) after.set(rows.length - 1, below);
    for (const step of stage.steps) {
      const label = step.kind === 'service' ? `${step.name} (service)` : step.detached ? `${step.name} (detached)` : step.name;
      const note = step.reason ?? (step.exitCode !== undefined && step.exitCode !== 0 ? `exit code ${step.exitCode}` : '');
      const phases = step.kind === 'clone' && step.status === 'success' && phasesOf ? describePhases(phasesOf(stage, step) ?? []) : undefined;
      if (phases) rows.push([`${stage.number}.${step.number}`, `  ${label}`, step.status, phases.clone, oneLine(note || phases.others)]);
      else {
        const span = shownStep(step);
        rows.push([`${stage.number}.${step.number}`, `  ${label}`, step.status, duration(span.startedAt, span.finishedAt, now), oneLine(note)]);
      }
    }
  }
  const [header, ...lines] = table(['#', 'STAGE / STEP', 'STATUS', 'DURATION', 'NOTE'], rows).split('\n');
  const parts = [head];
  if (build.error) parts.push(`error: ${build.error}`);
  parts.push(header!, ...lines.flatMap((line, i) => [line, ...(after.get(i) ?? [])]));
  if (build.cost) parts.push('', ...formatCost(build.cost));
  return parts.join('\n');
}

/** `timeline: queued 0.4s (why), pulls 48s, …`; a split stage's, one line per segment, in order. */
function timelineLines(phases: readonly StagePhase[]): string[] {
  const text = (list: readonly StagePhase[]) => list.map((p) => `${p.name} ${phaseDuration(p.to - p.from)}${p.note !== undefined ? ` (${oneLine(p.note)})` : ''}`).join(', ');
  const segments = [...new Set(phases.map((p) => p.segment))];
  if (segments.length === 1 && segments[0] === undefined) return phases.length > 0 ? [`    timeline: ${text(phases)}`] : [];
  return segments.map((n) => `    timeline, segment ${n}: ${text(phases.filter((p) => p.segment === n))}`);
}

export async function run(args: string[], io: CliIO): Promise<number> {
  return runOnBuild('build', args, io, USAGE, async (api, repo, number, json) => {
    const build = await api.build(repo, number);
    if (json) return JSON.stringify(build, null, 2);
    const phases = await clonePhases(api, build);
    return formatBuild(build, Date.now(), (stage, step) => phases.get(`${stage.number}.${step.number}`));
  });
}

/**
 * The phases of each finished clone step, from the first page of its log (the agent's lines
 * up to `ready:` open it). A log the API cannot read now (CloudWatch throttled it: 503) leaves
 * that step's row as its record's span; any other error is the command's.
 */
export async function clonePhases(api: ApiClient, build: BuildDetail): Promise<Map<string, AgentPhase[]>> {
  const phases = new Map<string, AgentPhase[]>();
  for (const stage of build.stages) {
    for (const step of stage.steps) {
      if (step.kind !== 'clone' || step.status !== 'success') continue;
      try {
        const page = await api.logs(build.repo, build.number, stage.number, step.number, { offset: 0 });
        const found = agentPhases(step, page.lines.map((l) => ({ time: l.time, text: l.text })), stage.steps.some((s) => s.afterSetup), firstStepStart(stage.steps));
        if (found) phases.set(`${stage.number}.${step.number}`, found);
      } catch (err) {
        if (!(err instanceof ApiClientError && err.status === 503)) throw err;
      }
    }
  }
  return phases;
}
