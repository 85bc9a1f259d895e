// What the stand-in does before any container starts, as Fargate does: it pulls every image
// (refusing one of the wrong architecture) and fetches every secret of every container with
// the execution role, and one failure stops the whole task with ECS's stop code and reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegisterTaskDefinitionCommand, RunTaskCommand, type ContainerDefinition, type ECSClient } from '@aws-sdk/client-ecs';
import { startLocalEcs, type LocalEcs } from '../../local/ecs/index.js';
import { SecretNotFoundError } from '../../local/ecs/errors.js';
import { secretReference } from '../../local/secrets.js';
import { ecsClient, family, runOne, sh } from './helpers.js';

const SECRETS: Record<string, string> = {
  '/slipway/acme/app/token': 'tok-1',
  '/slipway/acme/app/registry': '{"username":"robot","password":"pw"}',
  '/slipway/acme/app/not-json': 'plain',
};
const AGENT_AMD64 = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent:amd64';
const AGENT_ARM64 = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent:arm64';

let ecs: LocalEcs;
let client: ECSClient;

beforeAll(async () => {
  ecs = await startLocalEcs({
    // As the local secret store: a missing one is a SecretNotFoundError.
    resolveSecret: async (valueFrom) => {
      const ref = secretReference(valueFrom);
      const value = SECRETS[ref.name];
      if (value === undefined) throw new SecretNotFoundError(ref.source, ref.source === 'ssm' ? ref.name : valueFrom);
      return value;
    },
    imagePlatforms: { [AGENT_AMD64]: 'amd64', [AGENT_ARM64]: 'arm64' },
  });
  client = ecsClient(ecs.endpoint);
});

afterAll(async () => {
  client?.destroy();
  await ecs?.stop();
});

const byName = (task: Record<string, unknown>) =>
  Object.fromEntries((task.containers as { name: string; lastStatus: string; exitCode?: number; reason?: string }[]).map((c) => [c.name, c]));

async function runOnPlatform(arch: 'X86_64' | 'ARM64', containers: ContainerDefinition[]): Promise<string> {
  const registered = await client.send(
    new RegisterTaskDefinitionCommand({ family: family('p'), containerDefinitions: containers, runtimePlatform: { cpuArchitecture: arch, operatingSystemFamily: 'LINUX' } }),
  );
  const run = await client.send(new RunTaskCommand({ taskDefinition: registered.taskDefinition!.taskDefinitionArn }));
  return run.tasks![0]!.taskArn!;
}

describe.concurrent('secrets are fetched for the whole task before any container starts', () => {
  it('one missing SSM parameter of a late, non-essential step stops the task before the agent starts (ResourceInitializationError, invalid parameters)', async () => {
    const arn = await runOne(client, [
      sh('agent', 'echo agent-ran; sleep 1', { essential: true }),
      sh('build', 'echo "$TOKEN"', { secrets: [{ name: 'TOKEN', valueFrom: 'arn:aws:ssm:us-east-1:000000000000:parameter/slipway/acme/app/token' }], dependsOn: [{ containerName: 'agent', condition: 'START' }] }),
      sh('notify', 'echo "$HOOK"', {
        secrets: [{ name: 'HOOK', valueFrom: '/slipway/acme/app/chat_webhook' }],
        dependsOn: [{ containerName: 'build', condition: 'COMPLETE' }],
      }),
    ]);
    const final = await ecs.waitForStopped(arn, 150_000);
    expect(final.stopCode).toBe('TaskFailedToStart');
    expect(final.stoppedReason).toBe(
      'ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: service call has been retried 1 time(s): invalid parameters: /slipway/acme/app/chat_webhook',
    );
    // Nothing ran: not the agent, not the step whose own secret exists.
    expect(Object.values(byName(final)).map((c) => c.exitCode)).toEqual([undefined, undefined, undefined]);
    expect(ecs.logs(arn, 'agent').map((l) => l.message)).not.toContain('agent-ran');
  });

  it('a missing Secrets Manager secret: ResourceNotFoundException from asm', async () => {
    const valueFrom = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:/slipway/acme/app/gone:password::';
    const arn = await runOne(client, [sh('agent', 'true', { essential: true, secrets: [{ name: 'P', valueFrom }] })]);
    const final = await ecs.waitForStopped(arn, 150_000);
    expect(final.stopCode).toBe('TaskFailedToStart');
    expect(final.stoppedReason).toMatch(/^ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: .*ResourceNotFoundException/);
  });

  it('the values reach the containers when all exist', async () => {
    const arn = await runOne(client, [sh('agent', 'echo "token=$TOKEN"', { essential: true, secrets: [{ name: 'TOKEN', valueFrom: '/slipway/acme/app/token' }] })]);
    const final = await ecs.waitForStopped(arn, 150_000);
    expect(final.stopCode).toBe('EssentialContainerExited');
    expect(ecs.logs(arn, 'agent').map((l) => l.message)).toContain('token=tok-1');
  });

  it('repositoryCredentials are fetched at start too and must hold {"username","password"}', async () => {
    const missing = await runOne(client, [
      sh('agent', 'true', { essential: true }),
      sh('build', 'true', { repositoryCredentials: { credentialsParameter: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:/slipway/acme/app/nope' } }),
    ]);
    expect((await ecs.waitForStopped(missing, 150_000)).stoppedReason).toMatch(/asm: .*\/slipway\/acme\/app\/nope from secrets manager: ResourceNotFoundException/);
    const wrongShape = await runOne(client, [
      sh('agent', 'true', { essential: true, repositoryCredentials: { credentialsParameter: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:/slipway/acme/app/not-json' } }),
    ]);
    expect((await ecs.waitForStopped(wrongShape, 150_000)).stoppedReason).toMatch(/registry credentials .* are not JSON/);
    const good = await runOne(client, [
      sh('agent', 'echo pulled', { essential: true, repositoryCredentials: { credentialsParameter: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:/slipway/acme/app/registry' } }),
    ]);
    expect((await ecs.waitForStopped(good, 150_000)).stopCode).toBe('EssentialContainerExited');
  });
});

describe.concurrent('images of the wrong architecture cannot be pulled', () => {
  it('an arm64 task whose agent image is amd64 stops with CannotPullContainerError naming the platform', async () => {
    const arn = await runOnPlatform('ARM64', [sh('agent', 'echo agent-ran', { essential: true, image: AGENT_AMD64 })]);
    const final = await ecs.waitForStopped(arn, 150_000);
    expect(final.stopCode).toBe('TaskFailedToStart');
    expect(final.stoppedReason).toMatch(/^CannotPullContainerError: .*image Manifest does not contain descriptor matching platform 'linux\/arm64'/);
    expect(byName(final).agent!.reason).toMatch(/^CannotPullContainerError/);
    expect(ecs.logs(arn, 'agent').map((l) => l.message)).not.toContain('agent-ran');
  });

  it('a non-essential container of the wrong architecture (a status gate) stops alone, and what waits for it never starts', async () => {
    const arn = await runOnPlatform('ARM64', [
      sh('agent', 'sleep 1', { essential: true, image: AGENT_ARM64 }),
      sh('gate', 'true', { image: AGENT_AMD64 }),
      sh('notify', 'echo must-not-run', { dependsOn: [{ containerName: 'gate', condition: 'SUCCESS' }] }),
    ]);
    const final = await ecs.waitForStopped(arn, 150_000);
    expect(final.stopCode).toBe('EssentialContainerExited');
    expect(byName(final).gate!.reason).toMatch(/^CannotPullContainerError: .*'linux\/arm64'/);
    expect(byName(final).notify!.reason).toMatch(/dependency 'gate' cannot reach SUCCESS: it never started/);
  });

  it('the image of the task\'s own architecture, and images it knows nothing about, start', async () => {
    const arn = await runOnPlatform('ARM64', [sh('agent', 'echo agent-ran', { essential: true, image: AGENT_ARM64 }), sh('step', 'true', { image: 'alpine:3' })]);
    const final = await ecs.waitForStopped(arn, 150_000);
    expect(final.stopCode).toBe('EssentialContainerExited');
    expect(ecs.logs(arn, 'agent').map((l) => l.message)).toContain('agent-ran');
  });
});

// As the ECS agent: an image is pulled once the container's dependsOn conditions hold
// (aws/amazon-ecs-agent agent/engine/dependencygraph/graph.go, containerOrderingDependenciesIsResolved;
// ECS_PULL_DEPENDENT_CONTAINERS_UPFRONT is off by default). Pulls take PULL_MS here.
describe('image pulls follow the dependencies', () => {
  const PULL_MS = 300;
  let slow: LocalEcs;
  let slowClient: ECSClient;
  beforeAll(async () => {
    slow = await startLocalEcs({ pullMs: () => PULL_MS });
    slowClient = ecsClient(slow.endpoint);
  });
  afterAll(async () => {
    slowClient?.destroy();
    await slow?.stop();
  });

  it('containers without dependencies pull side by side at task start; one waiting for HEALTHY pulls after it', async () => {
    const arn = await runOne(
      slowClient,
      [
        sh('agent', 'sleep 0.3; touch /s/ready; until [ -f /s/gated ]; do sleep 0.1; done', {
          essential: true,
          mountPoints: [{ sourceVolume: 's', containerPath: '/s' }],
          healthCheck: { command: ['CMD-SHELL', 'test -f /s/ready'], interval: 5, timeout: 2, retries: 1 },
        }),
        sh('db', 'sleep 30', { essential: false, stopTimeout: 2 }),
        sh('early', 'echo early', { essential: false }),
        sh('gated', 'touch /s/gated', { essential: false, mountPoints: [{ sourceVolume: 's', containerPath: '/s' }], dependsOn: [{ containerName: 'agent', condition: 'HEALTHY' }] }),
      ],
      { volumes: [{ name: 's' }] },
    );
    const final = await slow.waitForStopped(arn, 150_000);
    const pulls = Object.fromEntries(slow.pullsOf(arn).map((p) => [p.container, p]));
    // The three without dependencies: each began before any other ended (one wave).
    const wave = [pulls.agent!, pulls.db!, pulls.early!];
    for (const p of wave) expect(p.startedAt!).toBeLessThan(Math.min(...wave.map((w) => w.stoppedAt!)));
    // The gated one began only after the agent had run and turned healthy.
    const agentRunning = slow.events(arn).find((e) => e.detail.containers.find((c) => c.name === 'agent')?.lastStatus === 'RUNNING')!;
    const agentStarted = Date.parse(agentRunning.detail.updatedAt!);
    expect(pulls.gated!.startedAt!).toBeGreaterThan(agentStarted);
    expect(pulls.gated!.startedAt!).toBeGreaterThanOrEqual(Math.max(...wave.map((w) => w.stoppedAt!)));
    // The task's own pull times span them all, as ECS's pullStartedAt / pullStoppedAt.
    expect((final.pullStartedAt as number) * 1000).toBe(Math.min(...Object.values(pulls).map((p) => p.startedAt!)));
    expect((final.pullStoppedAt as number) * 1000).toBe(pulls.gated!.stoppedAt!);
  });
});
