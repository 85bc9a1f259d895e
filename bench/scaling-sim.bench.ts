// Replays a day of bursty arrivals (seeded PRNG) through the scaling decision, as the
// autoscaler would run it: on every arrival (the planner's nudge), on every finished
// task (the task-events nudge), every minute (the schedule) and one second after a
// pass that hit an API rate. Prints queue wait p50/p95/max and checks, independently of
// the decision's own bookkeeping, that no limit was exceeded and that no job starved.

import {
  DEFAULT_LIMITS,
  decideScale,
  initialScaleState,
  type QueuedStage,
  type RunningTask,
  type ScaleLimits,
} from '../core/scaling/decide-scale.js';
import { percentile } from '../core/builds/metrics.js';
import { seededRandom } from '../core/util/seeded-random.js';


interface Job extends QueuedStage {
  durationMs: number;
  startedAt?: number;
}

const DAY = 86_400_000;
const CPU_MIX: [number, number][] = [[256, 0.3], [512, 0.3], [1024, 0.25], [2048, 0.12], [4096, 0.03]];

function generateDay(seed: number, load: { busyPerHour: number; bursts: number; megaBurst: number }): Job[] {
  const rand = seededRandom(seed);
  const pick = <T>(weighted: [T, number][]): T => {
    let x = rand();
    for (const [v, w] of weighted) if ((x -= w) < 0) return v;
    return weighted[weighted.length - 1]![0];
  };
  const repos = Array.from({ length: 12 }, (_, i) => `team${i}/app`);
  const jobs: Job[] = [];
  let n = 0;
  const add = (at: number, repo: string) => {
    const pipeline = rand() < 0.1 ? 'deploy' : rand() < 0.5 ? 'test' : 'lint';
    // Log-normal-ish durations: median ~4 min, a long tail to ~40 min.
    const durationMs = Math.round(Math.exp(Math.log(240_000) + 0.8 * (rand() + rand() + rand() - 1.5) * 1.6));
    jobs.push({
      id: `s${String(n++).padStart(6, '0')}`,
      repo,
      pipeline,
      ...(pipeline === 'deploy' ? { concurrencyLimit: 1 } : {}),
      queuedAt: Math.round(at),
      cpu: pick(CPU_MIX),
      durationMs,
    });
  };
  // Background: Poisson arrivals, ten times busier in working hours.
  for (let t = 0; t < DAY; ) {
    const hour = t / 3_600_000;
    const perHour = hour >= 8 && hour < 19 ? load.busyPerHour : load.busyPerHour / 10;
    t += (-Math.log(1 - rand()) * 3_600_000) / perHour;
    if (t < DAY) add(t, repos[Math.floor(rand() ** 1.5 * repos.length)]!);
  }
  // Bursts: a monorepo push fanning out, a dependabot morning, a release.
  for (let b = 0; b < load.bursts; b++) {
    const at = 8 * 3_600_000 + rand() * 11 * 3_600_000;
    const repo = repos[Math.floor(rand() * repos.length)]!;
    const size = 5 + Math.floor(rand() * 30);
    for (let i = 0; i < size; i++) add(at + rand() * 2000, repo);
  }
  for (let i = 0; i < load.megaBurst; i++) add(13 * 3_600_000 + rand() * 1000, repos[i % repos.length]!);
  return jobs.sort((a, b) => a.queuedAt - b.queuedAt);
}

interface Result {
  waits: number[];
  started: number;
  total: number;
  starts: number[];
  violations: string[];
  passes: number;
  fifoInversions: number;
}

function simulate(jobs: Job[], limits: ScaleLimits): Result {
  const events: { at: number; kind: 'arrive' | 'finish' | 'tick' | 'retry'; job?: Job }[] = [];
  for (const job of jobs) events.push({ at: job.queuedAt, kind: 'arrive', job });
  for (let t = 0; t < DAY * 3; t += 60_000) events.push({ at: t, kind: 'tick' });
  const push = (e: (typeof events)[number]) => {
    // Keep sorted by time (binary insertion).
    let lo = 0;
    let hi = events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (events[mid]!.at <= e.at) lo = mid + 1;
      else hi = mid;
    }
    events.splice(lo, 0, e);
  };
  events.sort((a, b) => a.at - b.at);

  let state = initialScaleState(limits, 0);
  const queued = new Map<string, Job>();
  const running = new Map<string, Job>();
  const starts: number[] = [];
  const violations: string[] = [];
  let passes = 0;
  let retryPending = false;
  let fifoInversions = 0;

  const pass = (now: number) => {
    passes++;
    const runningTasks: RunningTask[] = [...running.values()].map((j) => ({ stageId: j.id, repo: j.repo, pipeline: j.pipeline, cpu: j.cpu }));
    const decision = decideScale({ now, queued: [...queued.values()], running: runningTasks, limits, state });
    state = decision.state;
    if (decision.rejected.length) violations.push(`rejected ${decision.rejected.length} stages`);
    for (const stage of decision.start) {
      const job = queued.get(stage.id)!;
      // FIFO check within repository + pipeline: nobody older of the group still waits
      // for anything but its own back-off.
      for (const other of queued.values()) {
        if (other !== job && other.repo === job.repo && other.pipeline === job.pipeline && other.queuedAt < job.queuedAt) fifoInversions++;
      }
      queued.delete(stage.id);
      job.startedAt = now;
      running.set(job.id, job);
      starts.push(now);
      push({ at: now + job.durationMs, kind: 'finish', job });
    }
    // Independent checks of the limits, from the simulated world.
    const vcpu = [...running.values()].reduce((n, j) => n + j.cpu, 0) / 1024;
    if (vcpu > limits.vcpuQuota + 1e-9) violations.push(`vCPU ${vcpu} > ${limits.vcpuQuota} at ${now}`);
    if (running.size > limits.maxConcurrent) violations.push(`${running.size} running > ${limits.maxConcurrent} at ${now}`);
    const groups = new Map<string, number>();
    for (const j of running.values()) groups.set(`${j.repo}/${j.pipeline}`, (groups.get(`${j.repo}/${j.pipeline}`) ?? 0) + 1);
    for (const j of running.values()) {
      if (j.concurrencyLimit !== undefined && groups.get(`${j.repo}/${j.pipeline}`)! > j.concurrencyLimit) violations.push(`concurrency limit of ${j.repo}/${j.pipeline} exceeded`);
    }
    if (!retryPending && decision.deferred.some((d) => d.reason === 'rate-limit')) {
      retryPending = true;
      push({ at: now + 1000, kind: 'retry' });
    }
  };

  while (events.length > 0) {
    const e = events.shift()!;
    if (e.kind === 'tick' && queued.size === 0 && e.at > DAY) continue;
    if (e.kind === 'arrive') queued.set(e.job!.id, e.job!);
    if (e.kind === 'finish') running.delete(e.job!.id);
    if (e.kind === 'retry') retryPending = false;
    // Coalesce events at the same millisecond into one pass (one Lambda invocation).
    if (events[0] && events[0].at === e.at && events[0].kind !== 'tick') continue;
    pass(e.at);
    if (queued.size === 0 && running.size === 0 && events.every((x) => x.kind === 'tick')) break;
  }
  return {
    waits: jobs.filter((j) => j.startedAt !== undefined).map((j) => j.startedAt! - j.queuedAt),
    started: jobs.filter((j) => j.startedAt !== undefined).length,
    total: jobs.length,
    starts,
    violations,
    passes,
    fifoInversions,
  };
}

/** Token-bucket conformance without the decision's buckets: in every window of w seconds, calls ≤ burst + rate·w. */
function rateViolations(starts: number[], burst: number, perSecond: number): number {
  let worst = 0;
  for (const w of [0, 250, 1000, 5000, 60_000]) {
    for (let i = 0, j = 0; i < starts.length; i++) {
      while (starts[j]! < starts[i]! - w) j++;
      worst = Math.max(worst, i - j + 1 - (burst + (perSecond * w) / 1000));
    }
  }
  return worst > 1e-9 ? Math.ceil(worst) : 0;
}

function fmt(ms: number): string {
  return ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`;
}

let failed = false;
for (const scenario of [
  { name: 'small team, default quota (6 vCPU, 10 concurrent)', limits: DEFAULT_LIMITS, load: { busyPerHour: 25, bursts: 6, megaBurst: 0 } },
  { name: 'large org, raised quota (400 vCPU, 1000 concurrent), + 1,500 stages in one second at 13:00', limits: { ...DEFAULT_LIMITS, vcpuQuota: 400, maxConcurrent: 1000 }, load: { busyPerHour: 150, bursts: 30, megaBurst: 1500 } },
]) {
  const jobs = generateDay(20240601, scenario.load);
  const t0 = performance.now();
  const result = simulate(jobs, scenario.limits);
  const ms = performance.now() - t0;
  const runTaskOver = rateViolations(result.starts, scenario.limits.runTask.burst, scenario.limits.runTask.perSecond);
  const launchOver = rateViolations(result.starts, scenario.limits.launches.burst, scenario.limits.launches.perSecond);
  const maxWait = Math.max(...result.waits);
  const starved = result.total - result.started;
  console.log(`\n${scenario.name}`);
  console.log(`  stages: ${result.total} (started ${result.started}); decisions: ${result.passes}; simulated in ${ms.toFixed(0)} ms`);
  console.log(`  queue wait: p50 ${fmt(percentile(result.waits, 50))}, p95 ${fmt(percentile(result.waits, 95))}, max ${fmt(maxWait)}`);
  console.log(`  limits: vCPU/concurrency/limit violations ${result.violations.length}, RunTask rate excess ${runTaskOver}, Fargate launch rate excess ${launchOver}`);
  console.log(`  FIFO inversions within repository+pipeline (only around back-off/limits): ${result.fifoInversions}`);
  console.log(`  starved (never started): ${starved}`);
  for (const v of result.violations.slice(0, 5)) console.log(`  VIOLATION ${v}`);
  if (result.violations.length || runTaskOver || launchOver || starved) failed = true;
}
console.log(failed ? '\nRESULT: a limit was exceeded or a job starved' : '\nRESULT: no limit exceeded, no job starved');
process.exitCode = failed ? 1 : 0;
