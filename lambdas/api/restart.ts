// Restarting a build: a new build of the same commit, planned by the planner exactly as a
// webhook's would be (pipeline file at the commit, triggers, compile, jobs). The message
// carries a fresh delivery id; the API waits until the planner has recorded the build for
// it, then marks the new build's parent. Deployed the message goes through the events
// queue (the API needs no Git host credentials); local mode plans it in-process.

import { randomUUID } from 'node:crypto';
import type { BuildStore, DeliveryStore, RepositoryStore } from '../../core/builds/ports.js';
import type { Build, Repository } from '../../core/builds/types.js';
import type { BuildHook, EventMessage } from '../../core/scm/types.js';
import { ApiFailure } from './http.js';

/** What became of a submitted message, when the submitter knows at once. */
export type SubmitResult = { buildId: string } | { skipped: string } | 'queued';

export interface RestartDeps {
  store: Pick<RepositoryStore, 'getRepository'> & Pick<DeliveryStore, 'buildForDelivery'> & Pick<BuildStore, 'updateBuild' | 'getBuild'>;
  submit(message: EventMessage): Promise<SubmitResult>;
  now(): number;
  /** How long to wait for a queued message's build (default 12 s: within the API Lambda's 15 s timeout). */
  waitMs?: number;
  pollMs?: number;
}

const RESTARTABLE = ['push', 'pull_request', 'tag'] as const;

/** The webhook event that would have produced `build`, rebuilt from what the table holds. */
export function hookOf(build: Build, repo: Repository): BuildHook {
  const event = build.event;
  if (!(RESTARTABLE as readonly string[]).includes(event)) {
    throw new ApiFailure(409, `build ${build.repo} #${build.number} came from a ${event} event; only push, pull_request and tag builds can be restarted`);
  }
  const [owner = '', ...rest] = repo.slug.split('/');
  const hook: BuildHook = {
    kind: 'build',
    event: event as BuildHook['event'],
    action: build.action,
    repo: {
      slug: repo.slug,
      owner,
      name: rest.join('/'),
      scm: repo.scm,
      httpUrl: repo.httpUrl,
      link: repo.link,
      defaultBranch: repo.defaultBranch,
      private: repo.private,
      visibility: repo.private ? 'private' : 'public',
    },
    commit: {
      sha: build.commit,
      ref: build.ref,
      branch: build.branch,
      message: build.message,
      link: build.link,
      author: { login: build.author, name: build.author, email: '', avatar: '' },
    },
    sender: build.author,
  };
  if (event === 'tag') hook.tag = build.ref.replace(/^refs\/tags\//, '');
  if (event === 'pull_request') {
    // What the planner stored from the webhook; builds recorded before it was stored fall back to the ref and message.
    const number = build.pullRequestNumber ?? Number(/\/(\d+)\/(head|merge)$/.exec(build.ref)?.[1] ?? 0);
    hook.pullRequest = {
      number,
      title: build.pullRequestTitle ?? build.message.split('\n')[0] ?? '',
      sourceBranch: build.sourceBranch ?? '',
      targetBranch: build.targetBranch ?? build.branch,
      fork: build.fork,
    };
  }
  return hook;
}

export async function restartBuild(deps: RestartDeps, build: Build): Promise<Build> {
  const repo = await deps.store.getRepository(build.repo);
  if (!repo) throw new ApiFailure(404, `repository ${build.repo} of build #${build.number} is not in the table`);
  const hook = hookOf(build, repo);
  const deliveryId = `restart-${build.id}-${randomUUID()}`;
  const host = repo.scm;
  // `parent` reaches the build context (DRONE_BUILD_PARENT) as well as the record.
  const submitted = await deps.submit({ version: 1, deliveryId, host, receivedAt: deps.now(), hook, parent: build.number });
  if (typeof submitted === 'object' && 'skipped' in submitted) {
    throw new ApiFailure(409, `nothing to build for ${build.repo} at ${build.commit.slice(0, 12)}: ${submitted.skipped}`);
  }
  let id = typeof submitted === 'object' ? submitted.buildId : null;
  const deadline = deps.now() + (deps.waitMs ?? 12_000);
  while (!id) {
    if (deps.now() > deadline) {
      throw new ApiFailure(504, `the restart of ${build.repo} #${build.number} was queued (delivery ${deliveryId}) but no build appeared in time; it may still start, or the planner skipped it (see its log)`);
    }
    await new Promise((r) => setTimeout(r, deps.pollMs ?? 250));
    id = await deps.store.buildForDelivery(deliveryId);
  }
  const next = (await deps.store.updateBuild(id, { parent: build.number })) ?? (await deps.store.getBuild(id));
  if (!next) throw new Error(`api: the planner recorded build ${id} for ${deliveryId}, but it does not exist`);
  return next;
}
