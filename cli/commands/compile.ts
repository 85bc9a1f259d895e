// `slipway compile [FILE] [--event E] [--branch B] [--ref R] [--commit SHA] [--repo OWNER/NAME]
// [--action A]`: prints what ECS would run for one build of a .drone.yml, as JSON:
// {"stages":[{"name","dependsOn","taskDefinition","runTask"}],"skipped":[{"name","reason"}],
// "errors":[{"name","line","column","message"}]}: a pipeline with errors of its own is listed
// in errors and the others still compile. Exit 0 when the file can be read (even with errored
// pipelines), 1 when the file itself is invalid (YAML syntax, a document that is no
// pipeline; diagnostics on stderr), 2 usage.

import { basename, dirname } from 'node:path';
import { compileManifest, type CompileOptions } from '../../core/pipeline/compile.js';
import type { BuildContext, BuildEvent } from '../../core/pipeline/context.js';
import { formatDiagnostic } from '../../core/pipeline/format.js';
import { substitutionLookup } from '../../core/pipeline/environment.js';
import { withStageSubstitution } from '../../core/pipeline/stage-substitution.js';
import { isReadable, loadManifestBytes } from '../../core/pipeline/load.js';
import { LINT } from '../../core/pipeline/lint.js';
import { EXIT, type CliIO } from '../io.js';
import { readPipelineFile } from '../pipeline-file.js';

const USAGE = `usage: slipway compile [FILE] [options]

Prints the ECS task definitions and RunTask input of a .drone.yml (default: .drone.yml in
the current directory) for one build, as JSON on stdout.

options:
  --event E          push (default), pull_request, tag, promote, rollback, cron, custom
  --branch B         branch of the build (default main; the target branch of a pull request)
  --ref R            git ref (default refs/heads/BRANCH, refs/tags/… for tags, refs/pull/1/head)
  --commit SHA       commit (default 0000…0000)
  --repo OWNER/NAME  repository (default: the folder that holds FILE, owner "local")
  --action A         event action, e.g. opened, synchronized (default empty)
  --fork             a pull request from a fork: no secrets
  -h, --help         show this help

A pipeline with errors of its own is listed under "errors" (name, line, column, message)
and the others still compile, as a build would run them.

exit status: 0 the file was read (pipelines may be in "errors"), 1 the file itself is
invalid (nothing compiled), 2 usage error`;

const EVENTS: readonly BuildEvent[] = ['push', 'pull_request', 'tag', 'promote', 'rollback', 'cron', 'custom'];
const VALUE_FLAGS = ['--event', '--branch', '--ref', '--commit', '--repo', '--action'] as const;

export interface ContextFlags {
  event?: string;
  branch?: string;
  ref?: string;
  commit?: string;
  repo?: string;
  action?: string;
  fork?: boolean;
}

/**
 * Options of the printed output: what a deployment would set, with neutral values. Full ARNs
 * need an account: a placeholder one, in the `aws` partition (a `kind: secret` document cannot
 * be compiled without them).
 */
export const CLI_COMPILE_OPTIONS: CompileOptions = {
  logGroup: '/slipway/builds',
  region: 'us-east-1',
  accountId: '000000000000',
  partition: 'aws',
  // As deployments and local mode run them: a pipeline over ECS's 10 containers that can be cut runs as consecutive tasks.
  splitPipelines: true,
};

export async function run(args: string[], io: CliIO): Promise<number> {
  const flags: ContextFlags = {};
  let file: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-h' || arg === '--help') {
      io.out(USAGE);
      return EXIT.ok;
    }
    if (arg === '--fork') {
      flags.fork = true;
      continue;
    }
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if ((VALUE_FLAGS as readonly string[]).includes(name)) {
      const value = inline ?? args[++i];
      if (value === undefined) return usage(io, `${name} needs a value`);
      flags[name.slice(2) as Exclude<keyof ContextFlags, 'fork'>] = value;
      continue;
    }
    if (arg.startsWith('-') && arg !== '-') return usage(io, `unknown option "${arg}"`);
    if (file !== undefined) return usage(io, `one FILE only (got "${file}" and "${arg}")`);
    file = arg;
  }
  file ??= '.drone.yml';
  if (flags.event !== undefined && !EVENTS.includes(flags.event as BuildEvent)) {
    return usage(io, `--event must be one of ${EVENTS.join(', ')} (got "${flags.event}")`);
  }
  if (flags.repo !== undefined && !/^[^/\s]+\/[^/\s]+$/.test(flags.repo)) return usage(io, `--repo must be OWNER/NAME (got "${flags.repo}")`);

  const read = await readPipelineFile(io.cwd, file);
  if (read.kind === 'directory' || read.kind === 'unreadable') return usage(io, read.message);
  if (read.kind === 'too-large') {
    for (const d of read.manifest.diagnostics) io.err(formatDiagnostic(d));
    return EXIT.failed;
  }
  const { path } = read;

  flags.repo ??= `local/${basename(dirname(path)) || 'repo'}`;
  const ctx = cliContext(flags);
  // `${…}` substituted with this build's values, as the planner does.
  const split = { splitPipelines: CLI_COMPILE_OPTIONS.splitPipelines === true };
  const fileWide = loadManifestBytes(file, read.bytes, { ...split, substitute: substitutionLookup(ctx) });
  // Each pipeline that names a `${DRONE_STAGE_…}` is read again with its own stage's values, as the planner does.
  const manifest = isReadable(fileWide) ? withStageSubstitution(file, new TextDecoder().decode(read.bytes), ctx, fileWide, split) : fileWide;
  if (!isReadable(manifest)) {
    for (const d of manifest.diagnostics) io.err(formatDiagnostic(d));
    io.err(`${file}: invalid, nothing compiled`);
    return EXIT.failed;
  }
  const result = compileManifest(manifest, ctx, CLI_COMPILE_OPTIONS);
  // Each finding once: the compiler's own errors join lint's, and lint's warning that a
  // pipeline may not fit (some steps are conditional) gives way to the compiler's error
  // when, for this build, it does not.
  const reported = new Set(manifest.diagnostics);
  const compilerErrors = result.errors.flatMap((e) => e.diagnostics).filter((d) => !reported.has(d));
  const overfull = new Set(compilerErrors.filter((d) => d.message.includes(LINT.tooManyContainers)).map((d) => `${d.line}:${d.column}`));
  // Lint's note that a pipeline runs as consecutive tasks gives way to its stage's note,
  // which names the segments of this build's cut; its note on a skipped dependency to the
  // stage's, which knows this build's trigger skips too.
  const lintShown = manifest.diagnostics.filter(
    (d) =>
      !(d.severity === 'warning' && d.message.includes(LINT.tooManyContainers) && overfull.has(`${d.line}:${d.column}`)) &&
      !(d.severity === 'note' && (d.message.includes(LINT.splitIntoTasks) || d.message.includes(LINT.skippedDependency))),
  );
  for (const d of [...lintShown, ...compilerErrors].sort((a, b) => a.line - b.line || a.column - b.column)) io.err(formatDiagnostic(d));
  for (const stage of result.stages) for (const note of stage.notes) io.err(`${file}: note: pipeline "${stage.name}": ${note}`);
  for (const stage of result.stages) for (const s of stage.skippedSteps) io.err(`${file}: note: pipeline "${stage.name}": step "${s.name}" skipped: ${s.reason}`);
  const output = {
    stages: result.stages.map((s) => ({
      name: s.name,
      dependsOn: s.dependsOn,
      taskDefinition: s.taskDefinition,
      runTask: s.runTask,
      // A pipeline over ECS's 10 containers: its consecutive tasks, the first being the stage's own.
      ...(s.segments ? { segments: s.segments.map((seg) => ({ number: seg.number, steps: seg.steps, taskDefinition: seg.taskDefinition, runTask: seg.runTask })) } : {}),
    })),
    skipped: result.skipped,
    errors: result.errors.flatMap((e) => e.diagnostics.map((d) => ({ name: e.name, line: d.line, column: d.column, message: d.message }))),
  };
  io.out(JSON.stringify(output, null, 2));
  return EXIT.ok;
}

function usage(io: CliIO, message: string): number {
  io.err(`slipway compile: ${message}\n${USAGE}`);
  return EXIT.usage;
}

/**
 * A build context from command-line flags, with defaults that need nothing else: a push
 * to main of commit 0000…, build 1, created at 0 (the output is the same on every run).
 */
export function cliContext(flags: ContextFlags): BuildContext {
  const event = (flags.event ?? 'push') as BuildEvent;
  const slug = flags.repo ?? 'local/repo';
  const [owner = 'local', name = 'repo'] = slug.split('/');
  let branch = flags.branch ?? 'main';
  let tag: string | undefined;
  let ref = flags.ref;
  if (ref === undefined) {
    if (event === 'tag') ref = 'refs/tags/v0.0.0';
    else if (event === 'pull_request') ref = 'refs/pull/1/head';
    else ref = `refs/heads/${branch}`;
  }
  if (ref.startsWith('refs/tags/')) tag = ref.slice('refs/tags/'.length);
  else if (ref.startsWith('refs/heads/') && flags.branch === undefined) branch = ref.slice('refs/heads/'.length);
  const sha = flags.commit ?? '0'.repeat(40);
  const ctx: BuildContext = {
    repo: {
      slug,
      owner,
      name,
      scm: 'local',
      httpUrl: `file:///${slug}`,
      link: '',
      defaultBranch: 'main',
      private: false,
      visibility: 'public',
    },
    commit: {
      sha,
      ref,
      branch: event === 'pull_request' ? 'feature' : branch,
      message: 'slipway compile',
      link: '',
      author: { login: 'slipway', name: 'Slipway', email: 'slipway@localhost', avatar: '' },
    },
    build: { number: 1, event, action: flags.action ?? '', created: 0, link: '', trigger: '@cli' },
    system: { host: 'localhost', proto: 'http', version: '0.1.0' },
  };
  if (event === 'pull_request') {
    ctx.pullRequest = { number: 1, title: 'slipway compile', sourceBranch: 'feature', targetBranch: branch, fork: flags.fork === true };
  }
  if (tag !== undefined) ctx.tag = tag;
  return ctx;
}
