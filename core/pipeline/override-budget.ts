// RunTask's overrides hold at most 8192 characters for the whole task, and they carry the
// the build's per-run context: the agent receives the BuildContext as JSON (it writes the
// env file that step wrappers and plugin launchers source), and a plugin step whose image's
// command line is unknown (no launcher can start it: script.ts, pluginScript) receives the
// DRONE_* variables itself. Most of it is short and bounded (shas, refs, URLs); the free text a
// person writes is not: a commit message can be 100 KB.
//
// So when the overrides would not fit, the free-text fields are cut to the longest length
// that fits (the same cap for all of them), ending in TRUNCATION_MARKER. They are cut in
// the context itself, before anything is derived from it, so every consumer sees the same
// text: the agent's env file (DRONE_COMMIT_MESSAGE of script steps) is written from what
// the agent receives, and plugin steps get the same value. Drone passes the message
// through the environment too, so steps never had more than one env variable's worth.
// The full text stays in the build record, which does not travel through RunTask.

import type { BuildContext } from './context.js';
import { AGENT_ENV, type UpstreamState } from './contract.js';
import { MAX_OVERRIDE_CHARS, jsonChars } from './limits.js';
import { MAX_TIMEOUT_MINUTES } from './lint.js';

/** Ends a value that was cut to fit RunTask's overrides. */
export const TRUNCATION_MARKER = ' [… truncated by Slipway to fit RunTask overrides]';

/** Free-text fields of a BuildContext, by the name a person would recognise. */
type FreeText = 'commit message' | 'pull request title' | 'author name' | 'author email' | 'author login' | 'author avatar';

function freeText(ctx: BuildContext): Record<FreeText, string | undefined> {
  return {
    'commit message': ctx.commit.message,
    'pull request title': ctx.pullRequest?.title,
    'author name': ctx.commit.author.name,
    'author email': ctx.commit.author.email,
    'author login': ctx.commit.author.login,
    'author avatar': ctx.commit.author.avatar,
  };
}

/** `text` in at most `max` characters (UTF-16 units, as JSON counts them), marked when cut. */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  let keep = Math.max(0, max - TRUNCATION_MARKER.length);
  // Never split a surrogate pair: half a character would become U+FFFD downstream.
  if (keep > 0 && /[\uD800-\uDBFF]/.test(text[keep - 1]!)) keep -= 1;
  return `${text.slice(0, keep)}${TRUNCATION_MARKER}`;
}

/** The context with every free-text field cut to `max` characters. */
export function capFreeText(ctx: BuildContext, max: number): BuildContext {
  const cut = (s: string) => truncateText(s, max);
  const author = ctx.commit.author;
  return {
    ...ctx,
    commit: { ...ctx.commit, message: cut(ctx.commit.message), author: { login: cut(author.login), name: cut(author.name), email: cut(author.email), avatar: cut(author.avatar) } },
    ...(ctx.pullRequest ? { pullRequest: { ...ctx.pullRequest, title: cut(ctx.pullRequest.title) } } : {}),
  };
}

export interface Fitted {
  ctx: BuildContext;
  /** The fields that were cut, with their original length; empty when all fit. */
  truncated: { field: FreeText; from: number; to: number }[];
}

/**
 * The context whose overrides (`size` measures them) fit in `limit`: unchanged when they
 * fit, else with free text cut to the largest cap that fits. `size` must grow with the
 * text (it does: a longer prefix never serialises shorter). When even the shortest cap
 * does not fit, the shortest cap is returned and the caller reports what else is too big.
 */
export function fitFreeText(ctx: BuildContext, size: (ctx: BuildContext) => number, limit: number): Fitted {
  if (size(ctx) <= limit) return { ctx, truncated: [] };
  const lengths = Object.values(freeText(ctx)).map((v) => v?.length ?? 0);
  let low = TRUNCATION_MARKER.length; // the shortest cap: the marker alone
  let high = Math.max(low, ...lengths);
  // Largest cap in [low, high] whose size fits; `low` when none does.
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (size(capFreeText(ctx, mid)) <= limit) low = mid;
    else high = mid - 1;
  }
  const fitted = capFreeText(ctx, low);
  const before = freeText(ctx);
  const after = freeText(fitted);
  const truncated = (Object.keys(before) as FreeText[])
    .filter((field) => before[field] !== after[field])
    .map((field) => ({ field, from: before[field]!.length, to: after[field]!.length }));
  return { ctx: fitted, truncated };
}

/**
 * Characters of RunTask's overrides left free when a stage is compiled, for what the control
 * plane adds when it starts the stage: SLIPWAY_UPSTREAM (upstreamOverride), the failed stages
 * of the build known only then.
 */
export const UPSTREAM_RESERVE = 1024;

/**
 * The longest fork role ARN the room below is kept for: the stack's roles have no path
 * (`arn:<partition>:iam::<account>:role/<name>`), a role name is at most 64 characters
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html), and the
 * partition is given 16 (the longest today, `aws-us-gov`, has 10).
 */
export const MAX_FORK_ROLE_ARN_CHARS = 'arn:'.length + 16 + ':iam::'.length + 12 + ':role/'.length + 64;

/**
 * Characters kept in the overrides of a fork's stage for the role overrides the autoscaler adds
 * to them (TaskOverride.executionRoleArn and taskRoleArn, lambdas/autoscaler/start-stage.ts
 * runTaskInput): the members as JSON with the longest ARN each, and the comma before them. The
 * 8192 characters RunTask allows count the whole overrides structure
 * (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html, `overrides`),
 * so a fork's long commit message cut to fit at compile time would otherwise not fit at start.
 */
export const FORK_ROLE_RESERVE = JSON.stringify({ executionRoleArn: 'x'.repeat(MAX_FORK_ROLE_ARN_CHARS), taskRoleArn: 'x'.repeat(MAX_FORK_ROLE_ARN_CHARS) }).length - 2 + 1;

/** The longest textual IP address (RFC 4291 section 2.2, form 3). */
export const MAX_ADDRESS_CHARS = 45;

/**
 * Characters kept in the overrides of a segment whose services run in the service task, for
 * SLIPWAY_SERVICES_HOST (that task's private IP, known only once it runs): the entry as JSON
 * with the longest address it may carry (an IPv6 address with an IPv4 tail, 45 characters),
 * and the comma before it.
 */
export const SERVICES_HOST_RESERVE = JSON.stringify({ name: AGENT_ENV.servicesHost, value: 'x'.repeat(MAX_ADDRESS_CHARS) }).length + 1;

/**
 * The longest presigned snapshot URL the control plane may put into a segment's overrides
 * (adapters/s3/snapshot-urls.ts refuses to sign a longer one). Measured: an S3 URL signed
 * with long-term keys for the longest snapshot key (snapshotKey: fixed length) and a 63-character
 * bucket name is about 560 characters; one signed with temporary credentials carries
 * X-Amz-Security-Token and is over 1,500, which the URL's lifetime forbids anyway.
 */
export const SNAPSHOT_URL_MAX_CHARS = 1024;

/** The longest SLIPWAY_TIMEOUT_SECONDS value: the longest pipeline timeout (lint.ts) in seconds. */
const TIMEOUT_SECONDS_MAX_DIGITS = String(MAX_TIMEOUT_MINUTES * 60).length;

/**
 * Characters of RunTask's overrides a segment of a split stage keeps free, besides
 * UPSTREAM_RESERVE, for what the autoscaler adds when it starts that segment
 * (segmentEnvironment in lambdas/autoscaler/start-stage.ts): the GET URL of the previous
 * snapshot, the PUT URL of its own, and what is left of the pipeline's timeout. RunTask
 * allows 8192 characters of overrides, their JSON formatting included
 * (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html, `overrides`),
 * so without this room a long commit message that fits at compile time would make every
 * segment fail to start.
 */
export const SEGMENT_RESERVE =
  entryChars(AGENT_ENV.snapshotIn, SNAPSHOT_URL_MAX_CHARS) + entryChars(AGENT_ENV.snapshotOut, SNAPSHOT_URL_MAX_CHARS) + entryChars(AGENT_ENV.timeoutSeconds, TIMEOUT_SECONDS_MAX_DIGITS);

/**
 * Characters kept in the overrides of a segment whose services run in the service task, for
 * their address: SLIPWAY_SERVICES_HOST when the service task already runs, or, for a first
 * segment started together with it, the GET URL of the address its agent leaves
 * (SLIPWAY_SERVICES_ADDRESS_IN), which takes the place of the previous snapshot's URL that a
 * first segment never has (SEGMENT_RESERVE keeps room for that one).
 */
export const REMOTE_SERVICES_RESERVE = Math.max(
  SERVICES_HOST_RESERVE,
  entryChars(AGENT_ENV.servicesAddressIn, SNAPSHOT_URL_MAX_CHARS) - entryChars(AGENT_ENV.snapshotIn, SNAPSHOT_URL_MAX_CHARS),
);

/**
 * Characters of RunTask's overrides a service task keeps free, besides UPSTREAM_RESERVE: the
 * PUT URL at which its agent leaves its address (SLIPWAY_SERVICES_ADDRESS_OUT) and what is left
 * of the pipeline's timeout, which the autoscaler adds when it starts it (service-task.ts).
 */
export const SERVICE_TASK_RESERVE = entryChars(AGENT_ENV.servicesAddressOut, SNAPSHOT_URL_MAX_CHARS) + entryChars(AGENT_ENV.timeoutSeconds, TIMEOUT_SECONDS_MAX_DIGITS);

/** An environment entry's characters in the overrides' JSON, with its separating comma. */
function entryChars(name: string, valueChars: number): number {
  return JSON.stringify({ name, value: 'x'.repeat(valueChars) }).length + 1;
}

/**
 * The agent's SLIPWAY_UPSTREAM entry, at most UPSTREAM_RESERVE characters as JSON: failed
 * stage names that do not fit are left out, and the last name says how many.
 */
export function upstreamOverride(state: UpstreamState): { name: string; value: string } {
  const entry = (names: string[]) => ({
    name: AGENT_ENV.upstream,
    value: JSON.stringify({ failedStages: names, ...(state.buildStarted !== undefined ? { buildStarted: state.buildStarted } : {}) }),
  });
  const names = [...state.failedStages];
  for (let keep = names.length; keep >= 0; keep -= 1) {
    const shown = keep === names.length ? names : [...names.slice(0, keep), `(and ${names.length - keep} more)`];
    const candidate = entry(shown);
    if (JSON.stringify(candidate).length <= UPSTREAM_RESERVE) return candidate;
  }
  return entry([]);
}

/** The parts of RunTask's overrides the check below reads (TaskOverride, loosely typed: a stored job is data). */
interface OverridesShape {
  containerOverrides?: { name?: string; environment?: { name?: string; value?: string }[] }[];
  [member: string]: unknown;
}

/**
 * Why RunTask would refuse the overrides a stage is started with (`started`: the stored job's
 * `compiled` ones with what the control plane adds at start: the fork roles, SLIPWAY_UPSTREAM, a
 * segment's URLs), in words a user can act on; undefined when they fit. RunTask allows "a total of
 * 8192 characters" of overrides, "the JSON formatting characters of the override structure"
 * included (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html,
 * `overrides`). The compiler keeps room for each addition (the reserves above), so a stage over
 * it was compiled without room for one of them: a job queued before the upgrade that added it
 * (the fork task role's `taskRoleArn`, say). Its next start would be refused the same way, so
 * the stage is to end, not to be retried; compiled again (a restart, a push) it fits.
 */
export function startOverridesError(compiledOverrides: unknown, startedOverrides: unknown): string | undefined {
  const chars = jsonChars(startedOverrides ?? {});
  if (chars <= MAX_OVERRIDE_CHARS) return undefined;
  const [compiled, started] = [shapeOf(compiledOverrides), shapeOf(startedOverrides)];
  const added: string[] = [];
  for (const [member, value] of Object.entries(started)) {
    if (member === 'containerOverrides' || value === undefined || JSON.stringify(value) === JSON.stringify(compiled[member])) continue;
    added.push(`${member} (${jsonChars({ [member]: value }) - 2 + 1} characters)`);
  }
  const entries = (container: { environment?: unknown } | undefined) => (Array.isArray(container?.environment) ? (container.environment as { name?: string; value?: string }[]) : []);
  for (const container of started.containerOverrides ?? []) {
    const before = new Map(entries(compiled.containerOverrides?.find((c) => c.name === container.name)).map((e) => [e.name, e.value]));
    for (const entry of entries(container)) {
      if (before.get(entry.name) !== entry.value) added.push(`${container.name}'s ${entry.name} (${jsonChars(entry) + 1} characters)`);
    }
  }
  return (
    `its RunTask overrides would be ${chars} characters, over the ${MAX_OVERRIDE_CHARS} RunTask accepts (JSON formatting included): ` +
    `the stage was compiled to ${jsonChars(compiledOverrides ?? {})}, and its start adds ${added.length > 0 ? added.join(', ') : 'nothing it did not have'}. ` +
    'It was compiled without room for what its start adds (a job queued before an upgrade that added one of them, such as the task role of forks): ' +
    'restart the build or push again, so that it is compiled with room for it'
  );
}

function shapeOf(overrides: unknown): OverridesShape {
  if (typeof overrides !== 'object' || overrides === null) return {};
  const shape = overrides as OverridesShape;
  return Array.isArray(shape.containerOverrides) ? shape : { ...shape, containerOverrides: [] };
}
