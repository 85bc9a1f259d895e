// What Slipway takes from a Git host's webhook, whichever host sent it: one typed event
// that the webhook validates and enqueues and the planner turns into a BuildContext.

import type { BuildEvent, CommitInfo, PullRequestInfo, RepoInfo, ScmKind } from '../pipeline/context.js';
import type { SignedTime } from './event-time.js';

/** Hosts that send webhooks (`local` builds are started by the local control plane). */
export type HookHost = Exclude<ScmKind, 'local'>;

export const HOOK_HOSTS: readonly HookHost[] = ['github', 'gitea', 'gitlab'];

/** A change that can start a build: the pieces of a BuildContext the host knows. */
export interface BuildHook {
  kind: 'build';
  event: Extract<BuildEvent, 'push' | 'pull_request' | 'tag'>;
  /** Drone's action names: `opened`, `synchronized`, `reopened` for pull requests, `created` for tags. */
  action: string;
  repo: RepoInfo;
  commit: CommitInfo;
  pullRequest?: PullRequestInfo;
  tag?: string;
  /** Absent when the host did not say (then `paths` conditions match, as in Drone). */
  changedFiles?: string[];
  /** Login of who caused the event. */
  sender: string;
  /** When the host says the event happened, from a signed field set at the event (event-time.ts); absent when it sends none. */
  signedAt?: SignedTime;
}

/** The host checks the hook works; answered 200, recorded nowhere. */
export interface PingHook {
  kind: 'ping';
}

/** A well-formed event that starts nothing (a branch deletion, a label change, …). */
export interface IgnoredHook {
  kind: 'ignored';
  reason: string;
}

export type HookEvent = BuildHook | PingHook | IgnoredHook;

/** A correctly signed body that is not the event it claims to be: answered 400. */
export class MalformedHookError extends Error {
  constructor(host: HookHost, detail: string) {
    super(`webhook: malformed ${host} event: ${detail}`);
    this.name = 'MalformedHookError';
  }
}

/** The message the webhook puts on the events queue for the planner. */
export interface EventMessage {
  version: 1;
  deliveryId: string;
  /** `local`: a build local mode starts itself (`slipway up`'s demo, `slipway run`), planned in-process, never queued. */
  host: HookHost | 'local';
  /** Epoch milliseconds when the webhook accepted it (queue-wait metrics start here). */
  receivedAt: number;
  hook: BuildHook;
  /** A restart: the number of the build it restarts (the new build's `parent`). */
  parent?: number;
}

/**
 * Also on the events queue: a build the API finished itself (cancelled before any task
 * ran). The planner, which holds the Git host credentials, posts its final commit status.
 */
export interface BuildFinishedMessage {
  version: 1;
  kind: 'build-finished';
  buildId: string;
  /** Epoch milliseconds. */
  sentAt: number;
}

/** Anything the planner reads from the events queue. */
export type EventsQueueMessage = EventMessage | BuildFinishedMessage;

/** Commit status states Slipway posts; each host maps them to its own words. */
export type CommitState = 'pending' | 'running' | 'success' | 'failure' | 'error';

export interface CommitStatus {
  state: CommitState;
  /** `slipway/<pipeline>` for a stage, `continuous-integration/slipway` for the build. */
  context: string;
  description: string;
  targetUrl?: string;
}

export const BUILD_STATUS_CONTEXT = 'continuous-integration/slipway';
export const stageStatusContext = (pipeline: string): string => `slipway/${pipeline}`;

/** Credentials and API location of one host (from SCM_CREDENTIALS). */
export interface ScmCredentials {
  token?: string;
  /**
   * API base: `https://api.github.com` (GitHub's default), a Gitea/GitLab origin
   * (`https://git.example.com`; required for those two: never taken from a webhook).
   */
  apiUrl?: string;
  /**
   * Web origin the repositories live under: clone URLs are `<webUrl>/<owner>/<name>.git`.
   * GitHub: `https://github.com` unless set; Gitea/GitLab: the API origin unless set.
   */
  webUrl?: string;
}

/** The `fetch` of Node 20 (injected so tests and local mode choose the network). */
export type Fetch = typeof globalThis.fetch;

/** Enough of a repository to reach it through its host's API. */
export interface RepoRef {
  /** `owner/name` (GitLab: the full `group/subgroup/name` path). */
  slug: string;
  /** Web page of the repository; its origin is the API origin when none is configured. */
  link: string;
}

/** One HTTP request to a host's API, built by the host module and sent by fetch-config / post-status. */
export interface ApiRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * How often the events queue delivers a message before it moves it to its dead-letter
 * queue (the queue's maxReceiveCount, lib/queues.ts): the planner's last attempt turns a
 * passing failure (a registry that does not answer) into an error build instead.
 */
export const EVENTS_MAX_RECEIVES = 5;
