// Which refs to fetch and what to check out for one build, as pure data. Like Drone's
// git plugin: an empty repository, one fetch of the build's ref (shallow when asked),
// then a checkout of the exact commit, so the workspace holds what the status is posted on.

import type { BuildContext } from '../core/pipeline/context.js';
import type { CloneSettings } from '../core/pipeline/types.js';

export interface ClonePlan {
  /** `+<remote ref>:<local ref>`, or undefined when only the commit itself can be fetched. */
  refspec?: string;
  /** The commit to check out. */
  sha: string;
  /** Checkout arguments after `git checkout -q -f`. */
  checkout: string[];
  /** Fetch options shared by every fetch (depth, tags). */
  fetchOptions: string[];
  submodules: string[] | undefined;
}

/** The ref that holds the build's commit on the remote. */
export function remoteRef(ctx: BuildContext): string | undefined {
  const ref = ctx.commit.ref;
  if (ref !== '' && ref.startsWith('refs/')) return ref;
  if (ctx.tag) return `refs/tags/${ctx.tag}`;
  if (ctx.pullRequest) {
    return ctx.repo.scm === 'gitlab'
      ? `refs/merge-requests/${ctx.pullRequest.number}/head`
      : `refs/pull/${ctx.pullRequest.number}/head`;
  }
  if (ctx.commit.branch !== '') return `refs/heads/${ctx.commit.branch}`;
  return undefined;
}

/** Where the fetched ref is kept locally: branches as remote-tracking refs, the rest as is. */
function localRef(ref: string): string {
  const branch = /^refs\/heads\/(.+)$/.exec(ref);
  return branch ? `refs/remotes/origin/${branch[1]}` : ref;
}

export function clonePlan(ctx: BuildContext, clone: CloneSettings): ClonePlan {
  const ref = remoteRef(ctx);
  const fetchOptions: string[] = [];
  if (clone.depth !== undefined && clone.depth > 0) fetchOptions.push(`--depth=${clone.depth}`);
  fetchOptions.push(clone.tags ? '--tags' : '--no-tags');

  const sha = ctx.commit.sha;
  const branch = ref !== undefined ? /^refs\/heads\/(.+)$/.exec(ref)?.[1] : undefined;
  // A branch build checks out a local branch of that name (tools read `git branch`);
  // tags and pull requests stay on a detached head, as in Drone.
  const checkout = branch !== undefined ? ['-B', branch, sha] : [sha];

  const plan: ClonePlan = { sha, checkout, fetchOptions, submodules: undefined };
  if (ref !== undefined) plan.refspec = `+${ref}:${localRef(ref)}`;
  if (clone.submodules) {
    plan.submodules = ['submodule', 'update', '--init', '--recursive'];
    if (clone.depth !== undefined && clone.depth > 0) plan.submodules.push(`--depth=${clone.depth}`);
  }
  return plan;
}

/** A URL fit for a log line: credentials in it (`https://user:token@host`) are removed. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1');
}

/** Local paths and file:// URLs (local mode, tests) need git's file transport allowed for submodules. */
export function isLocalRemote(url: string): boolean {
  return url.startsWith('/') || url.startsWith('file://') || url.startsWith('.');
}
