// `slipway build N` as text: a pipeline with errors of its own shows them under its row, one
// FILE:LINE:COLUMN per line, so that none is cut or run into the next (issue 15).
import { describe, expect, it } from 'vitest';
import { formatBuild } from '../../cli/commands/build.js';
import type { BuildDetail } from '../../core/builds/types.js';

const base = { buildId: 'acme/app#3', repo: 'acme/app', buildNumber: 3, attempts: 0, dependsOn: [] };

const build: BuildDetail = {
  id: 'acme/app#3', repo: 'acme/app', number: 3, status: 'running', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main',
  commit: 'a'.repeat(40), message: 'change', author: 'octocat', link: '', deliveryId: 'd', fork: false, createdAt: 0,
  stages: [
    {
      ...base, number: 1, name: 'image', status: 'error', reason: 'invalid-config', finishedAt: 0, steps: [],
      message: '.drone.yml:7:17: error: steps[0].privileged: Fargate cannot run privileged containers\n.drone.yml:12:3: error: steps[1]: missing "image" in step "b"',
    },
    { ...base, number: 2, name: 'test', status: 'running', steps: [] },
  ],
};

describe('slipway build: an errored pipeline', () => {
  it('lists its errors beneath its row, each on its own line', () => {
    const lines = formatBuild(build, 0).split('\n');
    const row = lines.findIndex((l) => /^1\s+image\s+error\b/.test(l));
    expect(lines[row]).toMatch(/invalid pipeline:$/);
    expect(lines.slice(row + 1, row + 3)).toEqual([
      '    .drone.yml:7:17: error: steps[0].privileged: Fargate cannot run privileged containers',
      '    .drone.yml:12:3: error: steps[1]: missing "image" in step "b"',
    ]);
    expect(lines[row + 3]).toMatch(/^2\s+test\s+running/);
  });
});

describe('slipway build: where a stage\'s time went', () => {
  it('prints the timeline of a stage that ended, under its row', () => {
    const s = 1000;
    const ended: BuildDetail = {
      ...build,
      stages: [
        {
          ...base, number: 1, name: 'test', status: 'success', queuedAt: 0, finishedAt: 100 * s,
          timeline: { taskCreatedAt: 2 * s, pullStartedAt: 11 * s, pullStoppedAt: 40 * s, agentStartedAt: 15 * s, clonedAt: 17 * s, readyAt: 21 * s, stoppingAt: 95 * s, stoppedAt: 100 * s },
          steps: [{ buildId: 'acme/app#3', stageNumber: 1, number: 2, name: 'unit', container: 'unit', status: 'success', detached: false, kind: 'step', startedAt: 16 * s, finishedAt: 90 * s }],
        },
      ],
    };
    const lines = formatBuild(ended, 0).split('\n');
    expect(lines).toContain('    timeline: queued 2.0s, provisioning 9.0s, pulls 29s, clone 2.0s, services ready 4.0s, first step 0.00s, steps 1m 09s, teardown 10s');
    // A stage still running has no timeline yet.
    expect(formatBuild(build, 0)).not.toContain('timeline:');
  });

  it('starts at the push (control plane) and says why it was queued, beside the queued phase', () => {
    const s = 1000;
    const because = 'waiting: no Fargate capacity or quota (RunTask on FARGATE: Capacity is\nunavailable at this time); retrying with back-off';
    const stage = {
      ...base, attempts: 1, number: 1, name: 'test', status: 'success' as const, queuedAt: 0, finishedAt: 100 * s,
      timeline: { queuedBecause: because, taskCreatedAt: 7 * s, pullStartedAt: 11 * s, pullStoppedAt: 40 * s, stoppedAt: 100 * s },
      steps: [],
    };
    const pushed: BuildDetail = { ...build, receivedAt: -1500, stages: [stage] };
    const line = formatBuild(pushed, 0).split('\n').find((l) => l.startsWith('    timeline: '));
    expect(line).toBe('    timeline: control plane 1.5s, queued 7.0s (waiting: no Fargate capacity or quota (RunTask on FARGATE: Capacity is unavailable at this time); retrying with back-off), provisioning 4.0s, pulls 29s');
    // A stage that waited for another one was queued when that one ended: no control plane phase.
    expect(formatBuild({ ...pushed, stages: [{ ...stage, dependsOn: ['build'] }] }, 0)).toContain('    timeline: queued 7.0s (waiting:');
  });
});

describe("slipway build: a split stage's time", () => {
  it('prints one timeline line per segment, in order, each from its own queueing', () => {
    const s = 1000;
    const stage = {
      ...base, attempts: 1, number: 1, name: 'big', status: 'success' as const, queuedAt: 20 * s, finishedAt: 40 * s, segments: 2, segment: 2, steps: [],
      segmentTimelines: [{ segment: 1, attempt: 0, queuedAt: 0, taskCreatedAt: 2 * s, pullStartedAt: 3 * s, pullStoppedAt: 5 * s, stoppedAt: 19 * s }],
      timeline: { segment: 2, attempt: 0, queuedAt: 20 * s, queuedBecause: 'segment 1 of 2 ended (steps-passed); segment 2 is queued', taskCreatedAt: 21 * s, stoppedAt: 40 * s },
    };
    const lines = formatBuild({ ...build, receivedAt: -s, stages: [stage] }, 0).split('\n').filter((l) => l.includes('timeline'));
    expect(lines).toEqual([
      '    timeline, segment 1: control plane 1.0s, queued 2.0s, provisioning 1.0s, pulls 2.0s',
      '    timeline, segment 2: queued 1.0s (segment 1 of 2 ended (steps-passed); segment 2 is queued)',
    ]);
  });
});

describe('slipway build: a skipped step', () => {
  it('shows no duration, even when its record kept the times of its container (Drone: no span for a skipped step)', () => {
    const step = { buildId: 'acme/app#3', stageNumber: 2, number: 2, name: 'use-cache', container: 'use-cache', detached: false, kind: 'step' as const };
    const shown: BuildDetail = {
      ...build,
      stages: [{ ...base, number: 2, name: 'test', status: 'failure', startedAt: 0, finishedAt: 40_000, steps: [{ ...step, status: 'skipped', startedAt: 1000, finishedAt: 35_000, reason: 'service not ready' }] }],
    };
    const row = formatBuild(shown, 50_000).split('\n').find((l) => l.includes('use-cache')) ?? '';
    expect(row).toMatch(/^2\.2 +use-cache +skipped +- +service not ready$/);
  });
});
