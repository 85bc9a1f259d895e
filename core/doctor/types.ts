// What `slipway doctor` reports: one result per check, each with what to fix when it is not ok.
// The checks are decisions over what the I/O observed (judge.ts); the CLI does the I/O.

export const CHECK_IDS = ['webhook-ping', 'git-host', 'run-task', 'fargate-quota', 'lambda-concurrency', 'agent-images', 'fork-pulls', 'docker-hub-cache', 'hello-build'] as const;
export type CheckId = (typeof CHECK_IDS)[number];

/**
 * `ok` works; `warn` works, but will hurt (a quota below what the settings promise);
 * `fail` does not work; `skipped` was not checked, and `detail` says why (never a silent ok).
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skipped';

export interface CheckResult {
  id: CheckId;
  /** What was checked, in a few words. */
  title: string;
  status: CheckStatus;
  /** What was observed. */
  detail: string;
  /** What to do about it (every warn and fail has one). */
  fix?: string;
}

export interface DoctorReport {
  /** True when no check failed (warnings and skips do not fail it). */
  ok: boolean;
  /** `aws` after `cdk deploy`, `local` against `slipway up`. */
  target: 'aws' | 'local';
  checks: CheckResult[];
}

export const CHECK_TITLES: Record<CheckId, string> = {
  'webhook-ping': 'the webhook answers a signed ping',
  'git-host': 'the planner reaches the Git host',
  'run-task': 'the autoscaler may run tasks in the cluster',
  'fargate-quota': "the account's Fargate vCPU quota",
  'lambda-concurrency': "the account's Lambda concurrency",
  'agent-images': 'the agent image exists for each architecture',
  'fork-pulls': "what forks' execution role may pull beside the agent",
  'docker-hub-cache': "Docker Hub images come through the account's pull-through cache",
  'hello-build': 'a hello-world build runs to success',
};

export function skipped(id: CheckId, why: string): CheckResult {
  return { id, title: CHECK_TITLES[id], status: 'skipped', detail: why };
}
