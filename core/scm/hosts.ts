// The Git hosts Slipway takes webhooks from, each by its module: one table, so reading an
// event, fetching the pipeline file and posting a status choose the host in one place.

import type { HostApi } from './api-request.js';
import { GITEA_HOST_API, parseGiteaEvent } from './gitea.js';
import { GITHUB_HOST_API, parseGithubEvent } from './github.js';
import { GITLAB_HOST_API, parseGitlabEvent } from './gitlab.js';
import type { HookEvent, HookHost } from './types.js';

export interface ScmHost {
  /** Reads a verified webhook's JSON body; `eventName` is the value of the host's event header. */
  parseEvent(eventName: string, payload: unknown): HookEvent;
  /** Where the host's API differs from the others' (api-request.ts builds the requests). */
  api: HostApi;
}

export const SCM_HOSTS: Readonly<Record<HookHost, ScmHost>> = {
  github: { parseEvent: parseGithubEvent, api: GITHUB_HOST_API },
  gitea: { parseEvent: parseGiteaEvent, api: GITEA_HOST_API },
  gitlab: { parseEvent: parseGitlabEvent, api: GITLAB_HOST_API },
};
