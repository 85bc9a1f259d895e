// Gitea (and Forgejo): webhook events shaped like GitHub's, an API under /api/v1.

import type { ApiRequest, CommitStatus, HookEvent, RepoRef, ScmCredentials } from './types.js';
import { PayloadReader, pullRequestAction, type Json } from './payload.js';
import type { RepoInfo } from '../pipeline/context.js';
import { encodePath, truncate } from './api-request.js';
import { apiBaseOf } from './locate.js';
import { readSignedTime } from './event-time.js';
import { parsePush } from './push-payload.js';

const read = new PayloadReader('gitea');

function repoInfo(payload: Json): RepoInfo {
  const r = read.object(payload, 'repository');
  const isPrivate = read.optionalBoolean(r, 'private');
  return {
    slug: read.string(r, 'full_name'),
    owner: read.optionalString(r, 'owner.login') || read.string(r, 'owner.username'),
    name: read.string(r, 'name'),
    scm: 'gitea',
    httpUrl: read.string(r, 'clone_url'),
    sshUrl: read.optionalString(r, 'ssh_url') || undefined,
    link: read.string(r, 'html_url'),
    defaultBranch: read.optionalString(r, 'default_branch', 'main'),
    private: isPrivate,
    visibility: isPrivate ? 'private' : 'public',
  };
}

function push(payload: Json): HookEvent {
  return parsePush(read, payload, () => repoInfo(payload), {
    deletedFlag: false,
    compareKey: 'compare_url',
    pusherKey: 'pusher.login',
    headFromCommits: true,
    authorFromPusher: false,
  });
}

function pullRequest(payload: Json): HookEvent {
  const rawAction = read.string(payload, 'action');
  const action = pullRequestAction(rawAction);
  if (!action) return { kind: 'ignored', reason: `pull request action ${rawAction} does not build` };
  const pr = read.object(payload, 'pull_request');
  const number = read.number(pr, 'number');
  const targetBranch = read.string(pr, 'base.ref');
  const user = read.optionalString(pr, 'user.login') || read.optionalString(payload, 'sender.login');
  const headRepoId = (pr.head as Json | undefined)?.repo_id;
  const baseRepoId = (pr.base as Json | undefined)?.repo_id;
  const headRepo = read.optionalString(pr, 'head.repo.full_name');
  const baseRepo = read.optionalString(pr, 'base.repo.full_name') || read.string(payload, 'repository.full_name');
  const fork = headRepoId !== undefined && baseRepoId !== undefined ? headRepoId !== baseRepoId : headRepo !== baseRepo;
  // Only an opening is sure to carry its own time: Gitea builds its payloads before it moves
  // `updated_at` (services/repository/push.go), so other actions' times may be older.
  const signedAt = action === 'opened' ? readSignedTime(read, payload, 'pull_request.created_at') : undefined;
  return {
    kind: 'build',
    event: 'pull_request',
    action,
    repo: repoInfo(payload),
    commit: {
      sha: read.string(pr, 'head.sha'),
      ref: `refs/pull/${number}/head`,
      branch: targetBranch,
      message: read.optionalString(pr, 'title'),
      link: read.optionalString(pr, 'html_url'),
      author: { login: user, name: user, email: read.optionalString(pr, 'user.email'), avatar: read.optionalString(pr, 'user.avatar_url') },
    },
    pullRequest: { number, title: read.optionalString(pr, 'title'), sourceBranch: read.string(pr, 'head.ref'), targetBranch, fork },
    sender: read.optionalString(payload, 'sender.login') || user,
    ...(signedAt ? { signedAt } : {}),
  };
}

/** `eventName` is the X-Gitea-Event header. */
export function parseGiteaEvent(eventName: string, payload: unknown): HookEvent {
  const body = read.object(payload, '');
  switch (eventName) {
    case 'push':
      return push(body);
    case 'pull_request':
      return pullRequest(body);
    case 'create':
      return { kind: 'ignored', reason: 'create events are built from their push' };
    default:
      return { kind: 'ignored', reason: `event ${eventName || '(none)'} does not build` };
  }
}

// From configuration only: a webhook's URLs never choose where the token goes.
const base = (creds: ScmCredentials, _repo: RepoRef): string => apiBaseOf('gitea', creds);

function headers(creds: ScmCredentials): Record<string, string> {
  const h: Record<string, string> = { 'user-agent': 'slipway' };
  if (creds.token) h.authorization = `token ${creds.token}`;
  return h;
}

export function giteaConfigRequest(creds: ScmCredentials, repo: RepoRef, path: string, sha: string): ApiRequest {
  return {
    method: 'GET',
    url: `${base(creds, repo)}/repos/${encodePath(repo.slug)}/raw/${encodePath(path)}?ref=${encodeURIComponent(sha)}`,
    headers: headers(creds),
  };
}

const GITEA_STATES = { pending: 'pending', running: 'pending', success: 'success', failure: 'failure', error: 'error' } as const;

export function giteaStatusRequest(creds: ScmCredentials, repo: RepoRef, sha: string, status: CommitStatus): ApiRequest {
  return {
    method: 'POST',
    url: `${base(creds, repo)}/repos/${encodePath(repo.slug)}/statuses/${encodeURIComponent(sha)}`,
    headers: { ...headers(creds), 'content-type': 'application/json' },
    body: JSON.stringify({
      state: GITEA_STATES[status.state],
      context: status.context,
      description: truncate(status.description, 255),
      ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
    }),
  };
}
