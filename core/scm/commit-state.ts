// What a build's status looks like on the Git host: the commit state and a short line.

import type { Build, BuildStatus } from '../builds/types.js';
import type { CommitState, CommitStatus } from './types.js';
import { BUILD_STATUS_CONTEXT } from './types.js';

export function commitStateOf(status: BuildStatus): CommitState {
  switch (status) {
    case 'pending':
      return 'pending';
    case 'running':
      return 'running';
    case 'success':
      return 'success';
    case 'failure':
      return 'failure';
    case 'killed':
    case 'error':
      return 'error';
  }
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
