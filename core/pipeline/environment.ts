// The DRONE_* / CI_* environment a step receives, with Drone's names and meanings
// (runner-go `environ`: System, Repo, Build, Stage, Step, Link; clone's GIT_* identity;
// the runner's DRONE_WORKSPACE*). Values come from the BuildContext only — no clock:
// where Drone falls back to "now" for times not yet known, the build's creation time is
// used, so the same context always yields the same environment.
//
// Split in two by when it is known:
//   - buildEnvironment: per run; the agent writes it (shellExports) to a file each step sources.
//   - stepEnvironment:  structural; goes into each container of the task definition.
// statusEnvironment gives the values that change while a stage runs (Drone recomputes
// them before every step).

import type { BuildContext } from './context.js';
import { goQuote } from './go-quote.js';
import { DEFAULT_WORKSPACE } from './types.js';

export interface StageEnvInput {
  name: string;
  number: number;
  kind: 'pipeline';
  type: 'docker';
  os: string;
  arch: string;
  dependsOn: string[];
  /** The pipeline's workspace: an absolute path, or one relative to /drone/src. */
  workspace: string;
  /** Where the workspace volume is mounted, when `workspace` is absolute (Drone's `workspace.base`). */
  workspaceBase?: string;
  /** What runs the stage (DRONE_STAGE_MACHINE); empty when not known yet. */
  machine?: string;
  /** Stages of this build that already failed: the build starts as failing. */
  failedStages?: string[];
  /** `clone: skip_verify`: git in the steps skips TLS verification too, as in Drone. */
  skipVerify?: boolean;
}

/** Matches the first number of a pull request ref (`refs/pull/7/head` → 7), as Drone does. */
const FIRST_NUMBER = /\d+/;

/** Everything a step of this stage receives about the build, the repository and the system. */
export function buildEnvironment(ctx: BuildContext, stage: StageEnvInput): Record<string, string> {
  const { repo, commit, build, system } = ctx;
  const pr = build.event === 'pull_request' ? ctx.pullRequest : undefined;
  const target = pr ? pr.targetBranch : commit.branch;
  const source = pr ? pr.sourceBranch : commit.branch;
  const created = String(build.created);
  const parent = String(build.parent ?? 0);
  const deploy = build.target ?? '';
  const failedStages = stage.failedStages ?? [];
  const { base, path, full } = workspacePaths(stage.workspace, stage.workspaceBase);
  const author = commit.author;

  const env: Record<string, string> = {
    // System
    CI: 'true',
    DRONE: 'true',
    DRONE_SYSTEM_PROTO: system.proto,
    DRONE_SYSTEM_HOST: system.host,
    DRONE_SYSTEM_HOSTNAME: system.host,
    DRONE_SYSTEM_VERSION: system.version,

    // Repo
    DRONE_REPO: repo.slug,
    DRONE_REPO_SCM: 'git',
    DRONE_REPO_OWNER: repo.owner,
    DRONE_REPO_NAMESPACE: repo.owner,
    DRONE_REPO_NAME: repo.name,
    DRONE_REPO_LINK: repo.link,
    DRONE_REPO_BRANCH: repo.defaultBranch,
    DRONE_REMOTE_URL: repo.httpUrl,
    DRONE_GIT_HTTP_URL: repo.httpUrl,
    DRONE_GIT_SSH_URL: repo.sshUrl ?? '',
    DRONE_REPO_VISIBILITY: repo.visibility,
    DRONE_REPO_PRIVATE: String(repo.private),
    CI_REPO: repo.slug,
    CI_REPO_NAME: repo.slug,
    CI_REPO_LINK: repo.link,
    CI_REPO_REMOTE: repo.httpUrl,
    CI_REMOTE_URL: repo.httpUrl,
    CI_REPO_PRIVATE: String(repo.private),

    // Build and commit
    DRONE_BRANCH: target,
    DRONE_SOURCE_BRANCH: source,
    DRONE_TARGET_BRANCH: target,
    DRONE_COMMIT: commit.sha,
    DRONE_COMMIT_SHA: commit.sha,
    DRONE_COMMIT_BEFORE: commit.before ?? '',
    DRONE_COMMIT_AFTER: commit.sha,
    DRONE_COMMIT_REF: commit.ref,
    DRONE_COMMIT_BRANCH: target,
    DRONE_COMMIT_LINK: commit.link,
    DRONE_COMMIT_MESSAGE: commit.message,
    DRONE_COMMIT_AUTHOR: author.login,
    DRONE_COMMIT_AUTHOR_EMAIL: author.email,
    DRONE_COMMIT_AUTHOR_AVATAR: author.avatar,
    DRONE_COMMIT_AUTHOR_NAME: author.name,
    DRONE_BUILD_NUMBER: String(build.number),
    DRONE_BUILD_PARENT: parent,
    DRONE_BUILD_EVENT: build.event,
    DRONE_BUILD_ACTION: build.action,
    DRONE_BUILD_DEBUG: 'false',
    DRONE_BUILD_CREATED: created,
    DRONE_BUILD_STARTED: created,
    DRONE_BUILD_FINISHED: created,
    DRONE_BUILD_TRIGGER: build.trigger,
    DRONE_BUILD_LINK: build.link || `${system.proto}://${system.host}/${repo.slug}/${build.number}`,
    DRONE_DEPLOY_TO: deploy,
    DRONE_DEPLOY_ID: '0',
    CI_BUILD_NUMBER: String(build.number),
    CI_PARENT_BUILD_NUMBER: parent,
    CI_BUILD_CREATED: created,
    CI_BUILD_STARTED: created,
    CI_BUILD_FINISHED: created,
    CI_BUILD_EVENT: build.event,
    // Drone's legacy CI_BUILD_LINK is the link the change came with (the commit's).
    CI_BUILD_LINK: commit.link,
    CI_BUILD_TARGET: deploy,
    CI_COMMIT_SHA: commit.sha,
    CI_COMMIT_REF: commit.ref,
    CI_COMMIT_BRANCH: target,
    CI_COMMIT_MESSAGE: commit.message,
    CI_COMMIT_AUTHOR: author.login,
    CI_COMMIT_AUTHOR_NAME: author.name,
    CI_COMMIT_AUTHOR_EMAIL: author.email,
    CI_COMMIT_AUTHOR_AVATAR: author.avatar,

    // Stage
    DRONE_STAGE_KIND: stage.kind,
    DRONE_STAGE_TYPE: stage.type,
    DRONE_STAGE_NAME: stage.name,
    DRONE_STAGE_NUMBER: String(stage.number),
    DRONE_STAGE_MACHINE: stage.machine ?? '',
    DRONE_STAGE_OS: stage.os,
    DRONE_STAGE_ARCH: stage.arch,
    DRONE_STAGE_VARIANT: '',
    DRONE_STAGE_STARTED: created,
    DRONE_STAGE_FINISHED: created,
    DRONE_STAGE_DEPENDS_ON: stage.dependsOn.join(','),
    DRONE_CARD_PATH: '/dev/stdout',

    // Workspace
    DRONE_WORKSPACE: full,
    DRONE_WORKSPACE_BASE: base,
    DRONE_WORKSPACE_PATH: path,

    // Git identity for commits made by steps (Drone's clone environment).
    GIT_AUTHOR_NAME: author.name || 'drone',
    GIT_AUTHOR_EMAIL: author.email || 'noreply@drone',
    GIT_COMMITTER_NAME: author.name || 'drone',
    GIT_COMMITTER_EMAIL: author.email || 'noreply@drone',
    GIT_TERMINAL_PROMPT: '0',

    ...statusEnvironment({ failedStages, failedSteps: [] }),
  };
  if (stage.skipVerify) env.GIT_SSL_NO_VERIFY = 'true';

  if (build.event === 'pull_request') {
    env.DRONE_PULL_REQUEST = FIRST_NUMBER.exec(commit.ref)?.[0] ?? (pr ? String(pr.number) : '');
    env.DRONE_PULL_REQUEST_TITLE = pr?.title ?? '';
  }
  const tag = commit.ref.startsWith('refs/tags/')
    ? commit.ref.slice('refs/tags/'.length)
    : build.event === 'tag'
      ? (ctx.tag ?? '')
      : '';
  if (tag !== '') {
    env.DRONE_TAG = tag;
    Object.assign(env, semverEnvironment(tag), calverEnvironment(tag));
  }
  if (build.event === 'cron' && build.cron) env.DRONE_CRON = build.cron;
  return env;
}

/**
 * The values Drone substitutes `${…}` with in the raw file (substitute.ts): the build's
 * System, Repo, Build and Link variables, as runner-go's runner passes them to envsubst
 * (pipeline/runtime/runner.go: environ.Combine(System, Repo, Build, Stage, Link, params)).
 * Not the workspace, git or step variables, nor secrets: those are set per step, after
 * substitution, so a name Drone does not know gives "" as in Drone (`$${HOME}` reaches the
 * shell). The DRONE_STAGE_* values differ from one pipeline of the file to the next, as
 * Drone substitutes the file once per stage: without `stage` those expressions are left as
 * written (the file read once for all pipelines); with it they take that stage's values
 * (stage-substitution.ts reads each pipeline that names one again with its own). Drone
 * substitutes no DRONE_STEP_* (no step is known yet): those give "" as any unknown name.
 */
export function substitutionLookup(ctx: BuildContext, stage?: StageEnvInput): (name: string) => string | undefined {
  const env = buildEnvironment(ctx, stage ?? { name: '', number: 0, kind: 'pipeline', type: 'docker', os: 'linux', arch: 'amd64', dependsOn: [], workspace: '' });
  for (const name of Object.keys(env)) {
    if (name.startsWith('DRONE_WORKSPACE') || name.startsWith('GIT_') || name === 'DRONE_CRON') delete env[name];
  }
  return (name) => (name.startsWith('DRONE_STAGE_') && stage === undefined ? undefined : Object.hasOwn(env, name) ? env[name]! : '');
}

/** DRONE_STEP_NAME / DRONE_STEP_NUMBER: fixed per container, so part of the task definition. */
export function stepEnvironment(step: { name: string; number: number }): Record<string, string> {
  return { DRONE_STEP_NAME: step.name, DRONE_STEP_NUMBER: String(step.number) };
}

/** What has failed so far in this build and stage. */
export interface RunState {
  /** Other stages of the build that failed. */
  failedStages: string[];
  /** Steps of this stage that failed (not counting `failure: ignore`). */
  failedSteps: string[];
}

/**
 * The variables that change while a stage runs; the agent merges them over
 * buildEnvironment before each step, as Drone's runner does.
 */
export function statusEnvironment(state: RunState): Record<string, string> {
  const buildFailing = state.failedStages.length > 0 || state.failedSteps.length > 0;
  const stageFailing = state.failedSteps.length > 0;
  const env: Record<string, string> = {
    DRONE_BUILD_STATUS: buildFailing ? 'failure' : 'success',
    DRONE_STAGE_STATUS: stageFailing ? 'failure' : 'success',
    // The legacy name carries the build's raw state, as Drone stores it.
    CI_BUILD_STATUS: buildFailing ? 'failure' : 'running',
  };
  if (buildFailing) env.DRONE_FAILED_STAGES = state.failedStages.join(',');
  if (stageFailing) env.DRONE_FAILED_STEPS = state.failedSteps.join(',');
  return env;
}

/** What a step sees of its build and stage as it starts (runner-go environ.Build and environ.Stage, recomputed before every step). */
export interface RunTimes {
  /** Unix seconds the build started (its first stage); Drone shows "now" while it is unknown. */
  buildStarted: number;
  /** Unix seconds this stage started. */
  stageStarted: number;
  /** Unix seconds now: Drone's DRONE_BUILD_FINISHED and DRONE_STAGE_FINISHED while they run. */
  now: number;
}

/**
 * statusEnvironment plus the build's and stage's times, as Drone gives them to a step that
 * starts now: STARTED are the real start times; FINISHED are "now", since neither has
 * finished (runner-go environ.go: `if build.Finished == 0 { ... time.Now() }`).
 */
export function runEnvironment(state: RunState, times: RunTimes): Record<string, string> {
  const started = String(times.buildStarted);
  const now = String(times.now);
  return {
    ...statusEnvironment(state),
    DRONE_BUILD_STARTED: started,
    DRONE_BUILD_FINISHED: now,
    CI_BUILD_STARTED: started,
    CI_BUILD_FINISHED: now,
    DRONE_STAGE_STARTED: String(times.stageStarted),
    DRONE_STAGE_FINISHED: now,
  };
}

/**
 * Drone's workspace rule (engine/compiler/workspace.go createWorkspace): `base` is where the
 * volume is, `path` the working directory relative to it, `full` the two joined. Without a
 * base, an absolute path is the base; a relative one lives under /drone/src.
 */
function workspacePaths(workspace: string, workspaceBase?: string): { base: string; path: string; full: string } {
  if (workspaceBase !== undefined && workspace.startsWith('/')) {
    const base = cleanPath(workspaceBase);
    const full = cleanPath(workspace);
    const path = full === base ? '' : full.startsWith(`${base}/`) ? full.slice(base.length + 1) : '';
    return { base, path, full };
  }
  if (workspace === '') return { base: DEFAULT_WORKSPACE, path: '', full: DEFAULT_WORKSPACE };
  if (workspace.startsWith('/')) return { base: workspace, path: '', full: cleanPath(workspace) };
  return { base: DEFAULT_WORKSPACE, path: workspace, full: cleanPath(`${DEFAULT_WORKSPACE}/${workspace}`) };
}

/** Go's path.Clean for absolute paths: no empty, `.` or `..` segments, no trailing slash. */
function cleanPath(p: string): string {
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return '/' + out.join('/');
}

// ---------------------------------------------------------------- semantic versions

const INT64_MAX = 9223372036854775807n;
const IDENTIFIER = /^[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$/;

/** strconv.ParseInt(s, 10, 64) → value or Go's error text. */
function parseInt64(s: string): bigint | string {
  if (!/^[+-]?[0-9]+$/.test(s)) return `strconv.ParseInt: parsing ${goQuote(s)}: invalid syntax`;
  const n = BigInt(s);
  if (n > INT64_MAX || n < -INT64_MAX - 1n) return `strconv.ParseInt: parsing ${goQuote(s)}: value out of range`;
  return n;
}

/** Splits `input` at the first `delim`: [before, after] ('' after when absent). */
function splitOff(input: string, delim: string): [string, string] {
  const i = input.indexOf(delim);
  return i === -1 ? [input, ''] : [input.slice(0, i), input.slice(i + delim.length)];
}

/**
 * DRONE_SEMVER* of a tag, as Drone computes them (coreos/go-semver): `v1.2.3-rc.1+build.5`
 * → SEMVER 1.2.3-rc.1+build.5, MAJOR 1, MINOR 2, PATCH 3, PRERELEASE rc.1, BUILD build.5,
 * SHORT 1.2.3; a tag that is no version gives DRONE_SEMVER_ERROR only.
 */
export function semverEnvironment(tag: string): Record<string, string> {
  const s = tag.startsWith('v') ? tag.slice(1) : tag;
  const [withoutMeta, metadata] = splitOff(s, '+');
  const [version, preRelease] = splitOff(withoutMeta, '-');
  const error = (message: string) => ({ DRONE_SEMVER_ERROR: message });
  // strings.SplitN(version, ".", 3)
  const first = version.indexOf('.');
  const second = first === -1 ? -1 : version.indexOf('.', first + 1);
  if (second === -1) return error(`${version} is not in dotted-tri format`);
  if (preRelease !== '' && !IDENTIFIER.test(preRelease)) {
    return error(`failed to validate pre-release: ${preRelease} is not a valid semver identifier`);
  }
  if (metadata !== '' && !IDENTIFIER.test(metadata)) {
    return error(`failed to validate metadata: ${metadata} is not a valid semver identifier`);
  }
  const parts = [version.slice(0, first), version.slice(first + 1, second), version.slice(second + 1)];
  const numbers: bigint[] = [];
  for (const part of parts) {
    const n = parseInt64(part);
    if (typeof n === 'string') return error(n);
    numbers.push(n);
  }
  const short = numbers.join('.');
  const env: Record<string, string> = {
    DRONE_SEMVER: short + (preRelease ? `-${preRelease}` : '') + (metadata ? `+${metadata}` : ''),
    DRONE_SEMVER_MAJOR: String(numbers[0]),
    DRONE_SEMVER_MINOR: String(numbers[1]),
    DRONE_SEMVER_PATCH: String(numbers[2]),
    DRONE_SEMVER_SHORT: short,
  };
  if (preRelease) env.DRONE_SEMVER_PRERELEASE = preRelease;
  if (metadata) env.DRONE_SEMVER_BUILD = metadata;
  return env;
}

/** Go's strconv.Atoi acceptance (64-bit). */
function atoi(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n > INT64_MAX || n < -INT64_MAX - 1n ? undefined : n;
}

/**
 * DRONE_CALVER* of a tag, as Drone computes them: `2024.05.1-hotfix` → CALVER, MAJOR_MINOR,
 * MAJOR, MINOR, MICRO, MODIFIER, SHORT — only when the first part looks like a year.
 */
export function calverEnvironment(tag: string): Record<string, string> {
  const s = tag.startsWith('v') ? tag.slice(1) : tag;
  const first = s.indexOf('.');
  if (first === -1) return {};
  const second = s.indexOf('.', first + 1);
  const major = s.slice(0, first);
  const minor = second === -1 ? s.slice(first + 1) : s.slice(first + 1, second);
  let micro = second === -1 ? '' : s.slice(second + 1);
  let modifier = '';
  if (micro.includes('-')) [micro, modifier] = splitOff(micro, '-');
  if (atoi(major) === undefined || atoi(minor) === undefined) return {};
  const year = Number(atoi(major) ?? 0n);
  if (!((year > 18 && year < 100) || (year > 2018 && year < 9999))) return {};
  const short = `${major}.${minor}` + (micro !== '' ? `.${micro}` : '');
  const env: Record<string, string> = {
    DRONE_CALVER: short + (modifier !== '' ? `-${modifier}` : ''),
    DRONE_CALVER_MAJOR_MINOR: `${major}.${minor}`,
    DRONE_CALVER_MAJOR: major,
    DRONE_CALVER_MINOR: minor,
    DRONE_CALVER_MICRO: micro,
    DRONE_CALVER_SHORT: short,
  };
  if (modifier !== '') env.DRONE_CALVER_MODIFIER = modifier;
  return env;
}

// ---------------------------------------------------------------- shell export

const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `export NAME='value'` lines, sorted by name, for a POSIX shell to source. Values are
 * single-quoted (a `'` becomes `'\''`), so `$`, backquotes, backslashes and newlines
 * arrive unchanged. Throws on names a shell cannot hold and on NUL characters.
 */
export function shellExports(env: Record<string, string>): string {
  const names = Object.keys(env).sort();
  let out = '';
  for (const name of names) {
    if (!SHELL_NAME.test(name)) {
      throw new Error(
        `environment: cannot export ${JSON.stringify(name)}: a shell variable name is letters, digits and _, not starting with a digit`,
      );
    }
    const value = env[name]!;
    if (value.includes('\0')) {
      throw new Error(`environment: cannot export ${name}: its value contains a NUL character, which no environment can hold`);
    }
    const quoted = value.includes("'") ? value.replaceAll("'", `'\\''`) : value;
    out += `export ${name}='${quoted}'\n`;
  }
  return out;
}
