import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DEFAULT_LIMITS,
  decideScale,
  initialScaleState,
  withCapacityBackoff,
  startRetryDelayMs,
  type QueuedStage,
  type RunningTask,
  type ScaleLimits,
  type ServiceTaskUse,
  type ConverterUse,
} from '../../core/scaling/decide-scale.js';

const NOW = 1_700_000_000_000;

function q(id: string, repo: string, queuedAt: number, extra: Partial<QueuedStage> = {}): QueuedStage {
  return { id, repo, pipeline: 'default', queuedAt: NOW - 60_000 + queuedAt, cpu: 1024, ...extra };
}
function r(stageId: string, repo: string, extra: Partial<RunningTask> = {}): RunningTask {
  return { stageId, repo, pipeline: 'default', cpu: 1024, ...extra };
}

interface Row {
  name: string;
  queued: QueuedStage[];
  running?: RunningTask[];
  /** Started service tasks of split stages (vCPU only). */
  serviceTasks?: ServiceTaskUse[];
  limits?: Partial<ScaleLimits>;
  start: string[];
  deferred?: Record<string, string>;
  rejected?: string[];
}

const rows: Row[] = [
  { name: 'nothing queued starts nothing', queued: [], start: [] },
  {
    name: "a split stage's first start takes its service task's vCPU too: 4 running + 1 + 1 fits 6, not a second such stage",
    queued: [q('a1', 'a', 1, { serviceCpu: 1024 }), q('b1', 'b', 2, { serviceCpu: 1024 })],
    running: Array.from({ length: 4 }, (_, i) => r(`x${i}`, `x${i}`)),
    start: ['a1'],
    deferred: { b1: 'vcpu-quota' },
  },
  {
    name: 'a started service task holds its vCPU: 5 running + 1 held leave nothing for a 1-vCPU stage',
    queued: [q('a1', 'a', 1)],
    running: Array.from({ length: 5 }, (_, i) => r(`x${i}`, `x${i}`)),
    serviceTasks: [{ stageId: 'x0', cpu: 1024 }],
    start: [],
    deferred: { a1: 'vcpu-quota' },
  },
  {
    name: 'a service task is not a running stage: it counts for vCPU, not for the global maximum',
    queued: [q('a1', 'a', 1, { cpu: 256 })],
    running: [r('x0', 'x', { cpu: 256 })],
    serviceTasks: [{ stageId: 'x0', cpu: 256 }, { stageId: 'y0', cpu: 256 }],
    limits: { maxConcurrent: 2 },
    start: ['a1'],
  },
  {
    name: 'a split stage whose task and service task together pass the whole quota is rejected',
    queued: [q('a1', 'a', 1, { cpu: 4096, serviceCpu: 4096 })],
    start: [],
    rejected: ['a1'],
  },
  {
    name: 'FIFO within one repository',
    queued: [q('a3', 'a', 3), q('a1', 'a', 1), q('a2', 'a', 2)],
    start: ['a1', 'a2', 'a3'],
  },
  {
    name: 'fair across repositories: alternate, oldest head first',
    queued: [q('a1', 'a', 1), q('a2', 'a', 2), q('a3', 'a', 3), q('b1', 'b', 4), q('b2', 'b', 5)],
    limits: { maxConcurrent: 4 },
    start: ['a1', 'b1', 'a2', 'b2'],
    deferred: { a3: 'max-concurrency' },
  },
  {
    name: 'a repository with running tasks yields to one without',
    queued: [q('a1', 'a', 1), q('b1', 'b', 2)],
    running: [r('a0', 'a')],
    limits: { maxConcurrent: 2 },
    start: ['b1'],
    deferred: { a1: 'max-concurrency' },
  },
  {
    name: 'vCPU quota: 6 vCPU fit six 1-vCPU stages',
    queued: Array.from({ length: 8 }, (_, i) => q(`a${i}`, 'a', i)),
    start: ['a0', 'a1', 'a2', 'a3', 'a4', 'a5'],
    deferred: { a6: 'vcpu-quota', a7: 'behind-in-repository' },
  },
  {
    name: 'vCPU quota counts running tasks',
    queued: [q('a1', 'a', 1, { cpu: 2048 }), q('b1', 'b', 2, { cpu: 512 })],
    running: [r('x', 'x', { cpu: 4096 }), r('y', 'y', { cpu: 1024 })],
    start: ['b1'],
    deferred: { a1: 'vcpu-quota' },
  },
  {
    name: 'a big head blocks its own repository (FIFO) but not others',
    queued: [q('a1', 'a', 1, { cpu: 4096 }), q('a2', 'a', 2, { cpu: 256 }), q('b1', 'b', 3, { cpu: 256 })],
    running: [r('x', 'x', { cpu: 4096 })],
    start: ['b1'],
    deferred: { a1: 'vcpu-quota', a2: 'behind-in-repository' },
  },
  {
    name: 'an aged stage that does not fit reserves the capacity',
    queued: [q('a1', 'a', -10 * 60_000, { cpu: 4096 }), q('b1', 'b', 3, { cpu: 256 })],
    running: [r('x', 'x', { cpu: 4096 })],
    start: [],
    deferred: { a1: 'vcpu-quota', b1: 'reserved-for-older' },
  },
  {
    name: 'aged stages go before the fair order',
    queued: [q('b1', 'b', 1), q('a1', 'a', -10 * 60_000)],
    running: [r('a0', 'a'), r('a00', 'a')],
    limits: { maxConcurrent: 3 },
    start: ['a1'],
    deferred: { b1: 'max-concurrency' },
  },
  {
    name: 'per-pipeline concurrency limit holds that pipeline only',
    queued: [
      q('a1', 'a', 1, { pipeline: 'deploy', concurrencyLimit: 1 }),
      q('a2', 'a', 2, { pipeline: 'deploy', concurrencyLimit: 1 }),
      q('a3', 'a', 3, { pipeline: 'test' }),
    ],
    start: ['a1', 'a3'],
    deferred: { a2: 'concurrency-limit' },
  },
  {
    name: 'concurrency limit counts running stages of the pipeline',
    queued: [q('a1', 'a', 1, { pipeline: 'deploy', concurrencyLimit: 1 })],
    running: [r('a0', 'a', { pipeline: 'deploy' })],
    start: [],
    deferred: { a1: 'concurrency-limit' },
  },
  {
    name: 'same pipeline name in another repository is another group',
    queued: [q('a1', 'a', 1, { pipeline: 'deploy', concurrencyLimit: 1 })],
    running: [r('b0', 'b', { pipeline: 'deploy' })],
    start: ['a1'],
  },
  {
    name: 'a stage bigger than the quota is rejected, never deferred',
    queued: [q('a1', 'a', 1, { cpu: 8192 }), q('a2', 'a', 2)],
    start: ['a2'],
    rejected: ['a1'],
  },
  {
    name: 'a stage in retry back-off waits without holding its repository',
    queued: [q('a1', 'a', 1, { notBefore: NOW + 5000 }), q('a2', 'a', 2)],
    start: ['a2'],
    deferred: { a1: 'retry-backoff' },
  },
  {
    name: 'the global maximum',
    queued: [q('a1', 'a', 1, { cpu: 256 }), q('b1', 'b', 2, { cpu: 256 })],
    running: Array.from({ length: 10 }, (_, i) => r(`x${i}`, `x${i}`, { cpu: 256 })),
    limits: { vcpuQuota: 100 },
    start: [],
    deferred: { a1: 'max-concurrency', b1: 'max-concurrency' },
  },
];

describe('decideScale (table)', () => {
  for (const row of rows) {
    it(row.name, () => {
      const limits = { ...DEFAULT_LIMITS, ...row.limits };
      const decision = decideScale({ now: NOW, queued: row.queued, running: row.running ?? [], limits, state: initialScaleState(limits, NOW), ...(row.serviceTasks ? { serviceTasks: row.serviceTasks } : {}) });
      expect(decision.start.map((s) => s.id)).toEqual(row.start);
      const deferred = Object.fromEntries(decision.deferred.map((d) => [d.stage.id, d.reason]));
      expect(deferred).toEqual(row.deferred ?? {});
      expect(decision.rejected.map((x) => x.stage.id)).toEqual(row.rejected ?? []);
      for (const d of decision.deferred) expect(d.detail.length).toBeGreaterThan(10);
    });
  }
});

describe("decideScale: split stages' service tasks in the vCPU numbers", () => {
  it('says what a split stage needs and what service tasks hold, and reports the quota in use after the starts', () => {
    const limits = { ...DEFAULT_LIMITS };
    const decision = decideScale({
      now: NOW,
      queued: [q('a1', 'a', 1, { cpu: 512, serviceCpu: 1024 }), q('b1', 'b', 2, { cpu: 4096, serviceCpu: 1024 })],
      running: [r('x0', 'x', { cpu: 1024 })],
      serviceTasks: [{ stageId: 'x0', cpu: 512 }],
      limits,
      state: initialScaleState(limits, NOW),
    });
    expect(decision.start.map((s) => s.id)).toEqual(['a1']);
    expect(decision.deferred.map((d) => d.detail)).toEqual([
      'needs 5 vCPU (4 vCPU for its task, 1 vCPU for the task of its services); 3 vCPU of the 6 vCPU quota free (service tasks of split stages hold 0.5 vCPU)',
    ]);
    expect(decision.vcpuUnits).toEqual({ used: 1024 + 512 + 512 + 1024, serviceTasks: 512 + 1024, converters: 0, quota: 6 * 1024 });
    const rejected = decideScale({ now: NOW, queued: [q('c1', 'c', 1, { cpu: 4096, serviceCpu: 4096 })], running: [], limits, state: initialScaleState(limits, NOW) }).rejected;
    expect(rejected.map((x) => x.message)).toEqual([
      "needs 8 vCPU (4 vCPU for its task, 4 vCPU for the task of its services) but the Fargate vCPU quota is 6 vCPU: lower the pipeline's cpu or raise VCPU_QUOTA (and the account's quota)",
    ]);
  });

  it('counts what is in use during a capacity back-off too', () => {
    const limits = { ...DEFAULT_LIMITS };
    const state = { ...initialScaleState(limits, NOW), backoffUntil: NOW + 10_000 };
    const decision = decideScale({ now: NOW, queued: [q('a1', 'a', 1)], running: [r('x0', 'x')], serviceTasks: [{ stageId: 'x0', cpu: 256 }], limits, state });
    expect(decision.start).toEqual([]);
    expect(decision.vcpuUnits).toEqual({ used: 1280, serviceTasks: 256, converters: 0, quota: 6144 });
  });
});

// docs/design/soci-indexes.md: a converter is a Fargate task of its own (1 vCPU, on-demand), so it
// holds quota as any task does; builds come first, a converter is an optimisation.
describe('decideScale: SOCI converter tasks in the vCPU numbers', () => {
  const limits = { ...DEFAULT_LIMITS };
  const converter = (n: number, cpu = 1024): ConverterUse => ({ taskArn: `arn:aws:ecs:us-east-1:1:task/c/${n}`, cpu });

  it('a running converter holds its vCPU: 5 running + 1 converter leave nothing for a 1-vCPU stage, and the wait says who holds it', () => {
    const decision = decideScale({ now: NOW, queued: [q('a1', 'a', 1)], running: Array.from({ length: 5 }, (_, i) => r(`x${i}`, `x${i}`)), converters: [converter(1)], limits, state: initialScaleState(limits, NOW) });
    expect(decision.start).toEqual([]);
    expect(decision.deferred.map((d) => [d.reason, d.detail])).toEqual([['vcpu-quota', 'needs 1 vCPU; 0 vCPU of the 6 vCPU quota free (SOCI image converters hold 1 vCPU)']]);
    expect(decision.vcpuUnits).toEqual({ used: 6 * 1024, serviceTasks: 0, converters: 1024, quota: 6 * 1024 });
  });

  it('a stage waits for a converter only as far as the quota forces: what is left beside it starts', () => {
    const decision = decideScale({ now: NOW, queued: [q('a1', 'a', 1, { cpu: 2048 }), q('b1', 'b', 2, { cpu: 2048 })], running: [r('x0', 'x', { cpu: 2048 })], converters: [converter(1)], limits, state: initialScaleState(limits, NOW) });
    expect(decision.start.map((s) => s.id)).toEqual(['a1']);
    expect(decision.deferred.map((d) => d.detail)).toEqual(['needs 2 vCPU; 1 vCPU of the 6 vCPU quota free (SOCI image converters hold 1 vCPU)']);
  });

  it('a converter is no build: it counts for vCPU, not for the global maximum', () => {
    const decision = decideScale({ now: NOW, queued: [q('a1', 'a', 1)], running: [r('x0', 'x')], converters: [converter(1), converter(2)], limits: { ...limits, maxConcurrent: 2 }, state: initialScaleState(limits, NOW) });
    expect(decision.start.map((s) => s.id)).toEqual(['a1']);
  });

  it('a converter gets only what the waiting Fargate stages leave of the quota, and nothing during a back-off', () => {
    const room = (queued: QueuedStage[], running: RunningTask[], converters: ConverterUse[] = [], state = initialScaleState(limits, NOW)) =>
      decideScale({ now: NOW, queued, running, converters, limits, state, ec2: { free: {}, booting: {}, capacity: ['amd64'] } }).converterRoomUnits;
    // Nothing waits: the quota left after the running tasks and the converters.
    expect(room([], [r('x0', 'x', { cpu: 2048 })], [converter(1)])).toBe(3 * 1024);
    // A stage held back by its pipeline's limit still wants its vCPU once it may start.
    expect(room([q('a1', 'a', 1, { cpu: 2048, concurrencyLimit: 1 })], [r('x0', 'a', { cpu: 1024 })])).toBe(3 * 1024);
    // A stage that starts this pass takes its share first; one waiting for vCPU leaves nothing.
    expect(room([q('a1', 'a', 1, { cpu: 2048 })], [])).toBe(4 * 1024);
    expect(room([q('a1', 'a', 1, { cpu: 4096 }), q('b1', 'b', 2, { cpu: 4096 })], [])).toBe(0);
    // A split stage waiting for vCPU sets aside its service task's too.
    expect(room([q('a1', 'a', 1, { cpu: 2048, serviceCpu: 1024 })], [r('x0', 'x', { cpu: 2048 }), r('x1', 'x', { cpu: 1024 })])).toBe(0);
    // A stage waiting for an EC2 instance is in its own pool: it sets aside no Fargate vCPU.
    expect(room([q('a1', 'a', 1, { ec2Arch: 'amd64' })], [])).toBe(6 * 1024);
    // RunTask answered "capacity" or the quota: a converter would be refused too, and builds go first when it ends.
    expect(room([], [], [], { ...initialScaleState(limits, NOW), backoffUntil: NOW + 10_000 })).toBe(0);
  });
});

describe('decideScale: rates and back-off', () => {
  const big = { ...DEFAULT_LIMITS, maxConcurrent: 1000, vcpuQuota: 1000 };
  const many = Array.from({ length: 150 }, (_, i) => q(`s${String(i).padStart(3, '0')}`, `r${i % 7}`, i, { cpu: 256 }));

  it('a full bucket starts at most the Fargate launch burst, then refills at its rate', () => {
    const first = decideScale({ now: NOW, queued: many, running: [], limits: big, state: initialScaleState(big, NOW) });
    expect(first.start).toHaveLength(20);
    expect(first.deferred.filter((d) => d.reason === 'rate-limit')).toHaveLength(130);
    const rest = many.filter((s) => !first.start.includes(s));
    const half = decideScale({ now: NOW + 500, queued: rest, running: [], limits: big, state: first.state });
    expect(half.start).toHaveLength(10);
  });

  it('the RunTask bucket limits when it is the tighter one', () => {
    const limits = { ...big, launches: { burst: 1000, perSecond: 1000 } };
    const first = decideScale({ now: NOW, queued: many, running: [], limits, state: initialScaleState(limits, NOW) });
    expect(first.start).toHaveLength(100);
    const next = decideScale({ now: NOW + 250, queued: many.slice(100), running: [], limits, state: first.state });
    expect(next.start).toHaveLength(10);
  });

  it('capacity back-off starts nothing until it ends, and grows with failures', () => {
    const state = withCapacityBackoff(initialScaleState(DEFAULT_LIMITS, NOW), NOW, 1);
    const during = decideScale({ now: NOW + 1000, queued: [q('a1', 'a', 1)], running: [], limits: DEFAULT_LIMITS, state });
    expect(during.start).toEqual([]);
    expect(during.deferred[0]?.reason).toBe('capacity-backoff');
    const after = decideScale({ now: state.backoffUntil! + 1, queued: [q('a1', 'a', 1)], running: [], limits: DEFAULT_LIMITS, state });
    expect(after.start.map((s) => s.id)).toEqual(['a1']);
    expect(withCapacityBackoff(state, NOW, 3).backoffUntil! - NOW).toBe(40_000);
    expect(withCapacityBackoff(state, NOW, 30).backoffUntil! - NOW).toBe(300_000);
  });

  it('a stage backing off after a failed start waits until its notBefore; others go on', () => {
    const held = { ...q('a1', 'a', 1), notBefore: NOW + 15_000 };
    const during = decideScale({ now: NOW + 1000, queued: [held, q('b1', 'b', 2)], running: [], limits: DEFAULT_LIMITS, state: initialScaleState(DEFAULT_LIMITS, NOW) });
    expect(during.start.map((s) => s.id)).toEqual(['b1']);
    expect(during.deferred).toEqual([expect.objectContaining({ stage: held, reason: 'retry-backoff' })]);
    const after = decideScale({ now: NOW + 15_001, queued: [held], running: [], limits: DEFAULT_LIMITS, state: initialScaleState(DEFAULT_LIMITS, NOW) });
    expect(after.start.map((s) => s.id)).toEqual(['a1']);
    // The back-off grows with failures, not with waits: 15 s, doubling, at most 15 min.
    expect([1, 2, 3, 7, 8, 40].map(startRetryDelayMs)).toEqual([15_000, 30_000, 60_000, 900_000, 900_000, 900_000]);
  });
});

describe('decideScale: properties', () => {
  const stageArb = fc.record({
    repo: fc.constantFrom('a', 'b', 'c', 'd'),
    pipeline: fc.constantFrom('p', 'q'),
    limit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    age: fc.integer({ min: 0, max: 20 * 60_000 }),
    cpu: fc.constantFrom(256, 512, 1024, 2048, 4096),
    serviceCpu: fc.option(fc.constantFrom(256, 512, 1024), { nil: undefined }),
  });
  it('never exceeds a limit and every stage is started, deferred or rejected exactly once', () => {
    fc.assert(
      fc.property(fc.array(stageArb, { maxLength: 40 }), fc.array(stageArb, { maxLength: 8 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 3 }), (qs, rs, max, converterCount) => {
        const limits = { ...DEFAULT_LIMITS, maxConcurrent: max };
        // One pipeline has one limit: take it from the group's first stage.
        const limitOf = (repo: string, pipeline: string) => qs.find((x) => x.repo === repo && x.pipeline === pipeline)?.limit;
        const queued = qs.map((s, i) => ({ id: `s${i}`, repo: s.repo, pipeline: s.pipeline, concurrencyLimit: limitOf(s.repo, s.pipeline), queuedAt: NOW - s.age, cpu: s.cpu, ...(s.serviceCpu ? { serviceCpu: s.serviceCpu } : {}) }));
        const running = rs.map((s, i) => ({ stageId: `r${i}`, repo: s.repo, pipeline: s.pipeline, cpu: s.cpu }));
        // Running split stages' service tasks hold vCPU too.
        const serviceTasks = rs.flatMap((s, i) => (s.serviceCpu ? [{ stageId: `r${i}`, cpu: s.serviceCpu }] : []));
        // Running SOCI converters (1 vCPU each) hold vCPU as well.
        const converters = Array.from({ length: converterCount }, (_, i) => ({ taskArn: `c${i}`, cpu: 1024 }));
        const held = serviceTasks.reduce((n, t) => n + t.cpu, 0) + converters.length * 1024;
        const d = decideScale({ now: NOW, queued, running, serviceTasks, converters, limits, state: initialScaleState(limits, NOW) });
        // A converter started in the room left never pushes the quota, nor the waiting stages' needs, over it.
        const waitingNeed = d.deferred.reduce((n, x) => n + x.stage.cpu + (x.stage.serviceCpu ?? 0), 0);
        if (d.converterRoomUnits > 0) expect(d.vcpuUnits.used + waitingNeed + d.converterRoomUnits).toBeLessThanOrEqual(6 * 1024);
        const ids = [...d.start.map((s) => s.id), ...d.deferred.map((x) => x.stage.id), ...d.rejected.map((x) => x.stage.id)];
        expect(ids.sort()).toEqual(queued.map((s) => s.id).sort());
        if (d.start.length > 0) {
          const all = [...running, ...d.start];
          expect(all.length).toBeLessThanOrEqual(max);
          expect(held + running.reduce((n, s) => n + s.cpu, 0) + d.start.reduce((n, s) => n + s.cpu + (s.serviceCpu ?? 0), 0)).toBeLessThanOrEqual(6 * 1024);
          expect(d.vcpuUnits.used).toBe(held + running.reduce((n, s) => n + s.cpu, 0) + d.start.reduce((n, s) => n + s.cpu + (s.serviceCpu ?? 0), 0));
          const inGroup = new Map<string, number>();
          for (const t of running) inGroup.set(`${t.repo}/${t.pipeline}`, (inGroup.get(`${t.repo}/${t.pipeline}`) ?? 0) + 1);
          for (const s of d.start) {
            const key = `${s.repo}/${s.pipeline}`;
            if (s.concurrencyLimit !== undefined) expect(inGroup.get(key) ?? 0).toBeLessThan(s.concurrencyLimit);
            inGroup.set(key, (inGroup.get(key) ?? 0) + 1);
          }
        }
        // FIFO within a repository and pipeline: no younger stage starts while an older
        // one of the same group, not in back-off, waits for vCPU.
        for (const s of d.start) {
          const olderWaiting = d.deferred.filter((x) => x.stage.repo === s.repo && x.stage.queuedAt < s.queuedAt && x.reason === 'vcpu-quota');
          expect(olderWaiting).toEqual([]);
        }
      }),
      { numRuns: 300 },
    );
  });
});
