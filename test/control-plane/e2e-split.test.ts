// A pipeline over ECS's 10 containers, end to end on the local stand-ins (real handlers,
// DynamoDB Local, fauxqs, the ECS stand-in running the real agent and step wrappers, local
// mode's snapshot bucket): it runs as two consecutive tasks of one stage; a file written in
// segment 1 is read in segment 2; a failure in segment 1 skips segment 2's plain steps and
// runs its `when: status: [failure]` step, which sees the failed step.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../adapters/dynamodb/client.js';
import type { LogPageResponse } from '../../core/builds/api.js';
import type { BuildDetail } from '../../core/builds/types.js';
import { stagePhases } from '../../core/builds/stage-timeline.js';
import { handleApiRequest } from '../../lambdas/api/router.js';
import { localLogReader } from '../../local/log-reader.js';
import { seededApiDeps } from '../api/seed.js';
import { startE2e, type E2e } from '../support/control-plane-e2e.js';

const steps = (first: string) =>
  [
    `- name: make\n  image: alpine:3\n  commands:\n  - ${first}`,
    ...Array.from({ length: 9 }, (_, i) => `- name: step-${i + 2}\n  image: img${i + 2}:1\n  commands:\n  - echo ${i + 2}`),
    '- name: read\n  image: alpine:3\n  commands:\n  - cat made-in-segment-1.txt',
    '- name: on-failure\n  image: alpine:3\n  commands:\n  - echo "failed=$DRONE_FAILED_STEPS"\n  when:\n    status: [failure]',
  ].join('\n');

const pipeline = (first: string) => `kind: pipeline\ntype: docker\nname: big\nsteps:\n${steps(first)}\n`;

let e2e: E2e;

beforeAll(async () => {
  e2e = await startE2e({ name: 'e2e-split', splitPipelines: true });
});

afterAll(async () => {
  await e2e?.stop();
});

const build = (yaml: string, delivery: string): Promise<BuildDetail> => e2e.buildOf(yaml, delivery);

/** A step's log as the CLI and the build page read it: the API's first page (the same router as the API Lambda). */
async function apiLog(detail: BuildDetail, stage: number, step: number): Promise<string[]> {
  const ddb = new DynamoDBClient(e2e.aws.clientConfig('dynamodb'));
  try {
    // The planner's log group in local mode (lambdas/planner/compile-options.ts), from the ECS stand-in's captured streams.
    const deps = seededApiDeps(e2e.store, { doc: documentClient(ddb), tableName: 'e2e-split-builds' }, localLogReader(e2e.aws.ecs.logsDir, '/slipway/builds'));
    const path = `/api/repos/${detail.repo}/builds/${detail.number}/logs/${stage}/${step}`;
    const res = await handleApiRequest({ method: 'GET', path, query: new URLSearchParams(), headers: {} }, deps);
    expect(res.statusCode, `${path}: ${res.body}`).toBe(200);
    return (JSON.parse(String(res.body)) as LogPageResponse).lines.map((l) => l.text);
  } finally {
    ddb.destroy();
  }
}

const stepStatus = (detail: BuildDetail) => Object.fromEntries(detail.stages[0]!.steps.map((s) => [s.name, s.status]));
const logOfTask = (taskArn: string, container: string): string[] => e2e.aws.ecs.logs(taskArn, container).map((l) => l.message);
const logOf = (detail: BuildDetail, taskArn: string, step: string): string[] => {
  const container = detail.stages[0]!.steps.find((x) => x.name === step)!.container;
  return e2e.aws.ecs.logs(taskArn, container).map((l) => l.message);
};

describe('a pipeline over 10 containers runs as consecutive tasks', () => {
  it('12 steps: two tasks of one stage; segment 2 reads the file segment 1 wrote', async () => {
    const detail = await build(pipeline('echo from-segment-1 > made-in-segment-1.txt'), 'e2e-split-pass-1');
    expect(detail.status, JSON.stringify(detail.stages[0])).toBe('success');
    const statuses = stepStatus(detail);
    expect(statuses['make']).toBe('success');
    expect(statuses['read']).toBe('success');
    // Its wrapper skipped it (no step failed). The control plane records a step its own
    // wrapper skipped from ECS's exit code 0, as in a pipeline that fits in one task.
    expect(logOf(detail, detail.stages[0]!.taskArn!, 'on-failure').join('\n')).toContain('slipway: skipping on-failure: it runs only when the build is failing');
    // The last task is segment 2: `read` ran there and printed what `make` wrote in segment 1.
    const readTask = detail.stages[0]!.taskArn!;
    expect(logOf(detail, readTask, 'read')).toContain('from-segment-1');
    // Two tasks of one stage: the first one's log holds the steps of segment 1.
    const first = e2e.aws.ecs.tasks().find((t) => t.taskArn !== readTask && logOfTask(String(t.taskArn), 'make').length > 0);
    expect(first, 'the task of segment 1').toBeDefined();
    expect(e2e.logLines.some((l) => l.message === 'segment ended; next segment queued')).toBe(true);
    // Every second of both segments accounted for: segment 1's timeline was kept when segment 2
    // was queued, and the phases give both, in order, each from its own task's times; only the
    // first begins at the push.
    const stage = detail.stages[0]!;
    expect(stage.segmentTimelines?.map((t) => [t.segment, t.taskCreatedAt !== undefined, t.stoppedAt !== undefined])).toEqual([[1, true, true]]);
    expect(stage.timeline?.segment).toBe(2);
    const phases = stagePhases(stage, stage.steps, detail);
    expect([...new Set(phases.map((p) => p.segment))]).toEqual([1, 2]);
    expect(phases.filter((p) => p.name === 'control plane').map((p) => p.segment)).toEqual([1]);
    expect(phases.filter((p) => p.name === 'queued').map((p) => p.segment)).toEqual([1, 2]);
    const queued2 = phases.find((p) => p.name === 'queued' && p.segment === 2)!;
    expect(queued2.from).toBeGreaterThanOrEqual(stage.segmentTimelines![0]!.stoppedAt!);
    expect(queued2.note).toMatch(/^segment 1 of 2 ended/);
  });

  it("after the build every step's log is readable through the API, segment 1's steps from segment 1's task", async () => {
    const detail = await build(pipeline('echo from-segment-1 > made-in-segment-1.txt'), 'e2e-split-logs-1');
    expect(detail.status, JSON.stringify(detail.stages[0])).toBe('success');
    const stage = detail.stages[0]!;
    const segment2 = stage.taskArn!;
    const byName = Object.fromEntries(stage.steps.map((s) => [s.name, s]));
    // Each step records the task it ran in: segment 1's steps (and the clone) another than the stage's last.
    const segment1 = byName['make']!.taskArn!;
    expect(segment1).toBeDefined();
    expect(segment1).not.toBe(segment2);
    expect(byName['step-2']!.taskArn).toBe(segment1);
    expect(byName['read']!.taskArn).toBe(segment2);
    for (const step of stage.steps) {
      const lines = await apiLog(detail, stage.number, step.number);
      // What the ECS stand-in captured for the step's container in its own task.
      const written = e2e.aws.ecs.logs(step.taskArn ?? segment2, step.container).map((l) => l.message);
      expect(written.length, `${step.name} wrote nothing`).toBeGreaterThan(0);
      expect(lines, `the API's log of ${step.name} (${step.kind})`).toEqual(written.slice(0, lines.length));
      expect(lines.length, `the API's log of ${step.name} is empty`).toBeGreaterThan(0);
    }
    expect((await apiLog(detail, stage.number, byName['make']!.number)).join('\n')).toContain('made-in-segment-1.txt');
    expect(await apiLog(detail, stage.number, byName['read']!.number)).toContain('from-segment-1');
  });

  it('a failure in segment 1: segment 2 skips its plain step and runs the failure step, which sees the failed step', async () => {
    const detail = await build(pipeline('exit 1'), 'e2e-split-fail-1');
    expect(detail.status).toBe('failure');
    const statuses = stepStatus(detail);
    expect(statuses['make']).toBe('failure');
    // Segment 1: ECS never started the steps after the failure.
    expect(statuses['step-2']).toBe('skipped');
    // Segment 2: the plain steps skip themselves (their wrapper reads segment 1's records);
    // the failure step runs and sees the failed step.
    const last = detail.stages[0]!.taskArn!;
    expect(logOf(detail, last, 'read').join('\n')).toContain('slipway: skipping read: make failed in an earlier segment of the pipeline');
    expect(logOf(detail, last, 'read').join('\n')).not.toContain('from-segment-1');
    expect(statuses['on-failure']).toBe('success');
    expect(logOf(detail, last, 'on-failure')).toContain('failed=make');
  });
});
