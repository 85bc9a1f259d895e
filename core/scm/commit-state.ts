// What a build's status looks like on the Git host: the commit state and a short line.

import type { Build, BuildStatus } from '../builds/types.js';
import type { CommitState, CommitStatus } from './types.js';
import { BUILD_STATUS_CONTEXT } from './types.js';

/** A killed build and one that could not run are both an error to the host: neither passed nor failed on its merits. */
const STATES: Record<BuildStatus, CommitState> = {
  pending: 'pending',
  running: 'running',
  success: 'success',
  failure: 'failure',
  killed: 'error',
  error: 'error',
};

export function commitStateOf(status: BuildStatus): CommitState {
  return STATES[status];
}

const WORDS: Record<BuildStatus, string> = {
  pending: 'is pending',
  running: 'is running',
  success: 'succeeded',
  failure: 'failed',
  killed: 'was killed',
  error: 'could not run',
};

/** `https://ci.example.com/#/builds/owner/name/42` when a public URL is configured. */
export function buildLink(publicUrl: string | undefined, repo: string, number: number): string | undefined {
  if (!publicUrl) return undefined;
  return `${publicUrl.replace(/\/+$/, '')}/#/builds/${repo}/${number}`;
}

/** The build-wide commit status (`continuous-integration/slipway`). */
export function buildCommitStatus(build: Pick<Build, 'repo' | 'number' | 'status' | 'error'>, publicUrl?: string): CommitStatus {
  const description = build.error ? `Build #${build.number} ${WORDS[build.status]}: ${build.error}` : `Build #${build.number} ${WORDS[build.status]}`;
  return {
    state: commitStateOf(build.status),
    context: BUILD_STATUS_CONTEXT,
    description,
    targetUrl: buildLink(publicUrl, build.repo, build.number),
  };
}
