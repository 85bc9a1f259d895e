// A push event in GitHub's shape, which Gitea (and Forgejo) copy: one reading of it, with
// the few places the hosts differ named in a PushShape rather than written twice.

import type { RepoInfo } from '../pipeline/context.js';
import { readSignedTime } from './event-time.js';
import { type Json, type PayloadReader, ZERO_SHA, branchOf, changedFilesOf, tagOf } from './payload.js';
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

/** `repo` is read only once the push is known to build (a deleted branch is ignored whatever else it holds). */
export function parsePush(read: PayloadReader, payload: Json, repo: () => RepoInfo, shape: PushShape): HookEvent {
  const ref = read.string(payload, 'ref');
  const after = read.string(payload, 'after');
  if ((shape.deletedFlag && read.optionalBoolean(payload, 'deleted')) || ZERO_SHA.test(after)) {
    return { kind: 'ignored', reason: `${ref} was deleted` };
  }
  const isTag = ref.startsWith('refs/tags/');
  if (!isTag && !ref.startsWith('refs/heads/')) return { kind: 'ignored', reason: `push to ${ref} is neither a branch nor a tag` };
  const commits = read.array(payload, 'commits');
  const head = read.optionalObject(payload, 'head_commit') ?? (shape.headFromCommits ? (commits.at(-1) as Json | undefined) : undefined);
  const sender = read.optionalString(payload, 'sender.login') || read.optionalString(payload, shape.pusherKey);
  const before = read.optionalString(payload, 'before');
  const pusher = (field: string): string => (shape.authorFromPusher ? read.optionalString(payload, `pusher.${field}`) : '');
  const hook: BuildHook = {
    kind: 'build',
    event: isTag ? 'tag' : 'push',
    action: isTag ? 'created' : '',
    repo: repo(),
    commit: {
      sha: after,
      ref,
      branch: isTag ? tagOf(ref) : branchOf(ref),
      before: before && !ZERO_SHA.test(before) ? before : undefined,
      message: head ? read.optionalString(head, 'message') : '',
      link: read.optionalString(payload, shape.compareKey) || (head ? read.optionalString(head, 'url') : ''),
      author: {
        login: (head && read.optionalString(head, 'author.username')) || sender,
        name: head ? read.optionalString(head, 'author.name') : pusher('name'),
        email: head ? read.optionalString(head, 'author.email') : pusher('email'),
        avatar: read.optionalString(payload, 'sender.avatar_url'),
      },
    },
    sender,
  };
  if (shape.signedTimeKey) {
    const signedAt = readSignedTime(read, payload, shape.signedTimeKey);
    if (signedAt) hook.signedAt = signedAt;
  }
  if (isTag) hook.tag = tagOf(ref);
  else hook.changedFiles = changedFilesOf(read, commits);
  return hook;
}
