// What the ECS stand-in gives tasks of local mode's host services: a loopback-only port
// relayed to each namespaced task's host-side address (HOST_ALIAS), and a task role's push
// right to the local registry, given to the image builder's container and no other.
import { RegisterTaskDefinitionCommand, RunTaskCommand, type ContainerDefinition } from '@aws-sdk/client-ecs';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE_BUILDER } from '../../core/pipeline/image-build.js';
import { namespaceSupport } from '../../local/ecs/netns.js';
import { CONTAINER_DATA_DIR } from '../../local/ecs/rootfs.js';
import { HOST_ALIAS } from '../../local/ecs/sandbox.js';
import type { RegistryPushGrant } from '../../local/push-grant.js';
import { findBinary } from '../../local/require-binary.js';
import { skipWithout } from '../support/required-tool.js';
import { ecsForFile, family, sh } from './helpers.js';
import { HANG_GUARD_MS } from '../support/wait.js';
import type { ECSClient } from '@aws-sdk/client-ecs';

const noNamespaces = skipWithout('network and mount namespaces', await namespaceSupport());

/** A loopback server that greets whoever connects. */
async function greeter(greeting: string): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.end(greeting);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

// Node is on every container's PATH (the host's programs); it resolves HOST_ALIAS through the task's /etc/hosts.
const dial = (port: number) =>
  `node -e "const s=require('net').connect(${port},'${HOST_ALIAS}');s.on('data',d=>process.stdout.write(d));s.on('error',e=>console.log('error '+e.code))"`;

async function runWithRole(client: ECSClient, containers: ContainerDefinition[], taskRoleArn?: string): Promise<string> {
  const registered = await client.send(new RegisterTaskDefinitionCommand({ family: family('host-services'), containerDefinitions: containers, ...(taskRoleArn ? { taskRoleArn } : {}) }));
  const run = await client.send(new RunTaskCommand({ taskDefinition: registered.taskDefinition!.taskDefinitionArn }));
  if (run.failures?.length) throw new Error(`RunTask failed: ${JSON.stringify(run.failures)}`);
  return run.tasks![0]!.taskArn!;
}

const ROLE = 'arn:aws:iam::000000000000:role/slipway-image-push/acme/app';
const GRANT: RegistryPushGrant = { registries: ['127.0.0.1:5999', `${HOST_ALIAS}:5999`], username: 'slipway', password: 'grant-pa55word-for-the-test', repositories: ['team/app', 'team/tool'] };

describe.skipIf(noNamespaces)('host services of namespaced tasks', () => {
  let relayed: { server: Server; port: number };
  let notRelayed: { server: Server; port: number };
  const ports: number[] = [];
  beforeAll(async () => {
    relayed = await greeter('hello from the host\n');
    notRelayed = await greeter('never seen');
    ports.push(relayed.port);
  });
  afterAll(() => {
    relayed?.server.close();
    notRelayed?.server.close();
  });
  const standIn = ecsForFile({ namespaces: true, hostPorts: ports, pushGrant: (role) => (role === ROLE ? GRANT : undefined) });

  it('relays a listed loopback port to the task at HOST_ALIAS, and no other loopback port', async () => {
    const task = await runWithRole(standIn.client, [sh('main', `${dial(relayed.port)}; ${dial(notRelayed.port)}`, { essential: true })]);
    const stopped = await standIn.ecs.waitForStopped(task, HANG_GUARD_MS);
    expect((stopped.containers as { exitCode?: number }[])[0]?.exitCode).toBe(0);
    expect(standIn.ecs.logs(task, 'main').map((l) => l.message)).toEqual(['hello from the host', 'error ECONNREFUSED']);
  });

  it.skipIf(!findBinary('buildah', ['/usr/bin']))("gives the role's push right to the image builder's container only (not to a commands step on plugins/manifest), and only for that role", async () => {
    const builder: ContainerDefinition = {
      name: 'builder',
      image: DEFAULT_IMAGE_BUILDER,
      essential: false,
      entryPoint: ['/busybox/sh', '-c'],
      command: ['if [ -f "$SLIPWAY_PUSH_GRANT/auth.json" ]; then tr "\\n" " " < "$SLIPWAY_PUSH_GRANT/repositories"; echo; tr "\\n" " " < "$SLIPWAY_PUSH_GRANT/registries"; echo; cat "$SLIPWAY_PUSH_GRANT/auth.json"; else echo none; fi'],
    };
    const step = sh('step', `echo "\${SLIPWAY_PUSH_GRANT:-unset}"; ls -A ${CONTAINER_DATA_DIR} | wc -l`, { essential: true, dependsOn: [{ containerName: 'builder', condition: 'COMPLETE' }, { containerName: 'manifest-commands', condition: 'COMPLETE' }] });
    // A commands step on the manifest plugin's image runs its script, not the stand-in: no grant.
    const manifestCommands = sh('manifest-commands', `cat "\${SLIPWAY_PUSH_GRANT:-${CONTAINER_DATA_DIR}/push-grant}/auth.json" 2>/dev/null || echo none`, { image: 'plugins/manifest' });
    const granted = await runWithRole(standIn.client, [builder, manifestCommands, step], ROLE);
    const other = await runWithRole(standIn.client, [builder, manifestCommands, step], 'arn:aws:iam::000000000000:role/slipway-build-task');
    await Promise.all([standIn.ecs.waitForStopped(granted, HANG_GUARD_MS), standIn.ecs.waitForStopped(other, HANG_GUARD_MS)]);

    const [repositories, registries, auth] = standIn.ecs.logs(granted, 'builder').map((l) => l.message);
    expect(repositories?.trim()).toBe('team/app team/tool');
    expect(registries?.trim()).toBe(`127.0.0.1:5999 ${HOST_ALIAS}:5999`);
    const entries = (JSON.parse(auth!) as { auths: Record<string, { auth: string }> }).auths;
    expect(Object.keys(entries)).toEqual(GRANT.registries);
    expect(Buffer.from(entries[`${HOST_ALIAS}:5999`]!.auth, 'base64').toString()).toBe(`slipway:${GRANT.password}`);
    // The commands step of the same task: no variable, nothing in its private directory.
    expect(standIn.ecs.logs(granted, 'step').map((l) => l.message)).toEqual(['unset', '0']);
    expect(standIn.ecs.logs(granted, 'manifest-commands').map((l) => l.message)).toEqual(['none']);
    // Another role: nothing.
    expect(standIn.ecs.logs(other, 'builder').map((l) => l.message)).toEqual(['none']);
    // The grant is in no record of the ECS API (task definitions, tasks).
    expect(JSON.stringify(standIn.ecs.tasks())).not.toContain(GRANT.password);
  });
});
