// `slipway run [DIR] [--repo OWNER/NAME] [--branch B] [--private]`: builds DIR's working copy
// (default the current directory) with its .drone.yml through the control plane, like
// `drone exec`. With `slipway up` running on this machine (found through SLIPWAY_HOME/server.json,
// local/local-runs.ts) the build is that server's: in its dashboard and in `slipway builds`/
// `build`/`logs`/`restart`. Otherwise (or with --private) on a private stack started for this
// run, which says so. Either way it prints each step's output when it ends, then the steps with
// statuses and timings.
// Exit 0 the build succeeded, 1 it did not (or could not start), 2 usage.

import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { stepLogTask, type BuildDetail } from '../../core/builds/types.js';
import { snapshotWorkingCopy } from '../../local/snapshot.js';
import { readServerFile, type LocalRunResponse, type ServerFile } from '../../local/local-runs.js';
import { slipwayHome } from '../../local/secrets.js';
import { startLocalSlipway, type LocalSlipway } from '../../local/up.js';
import { ApiClient, ApiClientError, serverUrl } from '../client.js';
import { parse } from '../command-kit.js';
import { redirectHandlerLogs } from '../handler-log.js';
import type { AgentPhase } from '../agent-phases.js';
import { localPhases, progressPrinter } from '../progress.js';
import { EXIT, type CliIO } from '../io.js';
import { clonePhases, formatBuild } from './build.js';
import { hasRun, isFinished } from '../../core/builds/status.js';

const USAGE = `usage: slipway run [DIR] [--repo OWNER/NAME] [--branch B] [--private] [--quiet]

Builds the .drone.yml of DIR (default: the current directory) on this machine, as a push of
its checked-out branch and commit, through the local control plane. Uncommitted changes are
included, as one more commit on top (files git ignores are not).

With \`slipway up\` (npm start) running, the build is that server's: in its dashboard and in
slipway builds / build / logs / restart. Without one, it runs on a private stack that stops
with this command.

options:
  --repo OWNER/NAME   the repository name the build sees (default local/<DIR name>)
  --branch B          the branch (default: the checked-out one, main when there is none)
  --private           a private stack even when a local server is running
  -q, --quiet         do not print the steps' output
  -h, --help          show this help

exit status: 0 the build succeeded, 1 it failed or could not run, 2 usage error`;

/** How often the build is read from the server while it runs. */
const POLL_MS = 500;
/** Reads of a finished build's logs before printing what there is (the API's log grace is 300 ms locally). */
const OUTPUT_TRIES = 10;

export async function run(args: string[], io: CliIO): Promise<number> {
  const p = parse(
    'run',
    args,
    { repo: { type: 'string' }, branch: { type: 'string' }, private: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' } },
    USAGE,
    io,
  );
  if (!p) return EXIT.usage;
  if (p.values.help) return io.out(USAGE), EXIT.ok;
  if (p.positionals.length > 1) return io.err(`slipway run: expected at most one directory\n${USAGE}`), EXIT.usage;
  const dir = resolve(io.cwd, p.positionals[0] ?? '.');
  if (!existsSync(join(dir, '.drone.yml'))) return io.err(`slipway run: ${join(dir, '.drone.yml')} does not exist`), EXIT.usage;
  const slug = (p.values.repo as string | undefined) ?? `local/${basename(dir).replace(/[^\w.-]/g, '-') || 'repo'}`;
  if (!/^[^/\s]+\/[^\s]+$/.test(slug)) return io.err(`slipway run: --repo ${JSON.stringify(slug)} must be OWNER/NAME`), EXIT.usage;
  const branch = p.values.branch as string | undefined;
  const quiet = p.values.quiet === true;

  const found = p.values.private ? { none: 'asked for (--private)' } : readServerFile(slipwayHome(io.env));
  if ('server' in found) {
    const onServer = await runOnServer(found.server, { dir, slug, branch, quiet }, io);
    if (onServer !== 'unreachable') return onServer;
  }
  return runPrivately({ dir, slug, branch, quiet }, 'server' in found ? `the local server at ${found.server.url} did not answer` : found.none, io);
}

interface RunTarget {
  dir: string;
  slug: string;
  branch: string | undefined;
  quiet: boolean;
}

/** Submits to the running local server and follows the build through its API. 'unreachable': it did not answer. */
async function runOnServer(server: ServerFile, target: RunTarget, io: CliIO): Promise<number | 'unreachable'> {
  const api = new ApiClient({ SLIPWAY_SERVER: server.url });
  let submitted: LocalRunResponse;
  try {
    submitted = await api.localRun({ token: server.token, dir: target.dir, repo: target.slug, ...(target.branch ? { branch: target.branch } : {}) });
  } catch (err) {
    if (err instanceof ApiClientError && err.status === 0) return 'unreachable';
    io.err(`slipway run: the local server at ${server.url} refused the build: ${(err as Error).message}`);
    return EXIT.failed;
  }
  if ('skipped' in submitted) {
    io.err(`slipway run: nothing to build: ${submitted.skipped}`);
    return EXIT.failed;
  }
  io.out(`Building ${target.dir} as ${submitted.repo}@${submitted.branch} (${submitted.commit.slice(0, 8)}) on the local server: build #${submitted.number}`);
  io.out(`  ${submitted.url}`);
  try {
    // The clone's line gives its phases, read from its agent's log through the API once it passed.
    let phases = new Map<string, AgentPhase[]>();
    const progress = progressPrinter((line) => io.out(line), (stage, step) => phases.get(`${stage.number}.${step.number}`));
    const cursors: OutputCursors = new Map();
    let build: BuildDetail;
    for (;;) {
      build = await api.build(submitted.repo, submitted.number);
      if (build.stages.some((stage) => stage.steps.some((step) => step.kind === 'clone' && step.status === 'success' && !phases.has(`${stage.number}.${step.number}`)))) {
        phases = await clonePhases(api, build);
      }
      progress(build);
      if (!target.quiet) await printServerOutputs(api, build, cursors, io);
      if (isFinished(build.status)) break;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    // The last lines of a step may reach the log store a moment after the build ends.
    for (let tries = 0; !target.quiet && tries < OUTPUT_TRIES && !(await printServerOutputs(api, build, cursors, io)); tries++) {
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const finalPhases = await clonePhases(api, build);
    io.out('');
    io.out(formatBuild(build, Date.now(), (stage, step) => finalPhases.get(`${stage.number}.${step.number}`)));
    if (build.error) io.err(build.error);
    // The API commands find this server by themselves unless SLIPWAY_SERVER names another.
    const server_ = serverUrl(io.env) === server.url.replace(/\/+$/, '') ? '' : `SLIPWAY_SERVER=${server.url} `;
    io.out(`\nOn the local server: ${server_}slipway build ${build.number} --repo ${build.repo} (logs, restart likewise)`);
    return build.status === 'success' ? EXIT.ok : EXIT.failed;
  } catch (err) {
    io.err(`slipway run: following build #${submitted.number} on ${server.url}: ${(err as Error).message}`);
    return EXIT.failed;
  }
}

/** Where each finished step's log was read up to, and whether it is all there (the API says `complete`). */
type OutputCursors = Map<string, { from: { offset: number } | { cursor: string }; complete: boolean }>;

/**
 * Each finished step's output, read through the API, prefixed with its name; a log the API
 * has not seen the end of yet is read on from where it stopped at the next call. True when
 * every finished step's log is complete.
 */
async function printServerOutputs(api: ApiClient, build: BuildDetail, cursors: OutputCursors, io: CliIO): Promise<boolean> {
  let all = true;
  for (const stage of build.stages) {
    for (const step of stage.steps) {
      if (!hasRun(step.status) || !isFinished(step.status) || step.kind === 'clone') continue;
      const key = `${stage.number}.${step.number}`;
      const cursor = cursors.get(key) ?? { from: { offset: 0 }, complete: false };
      cursors.set(key, cursor);
      while (!cursor.complete) {
        const page = await api.logs(build.repo, build.number, stage.number, step.number, cursor.from);
        for (const line of page.lines) io.out(`    [${step.name}] ${line.text}`);
        cursor.from = { cursor: page.cursor };
        cursor.complete = page.complete;
        if (!page.more) break;
      }
      all &&= cursor.complete;
    }
  }
  return all;
}

/** A private stack for this one build, stopped at the end; says where its build went. */
async function runPrivately(target: RunTarget, why: string, io: CliIO): Promise<number> {
  const handlerLog = redirectHandlerLogs(io.env, 'run');
  const snapshot = snapshotWorkingCopy(target.dir, target.branch ? { branch: target.branch } : {});
  let local: LocalSlipway | undefined;
  try {
    io.out(`Building ${target.dir} as ${target.slug}@${snapshot.branch} (${snapshot.sha.slice(0, 8)}) on a private stack: ${why}…`);
    local = await startLocalSlipway({ port: 0, env: io.env, onError: (where, err) => io.err(`  [${where}] ${(err as Error)?.message ?? String(err)}`) });
    const submitted = await local.buildSnapshot(snapshot, { slug: target.slug });
    if (typeof submitted !== 'object' || !('buildId' in submitted)) {
      io.err(`slipway run: nothing to build: ${typeof submitted === 'object' ? submitted.skipped : 'no build was created'}`);
      return EXIT.failed;
    }
    const phases = localPhases(local);
    const progress = progressPrinter((line) => io.out(line), phases);
    const printed = new Set<string>();
    const onChange = (build: BuildDetail) => {
      progress(build);
      if (!target.quiet) printOutputs(local!, build, printed, io);
    };
    const build = await local.waitForBuild(submitted.buildId, onChange);
    if (!target.quiet) printOutputs(local, build, printed, io);
    io.out('');
    io.out(formatBuild(build, Date.now(), phases));
    if (build.error) io.err(build.error);
    io.out(
      `\nThis build ran on a private stack, which stops now: it is in no dashboard and not in slipway builds. ` +
        `To keep builds, start the local server in another terminal (slipway up, or npm start): slipway run then builds there.`,
    );
    return build.status === 'success' ? EXIT.ok : EXIT.failed;
  } catch (err) {
    io.err(`slipway run: ${(err as Error).message}`);
    return EXIT.failed;
  } finally {
    try {
      await local?.stop();
    } finally {
      snapshot.remove();
      handlerLog.restore();
    }
  }
}

/** Each finished step's output once, prefixed with its name (the stand-in keeps it like awslogs). */
function printOutputs(local: LocalSlipway, build: BuildDetail, printed: Set<string>, io: CliIO): void {
  for (const stage of build.stages) {
    for (const step of stage.steps) {
      const key = `${stage.number}.${step.number}`;
      // The task it ran in: a split stage's earlier segment, or its service task.
      const taskArn = stepLogTask(stage, step);
      if (!taskArn || printed.has(key) || !hasRun(step.status) || step.kind === 'clone') continue;
      printed.add(key);
      const lines = local.aws.ecs.logs(taskArn, step.container);
      for (const line of lines) io.out(`    [${step.name}] ${line.message}`);
    }
  }
}
