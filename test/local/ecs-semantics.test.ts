// Task definition semantics the stand-in must honour: dependsOn, essential, health checks,
// startTimeout, stopTimeout, events, logs and the metadata endpoint.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startLocalEcs } from '../../local/ecs/index.js';
import type { TaskStateChangeEvent } from '../../core/builds/task-event.js';
import { describe1, ecsClient, ecsForFile, runOne, sh, waitFor } from './helpers.js';

const delivered: TaskStateChangeEvent[] = [];
const standIn = ecsForFile({}, (ecs) => ecs.onTaskStateChange((event) => void delivered.push(event)));

const byName = (task: Record<string, unknown>) =>
  Object.fromEntries((task.containers as { name: string; lastStatus: string; exitCode?: number; reason?: string; healthStatus?: string }[]).map((c) => [c.name, c]));

describe.concurrent('dependsOn and essential', () => {
  it('START, COMPLETE and SUCCESS order the containers; the essential exit stops the task', async () => {
    const arn = await runOne(
      standIn.client,
      [
        // Ends only once 'started' wrote: START let it run while 'first' still ran, whatever the
        // machine's pace (a COMPLETE in its place would never start it, and the test would hang).
        sh('first', 'echo first >> /w/order; until grep -q started /w/order; do sleep 0.1; done; echo first-done >> /w/order', { mountPoints: [{ sourceVolume: 'w', containerPath: '/w' }] }),
        sh('started', 'echo started >> /w/order', { dependsOn: [{ containerName: 'first', condition: 'START' }], mountPoints: [{ sourceVolume: 'w', containerPath: '/w' }] }),
        sh('after-complete', 'echo after-complete >> /w/order; exit 3', { dependsOn: [{ containerName: 'first', condition: 'COMPLETE' }], mountPoints: [{ sourceVolume: 'w', containerPath: '/w' }] }),
        sh('main', 'cat /w/order', {
          essential: true,
          dependsOn: [{ containerName: 'after-complete', condition: 'COMPLETE' }, { containerName: 'started', condition: 'SUCCESS' }],
          mountPoints: [{ sourceVolume: 'w', containerPath: '/w' }],
        }),
      ],
      { volumes: [{ name: 'w' }] },
    );
    const final = await standIn.ecs.waitForStopped(arn, 150_000);
    const order = standIn.ecs.logs(arn, 'main').map((l) => l.message);
    // START: ran while 'first' was still running; COMPLETE: only after it ended.
    expect(order.indexOf('started')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('started')).toBeLessThan(order.indexOf('first-done'));
    expect(order.indexOf('first-done')).toBeLessThan(order.indexOf('after-complete'));
    expect(final.stopCode).toBe('EssentialContainerExited');
    expect(byName(final)['after-complete']).toMatchObject({ lastStatus: 'STOPPED', exitCode: 3 });
    expect(byName(final).main).toMatchObject({ exitCode: 0 });
  });

  it('a failed SUCCESS dependency never starts its dependents, down the chain', async () => {
    const arn = await runOne(standIn.client, [
      sh('build', 'exit 2'),
      sh('test', 'echo must-not-run', { dependsOn: [{ containerName: 'build', condition: 'SUCCESS' }] }),
      sh('deploy', 'echo must-not-run', { dependsOn: [{ containerName: 'test', condition: 'SUCCESS' }] }),
      // Runs until the test stops the task: the task is still running when the test looks.
      sh('agent', 'sleep 3600', { essential: true, stopTimeout: 2 }),
    ]);
    const blocked = await waitFor('deploy reported stopped', async () => {
      const task = await describe1(standIn.client, arn);
      const deploy = task.containers?.find((c) => c.name === 'deploy');
      return deploy?.lastStatus === 'STOPPED' ? task : undefined;
    });
    const containers = Object.fromEntries(blocked.containers!.map((c) => [c.name, c]));
    expect(containers.build).toMatchObject({ lastStatus: 'STOPPED', exitCode: 2 });
    expect(containers.test?.reason).toMatch(/^CannotStartContainerError: dependency 'build' cannot reach SUCCESS: it exited with code 2/);
    expect(containers.deploy?.reason).toMatch(/^CannotStartContainerError: dependency 'test'/);
    // Never ran, yet reported with 143, as the ECS agent does (task_manager.go, handleTerminalDependencyError).
    expect(containers.test?.exitCode).toBe(143);
    expect(blocked.lastStatus).toBe('RUNNING'); // non-essential containers do not stop the task
    expect(standIn.ecs.logs(arn, 'test').map((l) => l.message).join('\n')).not.toContain('must-not-run');
    const { StopTaskCommand } = await import('@aws-sdk/client-ecs');
    await standIn.client.send(new StopTaskCommand({ task: arn }));
    expect((await standIn.ecs.waitForStopped(arn, 150_000)).stopCode).toBe('UserInitiated');
  });

  it('an essential container that exits stops the others: SIGTERM, then SIGKILL after stopTimeout', async () => {
    const arn = await runOne(standIn.client, [
      // Each says when its trap is set; the agent exits only then (START is only a process that
      // exists: a SIGTERM before the trap would end it with 143 on a loaded machine).
      sh('stubborn', "trap 'echo got TERM' TERM; touch /w/stubborn; while true; do sleep 0.1; done", { stopTimeout: 2, mountPoints: [{ sourceVolume: 'w', containerPath: '/w' }] }),
      sh('polite', "trap 'echo bye; exit 0' TERM; touch /w/polite; while true; do sleep 0.1; done", { stopTimeout: 2, mountPoints: [{ sourceVolume: 'w', containerPath: '/w' }] }),
      sh('agent', 'until [ -e /w/stubborn ] && [ -e /w/polite ]; do sleep 0.1; done; exit 4', {
        essential: true,
        dependsOn: [{ containerName: 'stubborn', condition: 'START' }, { containerName: 'polite', condition: 'START' }],
        mountPoints: [{ sourceVolume: 'w', containerPath: '/w' }],
      }),
    ], { volumes: [{ name: 'w' }] });
    const final = await standIn.ecs.waitForStopped(arn, 150_000);
    expect(final.stopCode).toBe('EssentialContainerExited');
    const c = byName(final);
    expect(c.agent?.exitCode).toBe(4);
    expect(c.polite?.exitCode).toBe(0);
    expect(c.stubborn?.exitCode).toBe(137);
    expect(standIn.ecs.logs(arn, 'stubborn').map((l) => l.message)).toContain('got TERM');
    const stoppingAt = Date.parse(standIn.ecs.events(arn).find((e) => e.detail.desiredStatus === 'STOPPED')!.detail.stoppingAt!);
    const killedAt = standIn.ecs.events(arn).find((e) => e.detail.containers.find((x) => x.name === 'stubborn')?.exitCode === 137)!;
    expect(Date.parse(killedAt.time) - stoppingAt).toBeGreaterThanOrEqual(1900);
  });

  it('an essential container that cannot start fails the task (image catalogue error)', async () => {
    const arn = await runOne(standIn.client, [{ name: 'agent', image: 'example/unknown:1', essential: true }]);
    const final = await standIn.ecs.waitForStopped(arn, 150_000);
    expect(final.stopCode).toBe('TaskFailedToStart');
    expect(byName(final).agent?.reason).toMatch(/image example\/unknown:1 cannot run locally/);
  });
});

describe.concurrent('health checks', () => {
  it('HEALTHY gates a dependent; the probe runs inside the task (sees its files and localhost)', async () => {
    const arn = await runOne(
      standIn.client,
      [
        sh('svc', 'sleep 0.5; touch /s/ready; sleep 3600', {
          stopTimeout: 2,
          mountPoints: [{ sourceVolume: 's', containerPath: '/s' }],
          healthCheck: { command: ['CMD-SHELL', 'test -f /s/ready'], interval: 5, timeout: 2, retries: 1 },
        }),
        sh('step', 'echo ok', { essential: true, dependsOn: [{ containerName: 'svc', condition: 'HEALTHY' }] }),
      ],
      { volumes: [{ name: 's' }] },
    );
    const final = await standIn.ecs.waitForStopped(arn, 150_000);
    expect(byName(final).step).toMatchObject({ exitCode: 0 });
    expect(byName(final).svc).toMatchObject({ healthStatus: 'HEALTHY' });
    // Health is in DescribeTasks, never in the events ("Events don't provide task health",
    // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html).
    const events = standIn.ecs.events(arn);
    expect(events.flatMap((e) => e.detail.containers.filter((x) => 'healthStatus' in x))).toEqual([]);
    // …and the task is PENDING until its last container started (the step, gated on svc).
    const stepRunning = events.find((e) => e.detail.containers.find((x) => x.name === 'step')?.lastStatus === 'RUNNING')!;
    const before = events.filter((e) => e.detail.version < stepRunning.detail.version && e.detail.lastStatus !== 'PROVISIONING');
    expect(before.map((e) => e.detail.lastStatus)).toEqual(before.map(() => 'PENDING'));
    expect(before.some((e) => e.detail.containers.find((x) => x.name === 'svc')?.lastStatus === 'RUNNING')).toBe(true);
    expect(stepRunning.detail.lastStatus).toBe('RUNNING');
  });

  // ECS does not give up on an UNHEALTHY dependency: HEALTHY is merely not resolved yet
  // (aws/amazon-ecs-agent agent/engine/dependencygraph/graph_test.go,
  // TestContainerOrderingHealthyConditionIsResolved), so the dependent waits.
  it('retries consecutive failures make a container UNHEALTHY; a HEALTHY dependent keeps waiting (not stopped), as on ECS', async () => {
    const arn = await runOne(standIn.client, [
      sh('svc', 'sleep 3600', { stopTimeout: 2, healthCheck: { command: ['CMD', 'false'], interval: 5, timeout: 2, retries: 1 } }),
      sh('step', 'echo never', { dependsOn: [{ containerName: 'svc', condition: 'HEALTHY' }] }),
      sh('agent', 'sleep 3600', { essential: true, stopTimeout: 2 }),
    ]);
    const task = await waitFor('svc unhealthy', async () => {
      const t = await describe1(standIn.client, arn);
      return t.containers?.find((c) => c.name === 'svc')?.healthStatus === 'UNHEALTHY' ? t : undefined;
    });
    await new Promise((r) => setTimeout(r, 300));
    const c = Object.fromEntries((await describe1(standIn.client, arn)).containers!.map((x) => [x.name, x]));
    expect(task.containers?.find((x) => x.name === 'svc')?.healthStatus).toBe('UNHEALTHY');
    expect(c.step?.lastStatus).toBe('PENDING');
    const { StopTaskCommand } = await import('@aws-sdk/client-ecs');
    await standIn.client.send(new StopTaskCommand({ task: arn }));
    await standIn.ecs.waitForStopped(arn, 150_000);
  });

  // graph.go: with the dependency stopped there is no timeout, and only a SUCCESS dependency
  // that failed or one that never started is terminal.
  it('a HEALTHY dependent of a container that exited before it was healthy keeps waiting, as on ECS', async () => {
    const arn = await runOne(standIn.client, [
      sh('svc', 'exit 3', { healthCheck: { command: ['CMD', 'true'], interval: 5, timeout: 2, retries: 1 } }),
      sh('step', 'echo never', { dependsOn: [{ containerName: 'svc', condition: 'HEALTHY' }] }),
      sh('agent', 'sleep 3600', { essential: true, stopTimeout: 2 }),
    ]);
    await waitFor('svc stopped', async () => ((await describe1(standIn.client, arn)).containers?.find((c) => c.name === 'svc')?.lastStatus === 'STOPPED' ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    const c = Object.fromEntries((await describe1(standIn.client, arn)).containers!.map((x) => [x.name, x]));
    expect(c.svc).toMatchObject({ lastStatus: 'STOPPED', exitCode: 3 });
    expect(c.step?.lastStatus).toBe('PENDING');
    const { StopTaskCommand } = await import('@aws-sdk/client-ecs');
    await standIn.client.send(new StopTaskCommand({ task: arn }));
    await standIn.ecs.waitForStopped(arn, 150_000);
  });

  it('startTimeout: a dependent gives up on a service that never becomes healthy', async () => {
    const arn = await runOne(standIn.client, [
      sh('svc', 'sleep 30', { stopTimeout: 2, startTimeout: 2, healthCheck: { command: ['CMD', 'false'], interval: 5, timeout: 2, retries: 3, startPeriod: 60 } }),
      sh('agent', 'echo never', { essential: true, dependsOn: [{ containerName: 'svc', condition: 'HEALTHY' }] }),
    ]);
    const final = await standIn.ecs.waitForStopped(arn, 150_000);
    expect(final.stopCode).toBe('TaskFailedToStart');
    expect(byName(final).agent?.reason).toMatch(/startTimeout of 2 s/);
  });

  // aws/amazon-ecs-agent agent/engine/dependencygraph/graph.go: verifyContainerOrderingStatusResolvable
  // checks hasDependencyTimedOut for every dependency of a container not yet created, before
  // it asks whether that dependency is resolved; the clock starts at the dependency's start.
  it('startTimeout is counted from the dependency\'s start even after it was met: a healthy service stops a step still waiting for the agent', async () => {
    const arn = await runOne(standIn.client, [
      // Healthy at its first check (5 s); its startTimeout passes at 7 s.
      sh('svc', 'sleep 3600', { stopTimeout: 2, startTimeout: 7, healthCheck: { command: ['CMD', 'true'], interval: 5, timeout: 2, retries: 1 } }),
      sh('slow', 'sleep 3600', { stopTimeout: 2, healthCheck: { command: ['CMD-SHELL', 'test -f /nonexistent'], interval: 5, timeout: 2, retries: 10, startPeriod: 300 } }),
      sh('step', 'echo must-not-run', {
        dependsOn: [
          { containerName: 'svc', condition: 'HEALTHY' },
          { containerName: 'slow', condition: 'HEALTHY' },
        ],
      }),
      sh('agent', 'sleep 3600', { essential: true, stopTimeout: 2 }),
    ]);
    const task = await waitFor('step stopped', async () => {
      const t = await describe1(standIn.client, arn);
      return t.containers?.find((c) => c.name === 'step')?.lastStatus === 'STOPPED' ? t : undefined;
    });
    const c = Object.fromEntries(task.containers!.map((x) => [x.name, x]));
    expect(c.svc?.healthStatus).toBe('HEALTHY');
    expect(c.step?.exitCode).toBe(143);
    expect(c.step?.reason).toMatch(/dependency 'svc' cannot reach HEALTHY: its startTimeout of 7 s \(counted from its own start\) passed while 'step' was still waiting to start \(it is HEALTHY\)/);
    expect(standIn.ecs.logs(arn, 'step').map((l) => l.message).join('\n')).not.toContain('must-not-run');
    const { StopTaskCommand } = await import('@aws-sdk/client-ecs');
    await standIn.client.send(new StopTaskCommand({ task: arn }));
    await standIn.ecs.waitForStopped(arn, 150_000);
  });

  it('startTimeout does not apply to START dependencies, nor to a dependency that has stopped', async () => {
    const arn = await runOne(
      standIn.client,
      [
        sh('bg', 'sleep 30', { stopTimeout: 2, startTimeout: 2 }),
        sh('quick', 'exit 0', { startTimeout: 2 }),
        sh('late', 'sleep 3.5; touch /s/go; sleep 30', { stopTimeout: 2, mountPoints: [{ sourceVolume: 's', containerPath: '/s' }] }),
        sh('step', 'echo ran', {
          essential: true,
          dependsOn: [
            { containerName: 'bg', condition: 'START' },
            { containerName: 'quick', condition: 'SUCCESS' },
            { containerName: 'gate', condition: 'SUCCESS' },
          ],
        }),
        sh('gate', 'while [ ! -f /s/go ]; do sleep 0.1; done', { mountPoints: [{ sourceVolume: 's', containerPath: '/s' }] }),
      ],
      { volumes: [{ name: 's' }] },
    );
    const final = await standIn.ecs.waitForStopped(arn, 150_000);
    expect(byName(final).step).toMatchObject({ exitCode: 0 });
    expect(standIn.ecs.logs(arn, 'step').map((l) => l.message)).toEqual(['ran']);
  });
});

describe('events, logs and metadata', () => {
  it('emits task state changes with increasing versions, ending STOPPED, to subscribers', async () => {
    const arn = await runOne(standIn.client, [sh('main', 'echo line one; echo line two >&2; exit 1', { essential: true })]);
    await standIn.ecs.waitForStopped(arn, 150_000);
    await standIn.ecs.eventsDelivered();
    const mine = delivered.filter((e) => e.detail.taskArn === arn);
    expect(mine.map((e) => e.detail.version)).toEqual(mine.map((_, i) => i + 1));
    expect(mine.map((e) => e.detail.lastStatus)).toEqual(['PROVISIONING', 'PENDING', 'RUNNING', 'RUNNING', 'STOPPING', 'DEPROVISIONING', 'STOPPED']);
    const last = mine[mine.length - 1]!;
    // Every field of AWS's own example event that applies to this task is there, with the same type.
    const example = JSON.parse(readFileSync(new URL('../fixtures/aws/ecs-TaskStateChange-event.json', import.meta.url), 'utf8')) as TaskStateChangeEvent;
    const kinds = (o: object) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? 'array' : typeof v]));
    const absentHere = ['attachments', 'connectivity', 'connectivityAt', 'startedAt'];
    const expectedKinds = Object.fromEntries(Object.entries(kinds(example.detail)).filter(([k]) => !absentHere.includes(k)));
    expect(kinds(last.detail)).toMatchObject(expectedKinds);
    const { imageDigest: _digest, ...exampleContainer } = example.detail.containers[0]! as unknown as Record<string, unknown>;
    expect(Object.keys(last.detail.containers[0]!).sort()).toEqual([...Object.keys(exampleContainer), 'exitCode'].sort());
    expect(Object.keys(kinds(example)).sort()).toEqual(Object.keys(kinds(last)).sort());
    expect(last['detail-type']).toBe('ECS Task State Change');
    expect(last.source).toBe('aws.ecs');
    expect(last.detail).toMatchObject({ stopCode: 'EssentialContainerExited', desiredStatus: 'STOPPED', containers: [{ name: 'main', lastStatus: 'STOPPED', exitCode: 1 }] });
    const logs = standIn.ecs.logs(arn, 'main');
    expect(logs.map((l) => [l.source, l.message])).toEqual([['stdout', 'line one'], ['stderr', 'line two']]);
    expect(logs[0]!.timestamp).toBeGreaterThan(Date.now() - 60_000);
    expect(standIn.ecs.logStream(arn, 'main')?.stream).toMatch(/^ecs\/main\/[0-9a-f]{32}$/);
  });

  it('serves the task metadata endpoint v4 to the containers', async () => {
    const script = 'node -e "Promise.all([fetch(process.env.ECS_CONTAINER_METADATA_URI_V4), fetch(process.env.ECS_CONTAINER_METADATA_URI_V4 + \'/task\')].map(p => p.then(r => r.json()))).then(([c, t]) => console.log(JSON.stringify({ c, t })))"';
    const arn = await runOne(standIn.client, [sh('svc', 'sleep 3600', { stopTimeout: 2, healthCheck: { command: ['CMD', 'true'], interval: 5 } }), sh('main', script, { essential: true, image: 'node:20' })]);
    await standIn.ecs.waitForStopped(arn, 150_000);
    const { c, t } = JSON.parse(standIn.ecs.logs(arn, 'main').map((l) => l.message).join('')) as { c: Record<string, unknown>; t: Record<string, unknown> };
    expect(c).toMatchObject({ Name: 'main', Image: 'node:20', KnownStatus: 'RUNNING', DesiredStatus: 'RUNNING', Type: 'NORMAL', LogDriver: 'awslogs' });
    expect(t).toMatchObject({ TaskARN: arn, KnownStatus: 'RUNNING', DesiredStatus: 'RUNNING', LaunchType: 'FARGATE', Revision: '1', Limits: { CPU: 0.25, Memory: 512 } });
    const containers = t.Containers as Record<string, unknown>[];
    expect(containers.map((x) => x.Name)).toEqual(['svc', 'main']);
    expect(containers[0]).toMatchObject({ KnownStatus: 'RUNNING', Health: { status: 'UNKNOWN' } });
    expect((containers[0]!.Networks as { IPv4Addresses: string[] }[])[0]!.IPv4Addresses[0]).toMatch(/^(169\.254|127\.0)\./);
  });

  it('can deliver duplicates and out of order, for consumers to prove they cope', async () => {
    const chaotic = await startLocalEcs({ eventDelivery: { duplicateProbability: 0.5, reorderProbability: 0.5, seed: 7 } });
    const got: number[] = [];
    chaotic.onTaskStateChange((e) => void got.push(e.detail.version));
    try {
      const arn = await runOne(ecsClient(chaotic.endpoint), [sh('main', 'exit 0', { essential: true })]);
      await chaotic.waitForStopped(arn, 150_000);
      await chaotic.eventsDelivered();
      const versions = chaotic.events(arn).map((e) => e.detail.version);
      expect(new Set(got)).toEqual(new Set(versions));
      expect(got.length).toBeGreaterThan(versions.length);
      expect(got).not.toEqual([...got].sort((a, b) => a - b));
    } finally {
      await chaotic.stop();
    }
  });
});
