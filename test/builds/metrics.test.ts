import { describe, expect, it } from 'vitest';
import { computeMetrics, metricsWindow, percentile } from '../../core/builds/metrics.js';
import type { Build, Stage } from '../../core/builds/types.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 25, 12);

function build(repo: string, number: number, status: Build['status'], createdAt: number, runMs?: number): Build {
  return {
    id: `${repo}#${number}`, repo, number, status, event: 'push', action: '', ref: 'refs/heads/main', branch: 'main',
    commit: 'c'.repeat(40), message: 'm', author: 'a', link: '', deliveryId: `d${number}`, fork: false, createdAt,
    startedAt: runMs === undefined ? undefined : createdAt + 1000,
    finishedAt: runMs === undefined ? undefined : createdAt + 1000 + runMs,
  };
}
function stage(b: Build, waitMs: number): Stage {
  return { buildId: b.id, repo: b.repo, buildNumber: b.number, number: 1, name: 'default', status: b.status, dependsOn: [], attempts: 1, queuedAt: b.createdAt, startedAt: b.createdAt + waitMs };
}

describe('percentile', () => {
  it('uses the nearest rank', () => {
    expect(percentile([], 50)).toBe(0);
    expect(percentile([5], 95)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    expect(percentile([10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 95)).toBe(10);
  });
});

describe('computeMetrics', () => {
  const builds = [
    build('acme/api', 1, 'success', NOW - 2 * DAY, 60_000),
    build('acme/api', 2, 'failure', NOW - DAY, 120_000),
    build('acme/api', 3, 'running', NOW - 1000),
    build('acme/web', 1, 'success', NOW - 3 * DAY, 30_000),
    build('acme/web', 2, 'success', NOW - 40 * DAY, 30_000),
  ];
  const stages = builds.map((b, i) => stage(b, 1000 * (i + 1)));
  const metrics = computeMetrics(builds, stages, 30, NOW);

  it('counts builds per day over the whole window, outside builds excluded', () => {
    expect(metrics.perDay).toHaveLength(30);
    expect(metrics.perDay.reduce((n, d) => n + d.total, 0)).toBe(4);
    const today = metrics.perDay[metrics.perDay.length - 1];
    expect(today).toEqual({ day: '2026-11-25', total: 1, success: 0, failure: 0, other: 1, costUsd: 0 });
  });

  it('computes success rate over finished builds and percentiles per repository', () => {
    const api = metrics.repos.find((r) => r.repo === 'acme/api');
    expect(api).toEqual({
      repo: 'acme/api', builds: 3, successRate: 0.5,
      queueWait: { p50: 2000, p95: 3000 },
      duration: { p50: 60_000, p95: 120_000 },
      costUsd: 0, pricedBuilds: 0,
    });
    expect(metrics.repos.map((r) => r.repo)).toEqual(['acme/api', 'acme/web']);
    expect(metrics.repos[1]?.builds).toBe(1);
  });
});

describe('cost in the metrics', () => {
  const priced = (b: Build, total: number): Build => ({
    ...b,
    cost: { currency: 'USD', region: 'us-east-1', pricesAsOf: '2026-12-02', pricesSource: 'defaults', total, fargate: total, storage: 0, publicIpv4: 0, controlPlane: 0, logs: 0, lines: [], estimates: [] },
  });
  const builds = [
    priced(build('acme/api', 1, 'success', NOW - DAY, 60_000), 0.0125),
    priced(build('acme/api', 2, 'failure', NOW - DAY + 5000, 60_000), 0.0075),
    build('acme/api', 3, 'running', NOW - 1000),
    priced(build('acme/web', 1, 'success', NOW - 2000, 60_000), 0.25),
    priced(build('acme/web', 2, 'success', NOW - 40 * DAY, 60_000), 99),
  ];
  const metrics = computeMetrics(builds, [], 7, NOW);

  it('totals each day, each repository and the window, only over the builds in it', () => {
    expect(metrics.perDay.map((d) => d.costUsd).slice(-2)).toEqual([0.02, 0.25]);
    expect(metrics.repos.map((r) => [r.repo, r.costUsd, r.pricedBuilds])).toEqual([
      ['acme/api', 0.02, 2],
      ['acme/web', 0.25, 1],
    ]);
    expect(metrics.costUsd).toBe(0.27);
  });
});

describe('the metrics window', () => {
  it('is `days` whole UTC days ending today: a build early on the first day counts, one the evening before does not', () => {
    const window = metricsWindow(30, NOW);
    expect(window).toEqual({ from: Date.UTC(2026, 9, 27), to: NOW });
    const early = build('acme/api', 1, 'success', Date.UTC(2026, 9, 27, 1), 1000);
    const before = build('acme/api', 2, 'success', Date.UTC(2026, 9, 26, 23), 1000);
    const m = computeMetrics([early, before], [stage(early, 10), stage(before, 20)], 30, NOW);
    expect(m.perDay).toHaveLength(30);
    expect(m.perDay[0]).toEqual({ day: '2026-10-27', total: 1, success: 1, failure: 0, other: 0, costUsd: 0 });
    expect(m.perDay.at(-1)!.day).toBe('2026-11-25');
    expect(m.perDay.reduce((n, d) => n + d.total, 0)).toBe(1);
    expect(m.repos[0]).toMatchObject({ repo: 'acme/api', builds: 1, queueWait: { p50: 10, p95: 10 } });
    expect(m).toMatchObject({ days: 30, from: window.from, to: NOW });
  });

  it('of one day is today only', () => {
    const yesterday = build('acme/api', 1, 'success', NOW - 13 * 3_600_000);
    const today = build('acme/api', 2, 'success', NOW - 11 * 3_600_000);
    const m = computeMetrics([yesterday, today], [], 1, NOW);
    expect(m.perDay).toEqual([{ day: '2026-11-25', total: 1, success: 1, failure: 0, other: 0, costUsd: 0 }]);
  });
});

describe('computeMetrics: p50/p95 per phase', () => {
  it('from the timelines of the stages that recorded one', () => {
    const b = [build('acme/api', 1, 'success', NOW - 1000, 60_000), build('acme/api', 2, 'success', NOW - 900, 60_000), build('acme/api', 3, 'success', NOW - 800, 60_000)];
    const stages = b.map((x, i) => ({
      ...stage(x, 1000),
      // pulls of 10, 20 and 30 s; the third stage has no timeline of its provisioning.
      timeline: { taskCreatedAt: x.createdAt + 1000, pullStartedAt: x.createdAt + 5000, pullStoppedAt: x.createdAt + 5000 + (i + 1) * 10_000 },
    }));
    const repo = computeMetrics(b, [...stages, stage(build('acme/api', 4, 'success', NOW - 700, 1), 5)], 1, NOW).repos[0]!;
    expect(repo.phases?.pulls).toEqual({ p50: 20_000, p95: 30_000, count: 3 });
    expect(repo.phases?.provisioning).toEqual({ p50: 4000, p95: 4000, count: 3 });
    expect(repo.phases?.queued).toEqual({ p50: 1000, p95: 1000, count: 3 });
    expect(computeMetrics(b, b.map((x) => stage(x, 1)), 1, NOW).repos[0]!.phases).toBeUndefined();
  });

  it("counts the first-step and steps phases from the step marks each stage's timeline recorded (its first step's commands' start)", () => {
    const b = [build('acme/api', 1, 'success', NOW - 1000, 60_000), build('acme/api', 2, 'success', NOW - 900, 60_000)];
    const stages = b.map((x, i) => ({
      ...stage(x, 1000),
      // Ready at 10 s; the first step's commands start 0.2 s (then 1.2 s) later; the last ends at 40 s.
      timeline: { readyAt: x.createdAt + 10_000, firstStepAt: x.createdAt + 10_200 + i * 1000, lastStepAt: x.createdAt + 40_000, stoppingAt: x.createdAt + 41_000, stoppedAt: x.createdAt + 42_000 },
    }));
    const repo = computeMetrics(b, stages, 1, NOW).repos[0]!;
    expect(repo.phases?.['first step']).toEqual({ p50: 200, p95: 1200, count: 2 });
    expect(repo.phases?.steps).toEqual({ p50: 28_800, p95: 29_800, count: 2 });
    expect(repo.phases?.teardown).toEqual({ p50: 2000, p95: 2000, count: 2 });
  });
});

describe('computeMetrics: from the push', () => {
  /** A build received 2 s before it was created, whose first stage was ready at 10 s and ran its first step's commands at `first` s. */
  const pushed = (number: number, first: number, extra: Partial<Stage> = {}) => {
    const b = { ...build('acme/api', number, 'success', NOW - 5000 + number, 60_000), receivedAt: NOW - 7000 + number };
    const s: Stage = { ...stage(b, 1000), ...extra, timeline: { taskCreatedAt: b.createdAt + 1000, readyAt: b.createdAt + 10_000, firstStepAt: b.createdAt + first * 1000, lastStepAt: b.createdAt + 40_000 } };
    return { b, s };
  };

  it('gives push → first step per build, and the control plane phase (receipt → queued) of the stages that start with it', () => {
    const runs = [pushed(1, 10), pushed(2, 11), pushed(3, 15)];
    const repo = computeMetrics(runs.map((r) => r.b), runs.map((r) => r.s), 1, NOW).repos[0]!;
    // 2 s before the build plus 10, 11 and 15 s to the first step.
    expect(repo.pushToFirstStep).toEqual({ p50: 13_000, p95: 17_000, count: 3 });
    expect(repo.phases?.['control plane']).toEqual({ p50: 2000, p95: 2000, count: 3 });
  });

  it('a build counts once, by its earliest first step; dependent stages and Spot retries count neither the push nor the control plane', () => {
    const a = pushed(1, 12);
    const second: Stage = { ...a.s, number: 2, timeline: { ...a.s.timeline, firstStepAt: a.b.createdAt + 11_000 } };
    const dependent: Stage = { ...a.s, number: 3, dependsOn: ['default'], timeline: { ...a.s.timeline, firstStepAt: a.b.createdAt + 10_000 } };
    const retried = pushed(2, 10, { attempts: 2 });
    const repo = computeMetrics([a.b, retried.b], [a.s, second, dependent, retried.s], 1, NOW).repos[0]!;
    expect(repo.pushToFirstStep).toEqual({ p50: 13_000, p95: 13_000, count: 1 });
    expect(repo.phases?.['control plane']?.count).toBe(2);
  });

  it('builds stored before the receipt time was kept give no push → first step and no control plane phase', () => {
    const { b, s } = pushed(1, 10);
    const { receivedAt: _r, ...old } = b;
    const repo = computeMetrics([old], [s], 1, NOW).repos[0]!;
    expect(repo.pushToFirstStep).toBeUndefined();
    expect(repo.phases?.['control plane']).toBeUndefined();
    expect(repo.phases?.queued).toEqual({ p50: 1000, p95: 1000, count: 1 });
  });
});
