// `SLIPWAY_PULL_MS=… slipway up`: nothing is pulled locally, so by default a stage's pulls phase
// is empty; with a pull time each image pull of the ECS stand-in takes that long, and a build's
// pulls phase shows the pulls of its task side by side (about one pull time, not their sum).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stagePhases } from '../../core/builds/stage-timeline.js';
import type { BuildDetail } from '../../core/builds/types.js';
import { setLogDestination } from '../../lambdas/shared/observability/logger.js';
import { snapshotDirectory, type Snapshot } from '../../local/snapshot.js';
import { startLocalSlipway, type LocalSlipway } from '../../local/up.js';
import { HANG_GUARD_MS } from '../support/wait.js';

const PULL_MS = 1000;

// The agent, a service and a step, which all start with the task: three pulls at once.
const PIPELINE = `kind: pipeline
type: docker
name: test
services:
  - name: side
    image: alpine:3.20
    commands: [sleep 60]
steps:
  - name: one
    image: alpine:3.20
    commands: [echo one]
`;

describe('slipway up with SLIPWAY_PULL_MS', () => {
  let local: LocalSlipway;
  let home: string;
  let work: string;
  let snapshot: Snapshot | undefined;
  let build: BuildDetail;

  beforeAll(async () => {
    // The handlers' JSON log lines would drown the test report.
    vi.spyOn(console, 'log').mockImplementation(() => {});
    setLogDestination(() => undefined);
    home = mkdtempSync(join(tmpdir(), 'slipway-pull-ms-home-'));
    local = await startLocalSlipway({ port: 0, scheduleMs: 500, env: { ...process.env, SLIPWAY_HOME: home, SLIPWAY_PULL_MS: String(PULL_MS) } });
    work = mkdtempSync(join(tmpdir(), 'slipway-pull-ms-'));
    writeFileSync(join(work, '.drone.yml'), PIPELINE);
    snapshot = snapshotDirectory(work, { message: 'pulls', author: 'demo' });
    const submitted = await local.buildSnapshot(snapshot, { slug: 'demo/pulls' });
    if (typeof submitted !== 'object' || !('buildId' in submitted)) throw new Error(`demo/pulls built nothing: ${JSON.stringify(submitted)}`);
    build = await local.waitForBuild(submitted.buildId, undefined, HANG_GUARD_MS);
  }, 180_000);

  afterAll(async () => {
    await local?.stop();
    snapshot?.remove();
    setLogDestination(undefined);
    vi.restoreAllMocks();
    for (const dir of [work, home]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('each pull of the task takes the pull time, side by side; the pulls phase is about one pull', () => {
    expect(build.status).toBe('success');
    const stage = build.stages[0]!;
    const pulls = local.aws.ecs.pullsOf(stage.taskArn!);
    expect(pulls).toHaveLength(3);
    for (const p of pulls) expect(p.stoppedAt! - p.startedAt!, p.container).toBeGreaterThanOrEqual(PULL_MS);
    const firstEnd = Math.min(...pulls.map((p) => p.stoppedAt!));
    for (const p of pulls) expect(p.startedAt!, p.container).toBeLessThan(firstEnd);
    const phase = stagePhases(stage, stage.steps).find((p) => p.name === 'pulls')!;
    // At least one pull, less than the pulls' own times added up (in series): no wall-clock bound.
    const inSeries = pulls.reduce((sum, p) => sum + (p.stoppedAt! - p.startedAt!), 0);
    expect(phase.to - phase.from).toBeGreaterThanOrEqual(PULL_MS);
    expect(phase.to - phase.from).toBeLessThan(inSeries);
  });

  it('a pull time that is not a number of milliseconds is refused, naming the variable', async () => {
    await expect(startLocalSlipway({ port: 0, env: { ...process.env, SLIPWAY_HOME: home, SLIPWAY_PULL_MS: 'soon' } })).rejects.toThrow(
      'local: SLIPWAY_PULL_MS must be a number of milliseconds ≥ 0, got "soon"',
    );
  });
});
