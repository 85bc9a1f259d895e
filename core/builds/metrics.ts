// CI metrics from finished builds and their stages: builds per day, success rate,
// queue wait and duration percentiles per repository. Pure: the API feeds it records.

import type { MetricsResponse } from './api.js';
import type { Build, Stage } from './types.js';
import { PHASE_NAMES, stagePhases, type PhaseName } from './stage-timeline.js';
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
  const stagesByRepo = new Map<string, Stage[]>();
  for (const stage of stages) {
    if (!buildIds.has(stage.buildId)) continue;
    stagesByRepo.set(stage.repo, [...(stagesByRepo.get(stage.repo) ?? []), stage]);
  }
  const buildsByRepo = new Map<string, Build[]>();
  for (const build of inWindow) buildsByRepo.set(build.repo, [...(buildsByRepo.get(build.repo) ?? []), build]);

  const repos = [...buildsByRepo.entries()]
    .map(([repo, list]) => {
      const finished = list.filter((b) => isFinished(b.status));
      const waits = (stagesByRepo.get(repo) ?? [])
        .filter((s) => s.queuedAt !== undefined && s.startedAt !== undefined)
        .map((s) => (s.startedAt as number) - (s.queuedAt as number));
      const durations = finished
        .filter((b) => b.startedAt !== undefined && b.finishedAt !== undefined)
        .map((b) => (b.finishedAt as number) - (b.startedAt as number));
      const phases = phasePercentiles(stagesByRepo.get(repo) ?? []);
      return {
        repo,
        ...(phases ? { phases } : {}),
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

/** p50/p95 of each phase over the stages that recorded a timeline; undefined when none did. */
function phasePercentiles(stages: readonly Stage[]): MetricsResponse['repos'][number]['phases'] {
  const spans = new Map<PhaseName, number[]>();
  for (const stage of stages) {
    if (!stage.timeline) continue;
    for (const phase of stagePhases(stage, [])) spans.set(phase.name, [...(spans.get(phase.name) ?? []), phase.to - phase.from]);
  }
  if (spans.size === 0) return undefined;
  return Object.fromEntries(PHASE_NAMES.filter((n) => spans.has(n)).map((n) => [n, { p50: percentile(spans.get(n)!, 50), p95: percentile(spans.get(n)!, 95), count: spans.get(n)!.length }]));
}
