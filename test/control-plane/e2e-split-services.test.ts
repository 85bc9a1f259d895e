// A pipeline over ECS's 10 containers with a service, end to end on the local stand-ins
// (real handlers, DynamoDB Local, fauxqs, the ECS stand-in running the real agent, a real
// redis-server, and the step wrappers; local mode's snapshot bucket): the service runs in a
// service task for the stage's whole life; a value written to it in segment 1 is read in
// segment 2 by the service's name; the service task is stopped once the stage is done,
// whether it passed, failed in segment 1, or was cancelled.

import { ECSClient, StopTaskCommand } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandStartsFromAgentLog } from '../../core/builds/step-starts.js';
import type { BuildDetail } from '../../core/builds/types.js';
import { AGENT_CONTAINER } from '../../core/pipeline/contract.js';
import { SERVICE_TASK_STARTED_BY_PREFIX } from '../../core/scaling/job.js';
import { cancelBuild } from '../../lambdas/api/cancel.js';
import { startE2e, type E2e } from '../support/control-plane-e2e.js';

const pipeline = (seed: string, read = 'test "$(redis-cli -h cache get greeting)" = from-segment-1') =>
  [
    'kind: pipeline',
    'type: docker',
    'name: big',
    'services:',
    '- name: cache',
    '  image: redis:7',
    'steps:',
    `- name: seed\n  image: redis:7\n  commands:\n  - ${seed}`,
    ...Array.from({ length: 9 }, (_, i) => `- name: step-${i + 2}\n  image: img${i + 2}:1\n  commands:\n  - echo ${i + 2}`),
    `- name: read\n  image: redis:7\n  commands:\n  - ${read}\n  - echo read-ok`,
    '',
  ].join('\n');

let e2e: E2e;

beforeAll(async () => {
  e2e = await startE2e({ name: 'e2e-split-services', splitPipelines: true });
});

afterAll(async () => {
  await e2e?.stop();
});

const serviceTasks = () => e2e.aws.ecs.tasks().filter((t) => String(t.startedBy ?? '').startsWith(SERVICE_TASK_STARTED_BY_PREFIX));
const stepStatus = (detail: BuildDetail) => Object.fromEntries(detail.stages[0]!.steps.map((s) => [s.name, s.status]));
const logOf = (detail: BuildDetail, taskArn: string, step: string): string[] => {
  const container = detail.stages[0]!.steps.find((x) => x.name === step)!.container;
  return e2e.aws.ecs.logs(taskArn, container).map((l) => l.message);
};

/** A variable of a task's agent override, as RunTask was given it. */
const agentEnv = (task: Record<string, unknown>, name: string): string | undefined =>
  (task.overrides as { containerOverrides: { name: string; environment?: { name: string; value: string }[] }[] }).containerOverrides
    .find((o) => o.name === 'slipway-agent')
    ?.environment?.find((e) => e.name === name)?.value;

/** The service task of the build's stage, once the autoscaler has stopped it. */
async function stoppedServiceTask(before: number): Promise<Record<string, unknown>> {
  const task = await e2e.waitFor('the service task of the stage', async () => serviceTasks()[before]);
  return e2e.aws.ecs.waitForStopped(String(task.taskArn));
}

describe('a pipeline over 10 containers with a service', () => {
  it('runs its service in a task of its own: segment 2 reads by name what segment 1 wrote, and the service task stops after the last segment', async () => {
    const before = serviceTasks().length;
    const detail = await e2e.buildOf(pipeline('redis-cli -h cache set greeting from-segment-1'), 'e2e-split-services-pass');
    expect(detail.status, await e2e.describeBuild(detail.id)).toBe('success');
    const statuses = stepStatus(detail);
    expect(statuses['seed']).toBe('success');
    expect(statuses['read']).toBe('success');
    // The service ran in the service task for the whole stage.
    expect(detail.stages[0]!.steps.find((x) => x.name === 'cache')).toMatchObject({ status: 'success', reason: 'ran in the task of the services, for the whole stage' });
    expect(logOf(detail, detail.stages[0]!.taskArn!, 'read')).toContain('read-ok');
    // The service task: the agent and the service, and an address only once it ran.
    const stopped = await stoppedServiceTask(before);
    expect((stopped.containers as { name: string }[]).map((c) => c.name).sort()).toEqual(['cache', 'slipway-agent']);
    expect(String(stopped.stoppedReason)).toMatch(/^Slipway: service task no longer needed: its stage is success/);
    const address = (stopped.attachments as { details: { name: string; value: string }[] }[])[0]!.details.find((d) => d.name === 'privateIPv4Address')!.value;
    // Segment 1 went out in the same pass as the service task, before it ran: with the URL at
    // which the service task's agent left its address, not the address; its agent read it there.
    // Segment 2 got the address in its overrides. Neither task holds a service container.
    const segments = e2e.aws.ecs.tasks().filter((t) => agentEnv(t, 'SLIPWAY_STAGE_ID') === agentEnv(stopped, 'SLIPWAY_STAGE_ID') && t.taskArn !== stopped.taskArn);
    expect(segments).toHaveLength(2);
    const [first, second] = [...segments].sort((a, b) => Number(new Date(String(a.createdAt))) - Number(new Date(String(b.createdAt))));
    expect(agentEnv(first!, 'SLIPWAY_SERVICES_ADDRESS_IN')).toMatch(/^http/);
    expect(agentEnv(first!, 'SLIPWAY_SERVICES_HOST')).toBeUndefined();
    expect(agentEnv(stopped, 'SLIPWAY_SERVICES_ADDRESS_OUT')).toMatch(/^http/);
    expect(e2e.aws.ecs.logs(String(first!.taskArn), 'slipway-agent').map((l) => l.message).join('\n')).toContain(`gate: the service task is at ${address}`);
    expect(agentEnv(second!, 'SLIPWAY_SERVICES_HOST')).toBe(address);
    for (const s of segments) expect((s.containers as { name: string }[]).map((c) => c.name)).not.toContain('cache');
    // Each record names the task it ran in, where its log is: the service in the service task,
    // `seed` in segment 1's, `read` in segment 2's (the stage's last).
    const ranIn = Object.fromEntries(detail.stages[0]!.steps.map((x) => [x.name, x.taskArn]));
    expect(ranIn['cache']).toBe(String(stopped.taskArn));
    expect(ranIn['read']).toBe(detail.stages[0]!.taskArn);
    expect(segments.map((t) => String(t.taskArn))).toContain(ranIn['seed']);
    expect(ranIn['seed']).not.toBe(ranIn['read']);
  });

  it('a failure in segment 1 ends the stage there, and the service task is stopped all the same', async () => {
    const before = serviceTasks().length;
    const detail = await e2e.buildOf(pipeline('exit 1'), 'e2e-split-services-fail');
    expect(detail.status).toBe('failure');
    expect(stepStatus(detail)['seed']).toBe('failure');
    const stopped = await stoppedServiceTask(before);
    expect(String(stopped.stoppedReason)).toMatch(/^Slipway: service task no longer needed: its stage is failure/);
  });

  it('a cancel stops the segment and the service task', async () => {
    const before = serviceTasks().length;
    const sha = e2e.commit(pipeline('sleep 600'), 'e2e-split-services-cancel');
    await e2e.push(sha, 'e2e-split-services-cancel');
    const service = await e2e.waitFor('the service task', async () => serviceTasks()[before]);
    const stage = await e2e.waitFor('segment 1 running', async () => {
      const builds = await e2e.store.listRecentBuilds({ limit: 5 });
      const build = builds.items.find((b) => b.commit === sha);
      const detail = build ? await e2e.store.getBuildDetail(build.id) : null;
      return detail?.stages[0]?.status === 'running' ? { build: build!, detail } : undefined;
    });
    const ecs = new ECSClient(e2e.aws.clientConfig('ecs'));
    await cancelBuild(
      {
        store: e2e.store,
        stopTask: async (task, reason) => {
          await ecs.send(new StopTaskCommand({ cluster: 'slipway', task, reason }));
        },
        buildFinished: async () => {},
        now: Date.now,
        log: () => {},
      },
      stage.build,
      'tester',
    );
    const stopped = await e2e.aws.ecs.waitForStopped(String(service.taskArn));
    expect(String(stopped.stoppedReason)).toBe('Cancelled by tester through the Slipway API');
    const detail = await e2e.finishedBuild('e2e-split-services-cancel');
    expect(detail.status).toBe('killed');
  });

  it('a service task that stops while segment 1 runs stops the segment, and the stage ends in error saying so', async () => {
    const before = serviceTasks().length;
    const sha = e2e.commit(pipeline('sleep 600'), 'e2e-split-services-gone');
    await e2e.push(sha, 'e2e-split-services-gone');
    const service = await e2e.waitFor('the service task', async () => serviceTasks()[before]);
    // A step's commands start when its agent says so (core/builds/step-starts.ts); the store
    // learns it only from a read of that log or at the stage's end, so the test reads it too.
    const running = await e2e.waitFor('segment 1 running its first step', async () => {
      const builds = await e2e.store.listRecentBuilds({ limit: 5 });
      const build = builds.items.find((b) => b.commit === sha);
      const detail = build ? await e2e.store.getBuildDetail(build.id) : null;
      const stage = detail?.stages[0];
      const seed = stage?.steps.find((x) => x.name === 'seed');
      if (!detail || !stage?.taskArn || !seed || stage.status !== 'running') return undefined;
      const agentLines = e2e.aws.ecs.logs(stage.taskArn, AGENT_CONTAINER).map((l) => ({ time: l.timestamp, text: l.message }));
      return commandStartsFromAgentLog(agentLines).has(seed.container) ? detail : undefined;
    });
    const segment = String(running.stages[0]!.taskArn);
    // The services die under it (a Fargate host failure, an out-of-memory kill: here a StopTask).
    const ecs = new ECSClient(e2e.aws.clientConfig('ecs'));
    await ecs.send(new StopTaskCommand({ cluster: 'slipway', task: String(service.taskArn), reason: 'services lost' }));
    const stoppedSegment = await e2e.aws.ecs.waitForStopped(segment);
    expect(String(stoppedSegment.stoppedReason)).toMatch(/^Slipway: the task of its services stopped while segment 1 of 2 ran/);
    const detail = await e2e.finishedBuild('e2e-split-services-gone');
    expect(detail.status).toBe('error');
    expect(detail.stages[0]!.status).toBe('error');
    expect(detail.stages[0]!.message).toMatch(/the task of its services stopped while segment 1 of 2 ran, so Slipway stopped the segment: the service task (stopped|is stopping): services lost/);
    expect(stepStatus(detail)['seed']).toBe('killed');
    expect(stepStatus(detail)['cache']).toBe('failure');
    expect(stepStatus(detail)['read']).not.toBe('success');
  });
});
