// GitHub: webhook events (push, pull_request, ping; tags arrive as pushes of refs/tags/…)
// and the REST API requests for the pipeline file and commit statuses.

import type { HookEvent } from './types.js';
import { PayloadReader } from './payload.js';
import { parseGithubShapedEvent, type HookShape } from './github-shaped.js';
import type { HostApi } from './api-request.js';
import { encodePath } from './locate.js';

export { GITHUB_API } from './locate.js';

const read = new PayloadReader('github');

const SHAPE: HookShape = {
  repository: { ownerFallbackKey: 'owner.name', visibilityKey: 'visibility' },
  push: {
    deletedFlag: true,
    compareKey: 'compare',
    pusherKey: 'pusher.name',
    headFromCommits: false,
    authorFromPusher: true,
    // The push's own time (epoch seconds in push events), not the head commit's.
    signedTimeKey: 'repository.pushed_at',
  },
  pullRequest: {
    // A deleted fork has no head repository: treat it as a fork (no secrets).
    fork: (r, _payload, pr) => r.optionalString(pr, 'head.repo.full_name') !== r.string(pr, 'base.repo.full_name'),
    // Moved by each of the building actions (a synchronize sets it to the push's time).
    signedTimeKey: () => 'pull_request.updated_at',
  },
  ping: true,
};

/** `eventName` is the X-GitHub-Event header. */
export function parseGithubEvent(eventName: string, payload: unknown): HookEvent {
  return parseGithubShapedEvent(read, SHAPE, eventName, payload);
}

/** The headers of GitHub's REST API (https://docs.github.com/en/rest/about-the-rest-api/api-versions), with a token or an App's JWT. */
export function githubHeaders(bearer: string | undefined, accept = 'application/vnd.github+json'): Record<string, string> {
  const h: Record<string, string> = { accept, 'x-github-api-version': '2022-11-28', 'user-agent': 'slipway' };
  if (bearer) h.authorization = `Bearer ${bearer}`;
  return h;
}

export const GITHUB_HOST_API: HostApi = {
  host: 'github',
  // The file's own bytes, not the JSON envelope (fetch-config.ts still reads the envelope if a proxy drops this).
  headers: (token, purpose) => githubHeaders(token, purpose === 'config' ? 'application/vnd.github.raw+json' : 'application/vnd.github+json'),
  repoPath: (slug) => `/repos/${encodePath(slug)}`,
  filePath: (path) => `/contents/${encodePath(path)}`,
  // GitHub refuses descriptions over 140 characters.
  status: { states: { pending: 'pending', running: 'pending', success: 'success', failure: 'failure', error: 'error' }, nameField: 'context', maxDescription: 140 },
};
