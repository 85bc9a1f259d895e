// Interruptions by AWS on the ECS stand-in: the capacity provider a RunTask strategy
// chose is reported (DescribeTasks and events), and interrupt() stops a task as Fargate
// Spot does — SIGTERM to every running container, stopCode SpotInterruption — or as a
// termination notice does to an on-demand task.
import { describe, expect, it } from 'vitest';
import { RegisterTaskDefinitionCommand, RunTaskCommand, type ContainerDefinition } from '@aws-sdk/client-ecs';
import { SPOT_INTERRUPTION_REASON } from '../../local/ecs/index.js';
import { describe1, ecsForFile, family, sh, waitFor } from './helpers.js';

const standIn = ecsForFile();

async function runOn(provider: 'FARGATE' | 'FARGATE_SPOT', containers: ContainerDefinition[]): Promise<string> {
  const registered = await standIn.client.send(new RegisterTaskDefinitionCommand({ family: family('interrupt'), containerDefinitions: containers }));
  const run = await standIn.client.send(
    new RunTaskCommand({ taskDefinition: registered.taskDefinition!.taskDefinitionArn, capacityProviderStrategy: [{ capacityProvider: provider, weight: 1 }] }),
  );
  if (run.failures?.length) throw new Error(`RunTask failed: ${JSON.stringify(run.failures)}`);
  expect(run.tasks![0]!.capacityProviderName).toBe(provider);
  return run.tasks![0]!.taskArn!;
}

// Writes a line when SIGTERM arrives and exits 4 (as the agent does), so the test sees
// that the signal reached the program and that its own exit code is kept.
const TRAPPING = "trap 'echo got TERM; exit 4' TERM; echo up; while true; do sleep 0.1; done";

describe('interrupt()', () => {
  it('a Spot task gets SIGTERM in every container and stops with SpotInterruption and ECS reason', async () => {
    const arn = await runOn('FARGATE_SPOT', [sh('agent', TRAPPING, { essential: true, stopTimeout: 5 }), sh('step', TRAPPING, { stopTimeout: 5 })]);
    await waitFor('both containers running', async () => {
      const task = await describe1(standIn.client, arn);
      // Both programs have set their trap (they print `up` after it): a signal before that would
      // end them with the shell's default 143, which says nothing about the stand-in.
      const trapped = ['agent', 'step'].every((name) => standIn.ecs.logs(arn, name).some((l) => l.message === 'up'));
      return task.containers?.every((c) => c.lastStatus === 'RUNNING') && trapped ? task : undefined;
    });

    const stopping = standIn.ecs.interrupt(arn);
    expect(stopping).toMatchObject({ desiredStatus: 'STOPPED', stopCode: 'SpotInterruption', stoppedReason: SPOT_INTERRUPTION_REASON });
    const final = await standIn.ecs.waitForStopped(arn, 150_000);
    expect(final).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'SpotInterruption', stoppedReason: 'Your Spot Task was interrupted.', capacityProviderName: 'FARGATE_SPOT' });
    // The programs' own SIGTERM handling ran (exit 4), not a SIGKILL (137).
    const containers = Object.fromEntries((final.containers as { name: string; exitCode?: number }[]).map((c) => [c.name, c.exitCode]));
    expect(containers).toEqual({ agent: 4, step: 4 });
    expect(standIn.ecs.logs(arn, 'agent').map((l) => l.message)).toContain('got TERM');
    expect(standIn.ecs.logs(arn, 'step').map((l) => l.message)).toContain('got TERM');

    // The events say so too, as EventBridge's would: the warning (STOPPING) and the end.
    await standIn.ecs.eventsDelivered();
    const events = standIn.ecs.events(arn);
    expect(events.every((e) => e.detail.capacityProviderName === 'FARGATE_SPOT')).toBe(true);
    expect(events.find((e) => e.detail.desiredStatus === 'STOPPED')?.detail).toMatchObject({ stopCode: 'SpotInterruption', stoppedReason: SPOT_INTERRUPTION_REASON });
    expect(events.at(-1)!.detail).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'SpotInterruption' });

    expect(() => standIn.ecs.interrupt(arn)).toThrow(/already stopping/);
  });

  it('an on-demand task is never Spot-interrupted; a termination notice stops it', async () => {
    const arn = await runOn('FARGATE', [sh('agent', TRAPPING, { essential: true, stopTimeout: 5 })]);
    await waitFor('agent running', () => standIn.ecs.logs(arn, 'agent').some((l) => l.message === 'up') || undefined);
    expect(() => standIn.ecs.interrupt(arn, { stopCode: 'SpotInterruption' })).toThrow(/runs on FARGATE, not FARGATE_SPOT/);
    expect((await describe1(standIn.client, arn)).lastStatus).toBe('RUNNING');

    standIn.ecs.interrupt(arn);
    const final = await standIn.ecs.waitForStopped(arn, 150_000);
    expect(final).toMatchObject({ stopCode: 'TerminationNotice', capacityProviderName: 'FARGATE' });
    expect((final.containers as { exitCode?: number }[])[0]!.exitCode).toBe(4);
  });

  it('an unknown task is an error that names it', () => {
    expect(() => standIn.ecs.interrupt('arn:aws:ecs:us-east-1:000000000000:task/slipway/nope')).toThrow(/no task arn:aws:ecs:.*nope/);
  });
});
