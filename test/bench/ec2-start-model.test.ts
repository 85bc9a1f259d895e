// The start model on EC2 capacity (bench/lib/ec2-start-model.ts): it models the EC2 form the
// planner compiles for `node: { capacity: warm }`, reads what the code decides (the task
// definition, the gate's pace, the autoscaler's passes), and each fix moves its figure.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ec2PassProfile } from '../../bench/lib/control-plane-path.js';
import { ec2StartFigures, firstLookAtOrAfter, sampleEc2Start, type Ec2PassProfile } from '../../bench/lib/ec2-start-model.js';
import { compiledWarm, EC2_PASSES_BEFORE, ec2Rows, ec2RunningLadder } from '../../bench/lib/start-ladder.js';
import { startShape, TODAY_CONTROL_PLANE } from '../../bench/lib/start-model.js';
import { gitHostPath } from '../../bench/lib/git-host-calls.js';
import { NUDGED_RECEIVE_WAIT_SECONDS, SCHEDULED_PASS_SECONDS } from '../../core/scaling/pass-schedule.js';
import { seededRandom } from '../../core/util/seeded-random.js';
import { GATE_BACKOFF } from '../../task-runner/backoff.js';
import { SETUP_POLL_SECONDS } from '../../core/pipeline/script.js';

const yaml = readFileSync(new URL('../fixtures/start-model/pipeline.yml', import.meta.url), 'utf8');
const RUNS = 2000;
// The control plane as its code is now: the pending status beside the queue, the GitHub App's
// calls as git-host-calls.ts reads them (a private repository).
const profile = { ...TODAY_CONTROL_PLANE, statusOnPath: false, gitHost: await gitHostPath() };
const warm = compiledWarm(yaml);
const shape = startShape(warm.containerDefinitions);
const passes = await ec2PassProfile();
const before: Ec2PassProfile = { ...passes, ...EC2_PASSES_BEFORE };
const running = { instance: 'running', imagesCached: true } as const;

describe('the EC2 form of the pipeline, as the planner compiles node: { capacity: warm }', () => {
  it('is the host-network EC2 task; its containers start together; the service health check is every 5 s; the wrapper polls every 0.2 s', () => {
    expect(warm.networkMode).toBe('host');
    expect(warm.requiresCompatibilities).toEqual(['EC2']);
    expect(shape.containers.map((c) => [c.name, c.dependsOn.length])).toEqual([['slipway-agent', 0], ['db', 0], ['test', 0]]);
    expect(shape.containers.find((c) => c.name === 'db')!.healthInterval).toBe(5);
    expect(shape.wrapperPoll).toBe(SETUP_POLL_SECONDS);
    expect(shape.clone).toBe('shallow');
    // Through the pull-through cache (on in the stack): images in ECR.
    expect(shape.containers.every((c) => c.registry === 'ecr')).toBe(true);
  });
});

describe("the autoscaler's passes and the gate, read from the code", () => {
  it('the planner-nudged pass long-polls, an instance joining nudges a pass, the gate looks every ≤ 0.5 s, passes every minute', () => {
    expect(passes).toEqual({ scheduleSeconds: SCHEDULED_PASS_SECONDS, announceGraceSeconds: 60, nudgedReceiveWaitSeconds: NUDGED_RECEIVE_WAIT_SECONDS, registrationNudges: true, gateBackoff: GATE_BACKOFF });
  });
  it('a gate look comes at the first back-off step at or after the moment', () => {
    expect(firstLookAtOrAfter(10, { initialMs: 100, maxMs: 2000, factor: 2 }, 10)).toBe(10);
    // Looks at 0, 0.1, 0.3, 0.7, 1.5, 3.1, 5.1, …
    expect(firstLookAtOrAfter(0, { initialMs: 100, maxMs: 2000, factor: 2 }, 3.2)).toBeCloseTo(5.1, 9);
    expect(firstLookAtOrAfter(0, GATE_BACKOFF, 3.2)).toBeCloseTo(3.2, 9);
  });
});

describe('push → first step on EC2', () => {
  const now = ec2StartFigures(shape, profile, passes, running, RUNS);
  const then = ec2StartFigures(shape, profile, before, running, RUNS);

  it('a running idle instance with the images cached: under 10 s at the median now, sooner than before', () => {
    expect(now.p50).toBeLessThan(10);
    expect(now.p50).toBeLessThan(then.p50);
  });

  it('the gate sees the service sooner: from services ready to gate open ≤ 0.5 s now (before: up to 2 s)', () => {
    expect(now.stageP50['gate open'] - now.stageP50['services ready']).toBeLessThanOrEqual(0.5);
    expect(then.stageP50['gate open'] - then.stageP50['services ready']).toBeGreaterThan(now.stageP50['gate open'] - now.stageP50['services ready']);
  });

  it('the postgres health check decides the critical path: services ready ≥ 5 s after the containers start', () => {
    const random = seededRandom(3);
    for (let i = 0; i < 200; i++) {
      const s = sampleEc2Start(shape, profile, passes, running, random);
      expect(s.ends['services ready'] - s.ends.RunTask).toBeGreaterThanOrEqual(5);
      expect(s.total).toBeGreaterThanOrEqual(s.ends['gate open']);
      expect(s.ends['gate open']).toBeGreaterThanOrEqual(Math.max(s.ends.clone, s.ends['services ready']));
    }
  });

  it('a short poll that may miss the message makes the tail wait for a scheduled pass: the long poll removes it', () => {
    const shortPoll = ec2StartFigures(shape, profile, { ...passes, nudgedReceiveWaitSeconds: 0 }, running, RUNS);
    expect(shortPoll.p95).toBeGreaterThan(now.p95 + 10);
  });

  it("an instance's registration nudges a pass: a warm-pool start's RunTask follows its registration within seconds, not at the next scheduled pass", () => {
    const c = { instance: 'warm-pool', imagesCached: true } as const;
    const nudged = ec2StartFigures(shape, profile, passes, c, RUNS);
    const scheduled = ec2StartFigures(shape, profile, { ...passes, registrationNudges: false }, c, RUNS);
    expect(nudged.stageP50.RunTask - nudged.stageP50['instance ready']).toBeLessThan(3);
    expect(scheduled.stageP50.RunTask - scheduled.stageP50['instance ready']).toBeGreaterThan(15);
  });

  it("the first step's wrapper looks every 0.2 s: from gate open to first step ≤ 0.2 s now (a second before)", () => {
    const lookEverySecond = ec2StartFigures({ ...shape, wrapperPoll: 1 }, profile, passes, running, RUNS);
    expect(now.stageP50['first step'] - now.stageP50['gate open']).toBeLessThanOrEqual(SETUP_POLL_SECONDS);
    expect(lookEverySecond.p50).toBeGreaterThan(now.p50 + 0.2);
  });

  it('each change in turn brings the running instance\'s first step sooner; the last built one is the figure read from the code', () => {
    const ladder = ec2RunningLadder(yaml, passes, profile, RUNS);
    // The keepWarm row is an option, off by default: not part of what runs now.
    const built = ladder.filter((e) => !e.name.startsWith('(model only)') && !e.name.startsWith('+ keepWarm'));
    for (let i = 1; i < built.length; i++) expect(built[i]!.figures.p50).toBeLessThanOrEqual(built[i - 1]!.figures.p50);
    expect(built.at(-1)!.figures).toEqual(now);
    expect(built[0]!.figures).toEqual(ec2StartFigures({ ...shape, wrapperPoll: 1 }, profile, before, running, RUNS));
  });

  it('every case in one run: a running instance before a warm-pool one before a new one, cached images before pulled', () => {
    const rows = ec2Rows(yaml, passes, profile, RUNS);
    expect(rows.map((r) => r.name)).toEqual([
      'a running idle instance, images cached',
      'a running idle instance, images pulled',
      'a warm-pool instance started, images cached',
      'a warm-pool instance started, images pulled',
      'a new instance launched, images cached',
      'a new instance launched, images pulled',
    ]);
    const p50 = rows.map((r) => r.now.p50);
    expect(p50[0]).toBeLessThan(p50[1]!);
    expect(p50[2]).toBeLessThan(p50[3]!);
    expect(p50[0]).toBeLessThan(p50[2]!);
    expect(p50[2]).toBeLessThan(p50[4]!);
    for (const r of rows) expect(r.now.p50).toBeLessThanOrEqual(r.before.p50);
  });
});
