// A stage's timeline (core/builds/stage-timeline.ts): ECS's task times and the agent's phase
// times → the phases a user sees, each with its ends.
import { describe, expect, it } from 'vitest';
import { stagePhases, stageTimeline, startsWithBuild, stepMarks } from '../../core/builds/stage-timeline.js';

const T0 = Date.parse('2024-01-01T00:00:00.000Z');
const iso = (s: number) => new Date(T0 + s * 1000).toISOString();

describe('stageTimeline', () => {
  it("takes ECS's task times from the STOPPED event and the agent's from its result", () => {
    const t = stageTimeline(
      { createdAt: iso(2), pullStartedAt: iso(11), pullStoppedAt: iso(40), stoppingAt: iso(95), stoppedAt: iso(100) },
      { startedAt: iso(15), clonedAt: iso(17), readyAt: iso(21) },
    );
    expect(t).toEqual({ taskCreatedAt: T0 + 2000, pullStartedAt: T0 + 11_000, pullStoppedAt: T0 + 40_000, agentStartedAt: T0 + 15_000, clonedAt: T0 + 17_000, readyAt: T0 + 21_000, stoppingAt: T0 + 95_000, stoppedAt: T0 + 100_000 });
  });
  it('leaves out what is missing or unreadable', () => {
    expect(stageTimeline({ createdAt: 'not a time', stoppedAt: iso(5) })).toEqual({ stoppedAt: T0 + 5000 });
  });
});

/** A stage without dependencies that ran once. */
const RAN = { dependsOn: [], attempts: 1 };

describe('stagePhases', () => {
  const timeline = stageTimeline(
    { createdAt: iso(2), pullStartedAt: iso(11), pullStoppedAt: iso(40), stoppingAt: iso(95), stoppedAt: iso(100) },
    { startedAt: iso(15), clonedAt: iso(17), readyAt: iso(21) },
  );
  const step = (startedAt: number, finishedAt: number, extra = {}) => ({ kind: 'step' as const, status: 'success' as const, detached: false, startedAt: T0 + startedAt * 1000, finishedAt: T0 + finishedAt * 1000, ...extra });

  it('accounts for every second: queued, provisioning, pulls, clone, services, first step, steps, teardown', () => {
    // The step's container started with the task (16 s) and its commands after the setup (21 s).
    const phases = stagePhases({ ...RAN, queuedAt: T0, finishedAt: T0 + 100_000, timeline }, [step(16, 90), { kind: 'clone' as const, status: 'success' as const, detached: false, startedAt: T0 + 15_000 }]);
    expect(phases.map((p) => [p.name, (p.from - T0) / 1000, (p.to - T0) / 1000])).toEqual([
      ['queued', 0, 2],
      ['provisioning', 2, 11],
      ['pulls', 11, 40],
      ['clone', 15, 17],
      ['services ready', 17, 21],
      ['first step', 21, 21],
      ['steps', 21, 90],
      ['teardown', 90, 100],
    ]);
  });

  it('a step that waited for ECS (a plugin) starts after the setup: the wait is the first-step phase', () => {
    const phases = stagePhases({ ...RAN, queuedAt: T0, timeline }, [step(27, 90)]);
    expect(phases.find((p) => p.name === 'first step')).toEqual({ name: 'first step', from: T0 + 21_000, to: T0 + 27_000 });
  });

  it("without the step records (the metrics), the step marks the timeline recorded at the stage's end", () => {
    const steps = [step(22, 50), step(21, 99, { detached: true }), step(0, 0, { status: 'skipped' })];
    expect(stepMarks(steps)).toEqual({ firstStepAt: T0 + 21_000, lastStepAt: T0 + 50_000 });
    expect(stepMarks([])).toEqual({});
    const recorded = { ...RAN, queuedAt: T0, finishedAt: T0 + 100_000, timeline: { ...timeline, ...stepMarks(steps) } };
    expect(stagePhases(recorded, [])).toEqual(stagePhases(recorded, steps));
    expect(stagePhases(recorded, []).find((p) => p.name === 'steps')).toEqual({ name: 'steps', from: T0 + 21_000, to: T0 + 50_000 });
  });

  it('skipped and detached steps do not end the steps phase; without marks there is no phase', () => {
    const phases = stagePhases({ ...RAN, queuedAt: T0, timeline }, [step(21, 50), step(21, 99, { detached: true }), step(0, 0, { status: 'skipped' })]);
    expect(phases.find((p) => p.name === 'steps')).toEqual({ name: 'steps', from: T0 + 21_000, to: T0 + 50_000 });
    expect(stagePhases({ ...RAN }, [])).toEqual([]);
  });

  describe('from the push: the control plane phase, and why it was queued', () => {
    const finished = { ...RAN, queuedAt: T0, finishedAt: T0 + 100_000, timeline: { ...timeline, queuedBecause: 'waiting: no Fargate capacity or quota (…); retrying with back-off' } };
    const pushed = { receivedAt: T0 - 1500 };

    it('a stage that starts with the build begins at the webhook receipt: receipt → queued is the control plane', () => {
      const phases = stagePhases(finished, [step(21, 90)], pushed);
      expect(phases[0]).toEqual({ name: 'control plane', from: T0 - 1500, to: T0 });
      expect(phases[1]).toEqual({ name: 'queued', from: T0, to: T0 + 2000, note: 'waiting: no Fargate capacity or quota (…); retrying with back-off' });
    });

    it('a dependent stage, a Spot retry and a later segment of a split stage have no control plane phase: they were queued later', () => {
      expect(stagePhases({ ...finished, dependsOn: ['build'] }, [], pushed).map((p) => p.name)).not.toContain('control plane');
      expect(stagePhases({ ...finished, attempts: 2 }, [], pushed).map((p) => p.name)).not.toContain('control plane');
      expect(stagePhases({ ...finished, segment: 2 }, [], pushed).map((p) => p.name)).not.toContain('control plane');
      expect([startsWithBuild({ dependsOn: [] }, 0), startsWithBuild({ dependsOn: [] }, 1), startsWithBuild({ dependsOn: [], segment: 2 }, 0), startsWithBuild({ dependsOn: ['a'] }, 0)]).toEqual([true, false, false, false]);
    });

    it('records stored before the receipt time and the reason were kept still give their phases, without those', () => {
      const old = { ...RAN, queuedAt: T0, finishedAt: T0 + 100_000, timeline };
      const phases = stagePhases(old, [step(21, 90)], {});
      expect(phases.map((p) => p.name)).toEqual(['queued', 'provisioning', 'pulls', 'clone', 'services ready', 'first step', 'steps', 'teardown']);
      expect(phases[0]).toEqual({ name: 'queued', from: T0, to: T0 + 2000 });
      expect(stagePhases(old, [step(21, 90)])).toEqual(phases);
    });
  });

  describe('a split stage: one timeline per segment', () => {
    const split = { dependsOn: [], attempts: 1, segments: 2, segment: 2, queuedAt: T0 + 50_000, finishedAt: T0 + 90_000 };
    const first = { segment: 1, attempt: 0, queuedAt: T0, queuedBecause: 'waiting: capacity', taskCreatedAt: T0 + 2000, firstStepAt: T0 + 10_000, lastStepAt: T0 + 40_000, stoppedAt: T0 + 45_000 };
    const second = { segment: 2, attempt: 0, queuedAt: T0 + 50_000, taskCreatedAt: T0 + 52_000, firstStepAt: T0 + 60_000, lastStepAt: T0 + 80_000, stoppedAt: T0 + 85_000 };

    it("gives each segment's phases in order, from its own queueing and its own steps; the push starts the first only", () => {
      const phases = stagePhases({ ...split, segmentTimelines: [first], timeline: second }, [step(10, 80)], { receivedAt: T0 - 1000 });
      expect(phases.map((p) => [p.segment, p.name, (p.from - T0) / 1000, (p.to - T0) / 1000])).toEqual([
        [1, 'control plane', -1, 0],
        [1, 'queued', 0, 2],
        [1, 'steps', 10, 40],
        [1, 'teardown', 40, 45],
        [2, 'queued', 50, 52],
        [2, 'steps', 60, 80],
        [2, 'teardown', 80, 85],
      ]);
      expect(phases[1]!.note).toBe('waiting: capacity');
    });

    it('a first segment started again after a Spot interruption does not begin at the push; a running later segment shows the ones that ended', () => {
      const retried = stagePhases({ ...split, segmentTimelines: [{ ...first, attempt: 1 }], timeline: second }, [], { receivedAt: T0 - 1000 });
      expect(retried.map((p) => p.name)).not.toContain('control plane');
      const running = stagePhases({ ...split, finishedAt: undefined, segmentTimelines: [first] }, [], { receivedAt: T0 - 1000 });
      expect(running.every((p) => p.segment === 1)).toBe(true);
      expect(running.at(-1)).toMatchObject({ name: 'teardown', to: T0 + 45_000 });
    });
  });
});
