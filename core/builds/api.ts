// The builds API's routes and response shapes: one definition for the API Lambda,
// the local server, the CLI and the dashboard. The OpenAPI document describes the same.

import { DEFAULT_CAPACITY, type CapacityPreference } from '../pipeline/capacity-preference.js';
import type { PhaseName, StagePhase } from './stage-timeline.js';
import { REPO_VISIBILITIES, repositoryUsesPullThroughCache, repositoryVisibility, type Build, type BuildDetail, type BuildStatus, type LogLine, type Repository, type RepoVisibility } from './types.js';

export const API_ROUTES = {
  repos: '/api/repos',
  repoActivate: '/api/repos/activate',
  repoRotateSecret: '/api/repos/rotate-secret',
  repoRemove: '/api/repos/remove',
  repoUpdate: '/api/repos/update',
  appSecret: '/api/app/github/secret',
  builds: '/api/builds',
  // The repository in the query (`?repo=group/sub/name`): any depth of GitLab groups, and
  // no encoded slash in the path, which proxies may decode or refuse.
  build: '/api/builds/{number}',
  logs: '/api/builds/{number}/logs/{stage}/{step}',
  cancel: '/api/builds/{number}/cancel',
  restart: '/api/builds/{number}/restart',
  // The first form, kept working: OWNER/NAME in the path (a nested name as one %2F-encoded segment).
  repoBuild: '/api/repos/{owner}/{name}/builds/{number}',
  repoLogs: '/api/repos/{owner}/{name}/builds/{number}/logs/{stage}/{step}',
  repoCancel: '/api/repos/{owner}/{name}/builds/{number}/cancel',
  repoRestart: '/api/repos/{owner}/{name}/builds/{number}/restart',
  metrics: '/api/metrics',
  openapi: '/api/openapi.json',
} as const;

/** GET /api/repos?limit=&cursor= — by name. */
export interface RepoListResponse {
  repos: Repository[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  next?: string;
}

/**
 * POST /api/repos/activate?repo=OWNER/NAME&host=github|gitea|gitlab&visibility=private|internal|public
 * and POST /api/repos/rotate-secret?repo=OWNER/NAME: the repository and its new webhook
 * secret, shown this once (the API cannot read it back).
 */
export interface RepoActivationResponse {
  repo: Repository;
  webhook: {
    host: string;
    /** Where the host sends the webhook; absent when the server does not know its public address. */
    url?: string;
    secret: string;
  };
}

/**
 * POST /api/app/github/secret with the JSON body `{"secret": "…"}`: stores the GitHub App's
 * webhook secret (the one typed into the App's settings); the answer never repeats it.
 */
export interface AppSecretRequest {
  secret: string;
}

export interface AppSecretResponse {
  app: 'github';
  /** Where the App's webhook points (its settings' Webhook URL); absent when the server does not know its public address. */
  webhookUrl?: string;
}

/** A repository setting `repo update` may change (RepositorySettingsPatch). */
export const REPO_SETTINGS = ['trusted', 'capacity', 'visibility', 'pullThroughCache'] as const;
export type RepoSetting = (typeof REPO_SETTINGS)[number];

/** A repository's settings as the planner reads them, each absent one as its default. */
export interface RepoSettings {
  visibility: RepoVisibility;
  trusted: boolean;
  capacity: CapacityPreference;
  pullThroughCache: boolean;
}

/**
 * What a setting left out of POST /api/repos/activate amounts to (lambdas/api/activation.ts):
 * private, not trusted, through the pull-through cache; no capacity is stored, so pipelines
 * run where the planner's default puts them.
 */
export const REPO_SETTING_DEFAULTS: Readonly<RepoSettings> = {
  visibility: REPO_VISIBILITIES[0],
  trusted: false,
  capacity: DEFAULT_CAPACITY,
  pullThroughCache: true,
};

/** A repository's settings, absent ones read as their defaults (records from before a setting existed have none). */
export function repoSettingsOf(repo: Repository): RepoSettings {
  return {
    visibility: repositoryVisibility(repo),
    trusted: repo.trusted === true,
    capacity: repo.capacity ?? REPO_SETTING_DEFAULTS.capacity,
    pullThroughCache: repositoryUsesPullThroughCache(repo),
  };
}

/** The settings of `chosen` that differ from `current`: what POST /api/repos/update is to change. */
export function changedSettings(current: RepoSettings, chosen: RepoSettings): Partial<RepoSettings> {
  const patch: Partial<RepoSettings> = {};
  for (const setting of REPO_SETTINGS) if (chosen[setting] !== current[setting]) Object.assign(patch, { [setting]: chosen[setting] });
  return patch;
}

/** The query of POST /api/repos/activate: each setting only where it differs from the default the API would apply. */
export function repoActivationQuery(repo: string, host: string, settings: Partial<RepoSettings>): URLSearchParams {
  const query = new URLSearchParams({ repo, host });
  return withSettings(query, changedSettings(REPO_SETTING_DEFAULTS, { ...REPO_SETTING_DEFAULTS, ...settings }));
}

/** The query of POST /api/repos/update: the settings given, and only those. */
export function repoUpdateQuery(repo: string, patch: Partial<RepoSettings>): URLSearchParams {
  return withSettings(new URLSearchParams({ repo }), patch);
}

function withSettings(query: URLSearchParams, settings: Partial<RepoSettings>): URLSearchParams {
  for (const setting of REPO_SETTINGS) {
    const value = settings[setting];
    if (value !== undefined) query.set(setting, String(value));
  }
  return query;
}

/**
 * POST /api/repos/update?repo=OWNER/NAME&trusted=true|false&capacity=warm|fargate&visibility=private|internal|public&pullThroughCache=true|false:
 * the repository after the change and, for each setting named, its value before and after
 * (`from` absent: it had none). Applies to builds planned from then on.
 */
export interface RepoUpdateResponse {
  repo: Repository;
  changes: { setting: RepoSetting; from?: boolean | string; to: boolean | string }[];
}

/** POST /api/repos/remove?repo=OWNER/NAME */
export interface RepoResponse {
  repo: Repository;
}

/** GET /api/builds?repo=&branch=&status=&limit=&cursor= — newest first. */
export interface BuildListQuery {
  repo?: string;
  branch?: string;
  status?: BuildStatus;
  limit?: number;
  cursor?: string;
}

export interface BuildListResponse {
  builds: Build[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  next?: string;
}

/** GET /api/builds/{number}?repo=OWNER/NAME (or the first form /api/repos/{owner}/{name}/builds/{number}) */
/** The build with, on each stage that ended, where its time went (stage-timeline.ts stagePhases). */
export type BuildDetailResponse = BuildDetail & { stages: (BuildDetail['stages'][number] & { phases?: StagePhase[] })[] };

/**
 * GET …/logs/{stage}/{step}?cursor=C (or ?offset=N: lines after line N, read from the head
 * of the log) — poll with the returned `cursor` while `complete` is false.
 */
export interface LogPageResponse {
  lines: LogLine[];
  /** The offset of the next line (its line number from 0). */
  next: number;
  /** Where the next request resumes: pass it as `cursor` (cheaper than `offset` for long logs). */
  cursor: string;
  /** More lines may be readable at once: ask again without waiting. */
  more: boolean;
  /** The step has finished and every line has been returned. */
  complete: boolean;
}

/** POST …/cancel and …/restart */
export interface BuildActionResponse {
  build: Build;
}

/** GET /api/metrics?days=N */
export interface MetricsResponse {
  days: number;
  /** The window: `days` whole UTC days up to now (epoch milliseconds). */
  from: number;
  to: number;
  /**
   * Set when the window held more builds than one request reads: only builds created at
   * or after this time (epoch milliseconds) were counted. Ask for fewer days.
   */
  countedFrom?: number;
  /**
   * `costUsd`: what the day's builds cost (those priced: see BuildCost). The cost fields are
   * absent in answers of servers older than cost: readers show nothing then, not $0.
   */
  perDay: { day: string; total: number; success: number; failure: number; other: number; costUsd?: number }[];
  repos: {
    repo: string;
    builds: number;
    successRate: number;
    /** Milliseconds. */
    queueWait: { p50: number; p95: number };
    /**
     * From the webhook's receipt to the first step's commands, per build (metrics.ts
     * pushToFirstStep), over the builds that recorded both; absent when none did (builds stored
     * before the receipt time was kept, servers older than it).
     */
    pushToFirstStep?: { p50: number; p95: number; count: number };
    duration: { p50: number; p95: number };
    /** What its builds cost, and how many of them carry a cost (the others ran nothing or predate cost). */
    costUsd?: number;
    pricedBuilds?: number;
    /**
     * Per phase of the stages that ended with a timeline (stage-timeline.ts), milliseconds.
     * Stage records alone: queued, provisioning, pulls, clone, services ready, teardown; with
     * the build's receipt time, control plane (stages that start with the build).
     */
    phases?: Partial<Record<PhaseName, { p50: number; p95: number; count: number }>>;
  }[];
  /** The window's builds' cost. */
  costUsd?: number;
}

/** Every error the API returns. */
export interface ApiError {
  error: string;
}

/**
 * The API path of one build (`rest`: `/logs/1/2`, `/cancel`, …) with the repository's full
 * name in the query, so GitLab's `group/sub/project` needs no slash encoded in the path.
 */
export function buildApiPath(repo: string, number: number, rest = '', params: Record<string, string> = {}): string {
  return `/api/builds/${number}${rest}?${new URLSearchParams({ repo, ...params })}`;
}
