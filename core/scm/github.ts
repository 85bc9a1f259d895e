// GitHub: webhook events (push, pull_request, ping; tags arrive as pushes of refs/tags/…)
// and the REST API requests for the pipeline file and commit statuses.

import type { HookEvent, ScmCredentials, RepoRef, ApiRequest, CommitStatus } from './types.js';
import { PayloadReader, pullRequestAction, type Json } from './payload.js';
import type { RepoInfo } from '../pipeline/context.js';
import { encodePath, truncate } from './api-request.js';
import { apiBaseOf } from './locate.js';
import { readSignedTime } from './event-time.js';
import { parsePush } from './push-payload.js';

const read = new PayloadReader('github');
export { GITHUB_API } from './locate.js';

function repoInfo(payload: Json): RepoInfo {
  const r = read.object(payload, 'repository');
  const isPrivate = read.optionalBoolean(r, 'private');
  const visibility = read.optionalString(r, 'visibility', isPrivate ? 'private' : 'public');
  return {
    slug: read.string(r, 'full_name'),
    owner: read.optionalString(r, 'owner.login') || read.string(r, 'owner.name'),
    name: read.string(r, 'name'),
    scm: 'github',
    httpUrl: read.string(r, 'clone_url'),
    sshUrl: read.optionalString(r, 'ssh_url') || undefined,
    link: read.string(r, 'html_url'),
    defaultBranch: read.optionalString(r, 'default_branch', 'main'),
    private: isPrivate,
    visibility: visibility === 'internal' ? 'internal' : visibility === 'private' ? 'private' : 'public',
  };
}

function push(payload: Json): HookEvent {
  return parsePush(read, payload, () => repoInfo(payload), {
    deletedFlag: true,
    compareKey: 'compare',
    pusherKey: 'pusher.name',
    headFromCommits: false,
    authorFromPusher: true,
    // The push's own time (epoch seconds in push events), not the head commit's.
    signedTimeKey: 'repository.pushed_at',
  });
}

function pullRequest(payload: Json): HookEvent {
  const rawAction = read.string(payload, 'action');
  const action = pullRequestAction(rawAction);
  if (!action) return { kind: 'ignored', reason: `pull request action ${rawAction} does not build` };
  const pr = read.object(payload, 'pull_request');
  const number = read.number(pr, 'number');
  const baseRepo = read.string(pr, 'base.repo.full_name');
  // A deleted fork has no head repository: treat it as a fork (no secrets).
  const headRepo = read.optionalString(pr, 'head.repo.full_name');
  const targetBranch = read.string(pr, 'base.ref');
  const user = read.optionalString(pr, 'user.login') || read.optionalString(payload, 'sender.login');
  // Moved by each of the building actions (a synchronize sets it to the push's time).
  const signedAt = readSignedTime(read, payload, 'pull_request.updated_at');
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
      author: { login: user, name: user, email: '', avatar: read.optionalString(pr, 'user.avatar_url') },
    },
    pullRequest: {
      number,
      title: read.optionalString(pr, 'title'),
      sourceBranch: read.string(pr, 'head.ref'),
      targetBranch,
      fork: headRepo !== baseRepo,
    },
    sender: read.optionalString(payload, 'sender.login') || user,
    ...(signedAt ? { signedAt } : {}),
  };
}

/** `eventName` is the X-GitHub-Event header. */
export function parseGithubEvent(eventName: string, payload: unknown): HookEvent {
  const body = read.object(payload, '');
  switch (eventName) {
    case 'ping':
      return { kind: 'ping' };
    case 'push':
      return push(body);
    case 'pull_request':
      return pullRequest(body);
    case 'create':
      // Tags are built from the push of refs/tags/… that GitHub sends alongside.
      return { kind: 'ignored', reason: 'create events are built from their push' };
    default:
      return { kind: 'ignored', reason: `event ${eventName || '(none)'} does not build` };
  }
}

function headers(creds: ScmCredentials, accept: string): Record<string, string> {
  const h: Record<string, string> = { accept, 'x-github-api-version': '2022-11-28', 'user-agent': 'slipway' };
  if (creds.token) h.authorization = `Bearer ${creds.token}`;
  return h;
}

const base = (creds: ScmCredentials): string => apiBaseOf('github', creds);

export function githubConfigRequest(creds: ScmCredentials, repo: RepoRef, path: string, sha: string): ApiRequest {
  return {
    method: 'GET',
    url: `${base(creds)}/repos/${encodePath(repo.slug)}/contents/${encodePath(path)}?ref=${encodeURIComponent(sha)}`,
    headers: headers(creds, 'application/vnd.github.raw+json'),
  };
}

const GITHUB_STATES = { pending: 'pending', running: 'pending', success: 'success', failure: 'failure', error: 'error' } as const;

export function githubStatusRequest(creds: ScmCredentials, repo: RepoRef, sha: string, status: CommitStatus): ApiRequest {
  return {
    method: 'POST',
    url: `${base(creds)}/repos/${encodePath(repo.slug)}/statuses/${encodeURIComponent(sha)}`,
    headers: { ...headers(creds, 'application/vnd.github+json'), 'content-type': 'application/json' },
    body: JSON.stringify({
      state: GITHUB_STATES[status.state],
      context: status.context,
      // GitHub refuses descriptions over 140 characters.
      description: truncate(status.description, 140),
      ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
    }),
  };
}
