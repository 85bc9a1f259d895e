// `slipway logs N STEP [--repo R] [--follow] [--timestamps] [--json]`: a step's output.
// STEP is a step name, `PIPELINE/STEP` when names repeat across pipelines, or `S.N`
// (stage and step numbers, as `slipway build` shows them). --follow prints new lines as
// they come until the step ends, then exits by its result.
// Exit 0 printed (followed: the step passed), 1 not found / the step failed / API failed, 2 usage.

import type { LogPageResponse } from '../../core/builds/api.js';
import type { BuildDetail, StepRecord } from '../../core/builds/types.js';
import { ApiClientError, type ApiClient, type LogFrom } from '../client.js';
import { parse, positiveInt, withApi } from '../command-kit.js';
import { clock, duration } from '../format.js';
import { EXIT, type CliIO } from '../io.js';
import { isFinished } from '../../core/builds/status.js';

const USAGE = `usage: slipway logs N STEP [options]

Prints the log of STEP of build N. STEP is a step name, PIPELINE/STEP, or S.N (numbers
as \`slipway build N\` shows them).

options:
  --repo OWNER/NAME   the repository (default SLIPWAY_REPO, else the server's only one)
  -f, --follow        keep printing until the step ends; exit 0 if it passed, 1 if not
  -t, --timestamps    prefix each line with its time
  --json              one JSON object per line: {"time","offset","text"}
  -h, --help          show this help

exit status: 0 ok, 1 not found, the followed step failed, or the API failed, 2 usage error`;

const POLL_MS = 1000;
/** Tries of one log page the server refused for now (503 throttled, 429), and the longest wait between. */
const RETRIES = 5;
const MAX_BACKOFF_MS = 10_000;

type Found = { stage: number; step: StepRecord } | { error: string };

export function findStep(build: BuildDetail, spec: string): Found {
  const numbered = /^(\d+)\.(\d+)$/.exec(spec);
  const all = build.stages.flatMap((stage) => stage.steps.map((step) => ({ stage: stage.number, stageName: stage.name, step })));
  let matches = numbered
    ? all.filter((s) => s.stage === Number(numbered[1]) && s.step.number === Number(numbered[2]))
    : all.filter((s) => s.step.name === spec || `${s.stageName}/${s.step.name}` === spec);
  if (matches.length > 1) matches = matches.filter((s) => s.step.kind !== 'clone');
  if (matches.length === 1) return { stage: matches[0]!.stage, step: matches[0]!.step };
  const names = all.map((s) => (build.stages.length > 1 ? `${s.stageName}/${s.step.name}` : s.step.name)).join(', ');
  if (matches.length === 0) return { error: `build ${build.repo} #${build.number} has no step "${spec}" (steps: ${names})` };
  return { error: `"${spec}" names several steps; use PIPELINE/STEP or S.N (steps: ${names})` };
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const p = parse(
    'logs',
    args,
    { repo: { type: 'string' }, follow: { type: 'boolean', short: 'f' }, timestamps: { type: 'boolean', short: 't' }, json: { type: 'boolean' } },
    USAGE,
    io,
  );
  if (!p) return EXIT.usage;
  if (p.values.help) return io.out(USAGE), EXIT.ok;
  const number = positiveInt(p.positionals[0]);
  const spec = p.positionals[1];
  if (number === undefined || spec === undefined || p.positionals.length !== 2) return io.err(`slipway logs: expected a build number and a step\n${USAGE}`), EXIT.usage;

  return withApi('logs', io, async (api) => {
    const repo = await api.resolveRepo(p.values.repo as string | undefined, io.env);
    let build = await api.build(repo, number);
    const found = findStep(build, spec);
    if ('error' in found) {
      io.err(`slipway logs: ${found.error}`);
      return EXIT.failed;
    }
    const print = (line: { time: number; offset: number; text: string }) =>
      io.out(p.values.json ? JSON.stringify(line) : p.values.timestamps ? `${clock(line.time)}  ${line.text}` : line.text);
    if (!p.values.follow) {
      await printAll(api, io, repo, number, found.stage, found.step.number, print);
      return EXIT.ok;
    }
    return follow(api, io, repo, build, found.stage, found.step.number, print, async () => (build = await api.build(repo, number)));
  });
}

/**
 * One page of the log after `from`. A throttled read (503, CloudWatch Logs' request quota)
 * or a server that asks to slow down (429) is retried after the wait it names, doubling
 * from 1 s when it names none, a few times before the error is the command's.
 */
async function logPage(api: ApiClient, repo: string, number: number, stage: number, step: number, from: LogFrom, io: CliIO): Promise<LogPageResponse> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await api.logs(repo, number, stage, step, from);
    } catch (err) {
      if (!(err instanceof ApiClientError) || (err.status !== 503 && err.status !== 429) || attempt >= RETRIES) throw err;
      const wait = Math.min(MAX_BACKOFF_MS, err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : 1000 * 2 ** attempt);
      io.err(`[${err.message}; trying again in ${Math.ceil(wait / 1000)} s]`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

async function printAll(api: ApiClient, io: CliIO, repo: string, number: number, stage: number, step: number, print: (l: { time: number; offset: number; text: string }) => void): Promise<void> {
  let from: LogFrom = { offset: 0 };
  for (;;) {
    const page = await logPage(api, repo, number, stage, step, from, io);
    page.lines.forEach(print);
    from = { cursor: page.cursor };
    // An empty page is not the end: `more` says whether the log has more to give now.
    if (!page.more || page.complete) return;
  }
}

async function follow(
  api: ApiClient,
  io: CliIO,
  repo: string,
  initial: BuildDetail,
  stageNumber: number,
  stepNumber: number,
  print: (l: { time: number; offset: number; text: string }) => void,
  reload: () => Promise<BuildDetail>,
): Promise<number> {
  let build = initial;
  let from: LogFrom = { offset: 0 };
  let lastStatus = '';
  const stepOf = (b: BuildDetail) => b.stages.find((s) => s.number === stageNumber)?.steps.find((s) => s.number === stepNumber);
  for (;;) {
    const step = stepOf(build);
    if (!step) throw new Error(`logs: step ${stageNumber}.${stepNumber} disappeared from build ${repo} #${build.number}`);
    if (step.status !== lastStatus) {
      // Progress goes to stderr, so stdout stays the log itself.
      io.err(`[${step.name}: ${step.status}${isFinished(step.status) ? `, ${duration(step.startedAt, step.finishedAt, Date.now())}` : ''}]`);
      lastStatus = step.status;
    }
    const page = await logPage(api, repo, build.number, stageNumber, stepNumber, from, io);
    page.lines.forEach(print);
    // The next poll resumes from the cursor: its cost does not grow with the log.
    from = { cursor: page.cursor };
    if (page.complete) return step.status === 'success' || step.status === 'skipped' ? EXIT.ok : EXIT.failed;
    // A build that ended without the step ever running leaves nothing to wait for.
    if (isFinished(build.status) && step.startedAt === undefined && page.lines.length === 0 && isFinished(step.status)) return EXIT.failed;
    if (!page.more) await new Promise((r) => setTimeout(r, POLL_MS));
    build = await reload();
  }
}
