// Webhook events in GitHub's shape, which Gitea (and Forgejo) copy: one reading of the
// repository, the push and the pull request, with the places where the hosts really differ
// named in a HookShape rather than written twice. The recorded payloads of both hosts
// (test/fixtures/scm/events.json) show what each reads to.

import type { PullRequestInfo, RepoInfo } from '../pipeline/context.js';
import { readSignedTime } from './event-time.js';
import { type Json, PayloadReader, ZERO_SHA, branchOf, changedFilesOf, pullRequestAction, tagOf } from './payload.js';
import type { BuildHook, HookEvent } from './types.js';

export interface PushShape {
  /** GitHub also says `deleted: true`; Gitea only zeroes `after`. */
  deletedFlag: boolean;
  /** The compare link: GitHub `compare`, Gitea `compare_url`. */
  compareKey: string;
  /** Who pushed when there is no `sender.login`: GitHub `pusher.name`, Gitea `pusher.login`. */
  pusherKey: string;
  /** Gitea may leave `head_commit` out; its last commit is the head then. */
  headFromCommits: boolean;
  /** Without a head commit, GitHub's `pusher` names the author (`pusher.name`, `pusher.email`). */
  authorFromPusher: boolean;
  /** Where the host signs the push's own time (core/scm/event-time.ts), if it does. */
  signedTimeKey?: string;
}

export interface RepositoryShape {
  /** The owner's name when `owner.login` is absent: GitHub `owner.name`, Gitea `owner.username`. */
  ownerFallbackKey: string;
  /** GitHub says `visibility` (`public`, `private`, `internal`); Gitea only `private`. */
  visibilityKey?: string;
}

export interface PullRequestShape {
  /**
   * Whether the pull request comes from another repository. GitHub: the head repository's
   * name differs from the base's (a deleted fork has none: a fork). Gitea: the head and
   * base `repo_id` differ, or the names when it sends no ids.
   */
  fork(read: PayloadReader, payload: Json, pr: Json): boolean;
  /** The author's e-mail: Gitea's `pull_request.user` has one, GitHub's never does. */
  authorEmailKey?: string;
  /** The signed field that holds the event's own time for `action` (core/scm/event-time.ts), if any. */
  signedTimeKey(action: 'opened' | 'synchronized' | 'reopened'): string | undefined;
}

export interface HookShape {
  repository: RepositoryShape;
  push: PushShape;
  pullRequest: PullRequestShape;
  /** GitHub sends `ping` when a hook is made; Gitea has no such event. */
  ping: boolean;
}

function repository(read: PayloadReader, payload: Json, shape: RepositoryShape): RepoInfo {
  const r = read.object(payload, 'repository');
  const isPrivate = read.optionalBoolean(r, 'private');
  const visibility = shape.visibilityKey ? read.optionalString(r, shape.visibilityKey, isPrivate ? 'private' : 'public') : isPrivate ? 'private' : 'public';
  return {
    slug: read.string(r, 'full_name'),
    owner: read.optionalString(r, 'owner.login') || read.string(r, shape.ownerFallbackKey),
    name: read.string(r, 'name'),
    scm: read.host,
    httpUrl: read.string(r, 'clone_url'),
    sshUrl: read.optionalString(r, 'ssh_url') || undefined,
    link: read.string(r, 'html_url'),
    defaultBranch: read.optionalString(r, 'default_branch', 'main'),
    private: isPrivate,
    visibility: visibility === 'internal' ? 'internal' : visibility === 'private' ? 'private' : 'public',
  };
}

/** The repository is read only once the push is known to build (a deleted branch is ignored whatever else it holds). */
function push(read: PayloadReader, payload: Json, shape: HookShape): HookEvent {
  const { push: p } = shape;
  const ref = read.string(payload, 'ref');
  const after = read.string(payload, 'after');
  if ((p.deletedFlag && read.optionalBoolean(payload, 'deleted')) || ZERO_SHA.test(after)) {
    return { kind: 'ignored', reason: `${ref} was deleted` };
  }
  const isTag = ref.startsWith('refs/tags/');
  if (!isTag && !ref.startsWith('refs/heads/')) return { kind: 'ignored', reason: `push to ${ref} is neither a branch nor a tag` };
  const commits = read.array(payload, 'commits');
  const head = read.optionalObject(payload, 'head_commit') ?? (p.headFromCommits ? (commits.at(-1) as Json | undefined) : undefined);
  const sender = read.optionalString(payload, 'sender.login') || read.optionalString(payload, p.pusherKey);
  const before = read.optionalString(payload, 'before');
  const pusher = (field: string): string => (p.authorFromPusher ? read.optionalString(payload, `pusher.${field}`) : '');
  const hook: BuildHook = {
    kind: 'build',
    event: isTag ? 'tag' : 'push',
    action: isTag ? 'created' : '',
    repo: repository(read, payload, shape.repository),
    commit: {
      sha: after,
      ref,
      branch: isTag ? tagOf(ref) : branchOf(ref),
      before: before && !ZERO_SHA.test(before) ? before : undefined,
      message: head ? read.optionalString(head, 'message') : '',
      link: read.optionalString(payload, p.compareKey) || (head ? read.optionalString(head, 'url') : ''),
      author: {
        login: (head && read.optionalString(head, 'author.username')) || sender,
        name: head ? read.optionalString(head, 'author.name') : pusher('name'),
        email: head ? read.optionalString(head, 'author.email') : pusher('email'),
        avatar: read.optionalString(payload, 'sender.avatar_url'),
      },
    },
    sender,
  };
  if (p.signedTimeKey) {
    const signedAt = readSignedTime(read, payload, p.signedTimeKey);
    if (signedAt) hook.signedAt = signedAt;
  }
  if (isTag) hook.tag = tagOf(ref);
  else hook.changedFiles = changedFilesOf(read, commits);
  return hook;
}

function pullRequest(read: PayloadReader, payload: Json, shape: HookShape): HookEvent {
  const rawAction = read.string(payload, 'action');
  const action = pullRequestAction(rawAction);
  if (!action) return { kind: 'ignored', reason: `pull request action ${rawAction} does not build` };
  const pr = read.object(payload, 'pull_request');
  const number = read.number(pr, 'number');
  const targetBranch = read.string(pr, 'base.ref');
  const user = read.optionalString(pr, 'user.login') || read.optionalString(payload, 'sender.login');
  const { authorEmailKey } = shape.pullRequest;
  const pullRequest: PullRequestInfo = {
    number,
    title: read.optionalString(pr, 'title'),
    sourceBranch: read.string(pr, 'head.ref'),
    targetBranch,
    fork: shape.pullRequest.fork(read, payload, pr),
  };
  const signedTimeKey = shape.pullRequest.signedTimeKey(action);
  const signedAt = signedTimeKey ? readSignedTime(read, payload, signedTimeKey) : undefined;
  return {
    kind: 'build',
    event: 'pull_request',
    action,
    repo: repository(read, payload, shape.repository),
    commit: {
      sha: read.string(pr, 'head.sha'),
      ref: `refs/pull/${number}/head`,
      branch: targetBranch,
      message: pullRequest.title,
      link: read.optionalString(pr, 'html_url'),
      author: {
        login: user,
        name: user,
        email: authorEmailKey ? read.optionalString(pr, authorEmailKey) : '',
        avatar: read.optionalString(pr, 'user.avatar_url'),
      },
    },
    pullRequest,
    sender: read.optionalString(payload, 'sender.login') || user,
    ...(signedAt ? { signedAt } : {}),
  };
}

/** `eventName` is the host's event header (X-GitHub-Event, X-Gitea-Event). */
export function parseGithubShapedEvent(read: PayloadReader, shape: HookShape, eventName: string, payload: unknown): HookEvent {
  const body = read.object(payload, '');
  switch (eventName) {
    case 'push':
      return push(read, body, shape);
    case 'pull_request':
      return pullRequest(read, body, shape);
    case 'create':
      // Tags are built from the push of refs/tags/… that the host sends alongside.
      return { kind: 'ignored', reason: 'create events are built from their push' };
    case 'ping':
      if (shape.ping) return { kind: 'ping' };
  }
  return { kind: 'ignored', reason: `event ${eventName || '(none)'} does not build` };
}
