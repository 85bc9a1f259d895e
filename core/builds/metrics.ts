// CI metrics from finished builds and their stages: builds per day, success rate,
// queue wait, push → first step and duration percentiles per repository. Pure: the API feeds
// it records.

import type { MetricsResponse } from './api.js';
import type { Build, Stage } from './types.js';
import { PHASE_NAMES, hasTimeline, stagePhases, type PhaseName } from './stage-timeline.js';
import { isFinished } from './status.js';

const DAY_MS = 86_400_000;

/** Nearest-rank percentile of unsorted values; 0 for none. */
export function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0;
}

function dayOf(timeMs: number): string {
  return new Date(timeMs).toISOString().slice(0, 10);
}

/**
 * The window of `days` days ending now: that many whole UTC days, today the last (up to
 * now). Its builds are exactly those the per-day chart counts: no partial first day, no
 * day outside the chart.
 */
export function metricsWindow(days: number, nowMs: number): { from: number; to: number } {
  const today = Math.floor(nowMs / DAY_MS) * DAY_MS;
  return { from: today - (days - 1) * DAY_MS, to: nowMs };
}

/**
 * `builds` are those created in the window (others are ignored); `stages` the stages of
 * those builds. Queue wait of a stage is queued → started (RunTask accepted and the task running).
 */
export function computeMetrics(builds: Build[], stages: Stage[], days: number, nowMs: number): MetricsResponse {
  const { from, to } = metricsWindow(days, nowMs);
  const inWindow = builds.filter((b) => b.createdAt >= from && b.createdAt <= to);

  const perDayMap = new Map<string, MetricsResponse['perDay'][number]>();
  for (let i = 0; i < days; i++) {
    const day = dayOf(from + i * DAY_MS);
    perDayMap.set(day, { day, total: 0, success: 0, failure: 0, other: 0, costUsd: 0 });
  }
  for (const build of inWindow) {
    const entry = perDayMap.get(dayOf(build.createdAt))!;
    entry.total += 1;
    if (build.status === 'success') entry.success += 1;
    else if (build.status === 'failure' || build.status === 'error') entry.failure += 1;
    else entry.other += 1;
    entry.costUsd = usd((entry.costUsd ?? 0) + (build.cost?.total ?? 0));
  }

  const buildIds = new Set(inWindow.map((b) => b.id));
  const buildsById = new Map(inWindow.map((b) => [b.id, b]));
  const stagesByRepo = new Map<string, Stage[]>();
  const stagesByBuild = new Map<string, Stage[]>();
  for (const stage of stages) {
    if (!buildIds.has(stage.buildId)) continue;
    stagesByRepo.set(stage.repo, [...(stagesByRepo.get(stage.repo) ?? []), stage]);
    stagesByBuild.set(stage.buildId, [...(stagesByBuild.get(stage.buildId) ?? []), stage]);
  }
  const buildsByRepo = new Map<string, Build[]>();
  for (const build of inWindow) buildsByRepo.set(build.repo, [...(buildsByRepo.get(build.repo) ?? []), build]);

  const repos = [...buildsByRepo.entries()]
    .map(([repo, list]) => {
      const finished = list.filter((b) => isFinished(b.status));
      const repoStages = stagesByRepo.get(repo) ?? [];
      const waits = repoStages
        .filter((s) => s.queuedAt !== undefined && s.startedAt !== undefined)
        .map((s) => (s.startedAt as number) - (s.queuedAt as number));
      const durations = finished
        .filter((b) => b.startedAt !== undefined && b.finishedAt !== undefined)
        .map((b) => (b.finishedAt as number) - (b.startedAt as number));
      const phases = phasePercentiles(repoStages, buildsById);
      const pushes = list.map((b) => pushToFirstStep(b, stagesByBuild.get(b.id) ?? [])).filter((ms): ms is number => ms !== undefined);
      return {
        repo,
        ...(phases ? { phases } : {}),
        ...(pushes.length > 0 ? { pushToFirstStep: { p50: percentile(pushes, 50), p95: percentile(pushes, 95), count: pushes.length } } : {}),
        builds: list.length,
        successRate: finished.length ? finished.filter((b) => b.status === 'success').length / finished.length : 0,
        queueWait: { p50: percentile(waits, 50), p95: percentile(waits, 95) },
        duration: { p50: percentile(durations, 50), p95: percentile(durations, 95) },
        costUsd: usd(list.reduce((sum, b) => sum + (b.cost?.total ?? 0), 0)),
        pricedBuilds: list.filter((b) => b.cost !== undefined).length,
      };
    })
    .sort((a, b) => a.repo.localeCompare(b.repo));

  const perDay = [...perDayMap.values()];
  return { days, from, to, perDay, repos, costUsd: usd(perDay.reduce((sum, d) => sum + (d.costUsd ?? 0), 0)) };
}

/** Sums of prices kept to a hundred-millionth of a dollar, so that adding many does not drift. */
const usd = (n: number): number => Math.round(n * 1e8) / 1e8;

/**
 * Push → first step of one build: from the webhook's receipt to the earliest first step of its
 * stages that started with it (their first step's commands, as the timeline's "first step"
 * phase ends). Undefined for a build stored without its receipt time or none of whose first
 * stages recorded a first step.
 */
export function pushToFirstStep(build: Pick<Build, 'receivedAt'>, stages: readonly Stage[]): number | undefined {
  if (build.receivedAt === undefined) return undefined;
  const starts = stages
    .map((s) => {
      const phases = stagePhases(s, [], build);
      // The timeline that began at the push (a split stage's first segment's) has the control plane phase.
      const pushed = phases.find((p) => p.name === 'control plane');
      // Its first step's start ends the "first step" phase and begins the "steps" one (either may lack its other end).
      const of = (name: string) => phases.find((p) => p.name === name && p.segment === pushed?.segment);
      return pushed && (of('first step')?.to ?? of('steps')?.from);
    })
    .filter((t): t is number => t !== undefined && t >= build.receivedAt!);
  return starts.length > 0 ? Math.min(...starts) - build.receivedAt : undefined;
}

/** p50/p95 of each phase over the stages that recorded a timeline; undefined when none did. */
function phasePercentiles(stages: readonly Stage[], builds: ReadonlyMap<string, Build>): MetricsResponse['repos'][number]['phases'] {
  const spans = new Map<PhaseName, number[]>();
  for (const stage of stages) {
    if (!hasTimeline(stage)) continue;
    for (const phase of stagePhases(stage, [], builds.get(stage.buildId))) spans.set(phase.name, [...(spans.get(phase.name) ?? []), phase.to - phase.from]);
  }
  if (spans.size === 0) return undefined;
  return Object.fromEntries(PHASE_NAMES.filter((n) => spans.has(n)).map((n) => [n, { p50: percentile(spans.get(n)!, 50), p95: percentile(spans.get(n)!, 95), count: spans.get(n)!.length }]));
}
