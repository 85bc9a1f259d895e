// The real agent running two segments of a split pipeline against fake ECS tasks and local
// mode's snapshot bucket: segment 1 leaves its workspace and step records, segment 2 starts
// from them instead of a clone.

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { AGENT_CONTAINER, AGENT_EXIT, type AgentStepPlan } from '../../core/pipeline/contract.js';
import { snapshotKey } from '../../core/pipeline/segments.js';
import { startSnapshotBucket } from '../../local/snapshot-bucket.js';
import { FakeTask, type FakeContainer } from './fake-task.js';
import { byName, plan, startAgent, tempDirs } from './run-agent.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function step(container: string, dependsOn: string[], extra: Partial<AgentStepPlan> = {}): AgentStepPlan {
  return { container, steps: [container], detach: false, failure: 'always', dependsOn, ...extra };
}

async function fakeTask(containers: FakeContainer[], stateDir: string): Promise<string> {
  const task = new FakeTask(containers, stateDir);
  const uri = await task.start();
  cleanups.push(() => task.stop());
  return uri;
}

function dirs(): ReturnType<typeof tempDirs> {
  const d = tempDirs();
  cleanups.push(() => rmSync(d.root, { recursive: true, force: true }));
  return d;
}

const afterAgent = { container: AGENT_CONTAINER, condition: 'HEALTHY' as const };
const STAGE = 'octo/app#7/1';

describe('agent: segments of a split pipeline', () => {
  it('segment 2 starts from the workspace and the step records segment 1 left: a failure there is seen by a `when: status: failure` step', async () => {
    const bucketDir = dirs();
    const bucket = await startSnapshotBucket(join(bucketDir.root, 'bucket'));
    cleanups.push(() => bucket.close());
    const key = snapshotKey('b7', 1, 1, 0);

    // Segment 1 of 2: build passes, test fails; what the steps wrote is in the workspace.
    const one = dirs();
    mkdirSync(join(one.workspace, 'dist'), { recursive: true });
    writeFileSync(join(one.workspace, 'dist/out.txt'), 'built in segment 1\n');
    const uri1 = await fakeTask(
      [
        { name: 'build', dependsOn: [afterAgent], runMs: 50, exitCode: 0 },
        { name: 'test', dependsOn: [{ container: 'build', condition: 'SUCCESS' }], runMs: 50, exitCode: 1 },
      ],
      one.stateDir,
    );
    const run1 = await startAgent({
      plan: plan({ segment: { number: 1, count: 2 }, steps: [step('build', [AGENT_CONTAINER]), step('test', ['build'], { dependsOnConditions: { build: 'SUCCESS' } })] }),
      stateDir: one.stateDir,
      workspace: one.workspace,
      metadataUri: uri1,
      env: { SLIPWAY_STAGE_ID: STAGE, SLIPWAY_SNAPSHOT_OUT: bucket.presign(key, 'PUT', 600) },
    }).done;
    expect(run1.code, run1.stdout).toBe(AGENT_EXIT.stepFailed);
    expect(run1.stdout).toMatch(/snapshot: workspace \(\d+ bytes, zstd\) uploaded for segment 2/);
    expect(run1.stdout).not.toContain('X-Slipway-Signature');
    expect(existsSync(join(bucket.dir, key))).toBe(true);

    // Segment 2 of 2: a step that runs on failure only; no clone (it is not disabled: the snapshot replaces it).
    const two = dirs();
    const uri2 = await fakeTask([{ name: 'report', dependsOn: [afterAgent], runMs: 50, exitCode: 0, statusGate: { watch: ['build', 'test'] }, waitFor: ['build', 'test'] }], two.stateDir);
    const run2 = await startAgent({
      plan: plan({
        segment: { number: 2, count: 2 },
        clone: { disable: false, tags: false, skipVerify: false, submodules: false, retries: 0 },
        steps: [step('report', [AGENT_CONTAINER])],
      }),
      stateDir: two.stateDir,
      workspace: two.workspace,
      metadataUri: uri2,
      env: { SLIPWAY_STAGE_ID: STAGE, SLIPWAY_SNAPSHOT_IN: bucket.presign(key, 'GET', 600) },
    }).done;
    expect(readFileSync(join(two.workspace, 'dist/out.txt'), 'utf8')).toBe('built in segment 1\n');
    expect(run2.stdout).toMatch(/snapshot: workspace of segment 1 restored \(\d+ bytes\), 2 earlier step containers/);
    expect(run2.stdout).not.toContain('clone:');
    expect(byName(run2.steps)['report']).toMatchObject({ status: 'success', exitCode: 0 });
    // The stage's result counts segment 1's failure.
    expect(run2.code, run2.stdout).toBe(AGENT_EXIT.stepFailed);
    expect(run2.result?.message).toBe('build failed: test failed with exit code 1');
    const status = readFileSync(join(two.stateDir, 'agent', 'status'), 'utf8');
    expect(status).toContain("export DRONE_FAILED_STEPS='test'\n");
    expect(status).toContain("export DRONE_BUILD_STATUS='failure'\n");
    expect(readFileSync(join(two.stateDir, 'steps', 'test', 'test.exit'), 'utf8').trim()).toBe('1');
  });

  it('a later segment whose snapshot is missing ends in error before any step starts, naming the segment and the HTTP answer', async () => {
    const bucketDir = dirs();
    const bucket = await startSnapshotBucket(join(bucketDir.root, 'bucket'));
    cleanups.push(() => bucket.close());
    const d = dirs();
    const uri = await fakeTask([{ name: 'deploy', dependsOn: [afterAgent], runMs: 50, exitCode: 0 }], d.stateDir);
    const run = await startAgent({
      plan: plan({ segment: { number: 3, count: 3 }, steps: [step('deploy', [AGENT_CONTAINER])] }),
      stateDir: d.stateDir,
      workspace: d.workspace,
      metadataUri: uri,
      env: { SLIPWAY_STAGE_ID: STAGE, SLIPWAY_SNAPSHOT_IN: bucket.presign(snapshotKey('b7', 1, 2, 0), 'GET', 600) },
    }).done;
    expect(run.code).toBe(AGENT_EXIT.internalError);
    expect(run.result?.message).toMatch(/^snapshot: the workspace of segment 2 could not be read from http:\/\/127\.0\.0\.1:\d+\/builds\/[0-9a-f]{32}\/1\/2-0\.tar\.zst \(HTTP 403, AccessDenied: no such snapshot\)/);
    expect(existsSync(join(d.stateDir, 'agent', 'ready'))).toBe(false);
  });

  it('a segment without the URL it needs is a configuration error naming the variable', async () => {
    const d = dirs();
    const run = await startAgent({ plan: plan({ segment: { number: 1, count: 2 }, steps: [] }), stateDir: d.stateDir, workspace: d.workspace }).done;
    expect(run.code).toBe(AGENT_EXIT.internalError);
    expect(run.result?.message).toBe("agent: SLIPWAY_SNAPSHOT_OUT is not set: segment 1 of 2 needs the presigned URL to leave its workspace at for the next segment");
  });
});
