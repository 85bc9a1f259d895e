// Gitea (and Forgejo): webhook events shaped like GitHub's, an API under /api/v1 shaped like
// GitHub's too; what differs is named here.

import type { HookEvent } from './types.js';
import { PayloadReader } from './payload.js';
import { parseGithubShapedEvent, type HookShape } from './github-shaped.js';
import type { HostApi } from './api-request.js';
import { encodePath } from './locate.js';

const read = new PayloadReader('gitea');

const SHAPE: HookShape = {
  repository: { ownerFallbackKey: 'owner.username' },
  push: {
    deletedFlag: false,
    compareKey: 'compare_url',
    pusherKey: 'pusher.login',
    headFromCommits: true,
    authorFromPusher: false,
  },
  pullRequest: {
    // The head and base `repo_id` when it sends them, else the repositories' names.
    fork: (r, payload, pr) => {
      const headRepo = r.optionalString(pr, 'head.repo.full_name');
      const baseRepo = r.optionalString(pr, 'base.repo.full_name') || r.string(payload, 'repository.full_name');
      const headRepoId = (pr.head as Record<string, unknown> | undefined)?.repo_id;
      const baseRepoId = (pr.base as Record<string, unknown> | undefined)?.repo_id;
      return headRepoId !== undefined && baseRepoId !== undefined ? headRepoId !== baseRepoId : headRepo !== baseRepo;
    },
    authorEmailKey: 'user.email',
    // Only an opening is sure to carry its own time: Gitea builds its payloads before it moves
    // `updated_at` (services/repository/push.go), so other actions' times may be older.
    signedTimeKey: (action) => (action === 'opened' ? 'pull_request.created_at' : undefined),
  },
  ping: false,
};

/** `eventName` is the X-Gitea-Event header. */
export function parseGiteaEvent(eventName: string, payload: unknown): HookEvent {
  return parseGithubShapedEvent(read, SHAPE, eventName, payload);
}

export const GITEA_HOST_API: HostApi = {
  host: 'gitea',
  headers: (token) => ({ 'user-agent': 'slipway', ...(token ? { authorization: `token ${token}` } : {}) }),
  repoPath: (slug) => `/repos/${encodePath(slug)}`,
  filePath: (path) => `/raw/${encodePath(path)}`,
  status: { states: { pending: 'pending', running: 'pending', success: 'success', failure: 'failure', error: 'error' }, nameField: 'context', maxDescription: 255 },
};
