// The status file the agent rewrites as steps end: what the next step to start sees of its
// build and stage (drone/runner-go environ/environ.go: Build and Stage, recomputed before
// every step by pipeline/runtime/execer.go).
import { describe, expect, it } from 'vitest';

import type { AgentStepPlan } from '../../core/pipeline/contract.js';
import type { StepStates } from '../../task-runner/decide-steps.js';
import { failedStepNames, statusFileContent } from '../../task-runner/status-file.js';

const step = (container: string, extra: Partial<AgentStepPlan> = {}): AgentStepPlan => ({ container, steps: [container], detach: false, failure: 'always', dependsOn: [], ...extra });
const exited = (exitCode: number) => ({ phase: 'exited' as const, exitCode });

function parse(content: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of content.trim().split('\n')) {
    const m = /^(?:export )?([A-Za-z_]+)='(.*)'$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

describe('failedStepNames (runner-go environ.failedSteps)', () => {
  it('counts failures that are not ignored; not 78, not detached, not steps that never ran', () => {
    const steps = [
      step('a'),
      step('b', { failure: 'ignore' }),
      step('c', { detach: true }),
      step('d'),
      step('e'),
      step('packed', { steps: ['p1', 'p2'] }),
    ];
    const states: StepStates = {
      a: exited(2),
      b: exited(1),
      c: exited(1),
      d: exited(78),
      e: { phase: 'unreachable', reason: 'dependency a failed with exit code 2' },
      packed: exited(1),
    };
    expect(failedStepNames(steps, states)).toEqual(['a', 'p1', 'p2']);
  });
});

describe('statusFileContent', () => {
  const steps = [step('build'), step('notify')];
  const base = { steps, upstream: { failedStages: [] }, stageStarted: 1_700_000_100, now: 1_700_000_200 };

  it('before any step: success, real start times, FINISHED is now, nothing accounted for', () => {
    const content = statusFileContent({ ...base, states: {} });
    expect(parse(content)).toEqual({
      DRONE_BUILD_STATUS: 'success',
      DRONE_STAGE_STATUS: 'success',
      CI_BUILD_STATUS: 'running',
      DRONE_BUILD_STARTED: '1700000100',
      DRONE_BUILD_FINISHED: '1700000200',
      CI_BUILD_STARTED: '1700000100',
      CI_BUILD_FINISHED: '1700000200',
      DRONE_STAGE_STARTED: '1700000100',
      DRONE_STAGE_FINISHED: '1700000200',
      slipway_status_ended: '  ',
    });
  });

  it('after a failure: the failed steps, the failed stages of the build, the ended containers', () => {
    const content = statusFileContent({ ...base, upstream: { failedStages: ['lint'], buildStarted: 1_700_000_000 }, states: { build: exited(3) } });
    expect(parse(content)).toMatchObject({
      DRONE_BUILD_STATUS: 'failure',
      DRONE_STAGE_STATUS: 'failure',
      DRONE_FAILED_STEPS: 'build',
      DRONE_FAILED_STAGES: 'lint',
      DRONE_BUILD_STARTED: '1700000000',
      slipway_status_ended: ' build ',
    });
  });
});
