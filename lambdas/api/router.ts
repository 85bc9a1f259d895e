// The builds API as a function of (request, dependencies) → response: the same code answers
// behind the Lambda function URL (handler.ts) and in the local server (local/server.ts).
// Routes and shapes: core/builds/api.ts; the OpenAPI document: core/builds/openapi.ts.

import type {
  AppSecretResponse,
  BuildActionResponse,
  BuildDetailResponse,
  BuildListResponse,
  LogPageResponse,
  MetricsResponse,
  RepoActivationResponse,
  RepoListResponse,
  RepoResponse,
  RepoUpdateResponse,
} from '../../core/builds/api.js';
import { computeMetrics, metricsWindow } from '../../core/builds/metrics.js';
import { hasTimeline, stagePhases } from '../../core/builds/stage-timeline.js';
import { shownStep } from '../../core/builds/step-times.js';
import { withAgentProgress, type AgentProgressDeps } from '../shared/execution/agent-progress.js';
import { OPENAPI_DOCUMENT } from '../../core/builds/openapi.js';
import { isStageDone, isStepDone } from '../../core/builds/status.js';
import { type BuildStore, InvalidCursorError, type Page, type PageOptions, type RecentRecordsReader } from '../../core/builds/ports.js';
import type { Build, BuildStatus, Repository } from '../../core/builds/types.js';
import { BUILD_STATUSES, buildId as makeBuildId, stepLogTask } from '../../core/builds/types.js';
import { activate, remove, rotateSecret, setGithubAppSecret, updateSettings, type ActivationDeps } from './activation.js';
import { cancelBuild, type CancelDeps } from './cancel.js';
import { ApiFailure, apiError, json, type ApiRequest, type ApiResponse } from './http.js';
import { decodeLogCursor, encodeLogCursor, InvalidLogCursor } from './log-cursor.js';
import { logStreamName } from '../../core/pipeline/log-configuration.js';
import { headPosition, LogsThrottledError, type LogPosition, type LogReader } from '../../core/logs/log-reader.js';
import { matchRoute, ROUTE_METHODS, type RouteName } from './routes.js';

export interface ApiDeps {
  store: Pick<
    BuildStore,
    'getBuild' | 'getBuildDetail' | 'listBuilds' | 'listRecentBuilds' | 'listStagesAndSteps' | 'updateStage' | 'updateStep' | 'getStage' | 'updateBuild'
  >;
  /** The writes of what a running stage's agent log shows (agent-progress.ts), each guarded by the stage's task. */
  stages: AgentProgressDeps['stages'];
  listRepositories(page: PageOptions): Promise<Page<Repository>>;
  /** Builds and their stages created since a time, for the metrics (bounded). */
  recentRecords: RecentRecordsReader;
  /** Activation of repositories and their webhook secrets; absent: those routes answer 501. */
  activation?: ActivationDeps;
  logs: LogReader;
  /** How long after a step ends its last lines may still arrive (CloudWatch ingestion). */
  logGraceMs: number;
  stopTask: CancelDeps['stopTask'];
  /** Final commit status of a build cancelled before anything ran (the wiring always sets it). */
  buildFinished?: CancelDeps['buildFinished'];
  /** Starts a new build of the same commit whose `parent` is the given build's number. */
  restart(build: Build): Promise<Build>;
  /** Checks the Authorization header; absent means open (local mode, loopback only). */
  authorize?: (authorization: string | undefined) => Promise<boolean>;
  now(): number;
  log(message: string, fields?: Record<string, unknown>): void;
  /** Builds finished by a cancel (BuildsFinished); absent: nothing is counted. */
  metrics?: CancelDeps['metrics'];
}

const DEFAULT_LIMIT = 25;
const MAX_LIMIT = 100;
const LOG_PAGE_LINES = 1000;
/** Builds looked at per list request when filtering by branch or status. */
const FILTER_SCAN_BUDGET = 1000;
const MAX_METRICS_DAYS = 365;
const METRICS_DEFAULT_DAYS = 30;
const REPOS_DEFAULT_LIMIT = 100;
const REPOS_MAX_LIMIT = 1000;

class BadRequest extends Error {}

/** The first routes (OWNER/NAME in the path) answer as the ones with `?repo=`. */
const FIRST_FORM: Partial<Record<RouteName, RouteName>> = { repoBuild: 'build', repoLogs: 'logs', repoCancel: 'cancel', repoRestart: 'restart' };

/** `?repo=OWNER/NAME`, GitLab's `GROUP/SUB/NAME` too. */
function repoQueryParam(query: URLSearchParams): string {
  const repo = query.get('repo');
  if (!repo || !/^[^/]+(\/[^/]+)+$/.test(repo)) {
    throw new BadRequest(`repo=${JSON.stringify(repo ?? '')} must be the repository's full name, OWNER/NAME (GitLab: GROUP/SUBGROUP/NAME)`);
  }
  return repo;
}

function intParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new BadRequest(`query parameter ${name}=${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
  return n;
}

function buildNumberParam(raw: string | undefined, name = 'number'): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new BadRequest(`${name} ${JSON.stringify(raw)} in the path must be a positive integer`);
  return n;
}

export async function handleApiRequest(request: ApiRequest, deps: ApiDeps): Promise<ApiResponse> {
  const route = matchRoute(request.path);
  if (!route) return apiError(404, `no route ${request.method} ${request.path}; see /api/openapi.json`);
  const method = ROUTE_METHODS[route.name];
  if (request.method !== method) return apiError(405, `${request.path} answers ${method}, not ${request.method}`, { allow: method });

  // The OpenAPI document is public: it describes, it reveals no build.
  if (route.name !== 'openapi' && deps.authorize && !(await deps.authorize(request.headers.authorization))) {
    return apiError(401, 'missing or invalid token: send `Authorization: Bearer <token>` (see docs/api.md)', { 'www-authenticate': 'Bearer realm="slipway"' });
  }

  try {
    const p = route.params;
    switch (route.name) {
      case 'openapi':
        return json(200, OPENAPI_DOCUMENT);
      case 'repos': {
        const page = await deps.listRepositories({ limit: intParam(request.query, 'limit', REPOS_DEFAULT_LIMIT, 1, REPOS_MAX_LIMIT), cursor: request.query.get('cursor') || undefined });
        return json(200, (page.cursor ? { repos: page.items, next: page.cursor } : { repos: page.items }) satisfies RepoListResponse);
      }
      case 'repoActivate':
      case 'repoRotateSecret':
      case 'repoRemove': {
        if (!deps.activation) return apiError(501, 'this server cannot activate repositories (no webhook secrets store is configured)');
        if (route.name === 'repoRemove') return json(200, (await remove(deps.activation, request.query)) satisfies RepoResponse);
        const result = route.name === 'repoActivate' ? await activate(deps.activation, request.query) : await rotateSecret(deps.activation, request.query);
        deps.log(route.name === 'repoActivate' ? 'repository activated' : 'webhook secret rotated', { repo: result.repo.slug, host: result.repo.scm });
        return json(route.name === 'repoActivate' ? 201 : 200, result satisfies RepoActivationResponse);
      }
      case 'repoUpdate': {
        if (!deps.activation) return apiError(501, 'this server cannot change repositories (no repository activation is configured)');
        const result = await updateSettings(deps.activation, request.query);
        // The record of who changed what when: the request's log line (the table keeps when trust was set).
        deps.log('repository settings changed', { repo: result.repo.slug, changes: result.changes });
        return json(200, result satisfies RepoUpdateResponse);
      }
      case 'appSecret': {
        if (!deps.activation) return apiError(501, 'this server cannot store webhook secrets (no webhook secrets store is configured)');
        const result = await setGithubAppSecret(deps.activation, request.body);
        deps.log('GitHub App webhook secret set', {});
        return json(200, result satisfies AppSecretResponse);
      }
      case 'builds':
        return json(200, await listBuilds(deps, request.query));
      case 'metrics':
        return json(200, await metrics(deps, intParam(request.query, 'days', METRICS_DEFAULT_DAYS, 1, MAX_METRICS_DAYS)));
    }
    const repo = p.owner !== undefined ? `${p.owner}/${p.name}` : repoQueryParam(request.query);
    const number = buildNumberParam(p.number);
    const id = makeBuildId(repo, number);
    switch (FIRST_FORM[route.name] ?? route.name) {
      case 'build': {
        const stored = await deps.store.getBuildDetail(id);
        if (!stored) return apiError(404, `build ${repo} #${number} does not exist`);
        // A running stage's clone and waiting steps as its agent's log shows them: ECS's events say nothing of either.
        const detail = await withAgentProgress(deps, stored);
        const withPhases: BuildDetailResponse = {
          ...detail,
          stages: detail.stages.map((stage) => ({ ...stage, steps: stage.steps.map(shownStep), ...(hasTimeline(stage) ? { phases: stagePhases(stage, stage.steps, detail) } : {}) })),
        };
        return json(200, withPhases);
      }
      case 'logs':
        return await stepLog(deps, id, buildNumberParam(p.stage, 'stage'), buildNumberParam(p.step, 'step'), request.query);
      case 'cancel': {
        const build = await deps.store.getBuild(id);
        if (!build) return apiError(404, `build ${repo} #${number} does not exist`);
        if (isStageDone(build.status)) return apiError(409, `build ${repo} #${number} already finished (${build.status}); nothing to cancel`);
        const result = await cancelBuild(deps, build, 'an API user');
        return json(200, { build: result.build } satisfies BuildActionResponse);
      }
      case 'restart': {
        const build = await deps.store.getBuild(id);
        if (!build) return apiError(404, `build ${repo} #${number} does not exist`);
        if (!isStageDone(build.status)) return apiError(409, `build ${repo} #${number} is still ${build.status}; cancel it first or wait for it to finish`);
        const next = await deps.restart(build);
        deps.log('build restarted', { buildId: build.id, newBuildId: next.id });
        return json(200, { build: next } satisfies BuildActionResponse);
      }
    }
  } catch (err) {
    if (err instanceof BadRequest) return apiError(400, err.message);
    if (err instanceof ApiFailure) return apiError(err.statusCode, err.message);
    if (err instanceof InvalidCursorError) return apiError(400, 'the cursor is not one this API returned; start again without it');
    throw err;
  }
  return apiError(404, `no route ${request.method} ${request.path}`);
}

async function listBuilds(deps: ApiDeps, query: URLSearchParams): Promise<BuildListResponse> {
  const limit = intParam(query, 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT);
  const repo = query.get('repo') || undefined;
  const branch = query.get('branch') || undefined;
  const status = (query.get('status') || undefined) as BuildStatus | undefined;
  if (status !== undefined && !(BUILD_STATUSES as readonly string[]).includes(status)) throw new BadRequest(`status=${JSON.stringify(status)} is not one of ${BUILD_STATUSES.join(', ')}`);
  if (repo !== undefined && !/^[^/]+\/.+$/.test(repo)) throw new BadRequest(`repo=${JSON.stringify(repo)} must be owner/name`);
  const page = (cursor: string | undefined, size: number) =>
    repo ? deps.store.listBuilds(repo, { limit: size, cursor }) : deps.store.listRecentBuilds({ limit: size, cursor });
  const keep = (b: Build) => (branch === undefined || b.branch === branch) && (status === undefined || b.status === status);

  // Each page asks for exactly what is still missing, so a page never holds more matches
  // than the limit and the store's cursor stays exact; a bounded scan keeps one request cheap.
  const builds: Build[] = [];
  let cursor = query.get('cursor') || undefined;
  let scanned = 0;
  do {
    const res = await page(cursor, limit - builds.length);
    scanned += res.items.length;
    builds.push(...res.items.filter(keep));
    cursor = res.cursor;
  } while (cursor && builds.length < limit && scanned < FILTER_SCAN_BUDGET);
  return cursor ? { builds, next: cursor } : { builds };
}

async function stepLog(deps: ApiDeps, id: string, stageNumber: number, stepNumber: number, query: URLSearchParams): Promise<ApiResponse> {
  // One query: the stage and its steps share the build's partition.
  const { stages, steps } = await deps.store.listStagesAndSteps(id);
  const stage = stages.find((s) => s.number === stageNumber);
  const step = steps.find((s) => s.stageNumber === stageNumber && s.number === stepNumber);
  if (!stage || !step) return apiError(404, `build ${id} has no step ${stageNumber}/${stepNumber}`);
  // No task yet, no stream yet: cursors until then hold a plain offset.
  // The task the step ran in (a split stage's earlier segment, its service task).
  const taskArn = stepLogTask(stage, step);
  const stream = taskArn ? logStreamName(step.container, taskArn) : undefined;
  const cursor = query.get('cursor');
  let from: LogPosition;
  try {
    from = cursor ? decodeLogCursor(stream ?? '', cursor) : headPosition(intParam(query, 'offset', 0, 0, Number.MAX_SAFE_INTEGER));
  } catch (err) {
    if (err instanceof InvalidLogCursor) throw new BadRequest(err.message);
    throw err;
  }
  const finished = isStepDone(step.status);
  // Never ran: nothing was or will be written. A record naming its task had its container
  // there: one its wrapper skipped wrote why (`slipway: skipping …`).
  if (stream === undefined || (step.startedAt === undefined && finished && step.taskArn === undefined)) {
    return json(200, { lines: [], next: from.offset, cursor: encodeLogCursor(stream, from), more: false, complete: finished } satisfies LogPageResponse);
  }
  // Read the settled state first: lines written before it are then surely in the read.
  const settled = finished && deps.now() - (step.finishedAt ?? stage.finishedAt ?? 0) >= deps.logGraceMs;
  let page;
  try {
    page = await deps.logs.read(stream, from, LOG_PAGE_LINES);
  } catch (err) {
    if (err instanceof LogsThrottledError) return apiError(503, err.message, { 'retry-after': String(err.retryAfterSeconds) });
    throw err;
  }
  const body: LogPageResponse = {
    lines: page.events.map((e, i) => ({ time: e.timestamp, offset: from.offset + i, text: e.message })),
    next: page.next.offset,
    cursor: encodeLogCursor(stream, page.next),
    more: !page.atEnd,
    complete: settled && page.atEnd,
  };
  return json(200, body);
}

async function metrics(deps: ApiDeps, days: number): Promise<MetricsResponse> {
  const now = deps.now();
  // Two bounded queries (builds, then their stages), whatever the number of builds.
  const records = await deps.recentRecords(metricsWindow(days, now).from);
  const result = computeMetrics(records.builds, records.stages, days, now);
  return records.countedFrom !== undefined ? { ...result, countedFrom: records.countedFrom } : result;
}
