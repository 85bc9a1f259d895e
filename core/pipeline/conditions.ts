// `trigger:` (pipelines) and `when:` (steps) evaluation with Drone's semantics.
//
// Each field is an include/exclude pair of glob patterns (see glob.ts):
//   - a value matching any exclude pattern fails, whatever the includes say;
//   - otherwise it passes when it matches an include pattern, or when there are none.
// Every field uses the same matcher, as in Drone (drone-yaml / runner-go `cond.go`).
//
// `paths` follows the path-changes convention Drone users rely on: it passes when at
// least one changed file passes the include/exclude pair, and it always passes when the
// changed files are unknown or empty (a manual build, an empty commit, a truncated list).
//
// `status` is not decided here but at run time, by the agent (statusMatches): a step
// with no status runs only while the stage is passing.

import type { BuildContext } from './context.js';
import type { Condition, ConditionField, Conditions } from './types.js';
import { globMatch } from './glob.js';

/** The values a build offers to conditions. */
export interface ConditionInput {
  action: string;
  /** For pull requests the TARGET branch (what the change merges into), as in Drone. */
  branch: string;
  cron: string;
  event: string;
  instance: string;
  /** Changed files; undefined when unknown (then `paths` always matches). */
  paths?: string[];
  ref: string;
  repo: string;
  target: string;
}

/** The condition input of a build, with the values Drone would compare. */
export function conditionInput(ctx: BuildContext): ConditionInput {
  const event = ctx.build.event;
  let branch = ctx.commit.branch;
  if (event === 'pull_request' && ctx.pullRequest) branch = ctx.pullRequest.targetBranch;
  let ref = ctx.commit.ref;
  if (ref === '' && event === 'tag' && ctx.tag) ref = `refs/tags/${ctx.tag}`;
  const input: ConditionInput = {
    action: ctx.build.action,
    branch,
    cron: ctx.build.cron ?? '',
    event,
    instance: ctx.system.host,
    ref,
    repo: ctx.repo.slug,
    target: ctx.build.target ?? '',
  };
  if (ctx.changedFiles) input.paths = ctx.changedFiles;
  return input;
}

function isEmpty(condition: Condition): boolean {
  return condition.include.length === 0 && condition.exclude.length === 0;
}

function anyMatch(patterns: string[], value: string): boolean {
  for (const pattern of patterns) if (globMatch(pattern, value)) return true;
  return false;
}

/**
 * One value against one include/exclude pair. `field` names what is compared; Drone uses
 * the same glob rules for every field, so it only matters to callers and messages.
 */
export function conditionMatches(condition: Condition, value: string, _field?: ConditionField): boolean {
  if (anyMatch(condition.exclude, value)) return false;
  if (condition.include.length === 0) return true;
  return anyMatch(condition.include, value);
}

/** `paths`: unknown or no changed files pass; otherwise at least one file must pass. */
function pathsMatch(condition: Condition, files: string[] | undefined): boolean {
  if (isEmpty(condition) || !files || files.length === 0) return true;
  for (const file of files) if (conditionMatches(condition, file, 'paths')) return true;
  return false;
}

/** Fields compared against a single value, in the order Drone reports them. */
const SCALAR_FIELDS = ['branch', 'event', 'action', 'ref', 'repo', 'target', 'cron', 'instance'] as const;
type ScalarField = (typeof SCALAR_FIELDS)[number];

/** True when every field except `status` matches the build. */
export function conditionsMatch(conditions: Conditions, input: ConditionInput): boolean {
  for (const field of SCALAR_FIELDS) {
    const condition = conditions[field];
    if (isEmpty(condition)) continue;
    if (!conditionMatches(condition, input[field], field)) return false;
  }
  return pathsMatch(conditions.paths, input.paths);
}

/**
 * Whether a step with this `status` condition runs when the stage so far is `buildStatus`.
 * Drone's rule (drone-runner-docker `isRunAlways` / `isRunOnFailure`):
 *   - no status: run on success only;
 *   - matches both failure and success: always;
 *   - matches failure: on failure only;
 *   - anything else (`[success]`, `{exclude: [failure]}`, even an unknown word): on success only.
 */
export function statusMatches(status: Condition, buildStatus: 'success' | 'failure'): boolean {
  if (isEmpty(status)) return buildStatus === 'success';
  const onFailure = conditionMatches(status, 'failure', 'status');
  if (buildStatus === 'failure') return onFailure;
  return !onFailure || conditionMatches(status, 'success', 'status');
}

const LABELS: Record<ScalarField | 'paths', string> = {
  branch: 'branch',
  event: 'event',
  action: 'action',
  ref: 'ref',
  repo: 'repo',
  target: 'deploy target',
  cron: 'cron job',
  instance: 'instance',
  paths: 'paths',
};

function list(patterns: string[]): string {
  return `[${patterns.join(', ')}]`;
}

function shown(value: string): string {
  return value === '' ? '(empty)' : JSON.stringify(value);
}

/**
 * Why these conditions do not match the build, for people (`branch "dev" is not included
 * in [main]`); undefined when they match. Status is left to run time.
 */
export function skipReason(conditions: Conditions, input: ConditionInput): string | undefined {
  for (const field of SCALAR_FIELDS) {
    const condition = conditions[field];
    if (isEmpty(condition)) continue;
    const value = input[field];
    if (anyMatch(condition.exclude, value)) {
      return `${LABELS[field]} ${shown(value)} is excluded by ${list(condition.exclude)}`;
    }
    if (condition.include.length > 0 && !anyMatch(condition.include, value)) {
      return `${LABELS[field]} ${shown(value)} is not included in ${list(condition.include)}`;
    }
  }
  const paths = conditions.paths;
  if (!pathsMatch(paths, input.paths)) {
    const count = input.paths!.length;
    const files = count === 1 ? `the changed file ${JSON.stringify(input.paths![0])}` : `none of the ${count} changed files`;
    if (paths.include.length > 0) {
      const exclusion = paths.exclude.length > 0 ? ` (excluding ${list(paths.exclude)})` : '';
      return count === 1
        ? `${files} does not match paths ${list(paths.include)}${exclusion}`
        : `${files} matches paths ${list(paths.include)}${exclusion}`;
    }
    return count === 1
      ? `${files} is excluded by paths ${list(paths.exclude)}`
      : `all ${count} changed files are excluded by paths ${list(paths.exclude)}`;
  }
  return undefined;
}
