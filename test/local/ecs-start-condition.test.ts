// When an ECS START dependency holds. Before aws/amazon-ecs-agent commit 51e94bfbe ("START
// dependency: return true if 'dependsOn' container's known status is STOPPED", September 2023),
// agent/engine/dependencygraph/graph.go containerOrderingDependenciesIsResolved met START only
// while the dependency was RUNNING, at the dependent's pull and again at its create and start: a
// dependent whose image still pulled when its dependency exited was left pending for ever (no
// terminal error). The stand-in does that by default (LocalEcsOptions.startCondition); the later
// rule is an option. A plain task definition, no Slipway wrapper: the hazard itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ECSClient } from '@aws-sdk/client-ecs';
import { startLocalEcs, type LocalEcs } from '../../local/ecs/index.js';
import { describe1, ecsClient, runOne, sh, waitFor } from './helpers.js';

/** The dependent's pull: long beside its dependency's run (`true`), and the only slow one. */
const PULL_MS = 1500;
const pullMs = (image: string) => (image === 'slow-image' ? PULL_MS : 0);

async function standIn(options: Parameters<typeof startLocalEcs>[0]): Promise<{ ecs: LocalEcs; client: ECSClient }> {
  const ecs = await startLocalEcs({ pullMs, ...options });
  return { ecs, client: ecsClient(ecs.endpoint) };
}

const definition = () => [
  sh('agent', 'sleep 3600', { essential: true, stopTimeout: 2 }),
  sh('first', 'true'),
  { ...sh('later', 'echo later-ran'), image: 'slow-image', dependsOn: [{ containerName: 'first', condition: 'START' as const }] },
];

describe('START on a dependency that stopped while the dependent pulled', () => {
  let strict: { ecs: LocalEcs; client: ECSClient };
  let newer: { ecs: LocalEcs; client: ECSClient };
  beforeAll(async () => {
    [strict, newer] = await Promise.all([standIn({}), standIn({ startCondition: 'ever-started' })]);
  });
  afterAll(async () => {
    for (const s of [strict, newer]) {
      s?.client.destroy();
      await s?.ecs.stop();
    }
  });

  it('by default (the agent before 51e94bfbe): the dependent pulls once its dependency runs, then waits for ever, neither started nor stopped', async () => {
    const { ecs, client } = strict;
    const arn = await runOne(client, definition());
    // Its pull began while 'first' ran (START held then) and ended after 'first' had stopped.
    const pull = await waitFor("later's pull to end", () => ecs.pullsOf(arn).find((p) => p.container === 'later' && p.stoppedAt !== undefined));
    const task = await describe1(client, arn);
    const byName = Object.fromEntries(task.containers!.map((c) => [c.name, c]));
    expect(byName.first).toMatchObject({ lastStatus: 'STOPPED', exitCode: 0 });
    // Decided at the pull's end, in the same turn: it waits, it was not stopped (no terminal error).
    expect(byName.later?.lastStatus).toBe('PENDING');
    expect(pull.stoppedAt! - pull.startedAt!).toBeGreaterThanOrEqual(PULL_MS);
    // And it stays so while the task runs: once more after as long again as the pull took.
    await new Promise((resolve) => setTimeout(resolve, PULL_MS));
    expect((await describe1(client, arn)).containers!.find((c) => c.name === 'later')?.lastStatus).toBe('PENDING');
    expect(ecs.logs(arn, 'later')).toEqual([]);
    const { StopTaskCommand } = await import('@aws-sdk/client-ecs');
    await client.send(new StopTaskCommand({ task: arn }));
    await ecs.waitForStopped(arn, 150_000);
  });

  it("with startCondition 'ever-started' (the agent since 51e94bfbe): the stopped dependency still counts, and the dependent runs", async () => {
    const { ecs, client } = newer;
    const arn = await runOne(client, definition());
    await waitFor('later to run', () => (ecs.logs(arn, 'later').some((l) => l.message === 'later-ran') ? true : undefined));
    const { StopTaskCommand } = await import('@aws-sdk/client-ecs');
    await client.send(new StopTaskCommand({ task: arn }));
    await ecs.waitForStopped(arn, 150_000);
  });
});
