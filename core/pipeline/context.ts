// What one build knows about the change that caused it. Conditions are evaluated
// against it, the DRONE_* environment is derived from it, and the agent receives it
// (as JSON) to clone the right commit.

export type BuildEvent = 'push' | 'pull_request' | 'tag' | 'promote' | 'rollback' | 'cron' | 'custom';

export type ScmKind = 'github' | 'gitea' | 'gitlab' | 'local';

export interface RepoInfo {
  /** `owner/name` */
  slug: string;
  owner: string;
  name: string;
  scm: ScmKind;
  /** Clone URL over HTTP(S) (or a local path / file:// URL in local mode). */
  httpUrl: string;
  sshUrl?: string;
  /** Web page of the repository. */
  link: string;
  defaultBranch: string;
  private: boolean;
  visibility: 'public' | 'private' | 'internal';
}

export interface CommitInfo {
  sha: string;
  /** `refs/heads/main`, `refs/tags/v1.0.0`, `refs/pull/7/head`, … */
  ref: string;
  branch: string;
  /** The commit before the push (`before` of a push event), if known. */
  before?: string;
  message: string;
  link: string;
  author: { login: string; name: string; email: string; avatar: string };
}

export interface PullRequestInfo {
  number: number;
  title: string;
  sourceBranch: string;
  targetBranch: string;
  /** From another repository: such builds get no secrets. */
  fork: boolean;
}

export interface BuildContext {
  repo: RepoInfo;
  commit: CommitInfo;
  build: {
    number: number;
    event: BuildEvent;
    /** e.g. `opened`, `synchronized`, `created` — empty when the event has none. */
    action: string;
    /** Unix seconds. */
    created: number;
    link: string;
    parent?: number;
    /** Who or what caused the build (`@hook`, a user login, `@cron`). */
    trigger: string;
    /** Deployment target for promote/rollback. */
    target?: string;
    /** The cron job's name for cron builds. */
    cron?: string;
  };
  pullRequest?: PullRequestInfo;
  /** The tag name for tag events. */
  tag?: string;
  /** Files changed by the push / pull request, for `paths` conditions; absent when unknown. */
  changedFiles?: string[];
  system: { host: string; proto: string; version: string };
}
