// The ECS stand-in and the EC2 form of a task (core/pipeline/ec2-task.ts, issue 19): it runs
// like a Fargate task (its own sandbox and network namespace, as a build has its own
// instance), refuses what ECS refuses, and says clearly that it has no Docker daemon to give.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegisterTaskDefinitionCommand, RunTaskCommand, type ContainerDefinition, type ECSClient, type RegisterTaskDefinitionCommandInput } from '@aws-sdk/client-ecs';
import { startLocalEcs, type LocalEcs } from '../../local/ecs/index.js';
import { NETWORK_NOT_AWSVPC } from '../../local/ecs/api.js';
import { ecsClient, family, sh } from './helpers.js';
import { namespaceSupport } from '../../local/ecs/netns.js';
import { skipWithout } from '../support/required-tool.js';

const noNamespaces = skipWithout('network and mount namespaces', await namespaceSupport());

let ecs: LocalEcs;
let client: ECSClient;

beforeAll(async () => {
  ecs = await startLocalEcs();
  client = ecsClient(ecs.endpoint);
});

afterAll(async () => {
  client?.destroy();
  await ecs?.stop();
});

const EC2 = { requiresCompatibilities: ['EC2' as const], networkMode: 'host' as const, cpu: '1024', memory: '2048' };

async function register(containers: ContainerDefinition[], extra: Partial<RegisterTaskDefinitionCommandInput> = {}): Promise<string> {
  const registered = await client.send(new RegisterTaskDefinitionCommand({ family: family('ec2'), containerDefinitions: containers, ...EC2, ...extra }));
  return registered.taskDefinition!.taskDefinitionArn!;
}

async function run(taskDefinition: string): Promise<string> {
  const res = await client.send(
    new RunTaskCommand({ taskDefinition, capacityProviderStrategy: [{ capacityProvider: 'slipway-ec2-amd64', weight: 1 }], placementConstraints: [{ type: 'distinctInstance' }], group: 'slipway-ec2' }),
  );
  if (res.failures?.length) throw new Error(`RunTask failed: ${JSON.stringify(res.failures)}`);
  return res.tasks![0]!.taskArn!;
}

describe.concurrent('EC2-form tasks in local mode', () => {
  it('run with the Fargate form semantics: dependencies, a shared volume, the essential agent ends the task', async () => {
    const arn = await run(
      await register(
        [
          // START lets 'build' run beside the agent; the agent reads its file once it is there (a
          // fixed second was shorter than a loaded machine takes to start 'build').
          sh('agent', 'until [ -s /ws/out ]; do sleep 0.1; done; test "$(cat /ws/out)" = built', { essential: true, mountPoints: [{ sourceVolume: 'ws', containerPath: '/ws' }] }),
          sh('build', 'echo built > /ws/out', { mountPoints: [{ sourceVolume: 'ws', containerPath: '/ws' }], dependsOn: [{ containerName: 'agent', condition: 'START' }] }),
        ],
        { volumes: [{ name: 'ws' }] },
      ),
    );
    const final = await ecs.waitForStopped(arn, 150_000);
    expect(final.stopCode).toBe('EssentialContainerExited');
    expect((final.containers as { name: string; exitCode?: number }[]).map((c) => [c.name, c.exitCode])).toEqual([
      ['agent', 0],
      ['build', 0],
    ]);
  });

  it('a privileged container: the task does not start, and says local mode has no Docker daemon', async () => {
    const arn = await run(await register([sh('agent', 'true', { essential: true }), sh('docker', 'dockerd', { privileged: true })]));
    const final = await ecs.waitForStopped(arn, 150_000);
    expect(final.stopCode).toBe('TaskFailedToStart');
    expect(final.stoppedReason).toBe(
      "local mode has no Docker daemon to give this task (container 'docker' is privileged): a pipeline that needs one (privileged, docker.sock, dind) runs only on a deployment's EC2 capacity for a trusted repository (README, \"EC2 capacity\")",
    );
  });

  it("the host's Docker socket as a volume: likewise", async () => {
    const arn = await run(
      await register([sh('agent', 'true', { essential: true, mountPoints: [{ sourceVolume: 'docker', containerPath: '/var/run/docker.sock' }] })], {
        volumes: [{ name: 'docker', host: { sourcePath: '/var/run/docker.sock' } }],
      }),
    );
    const final = await ecs.waitForStopped(arn, 150_000);
    expect(final.stopCode).toBe('TaskFailedToStart');
    expect(final.stoppedReason).toMatch(/^local mode has no Docker daemon to give this task \(volume 'docker' is the host's \/var\/run\/docker\.sock\)/);
  });
});

// On AWS one build per instance keeps two builds apart (distinctInstance); here each task has
// its own network namespace and volumes, as it would have its own instance.
describe.skipIf(noNamespaces)('two EC2-form builds at once (namespace mode)', () => {
  it("each has a service on localhost:9999 at the same time, and sees only its own, and only its own files", async () => {
    const task = (who: string) => [
      // The service marks in its task's volume that it listens; the step asks it then (a fixed two
      // seconds was shorter than a loaded machine takes to start node).
      sh('svc', `exec node -e "require('http').createServer((q, s) => s.end(process.env.WHO)).listen(9999, '127.0.0.1', () => require('fs').writeFileSync('/ws/listening', ''))"`, {
        environment: [{ name: 'WHO', value: who }],
        stopTimeout: 2,
        mountPoints: [{ sourceVolume: 'ws', containerPath: '/ws' }],
      }),
      sh(
        'step',
        `echo ${who} > /ws/file; until [ -e /ws/listening ]; do sleep 0.1; done; node -e "fetch('http://127.0.0.1:9999').then((r) => r.text()).then((t) => console.log(t))"; cat /ws/file`,
        { essential: true, mountPoints: [{ sourceVolume: 'ws', containerPath: '/ws' }], dependsOn: [{ containerName: 'svc', condition: 'START' }] },
      ),
    ];
    const [a, b] = await Promise.all([register(task('alpha'), { volumes: [{ name: 'ws' }] }).then(run), register(task('beta'), { volumes: [{ name: 'ws' }] }).then(run)]);
    await Promise.all([ecs.waitForStopped(a, 150_000), ecs.waitForStopped(b, 150_000)]);
    expect(ecs.logs(a, 'step').map((l) => l.message)).toEqual(['alpha', 'alpha']);
    expect(ecs.logs(b, 'step').map((l) => l.message)).toEqual(['beta', 'beta']);
  });
});

describe('what ECS refuses, refused here too', () => {
  it('a network configuration for a task in host mode', async () => {
    const arn = await register([sh('agent', 'true', { essential: true })]);
    const refused = client.send(
      new RunTaskCommand({ taskDefinition: arn, networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'] } }, capacityProviderStrategy: [{ capacityProvider: 'slipway-ec2-amd64', weight: 1 }] }),
    );
    await expect(refused).rejects.toThrow(NETWORK_NOT_AWSVPC);
  });

  it('a privileged container or a host volume on Fargate', async () => {
    const fargate = { requiresCompatibilities: ['FARGATE' as const], networkMode: 'awsvpc' as const, cpu: '1024', memory: '2048' };
    await expect(client.send(new RegisterTaskDefinitionCommand({ family: family('f'), ...fargate, containerDefinitions: [sh('agent', 'true', { essential: true, privileged: true })] }))).rejects.toThrow(
      /Fargate does not support privileged containers \(container 'agent'\)/,
    );
    await expect(
      client.send(new RegisterTaskDefinitionCommand({ family: family('f'), ...fargate, containerDefinitions: [sh('agent', 'true', { essential: true })], volumes: [{ name: 'd', host: { sourcePath: '/var/run/docker.sock' } }] })),
    ).rejects.toThrow(/Fargate does not support host volumes/);
  });
});
