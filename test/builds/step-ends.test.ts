// A step whose commands have ended shows ended while its container stays up for a later step's
// START (core/pipeline/script.ts, lingerLines): its end read from its agent's lines while the
// stage runs (core/builds/step-ends.ts; the agent writes them: task-runner/supervise.ts), its
// status the one the stage's end gives it (status.ts stepChanges with the agent's result).

import { describe, expect, it } from 'vitest';
import { stepChanges, type StageOutcome } from '../../core/builds/status.js';
import { commandEndsFromAgentLog, withCommandEnd, type CommandEnd } from '../../core/builds/step-ends.js';
import type { TaskStateChangeDetail } from '../../core/builds/task-event.js';
import type { StepRecord } from '../../core/builds/types.js';
import { AGENT_CONTAINER, AGENT_EXIT } from '../../core/pipeline/contract.js';

const TASK = 'arn:aws:ecs:us-east-1:000000000000:task/slipway/ends';
const line = (time: number, text: string) => ({ time, text });
const iso = (second: number) => `2030-01-01T00:00:${String(second).padStart(2, '0')}.250Z`;
const at = (second: number) => Date.parse(iso(second));

describe('commandEndsFromAgentLog', () => {
  it('takes the exit code and the time each `step … exited with code N at T` line names; the first line of a container counts; nothing else', () => {
    const ends = commandEndsFromAgentLog([
      line(1000, 'slipway-agent: step build started at 2030-01-01T00:00:07.250Z'),
      line(2000, `slipway-agent: step build exited with code 0 at ${iso(20)}`),
      line(2100, `slipway-agent: step build exited with code 1 at ${iso(21)}`),
      line(2200, `slipway-agent: step lint exited with code 2 at ${iso(22)}`),
      // An older agent named no time; ECS gave no code; not an exit status; not a time; not the agent's line.
      line(2300, 'slipway-agent: step old exited with code 0'),
      line(2400, `slipway-agent: step lost exited with code unknown at ${iso(23)}`),
      line(2500, `slipway-agent: step big exited with code 256 at ${iso(24)}`),
      line(2600, 'slipway-agent: step late exited with code 0 at soon'),
      line(2700, `slipway-agent: step twice exited with code 0 at ${iso(25)} at ${iso(26)}`),
      line(2800, `step fake exited with code 0 at ${iso(1)}`),
      line(2900, `slipway-agent: step -1 exited with code -1 at ${iso(27)}`),
    ]);
    expect(Object.fromEntries(ends)).toEqual({ build: { exitCode: 0, at: at(20) }, lint: { exitCode: 2, at: at(22) } });
  });
});

describe('withCommandEnd agrees with the stage end', () => {
  const step = (name: string, extra: Partial<StepRecord> = {}): StepRecord => ({
    buildId: 'b', stageNumber: 1, number: 2, name, container: name, status: 'running', detached: false, kind: 'step', afterSetup: true, startedAt: at(7), ...extra,
  });
  const clone: StepRecord = { buildId: 'b', stageNumber: 1, number: 1, name: 'clone', container: AGENT_CONTAINER, status: 'success', detached: false, kind: 'clone' };

  /** The status the stage's end writes for `s`: its STOPPED event with the agent's result (apply-event.ts). */
  function atStageEnd(steps: StepRecord[], s: StepRecord, exits: Record<string, number>, outcome: Partial<StageOutcome> & Pick<StageOutcome, 'status' | 'reason'>) {
    const detail: TaskStateChangeDetail = {
      clusterArn: '', taskArn: TASK, taskDefinitionArn: '', lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stopCode: 'EssentialContainerExited', version: 9,
      containers: [{ name: AGENT_CONTAINER, lastStatus: 'STOPPED', exitCode: outcome.exitCode ?? 0 }, ...Object.entries(exits).map(([name, exitCode]) => ({ name, lastStatus: 'STOPPED', exitCode }))],
    };
    const full: StageOutcome = { message: 'the stage ended', skippedSteps: {}, startedSteps: { [s.container]: at(7) }, endedSteps: { [s.container]: at(20) }, ...outcome };
    return stepChanges(detail, steps, full).find((c) => c.number === s.number);
  }

  const cases: { name: string; exitCode: number; extra?: Partial<StepRecord>; outcome: Partial<StageOutcome> & Pick<StageOutcome, 'status' | 'reason'> }[] = [
    { name: 'success', exitCode: 0, outcome: { status: 'success', reason: 'steps-passed', exitCode: AGENT_EXIT.success } },
    { name: 'failure', exitCode: 1, outcome: { status: 'failure', reason: 'step-failed', exitCode: AGENT_EXIT.stepFailed } },
    // `failure: ignore`: the step failed, the stage passes (Drone's step status is its exit's).
    { name: 'failure: ignore', exitCode: 3, outcome: { status: 'success', reason: 'steps-passed', exitCode: AGENT_EXIT.success } },
    { name: "Drone's early exit (78)", exitCode: 78, outcome: { status: 'success', reason: 'steps-passed', exitCode: AGENT_EXIT.success } },
    { name: 'a detached step that failed', exitCode: 1, extra: { detached: true }, outcome: { status: 'success', reason: 'steps-passed', exitCode: AGENT_EXIT.success } },
  ];
  for (const c of cases) {
    it(`${c.name}: the status, the exit code and the commands' end, as the stage's end records them`, () => {
      const s = step('build', c.extra);
      const steps = [clone, s];
      const ends = new Map<string, CommandEnd>([['build', { exitCode: c.exitCode, at: at(20) }]]);
      const live = withCommandEnd(s, steps, ends, TASK);
      const end = atStageEnd(steps, s, { build: c.exitCode }, c.outcome)!;
      expect(live).toMatchObject({ status: end.status, exitCode: end.exitCode, startedAt: at(7), finishedAt: at(20) });
      expect(end).toMatchObject({ finishedAt: at(20) });
      expect(live.reason).toBe(end.reason);
      expect(['success', 'failure']).toContain(live.status);
    });
  }

  it('a step that skipped itself (exit 79 with its `.skipped` marker): left to the stage end, which records it skipped with the agent\'s reason', () => {
    const build = step('build', { status: 'failure', exitCode: 1, finishedAt: at(10) });
    const s = { ...step('test'), number: 3, status: 'pending' as const, startedAt: undefined };
    const steps = [clone, build, s];
    const ends = new Map<string, CommandEnd>([['build', { exitCode: 1, at: at(10) }], ['test', { exitCode: 79, at: at(11) }]]);
    expect(withCommandEnd(s, steps, ends, TASK)).toBe(s);
    const reason = 'dependency build failed with exit code 1';
    expect(atStageEnd(steps, s, { build: 1, test: 79 }, { status: 'failure', reason: 'step-failed', exitCode: AGENT_EXIT.stepFailed, skippedSteps: { test: reason } })).toMatchObject({ status: 'skipped', reason });
  });

  it('a signal (a stop of the task may have sent it), a step that runs on a status, an exit 0 after an exit 78: left to the stage end', () => {
    const kept = [
      { s: step('build'), exits: { build: 143 } },
      { s: step('build', { afterSetup: undefined, whenStatus: 'always', waitsInContainer: true }), exits: { build: 0 } },
      { s: { ...step('test'), number: 3 }, exits: { build: 78, test: 0 } },
    ];
    for (const { s, exits } of kept) {
      const earlier = step('build', { status: 'success', exitCode: 78, finishedAt: at(10) });
      const steps = s.number === 3 ? [clone, earlier, s] : [clone, s];
      const ends = new Map(Object.entries(exits).map(([c, exitCode]) => [c, { exitCode, at: at(20) }]));
      expect(withCommandEnd(s, steps, ends, TASK), JSON.stringify(exits)).toBe(s);
    }
  });

  it('forward only: a finished step, an end before the known start, a step without an end in the log, a plugin step stay as they are', () => {
    const ends = new Map<string, CommandEnd>([['build', { exitCode: 0, at: at(20) }]]);
    for (const s of [step('build', { status: 'failure', exitCode: 1, finishedAt: at(30) }), step('build', { startedAt: at(21) }), step('other'), step('build', { afterSetup: undefined })]) {
      expect(withCommandEnd(s, [clone, s], ends, TASK)).toBe(s);
    }
  });

  it('a step whose start was not read yet ends all the same, without a start (the stage end adds it)', () => {
    const s = step('build', { status: 'pending', startedAt: undefined });
    const shown = withCommandEnd(s, [clone, s], new Map([['build', { exitCode: 0, at: at(20) }]]), TASK);
    expect(shown).toMatchObject({ status: 'success', exitCode: 0, finishedAt: at(20) });
    expect(shown.startedAt).toBeUndefined();
  });
});
