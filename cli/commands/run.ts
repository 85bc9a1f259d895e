// `slipway run [DIR] [--repo OWNER/NAME] [--branch B]`: builds DIR's working copy (default
// the current directory) with its .drone.yml through the same control plane as `slipway up`
// — planner, autoscaler, ECS stand-in, task events — like `drone exec`. Prints each step's
// output when it ends, then the steps with statuses and timings.
// Exit 0 the build succeeded, 1 it did not (or could not start), 2 usage.

import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { BuildDetail } from '../../core/builds/types.js';
import { snapshotDirectory } from '../../local/snapshot.js';
import { startLocalSlipway, type LocalSlipway } from '../../local/up.js';
import { parse } from '../command-kit.js';
import { redirectHandlerLogs } from '../handler-log.js';
import { localPhases, progressPrinter } from '../progress.js';
import { EXIT, type CliIO } from '../io.js';
import { formatBuild } from './build.js';
import { hasRun } from '../../core/builds/status.js';

const USAGE = `usage: slipway run [DIR] [--repo OWNER/NAME] [--branch B] [--quiet]

Builds the .drone.yml of DIR (default: the current directory) on this machine, as a push
to branch B (default main), through the local control plane. Uncommitted changes are
included (files git ignores are not).

options:
  --repo OWNER/NAME   the repository name the build sees (default local/<DIR name>)
  --branch B          the branch (default main): trigger and when conditions see it
  -q, --quiet         do not print the steps' output
  -h, --help          show this help

exit status: 0 the build succeeded, 1 it failed or could not run, 2 usage error`;

export async function run(args: string[], io: CliIO): Promise<number> {
  const p = parse('run', args, { repo: { type: 'string' }, branch: { type: 'string' }, quiet: { type: 'boolean', short: 'q' } }, USAGE, io);
  if (!p) return EXIT.usage;
  if (p.values.help) return io.out(USAGE), EXIT.ok;
  if (p.positionals.length > 1) return io.err(`slipway run: expected at most one directory\n${USAGE}`), EXIT.usage;
  const dir = resolve(io.cwd, p.positionals[0] ?? '.');
  if (!existsSync(join(dir, '.drone.yml'))) return io.err(`slipway run: ${join(dir, '.drone.yml')} does not exist`), EXIT.usage;
  const slug = (p.values.repo as string | undefined) ?? `local/${basename(dir).replace(/[^\w.-]/g, '-') || 'repo'}`;
  if (!/^[^/\s]+\/[^\s]+$/.test(slug)) return io.err(`slipway run: --repo ${JSON.stringify(slug)} must be OWNER/NAME`), EXIT.usage;
  const branch = (p.values.branch as string | undefined) ?? 'main';

  const handlerLog = redirectHandlerLogs(io.env, 'run');
  const snapshot = snapshotDirectory(dir, { branch, message: `slipway run of ${basename(dir)}`, author: 'local' });
  let local: LocalSlipway | undefined;
  try {
    io.out(`Building ${dir} as ${slug}@${branch} (${snapshot.sha.slice(0, 8)})…`);
    local = await startLocalSlipway({ port: 0, env: io.env, onError: (where, err) => io.err(`  [${where}] ${(err as Error)?.message ?? String(err)}`) });
    const submitted = await local.buildSnapshot(snapshot, { slug });
    if (typeof submitted !== 'object' || !('buildId' in submitted)) {
      io.err(`slipway run: nothing to build: ${typeof submitted === 'object' ? submitted.skipped : 'no build was created'}`);
      return EXIT.failed;
    }
    const phases = localPhases(local);
    const progress = progressPrinter((line) => io.out(line), phases);
    const printed = new Set<string>();
    const onChange = (build: BuildDetail) => {
      progress(build);
      if (!p.values.quiet) printOutputs(local!, build, printed, io);
    };
    const build = await local.waitForBuild(submitted.buildId, onChange);
    if (!p.values.quiet) printOutputs(local, build, printed, io);
    io.out('');
    io.out(formatBuild(build, Date.now(), phases));
    if (build.error) io.err(build.error);
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
    if (!stage.taskArn) continue;
    for (const step of stage.steps) {
      const key = `${stage.number}.${step.number}`;
      if (printed.has(key) || !hasRun(step.status) || step.kind === 'clone') continue;
      printed.add(key);
      const lines = local.aws.ecs.logs(stage.taskArn, step.container);
      for (const line of lines) io.out(`    [${step.name}] ${line.message}`);
    }
  }
}
