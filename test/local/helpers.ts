// Shared by the local stand-in tests: SDK clients pointed at the stand-ins, small task definitions.
import { ECSClient, RegisterTaskDefinitionCommand, RunTaskCommand, DescribeTasksCommand, type ContainerDefinition, type Task } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll } from 'vitest';
import { startLocalEcs, type LocalEcs, type LocalEcsOptions } from '../../local/ecs/index.js';
import { HANG_GUARD_MS, waitFor as waitUntil } from '../support/wait.js';

export const credentials = { accessKeyId: 'x', secretAccessKey: 'x' };

export function ecsClient(endpoint: string): ECSClient {
  return new ECSClient({ endpoint, region: 'us-east-1', credentials });
}

/**
 * The ECS stand-in and an SDK client on it for one test file: started before its tests (then
 * `onStart`), stopped after them. Read `.ecs` and `.client` inside tests and hooks.
 */
export function ecsForFile(options: LocalEcsOptions = {}, onStart?: (ecs: LocalEcs) => void): { readonly ecs: LocalEcs; readonly client: ECSClient } {
  const started: { ecs?: LocalEcs; client?: ECSClient } = {};
  beforeAll(async () => {
    started.ecs = await startLocalEcs(options);
    started.client = ecsClient(started.ecs.endpoint);
    onStart?.(started.ecs);
  });
  afterAll(async () => {
    started.client?.destroy();
    await started.ecs?.stop();
  });
  const need = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the ECS stand-in is not started: use it inside tests and hooks, not at module level');
    return value;
  };
  return {
    get ecs() {
      return need(started.ecs);
    },
    get client() {
      return need(started.client);
    },
  };
}

let familyCounter = 0;
export function family(name: string): string {
  familyCounter += 1;
  return `${name}-${process.pid}-${familyCounter}`;
}

/** A shell container: `sh -c script`. */
export function sh(name: string, script: string, extra: Partial<ContainerDefinition> = {}): ContainerDefinition {
  return { name, image: 'alpine:3', essential: false, entryPoint: ['/bin/sh', '-c'], command: [script], ...extra };
}

export async function runOne(ecs: ECSClient, containers: ContainerDefinition[], extra: { volumes?: { name: string }[]; cpu?: string; memory?: string } = {}): Promise<string> {
  const registered = await ecs.send(new RegisterTaskDefinitionCommand({ family: family('t'), containerDefinitions: containers, ...extra }));
  const run = await ecs.send(new RunTaskCommand({ taskDefinition: registered.taskDefinition!.taskDefinitionArn }));
  if (run.failures?.length) throw new Error(`RunTask failed: ${JSON.stringify(run.failures)}`);
  return run.tasks![0]!.taskArn!;
}

export async function describe1(ecs: ECSClient, taskArn: string): Promise<Task> {
  const out = await ecs.send(new DescribeTasksCommand({ tasks: [taskArn] }));
  return out.tasks![0]!;
}

/**
 * Polls until the probe gives a value other than undefined or false (0 and '' count), through
 * the tests' one wait (test/support/wait.ts), whose deadline is a hang guard.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = HANG_GUARD_MS): Promise<T> {
  const held = await waitUntil(
    what,
    async () => {
      const value = await probe();
      return value === undefined || value === false ? undefined : { value };
    },
    { timeoutMs, intervalMs: 50 },
  );
  return held.value;
}
