// What the autoscaler gives the agent of one segment of a split stage
// (lambdas/autoscaler/start-stage.ts segmentEnvironment): the time left of the pipeline's
// timeout, counted from the first segment's start, a GET URL of the snapshot the segment
// before left and a PUT URL of its own, one key per attempt (a Spot interruption runs the
// segment again, and a snapshot is written once).
import { describe, expect, it } from 'vitest';
import { SnapshotUrlError, type SnapshotUrls } from '../../core/builds/segment-run.js';
import { AGENT_ENV } from '../../core/pipeline/contract.js';
import { snapshotKey } from '../../core/pipeline/segments.js';
import type { StageJob } from '../../core/scaling/job.js';
import { segmentEnvironment } from '../../lambdas/autoscaler/start-stage.js';

const NOW = 1_900_000_000_000;
const job = {
  buildId: 'acme/app#7', stageNumber: 2, stageKey: 'acme/app#7/2', runTask: {},
  taskDefinition: { family: 'f', containerDefinitions: [{ name: 'slipway-agent', environment: [{ name: AGENT_ENV.timeoutSeconds, value: '3600' }] }] },
} as unknown as StageJob;

function recording(): { urls: SnapshotUrls; signed: { key: string; method: string; expires: number }[] } {
  const signed: { key: string; method: string; expires: number }[] = [];
  return { signed, urls: { url: async (key, method, expires) => (signed.push({ key, method, expires }), `https://example/${method}/${key}`) } };
}

describe('the environment of a segment', () => {
  it("reads the snapshot of the attempt of the segment before that ended, writes one of its own attempt's, and gets the time left", async () => {
    const { urls, signed } = recording();
    const startedAt = NOW - 25 * 60_000;
    const got = await segmentEnvironment({ snapshotUrls: urls, now: () => NOW }, job, { segments: 3, startedAt, snapshotAttempt: 1 }, 2, 1);
    expect(signed).toEqual([
      { key: snapshotKey(job.buildId, 2, 1, 1), method: 'GET', expires: 3600 },
      { key: snapshotKey(job.buildId, 2, 2, 1), method: 'PUT', expires: 35 * 60 + 3600 },
    ]);
    expect(got).toEqual({
      env: [
        { name: AGENT_ENV.timeoutSeconds, value: String(35 * 60) },
        { name: AGENT_ENV.snapshotIn, value: `https://example/GET/${snapshotKey(job.buildId, 2, 1, 1)}` },
        { name: AGENT_ENV.snapshotOut, value: `https://example/PUT/${snapshotKey(job.buildId, 2, 2, 1)}` },
      ],
    });
  });

  it('gives a segment run again after a Spot interruption another PUT key than its interrupted attempt, which may have written one', () => {
    expect(snapshotKey(job.buildId, 2, 2, 1)).not.toBe(snapshotKey(job.buildId, 2, 2, 0));
    expect(snapshotKey(job.buildId, 2, 2, 0)).toMatch(/^builds\/[0-9a-f]{32}\/2\/2-0\.tar\.zst$/);
  });

  it('the first segment reads nothing, the last writes nothing', async () => {
    const first = recording();
    await segmentEnvironment({ snapshotUrls: first.urls, now: () => NOW }, job, { segments: 2, startedAt: NOW }, 1, 0);
    expect(first.signed.map((s) => s.method)).toEqual(['PUT']);
    const last = recording();
    await segmentEnvironment({ snapshotUrls: last.urls, now: () => NOW }, job, { segments: 2, startedAt: NOW }, 2, 0);
    expect(last.signed.map((s) => s.method)).toEqual(['GET']);
  });

  it('a URL that cannot be signed as needed ends the stage in error, saying why; nothing left of the timeout ends it timed out', async () => {
    const refusing: SnapshotUrls = { url: async () => { throw new SnapshotUrlError('the credentials signing it expire first'); } };
    expect(await segmentEnvironment({ snapshotUrls: refusing, now: () => NOW }, job, { segments: 2, startedAt: NOW }, 1, 0)).toEqual({
      end: { status: 'error', reason: 'could-not-start', message: 'cannot start segment 1 of 2: the credentials signing it expire first' },
    });
    const late = await segmentEnvironment({ snapshotUrls: recording().urls, now: () => NOW }, job, { segments: 2, startedAt: NOW - 61 * 60_000 }, 2, 0);
    expect(late).toMatchObject({ end: { status: 'failure', reason: 'timed-out' } });
  });
});
