// GitLab: Push Hook, Tag Push Hook and Merge Request Hook; the API under /api/v4, with
// the URL-encoded project path standing in for the numeric project id.

import type { BuildHook, HookEvent } from './types.js';
import { PayloadReader, ZERO_SHA, branchOf, changedFilesOf, tagOf, type Json } from './payload.js';
import type { RepoInfo } from '../pipeline/context.js';
import type { HostApi } from './api-request.js';
import { readSignedTime } from './event-time.js';

const read = new PayloadReader('gitlab');

function repoInfo(project: Json): RepoInfo {
  const slug = read.string(project, 'path_with_namespace');
  // visibility_level: 0 private, 10 internal, 20 public.
  const level = typeof project.visibility_level === 'number' ? project.visibility_level : 20;
  const visibility = level === 0 ? 'private' : level === 10 ? 'internal' : 'public';
  return {
    slug,
    owner: slug.slice(0, slug.lastIndexOf('/')) || read.optionalString(project, 'namespace'),
    name: slug.slice(slug.lastIndexOf('/') + 1),
    scm: 'gitlab',
    httpUrl: read.optionalString(project, 'git_http_url') || read.string(project, 'http_url'),
    sshUrl: read.optionalString(project, 'git_ssh_url') || undefined,
    link: read.string(project, 'web_url'),
    defaultBranch: read.optionalString(project, 'default_branch', 'main'),
    private: visibility !== 'public',
    visibility,
  };
}

function push(payload: Json, isTag: boolean): HookEvent {
  const ref = read.string(payload, 'ref');
  const after = read.string(payload, 'after');
  if (ZERO_SHA.test(after)) return { kind: 'ignored', reason: `${ref} was deleted` };
  const sha = read.optionalString(payload, 'checkout_sha') || after;
  const commits = read.array(payload, 'commits');
  const head = (commits.find((c) => (c as Json)?.id === sha) ?? commits.at(-1)) as Json | undefined;
  const sender = read.optionalString(payload, 'user_username');
  const before = read.optionalString(payload, 'before');
  const hook: BuildHook = {
    kind: 'build',
    event: isTag ? 'tag' : 'push',
    action: isTag ? 'created' : '',
    repo: repoInfo(read.object(payload, 'project')),
    commit: {
      sha,
      ref,
      branch: isTag ? tagOf(ref) : branchOf(ref),
      before: before && !ZERO_SHA.test(before) ? before : undefined,
      message: head ? read.optionalString(head, 'message') : read.optionalString(payload, 'message'),
      link: head ? read.optionalString(head, 'url') : '',
      author: {
        login: sender,
        name: head ? read.optionalString(head, 'author.name') : read.optionalString(payload, 'user_name'),
        email: head ? read.optionalString(head, 'author.email') : read.optionalString(payload, 'user_email'),
        avatar: read.optionalString(payload, 'user_avatar'),
      },
    },
    sender,
  };
  if (isTag) hook.tag = tagOf(ref);
  else hook.changedFiles = changedFilesOf(read, commits);
  return hook;
}

function mergeRequest(payload: Json): HookEvent {
  const attrs = read.object(payload, 'object_attributes');
  const rawAction = read.optionalString(attrs, 'action');
  // `update` without `oldrev` is an edit of the title, labels, …: no new commits.
  let action: string | null = null;
  if (rawAction === 'open') action = 'opened';
  else if (rawAction === 'reopen') action = 'reopened';
  else if (rawAction === 'update' && read.optionalString(attrs, 'oldrev')) action = 'synchronized';
  if (!action) return { kind: 'ignored', reason: `merge request action ${rawAction || '(none)'} does not build` };
  const iid = read.number(attrs, 'iid');
  const targetBranch = read.string(attrs, 'target_branch');
  const user = read.optionalString(payload, 'user.username');
  const fork = read.number(attrs, 'source_project_id') !== read.number(attrs, 'target_project_id');
  const last = read.object(attrs, 'last_commit');
  // Set at an opening and a reopening; whether a push moves it is not documented.
  const signedAt = action === 'synchronized' ? undefined : readSignedTime(read, payload, 'object_attributes.updated_at');
  return {
    kind: 'build',
    event: 'pull_request',
    action,
    repo: repoInfo(read.object(payload, 'project')),
    commit: {
      sha: read.string(last, 'id'),
      ref: `refs/merge-requests/${iid}/head`,
      branch: targetBranch,
      message: read.optionalString(attrs, 'title'),
      link: read.optionalString(attrs, 'url'),
      author: {
        login: user,
        name: read.optionalString(last, 'author.name'),
        email: read.optionalString(last, 'author.email'),
        avatar: read.optionalString(payload, 'user.avatar_url'),
      },
    },
    pullRequest: {
      number: iid,
      title: read.optionalString(attrs, 'title'),
      sourceBranch: read.string(attrs, 'source_branch'),
      targetBranch,
      fork,
    },
    sender: user,
    ...(signedAt ? { signedAt } : {}),
  };
}

/** `eventName` is the X-Gitlab-Event header (`Push Hook`, `Tag Push Hook`, `Merge Request Hook`). */
export function parseGitlabEvent(eventName: string, payload: unknown): HookEvent {
  const body = read.object(payload, '');
  switch (eventName) {
    case 'Push Hook':
      return push(body, false);
    case 'Tag Push Hook':
      return push(body, true);
    case 'Merge Request Hook':
      return mergeRequest(body);
    default:
      return { kind: 'ignored', reason: `event ${eventName || '(none)'} does not build` };
  }
}

export const GITLAB_HOST_API: HostApi = {
  host: 'gitlab',
  headers: (token) => ({ 'user-agent': 'slipway', ...(token ? { 'private-token': token } : {}) }),
  // The URL-encoded full path stands in for the numeric project id, slashes and all.
  repoPath: (slug) => `/projects/${encodeURIComponent(slug)}`,
  filePath: (path) => `/repository/files/${encodeURIComponent(path)}/raw`,
  status: { states: { pending: 'pending', running: 'running', success: 'success', failure: 'failed', error: 'failed' }, nameField: 'name', maxDescription: 255 },
};
