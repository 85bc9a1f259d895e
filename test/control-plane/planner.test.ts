import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { DynamoStageStore } from '../../adapters/dynamodb/stage-store.js';
import { decodeJob } from '../../core/scaling/job.js';
import { SqsJobQueue } from '../../adapters/sqs/job-queue.js';
import type { BuildHook, EventMessage } from '../../core/scm/types.js';
import { GitHostUnavailableError, planEvent, RegistryUnavailableError, type PlannerDeps } from '../../lambdas/planner/plan-event.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SecretCheckError, storeSecretCheck } from '../../lambdas/planner/secret-check.js';
import { createImageCommandLookup } from '../../adapters/registry/registry-client.js';
import { awsPullSecretStore } from '../../adapters/secrets/pull-secret-store.js';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STATE_BUSYBOX } from '../../core/pipeline/contract.js';
import { startRegistryStandIn, type RegistryStandIn } from '../support/registry-stand-in.js';
import { processEventBatch } from '../../lambdas/planner/process-batch.js';
import { postFinishedStatus } from '../../lambdas/planner/build-finished.js';
import { PENDING_STATUS_RETRY } from '../../lambdas/planner/start-build.js';
import { cancelBuild } from '../../lambdas/api/cancel.js';
import type { BuildContext } from '../../core/pipeline/context.js';
import { buildEnvironment } from '../../core/pipeline/environment.js';
import { restartBuild } from '../../lambdas/api/restart.js';
import { sendBuildFinished } from '../../lambdas/shared/events-queue.js';
import { createScmAccess } from '../../lambdas/shared/scm.js';
import { cloneCredentialsFor, cloneCredentialsSource } from '../../lambdas/shared/clone-credentials.js';
import type { CredentialsByHost } from '../../lambdas/shared/secrets.js';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { startSqs, type LocalSqs } from '../../local/sqs.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoLocal, type LocalDynamo } from '../support/dynamodb-local.js';
import { startFakeGitHost, type FakeGitHost } from '../support/fake-git-host.js';
import { droneYaml, step } from '../support/pipelines.js';
import { ECRClient } from '@aws-sdk/client-ecr';
import { EcrImageSizes } from '../../adapters/ecr/image-sizes.js';
import { DynamoSociIndexStore } from '../../adapters/dynamodb/soci-store.js';
import { sociImageLookup, sociImageNamer } from '../../lambdas/planner/soci-images.js';
import { startEcrStandIn, type EcrStandIn } from '../support/ecr-stand-in.js';
import { SOCI_CONVERSIONS_PER_REPOSITORY_PER_DAY, conversionDay } from '../../core/images/soci.js';

const PIPELINES = droneYaml(
  {
    name: 'build',
    steps: [step('test', ['go test ./...'], { image: 'golang:1.22', environment: { TOKEN: { from_secret: 'api_token' } } })],
    services: [{ name: 'db', image: 'postgres:15' }],
  },
  { name: 'deploy', depends_on: ['build'], steps: [step('ship', ['echo ship'], { image: 'alpine' })] },
  { name: 'release', trigger: { event: ['tag'] }, steps: [step('publish', ['echo publish'], { image: 'alpine' })] },
);

let db: LocalDynamo;
let sqsServer: LocalSqs;
let sqs: SQSClient;
let git: FakeGitHost;
let jobsUrl: string;
let store: DynamoBuildStore;
let stageStore: DynamoStageStore;
let nudges = 0;
let logs: { message: string; fields?: Record<string, unknown> }[] = [];
let deps: PlannerDeps;
let shaCounter = 0;

beforeAll(async () => {
  [db, sqsServer, git] = await Promise.all([startDynamoLocal(), startSqs(), startFakeGitHost()]);
  sqs = new SQSClient({ endpoint: sqsServer.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  jobsUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'jobs' }))).QueueUrl!;
  store = new DynamoBuildStore(db.doc, db.tableName);
  stageStore = new DynamoStageStore(db.doc, db.tableName);
  deps = {
    store,
    stages: stageStore,
    scm: createScmAccess({ credentials: async () => ({ github: { apiUrl: git.apiUrl, webUrl: 'https://github.com', token: 'gh-token' }, gitlab: { apiUrl: git.apiUrl, token: 'gl-token' } }) }),
    jobs: new SqsJobQueue(sqs, jobsUrl),
    nudge: async () => {
      nudges++;
    },
    compile: { logGroup: '/slipway/builds', region: LOCAL_REGION },
    publicUrl: 'https://ci.example.com',
    system: { host: 'ci.example.com', proto: 'https', version: 'test' },
    now: Date.now,
    log: (message, fields) => logs.push({ message, fields }),
  };
});

afterAll(async () => {
  sqs?.destroy();
  await Promise.all([db?.stop(), sqsServer?.stop(), git?.stop()]);
});

beforeEach(async () => {
  nudges = 0;
  logs = [];
  await sqs.send(new PurgeQueueCommand({ QueueUrl: jobsUrl }));
});

async function drainJobs(): Promise<Message[]> {
  const out: Message[] = [];
  for (;;) {
    const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: jobsUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 300 }));
    if (!res.Messages?.length) return out;
    out.push(...res.Messages);
  }
}

/** A GitHub push of `slug`, activated on GitHub first (with `visibility`) as `slipway repo add` does. */
async function pushMessage(
  slug: string,
  config: string | null,
  overrides: Partial<BuildHook> = {},
  deliveryId = `d-${slug}-${++shaCounter}`,
  visibility: 'public' | 'private' = 'public',
): Promise<EventMessage> {
  await store.activateRepository({ slug, scm: 'github', visibility, activatedAt: Date.now() });
  const sha = (shaCounter++).toString(16).padStart(40, 'a');
  if (config !== null) git.setFile(slug, sha, '.drone.yml', config);
  const [owner, name] = slug.split('/') as [string, string];
  return {
    version: 1,
    deliveryId,
    host: 'github',
    receivedAt: Date.now() - 5,
    hook: {
      kind: 'build',
      event: 'push',
      action: '',
      repo: { slug, owner, name, scm: 'github', httpUrl: `https://github.com/${slug}.git`, link: `https://github.com/${slug}`, defaultBranch: 'main', private: false, visibility: 'public' },
      commit: { sha, ref: 'refs/heads/main', branch: 'main', message: 'change', link: `https://github.com/${slug}/commit/${sha}`, author: { login: 'octocat', name: 'Octo Cat', email: 'o@example.com', avatar: '' } },
      sender: 'octocat',
      ...overrides,
    },
  };
}

describe('planEvent', () => {
  it('creates the build, its stages and steps, enqueues the first stage, posts pending and nudges', async () => {
    const message = await pushMessage('acme/app', PIPELINES);
    const outcome = await planEvent(message, deps);
    expect(outcome).toEqual({ kind: 'created', buildId: 'acme/app#1', enqueued: [1] });

    const detail = (await store.getBuildDetail('acme/app#1'))!;
    expect(detail).toMatchObject({ status: 'pending', event: 'push', commit: message.hook.commit.sha, deliveryId: message.deliveryId, fork: false });
    expect(detail.stages.map((s) => [s.name, s.status, s.dependsOn])).toEqual([
      ['build', 'pending', []],
      ['deploy', 'pending', ['build']],
      ['release', 'skipped', []],
    ]);
    expect(detail.stages[2]!.message).toMatch(/^trigger: event "push" is not included in \[tag\]/);
    expect(detail.stages[0]!.queuedAt).toBeTypeOf('number');
    expect(detail.stages[1]!.queuedAt).toBeUndefined();
    expect(detail.stages[0]!.steps.map((s) => [s.name, s.kind, s.status])).toEqual([
      ['clone', 'clone', 'pending'],
      ['db', 'service', 'pending'],
      ['test', 'step', 'pending'],
    ]);

    const jobs = (await drainJobs()).map((m) => decodeJob(m.Body!));
    expect(jobs.map((j) => [j.stageKey, j.pipeline])).toEqual([['acme/app#1/1', 'build']]);
    expect(jobs[0]!.taskDefinition.family).toBe(detail.stages[0]!.family);
    expect(jobs[0]!.receivedAt).toBe(message.receivedAt);
    // The build keeps the webhook's receipt time: its stages' time starts at the push (stage-timeline.ts).
    expect(detail.receivedAt).toBe(message.receivedAt);
    // The dependent stage's job is stored for the task-events handler to enqueue later.
    expect((await stageStore.getStageJob('acme/app#1', 2))?.pipeline).toBe('deploy');

    const statuses = git.statuses.filter((s) => s.sha === message.hook.commit.sha);
    expect(statuses).toMatchObject([{ state: 'pending', context: 'continuous-integration/slipway', targetUrl: 'https://ci.example.com/#/builds/acme/app/1', token: 'gh-token' }]);
    expect(nudges).toBe(1);
  });

  it('does not create a second build when the message is retried, even concurrently', async () => {
    const message = await pushMessage('acme/retry', PIPELINES);
    const [a, b] = await Promise.all([planEvent(message, deps), planEvent(message, deps)]);
    expect([a.kind, b.kind].sort()).toEqual(['created', 'resumed']);
    const created = (a.kind === 'created' ? a : b) as { buildId: string };
    const again = await planEvent(message, deps);
    expect(again).toMatchObject({ kind: 'resumed', buildId: created.buildId, enqueued: [1] });
    // Racing attempts may each draw a number; only one build exists.
    expect((await store.listBuilds('acme/retry')).items.map((b) => b.id)).toEqual([created.buildId]);
    // Re-enqueued stage jobs are duplicates of the same stage, which the autoscaler starts once.
    expect(new Set((await drainJobs()).map((m) => decodeJob(m.Body!).stageKey))).toEqual(new Set([`${created.buildId}/1`]));
  });

  it('turns an invalid file into an error build with FILE:LINE:COLUMN and a failed commit status', async () => {
    const message = await pushMessage('acme/broken', 'kind: pipeline\nname: x\nsteps:\n  - name: a\n    image: [\n');
    const outcome = await planEvent(message, deps);
    expect(outcome.kind).toBe('invalid');
    const build = (await store.getBuild('acme/broken#1'))!;
    expect(build.status).toBe('error');
    expect(build.error).toMatch(/^\.drone\.yml:6:1: error: yaml: /);
    expect(await store.listStages(build.id)).toEqual([]);
    expect(await drainJobs()).toHaveLength(0);
    const status = git.statuses.find((s) => s.sha === message.hook.commit.sha)!;
    expect(status.state).toBe('error');
    expect(status.description).toContain('.drone.yml:6:1');
  });

  it("substitutes ${…} with the build's values before compiling, as Drone's runner does (drone/runner-go pipeline/runtime/runner.go)", async () => {
    const config =
      'kind: pipeline\ntype: docker\nname: build\ntrigger:\n  branch: [main]\nsteps:\n- name: show\n  image: alpine\n' +
      '  commands: ["echo ${DRONE_COMMIT_SHA:0:8} build-${DRONE_BUILD_NUMBER} ${DRONE_REPO_NAME^^} $${HOME}"]\n';
    const message = await pushMessage('acme/subst', config);
    expect(await planEvent(message, deps)).toMatchObject({ kind: 'created' });
    const [job] = (await drainJobs()).map((m) => decodeJob(m.Body!));
    const step = (job!.taskDefinition.containerDefinitions as { name: string; command?: string[] }[]).find((c) => c.name === 'show')!;
    expect(step.command![0]).toContain(`echo ${message.hook.commit.sha.slice(0, 8)} build-1 SUBST \${HOME}`);
  });

  it('turns a ${…} Drone cannot read into an error build pointing at it in the file as written', async () => {
    const config = 'kind: pipeline\ntype: docker\nname: build\nsteps:\n- name: show\n  image: alpine\n  commands: ["echo ${DRONE_BRANCH-main}"]\n';
    const message = await pushMessage('acme/badsubst', config);
    expect((await planEvent(message, deps)).kind).toBe('invalid');
    const build = (await store.getBuild('acme/badsubst#1'))!;
    expect(build.error).toMatch(/^\.drone\.yml:7:20: error: substitution: missing closing brace in "\$\{DRONE_BRANCH-/);
  });

  it('turns more pipelines than one build holds into an error build saying so, not a retried message (DynamoDB transactions hold 100 items)', async () => {
    let config = '';
    for (let i = 0; i < 99; i++) config += `---\nkind: pipeline\ntype: docker\nname: p${i}\nsteps:\n- name: s\n  image: alpine\n  commands: [echo]\n`;
    const message = await pushMessage('acme/many', config);
    const outcome = await planEvent(message, deps);
    expect(outcome.kind).toBe('invalid');
    const build = (await store.getBuild('acme/many#1'))!;
    expect(build.status).toBe('error');
    expect(build.error).toBe('.drone.yml: 99 pipelines run for this push; a build holds at most 98 (split the pipeline file, or use fewer pipelines with more steps)');
    expect(await store.listStages(build.id)).toEqual([]);
    expect(await drainJobs()).toHaveLength(0);
    expect(git.statuses.find((s) => s.sha === message.hook.commit.sha)?.state).toBe('error');
  });

  it('ends a file over the work budget (hostile trigger or when: patterns) as an error build at once, not a retry', async () => {
    const hostile = `${'*{a,*}'.repeat(20)}b`;
    const branch = 'a'.repeat(40);
    const commit = (slug: string) => ({ sha: '', ref: `refs/heads/${branch}`, branch, message: 'change', link: `https://github.com/${slug}`, author: { login: 'octocat', name: 'Octo Cat', email: 'o@example.com', avatar: '' } });
    const cases = [
      ['acme/budget-trigger', `kind: pipeline\nname: x\ntrigger:\n  branch: ["${hostile}"]\nsteps: [{name: a, image: alpine, commands: [x]}]\n`],
      ['acme/budget-when', `kind: pipeline\nname: x\nsteps: [{name: a, image: alpine, commands: [x], when: {branch: ["${hostile}"]}}]\n`],
    ] as const;
    for (const [slug, config] of cases) {
      const message = await pushMessage(slug, config);
      message.hook.commit = { ...commit(slug), sha: message.hook.commit.sha };
      const outcome = await planEvent(message, { ...deps, workLimit: 20_000 });
      expect(outcome, slug).toMatchObject({ kind: 'invalid', buildId: `${slug}#1` });
      const build = (await store.getBuild(`${slug}#1`))!;
      expect(build.status).toBe('error');
      expect(build.error).toMatch(/^\.drone\.yml:1:1: the pipeline file needs more than 20000 units of work to match when:\/trigger: patterns .*simplify it/);
      expect(git.statuses.find((s) => s.sha === message.hook.commit.sha)?.state).toBe('error');
      // The default budget plans the same file.
      const again = await pushMessage(slug, config);
      again.hook.commit = { ...commit(slug), sha: again.hook.commit.sha };
      expect((await planEvent(again, deps)).kind).not.toBe('invalid');
    }
    expect(await drainJobs()).toHaveLength(1); // the second case's build under the default budget
  });

  it('plans a push whose commit message and author hold a NUL (DynamoDB, the job and the overrides keep it)', async () => {
    const message = await pushMessage('acme/nul', 'kind: pipeline\nname: x\nsteps: [{name: a, image: alpine, commands: [x]}]\n');
    message.hook.commit = { ...message.hook.commit, message: 'fix\u0000injected', author: { ...message.hook.commit.author, name: 'o\u0000c' } };
    const outcome = await planEvent(message, deps);
    expect(outcome).toMatchObject({ kind: 'created', buildId: 'acme/nul#1' });
    const build = (await store.getBuild('acme/nul#1'))!;
    expect(build.message).toBe('fix\u0000injected');
    const jobs = (await drainJobs()).map((m) => decodeJob(m.Body!));
    expect(jobs).toHaveLength(1);
    // The agent's context travels as JSON in the RunTask overrides, where a NUL is escaped.
    const agentEnv = (jobs[0]!.runTask.overrides as { containerOverrides: { environment?: { name: string; value: string }[] }[] }).containerOverrides.flatMap((c) => c.environment ?? []);
    const ctx = JSON.parse(agentEnv.find((e) => e.name === 'SLIPWAY_BUILD')!.value) as BuildContext;
    expect(ctx.commit.message).toBe('fix\u0000injected');
    expect(agentEnv.find((e) => e.name === 'SLIPWAY_BUILD')!.value).not.toContain('\u0000');
  });

  it('makes a pipeline the compiler rejects a stage in error with FILE:LINE:COLUMN, and a build that ends in error at once', async () => {
    let config = 'kind: pipeline\ntype: docker\nname: wide\nsteps:\n';
    for (let i = 0; i < 12; i++) config += `- name: s${i}\n  image: img${i}:1\n  commands: [echo]\n`;
    const message = await pushMessage('acme/rejected', config);
    const outcome = await planEvent(message, deps);
    expect(outcome).toMatchObject({ kind: 'created', buildId: 'acme/rejected#1', enqueued: [] });
    const build = (await store.getBuild('acme/rejected#1'))!;
    expect(build.status).toBe('error');
    // Caught by the linter or the compiler, at the steps: key, with the count either way.
    expect(build.error).toMatch(/^\.drone\.yml:4:1: error: .*too many containers.*needs 13 containers/);
    const stages = await store.listStages(build.id);
    expect(stages.map((s) => [s.name, s.status, s.reason])).toEqual([['wide', 'error', 'invalid-config']]);
    expect(stages[0]!.message).toMatch(/^\.drone\.yml:4:1: error: /);
    expect(await drainJobs()).toHaveLength(0);
    expect(git.statuses.find((s) => s.sha === message.hook.commit.sha)?.state).toBe('error');
  });

  it('runs the other pipelines of a file when one has an error of its own (issue 15)', async () => {
    const config = [
      'kind: pipeline\ntype: docker\nname: image\nsteps:\n- name: build\n  image: docker:dind\n  commands: [docker build .]\n',
      'kind: pipeline\ntype: docker\nname: test\nsteps:\n- name: unit\n  image: alpine\n  commands: [echo]\n',
    ].join('---\n');
    const message = await pushMessage('acme/partly', config);
    const outcome = await planEvent(message, deps);
    expect(outcome).toMatchObject({ kind: 'created', buildId: 'acme/partly#1', enqueued: [2] });
    const build = (await store.getBuild('acme/partly#1'))!;
    expect(build.status).toBe('pending');
    const stages = await store.listStages(build.id);
    expect(stages.map((s) => [s.name, s.status])).toEqual([
      ['image', 'error'],
      ['test', 'pending'],
    ]);
    expect(stages[0]!.message).toMatch(/^\.drone\.yml:6:10: error: steps\[0\]\.image: Fargate has no Docker daemon for docker:dind/);
    expect((await drainJobs()).map((m) => decodeJob(m.Body!).pipeline)).toEqual(['test']);
    expect(git.statuses.find((s) => s.sha === message.hook.commit.sha)?.state).toBe('pending');
  });

  // drone/drone trigger/trigger.go: a skipped dependency is dropped from the stage's depends_on;
  // a stage left with nothing to wait for is pending at once, unless it runs only on failure
  // (skipped: nothing before it can fail; Drone would start it, harness/harness#2683).
  it('plans the dependents of a 32-bit ARM pipeline as Drone does: they wait for the others; a failure-only one is skipped', async () => {
    const p = (name: string, extra = '') => `kind: pipeline\ntype: docker\nname: ${name}\n${extra}steps:\n- name: a\n  image: alpine\n  commands: [echo]\n`;
    const config = [
      p('amd64'),
      p('arm', 'platform: { arch: arm }\n'),
      p('notify', 'depends_on: [amd64, arm]\n'),
      p('on-failure', 'depends_on: [arm]\ntrigger:\n  status: [failure]\n'),
    ].join('---\n');
    const message = await pushMessage('acme/arm', config);
    const outcome = await planEvent(message, deps);
    expect(outcome).toMatchObject({ kind: 'created', buildId: 'acme/arm#1', enqueued: [1] });
    const stages = await store.listStages('acme/arm#1');
    // The 32-bit ARM pipeline is a stage too, skipped with its reason (numbered after the others).
    expect(stages.map((s) => [s.name, s.status, s.dependsOn])).toEqual([
      ['amd64', 'pending', []],
      ['notify', 'pending', ['amd64']],
      ['on-failure', 'skipped', []],
      ['arm', 'skipped', []],
    ]);
    expect(stages[1]!.notes).toEqual([expect.stringContaining('depends_on: "arm" is skipped (platform arch "arm" runs on another runner')]);
    expect(stages[2]!.message).toMatch(/runs only when the build is failing .* waits for no pipeline that could fail/);
    expect(stages[3]).toMatchObject({ number: 4, message: 'platform arch "arm" runs on another runner: Fargate runs amd64 and arm64 (Fargate has no 32-bit ARM)' });
    expect(stages[3]!.finishedAt).toBeDefined();
    // The API shows it as it shows a trigger-skipped stage.
    expect((await store.getBuildDetail('acme/arm#1'))?.stages.map((s) => [s.name, s.status])).toContainEqual(['arm', 'skipped']);
    expect((await drainJobs()).map((m) => decodeJob(m.Body!).pipeline)).toEqual(['amd64']);
  });

  it('runs a Docker-in-Docker pipeline on EC2 capacity only for a trusted repository, never for a fork (issue 19)', async () => {
    const config = 'kind: pipeline\ntype: docker\nname: image\nsteps:\n- name: build\n  image: docker:dind\n  privileged: true\n  commands: [docker build .]\n';
    const withEc2: PlannerDeps = { ...deps, compile: { ...deps.compile, ec2CapacityProviders: { amd64: 'slipway-ec2-amd64' } } };
    const planned = async (slug: string, trusted: boolean, overrides: Partial<BuildHook> = {}) => {
      const message = await pushMessage(slug, config, overrides);
      // As `slipway repo add … --trusted` stores it (pushMessage activated it without).
      await store.activateRepository({ slug, scm: 'github', visibility: 'public', activatedAt: Date.now(), trusted });
      expect((await store.getRepository(slug))?.trusted).toBe(trusted);
      const outcome = await planEvent(message, withEc2);
      if (outcome.kind !== 'created') throw new Error(`not created: ${JSON.stringify(outcome)}`);
      return (await store.listStages(outcome.buildId))[0]!;
    };

    const trusted = await planned('acme/dind-trusted', true);
    expect(trusted.status).toBe('pending');
    const job = decodeJob((await drainJobs())[0]!.Body!);
    expect(job.taskDefinition).toMatchObject({ requiresCompatibilities: ['EC2'], networkMode: 'host' });
    expect(job.runTask).toMatchObject({ capacityProviderStrategy: [{ capacityProvider: 'slipway-ec2-amd64', weight: 1 }], placementConstraints: [{ type: 'distinctInstance' }, { type: 'memberOf', expression: 'attribute:slipway.spent !exists' }] });

    const untrusted = await planned('acme/dind-untrusted', false);
    expect(untrusted.status).toBe('error');
    expect(untrusted.message).toMatch(/needs EC2 capacity, which this build cannot have: the repository is not trusted to run on EC2 \(an operator can allow it: slipway repo update OWNER\/NAME --trusted\)/);

    const fork = await planned('acme/dind-trusted', true, { event: 'pull_request', action: 'opened', pullRequest: { number: 7, title: 'x', sourceBranch: 'f', targetBranch: 'main', fork: true } });
    expect(fork.status).toBe('error');
    expect(fork.message).toMatch(/pull requests from forks never run on EC2/);
    expect(await drainJobs()).toEqual([]);
  });

  it('a trust change (slipway repo update) applies to builds planned after it, not to one planned before (issue 19)', async () => {
    const config = 'kind: pipeline\ntype: docker\nname: image\nsteps:\n- name: build\n  image: docker:dind\n  privileged: true\n  commands: [docker build .]\n';
    const withEc2: PlannerDeps = { ...deps, compile: { ...deps.compile, ec2CapacityProviders: { amd64: 'slipway-ec2-amd64' } } };
    const slug = 'acme/dind-updated';
    const plan = async (message: EventMessage) => {
      const outcome = await planEvent(message, withEc2);
      if (outcome.kind !== 'created') throw new Error(`not created: ${JSON.stringify(outcome)}`);
      return (await store.listStages(outcome.buildId))[0]!;
    };
    // Three pushes of new commits (pushMessage activates the repository, untrusted, each time: all before the changes).
    const [first, second, third] = [await pushMessage(slug, config), await pushMessage(slug, config), await pushMessage(slug, config)];
    const before = await plan(first);
    expect(before.status).toBe('error');
    expect(before.message).toMatch(/the repository is not trusted to run on EC2/);

    await store.changeRepositorySettings(slug, { trusted: true }, Date.now());
    // The build planned before keeps what it was planned with.
    expect((await store.listStages(before.buildId))[0]).toMatchObject({ status: 'error' });
    const after = await plan(second);
    expect(after.status).toBe('pending');
    expect(decodeJob((await drainJobs())[0]!.Body!).taskDefinition).toMatchObject({ requiresCompatibilities: ['EC2'] });

    await store.changeRepositorySettings(slug, { trusted: false }, Date.now());
    const untrustedAgain = await plan(third);
    expect(untrustedAgain.status).toBe('error');
    expect(await drainJobs()).toEqual([]);
  });

  it('builds pull requests from forks without secrets', async () => {
    const message = await pushMessage('acme/forked', PIPELINES, {
      event: 'pull_request',
      action: 'opened',
      pullRequest: { number: 4, title: 'Improve', sourceBranch: 'feature', targetBranch: 'main', fork: true },
    });
    await planEvent(message, deps);
    expect((await store.getBuild('acme/forked#1'))?.fork).toBe(true);
    const job = decodeJob((await drainJobs())[0]!.Body!);
    const containers = (job.taskDefinition as unknown as { containerDefinitions: { name: string; secrets?: unknown[] }[] }).containerDefinitions;
    expect(containers.some((c) => (c.secrets ?? []).length > 0)).toBe(false);

    const own = await pushMessage('acme/forked', PIPELINES, { event: 'pull_request', action: 'opened', pullRequest: { number: 5, title: 'x', sourceBranch: 'b', targetBranch: 'main', fork: false } });
    await planEvent(own, deps);
    const ownJob = decodeJob((await drainJobs())[0]!.Body!);
    const ownContainers = (ownJob.taskDefinition as unknown as { containerDefinitions: { secrets?: { name: string }[] }[] }).containerDefinitions;
    expect(ownContainers.flatMap((c) => c.secrets ?? []).map((s) => s.name)).toContain('TOKEN');
  });

  it('creates nothing (and uses no build number) without a file or a triggered pipeline', async () => {
    expect(await planEvent(await pushMessage('acme/nofile', null), deps)).toMatchObject({ kind: 'skipped', reason: expect.stringContaining('.drone.yml does not exist') });
    const tagOnly = 'kind: pipeline\ntype: docker\nname: rel\ntrigger:\n  event: [tag]\nsteps:\n- name: a\n  image: alpine\n  commands: [echo]\n';
    expect((await planEvent(await pushMessage('acme/nofile', tagOnly), deps)).kind).toBe('skipped');
    expect((await store.getRepository('acme/nofile'))?.counter).toBe(0);
    expect((await planEvent(await pushMessage('acme/nofile', PIPELINES), deps))).toMatchObject({ buildId: 'acme/nofile#1' });
  });

  it('reads the file from the configured path', async () => {
    const message = await pushMessage('acme/custom', null);
    await store.updateRepositorySettings('acme/custom', { configPath: 'ci/pipeline.yml' });
    git.setFile('acme/custom', message.hook.commit.sha, 'ci/pipeline.yml', PIPELINES);
    expect((await planEvent(message, deps)).kind).toBe('created');
  });

  it('still creates the build when the Git host refuses the status, after retrying it', async () => {
    const waits: number[] = [];
    git.failNext(PENDING_STATUS_RETRY.attempts, 502, '/statuses/');
    const message = await pushMessage('acme/statusdown', PIPELINES);
    expect((await planEvent(message, { ...deps, statusRetry: { sleep: async (ms) => void waits.push(ms) } })).kind).toBe('created');
    expect(logs.some((l) => l.message === 'commit status not posted')).toBe(true);
    expect(waits).toHaveLength(PENDING_STATUS_RETRY.attempts - 1);
    expect(git.statuses.filter((s) => s.sha === message.hook.commit.sha)).toEqual([]);
  });

  it('retries a pending status the host failed (502) with the retry helper, until it is posted', async () => {
    git.failNext(2, 502, '/statuses/');
    const message = await pushMessage('acme/statusflaky', PIPELINES);
    expect((await planEvent(message, { ...deps, statusRetry: { sleep: async () => {} } })).kind).toBe('created');
    expect(logs.filter((l) => l.message === 'commit status retried')).toHaveLength(2);
    expect(git.statuses.filter((s) => s.sha === message.hook.commit.sha).map((s) => s.state)).toEqual(['pending']);
  });
});

describe('the pending status is off the path to RunTask', () => {
  /**
   * The planner's Git host access with its pending posts held until `release` (a host slow to
   * answer), and a planner whose nudges are recorded in `order`. A planner that waited for the
   * pending status before the nudge would never nudge: these tests then fail on vitest's time-out.
   */
  function heldPending() {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let nudged!: () => void;
    const nudge = new Promise<void>((resolve) => (nudged = resolve));
    const order: string[] = [];
    const scm: PlannerDeps['scm'] = {
      ...deps.scm,
      postStatus: async (repo, sha, status) => {
        if (status.state === 'pending') await released;
        await deps.scm.postStatus(repo, sha, status);
        order.push(`status ${status.state} answered`);
      },
    };
    const planner: PlannerDeps = {
      ...deps,
      scm,
      nudge: async () => {
        order.push('nudge');
        nudged();
      },
    };
    return { planner, order, nudge, release };
  }

  it('queues the stage and nudges the autoscaler while the host has not yet answered the pending status', async () => {
    const host = heldPending();
    const message = await pushMessage('acme/offpath', PIPELINES);
    const planned = planEvent(message, host.planner);
    await host.nudge;
    // The autoscaler was asked for its pass with the stage on the queue, the pending status still unanswered.
    expect((await drainJobs()).map((m) => decodeJob(m.Body!).stageKey)).toEqual(['acme/offpath#1/1']);
    host.release();
    expect(await planned).toEqual({ kind: 'created', buildId: 'acme/offpath#1', enqueued: [1] });
    expect(host.order).toEqual(['nudge', 'status pending answered']);
    expect(git.statuses.filter((s) => s.sha === message.hook.commit.sha).map((s) => s.state)).toEqual(['pending']);
  });

  it('a pending status that reaches the host after the final one is followed by the final one again', async () => {
    const host = heldPending();
    const message = await pushMessage('acme/latepending', PIPELINES);
    const planned = planEvent(message, host.planner);
    await host.nudge;
    // The stage's task could not start: the build fails and its final status is posted first.
    await store.updateBuild('acme/latepending#1', { status: 'failure', finishedAt: Date.now() });
    expect(await postFinishedStatus({ version: 1, kind: 'build-finished', buildId: 'acme/latepending#1', sentAt: Date.now() }, deps)).toMatchObject({ kind: 'posted' });
    host.release();
    await planned;
    const states = git.statuses.filter((s) => s.sha === message.hook.commit.sha).map((s) => s.state);
    expect(states).toEqual(['failure', 'pending', 'failure']);
    expect(logs.some((l) => l.message.startsWith('build finished while its pending status was sent'))).toBe(true);
  });

  it('a redelivered message after the build finished posts its final status, never pending', async () => {
    const message = await pushMessage('acme/lateretry', PIPELINES);
    await planEvent(message, deps);
    await drainJobs();
    await store.updateBuild('acme/lateretry#1', { status: 'success', finishedAt: Date.now() });
    expect(await planEvent(message, deps)).toEqual({ kind: 'resumed', buildId: 'acme/lateretry#1', enqueued: [] });
    expect(git.statuses.filter((s) => s.sha === message.hook.commit.sha).map((s) => s.state)).toEqual(['pending', 'success']);
  });

  // README "Logs and metrics": BuildsStarted counts every build the planner creates, BuildsFinished
  // every build that ends; a build created finished ends at its creation, so it is in both.
  it('a build created finished (its one pipeline runs only on failure: skipped) counts in BuildsStarted and BuildsFinished; one that runs only in BuildsStarted', async () => {
    const counted: string[] = [];
    const metrics = { buildStarted: () => void counted.push('started'), buildFinished: (status: string) => void counted.push(`finished ${status}`), stageStarted: () => {}, runTaskFailure: () => {}, gitHostError: () => {}, sociJobExpired: () => {} };
    const failureOnly = 'kind: pipeline\ntype: docker\nname: notify\ntrigger:\n  status: [failure]\nsteps:\n- name: a\n  image: alpine\n  commands: [echo]\n';
    expect(await planEvent(await pushMessage('acme/all-skipped', failureOnly), { ...deps, metrics })).toEqual({ kind: 'created', buildId: 'acme/all-skipped#1', enqueued: [] });
    expect(await store.getBuild('acme/all-skipped#1')).toMatchObject({ status: 'success', finishedAt: expect.any(Number) });
    expect(counted).toEqual(['started', 'finished success']);

    counted.length = 0;
    expect(await planEvent(await pushMessage('acme/runs', PIPELINES), { ...deps, metrics })).toMatchObject({ kind: 'created', enqueued: [1] });
    expect(counted).toEqual(['started']);
  });

  it('a build whose every pipeline is in error is final at its creation: its one status is posted once', async () => {
    const message = await pushMessage('acme/all-errors', 'kind: pipeline\ntype: docker\nname: test\nsteps:\n  a: { image: alpine }\n');
    await planEvent(message, deps);
    expect((await store.getBuild('acme/all-errors#1'))?.status).toBe('error');
    expect(git.statuses.filter((s) => s.sha === message.hook.commit.sha).map((s) => s.state)).toEqual(['error']);
  });
});

describe('the repository comes from activation and configuration, never from the webhook body', () => {
  const contextOf = (job: ReturnType<typeof decodeJob>): BuildContext => {
    const overrides = (job.runTask.overrides as { containerOverrides: { environment?: { name: string; value: string }[] }[] }).containerOverrides;
    return JSON.parse(overrides.flatMap((o) => o.environment ?? []).find((e) => e.name === 'SLIPWAY_BUILD')!.value) as BuildContext;
  };

  it('builds nothing, and records no repository, for a repository that is not activated', async () => {
    const message = await pushMessage('acme/never-added', PIPELINES);
    await store.deactivateRepository('acme/never-added');
    expect(await planEvent(message, deps)).toEqual({ kind: 'skipped', reason: 'repository acme/never-added is not activated (slipway repo add acme/never-added --host github)' });
    const unknown = { ...message, deliveryId: 'd-unknown', hook: { ...message.hook, repo: { ...message.hook.repo, slug: 'stranger/repo' } } };
    expect((await planEvent(unknown, deps)).kind).toBe('skipped');
    expect(await store.getRepository('stranger/repo')).toBeNull();
    expect(await drainJobs()).toHaveLength(0);
  });

  it('builds nothing for an event from another host than the one the repository is activated on', async () => {
    const message = await pushMessage('acme/on-github', PIPELINES);
    const fromGitlab: EventMessage = { ...message, host: 'gitlab', hook: { ...message.hook, repo: { ...message.hook.repo, scm: 'gitlab' } } };
    expect(await planEvent(fromGitlab, deps)).toEqual({ kind: 'skipped', reason: 'repository acme/on-github is activated on github, not on gitlab' });
    expect(await drainJobs()).toHaveLength(0);
  });

  it("clones from the configured host with the activation's visibility, whatever clone_url, html_url and private the payload says", async () => {
    const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:slipway-scm-AbCdEf';
    const withClone: PlannerDeps = {
      ...deps,
      cloneCredentials: cloneCredentialsSource({ SCM_CREDENTIALS_SECRET_ARN: ARN }, async () => ({ githubCloneToken: 'ghs_token' })),
    };
    const message = await pushMessage('acme/lured', PIPELINES, {}, undefined, 'private');
    message.hook.repo = { ...message.hook.repo, httpUrl: 'https://attacker.example/acme/lured.git', sshUrl: 'git@attacker.example:acme/lured.git', link: 'https://attacker.example/acme/lured', private: false, visibility: 'public' };
    expect((await planEvent(message, withClone)).kind).toBe('created');
    const job = decodeJob((await drainJobs())[0]!.Body!);
    expect(JSON.stringify(job)).not.toContain('attacker.example');
    const ctx = contextOf(job);
    expect(ctx.repo).toMatchObject({ slug: 'acme/lured', scm: 'github', httpUrl: 'https://github.com/acme/lured.git', link: 'https://github.com/acme/lured', private: true, visibility: 'private' });
    expect(ctx.repo.sshUrl).toBeUndefined();
    // The token goes to the configured host only.
    const agent = (job.taskDefinition as unknown as { containerDefinitions: { environment?: { name: string; value: string }[] }[] }).containerDefinitions[0]!;
    expect(agent.environment!.find((e) => e.name === 'DRONE_NETRC_MACHINE')?.value).toBe('github.com');
    // What activation stored is not overwritten by the event; the location is configuration's.
    expect(await store.getRepository('acme/lured')).toMatchObject({ scm: 'github', visibility: 'private', private: true, httpUrl: 'https://github.com/acme/lured.git', link: 'https://github.com/acme/lured' });
  });

  it('makes a push of a Gitea or GitLab repository whose host has no configured API URL an error build that says what to set, and sends no request', async () => {
    await store.activateRepository({ slug: 'team/svc', scm: 'gitea', visibility: 'private', activatedAt: Date.now() });
    const message = await pushMessage('acme/placeholder', null);
    const gitea: EventMessage = { ...message, deliveryId: 'd-gitea-noapi', host: 'gitea', hook: { ...message.hook, repo: { ...message.hook.repo, slug: 'team/svc', scm: 'gitea', link: 'https://attacker.example/team/svc' } } };
    const outcome = await planEvent(gitea, deps, { finalAttempt: false });
    expect(outcome).toMatchObject({ kind: 'invalid', buildId: 'team/svc#1', error: expect.stringMatching(/^cannot read \.drone\.yml of team\/svc at [0-9a-f]{12}: scm: no API URL for gitea: set "gitea": \{"apiUrl"/) });
    expect((await store.getBuild('team/svc#1'))).toMatchObject({ status: 'error', deliveryId: 'd-gitea-noapi' });
    expect(git.requests.some((r) => r.path.includes('team/svc'))).toBe(false);
    // A redelivery finds that build.
    expect(await planEvent(gitea, deps)).toMatchObject({ kind: 'resumed', buildId: 'team/svc#1' });
    expect((await store.listBuilds('team/svc')).items).toHaveLength(1);
  });
});

describe('a pipeline file that cannot be read is an error build with the reason, never a 202 and then nothing (issue 17)', () => {
  /** A loopback port nothing listens on: the connection is refused at once. */
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }
  const withCredentials = async (credentials: CredentialsByHost): Promise<PlannerDeps> => ({ ...deps, scm: createScmAccess({ credentials: async () => credentials }) });

  it('a Git host that does not answer: the first delivery is retried (no build, no number used); the last makes an error build naming the address', async () => {
    const port = await closedPort();
    const down = await withCredentials({ github: { apiUrl: `http://127.0.0.1:${port}`, webUrl: 'https://github.com', token: 'gh-token' } });
    const message = await pushMessage('acme/hostdown', PIPELINES);
    await expect(planEvent(message, down, { finalAttempt: false })).rejects.toThrow(GitHostUnavailableError);
    expect((await store.getRepository('acme/hostdown'))?.counter).toBe(0);
    const outcome = await planEvent(message, down, { finalAttempt: true });
    expect(outcome).toMatchObject({ kind: 'invalid', buildId: 'acme/hostdown#1' });
    const build = (await store.getBuild('acme/hostdown#1'))!;
    expect(build.status).toBe('error');
    expect(build.error).toContain(`cannot read .drone.yml of acme/hostdown at ${message.hook.commit.sha.slice(0, 12)}: the github API did not answer: scm: no answer from http://127.0.0.1:${port}/repos/acme/hostdown/contents/.drone.yml`);
    expect(build.error).toContain('connection refused: ECONNREFUSED');
    expect(build.error).toContain('"github".apiUrl');
    // The same delivery again (SQS redelivers) finds that build: one build, one number.
    expect(await planEvent(message, down, { finalAttempt: true })).toMatchObject({ kind: 'resumed', buildId: 'acme/hostdown#1' });
    expect((await store.listBuilds('acme/hostdown')).items).toHaveLength(1);
  });

  it('through the batch: the first delivery fails, the second makes the error build, a third changes nothing', async () => {
    const port = await closedPort();
    const down = await withCredentials({ github: { apiUrl: `http://127.0.0.1:${port}`, webUrl: 'https://github.com', token: 'gh-token' } });
    const message = await pushMessage('acme/batch-hostdown', PIPELINES);
    const record = (receives: number): SQSEvent => ({
      Records: [{ messageId: `m${receives}`, body: JSON.stringify(message), attributes: { ApproximateReceiveCount: String(receives) } } as unknown as SQSEvent['Records'][number]],
    });
    expect((await processEventBatch(record(1), down)).batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    expect((await store.listBuilds('acme/batch-hostdown')).items).toEqual([]);
    expect((await processEventBatch(record(2), down)).batchItemFailures).toEqual([]);
    expect((await processEventBatch(record(3), down)).batchItemFailures).toEqual([]);
    const builds = (await store.listBuilds('acme/batch-hostdown')).items;
    expect(builds.map((b) => [b.status, b.error?.includes('ECONNREFUSED')])).toEqual([['error', true]]);
  });

  it('a token the host refuses (401) is an error build at once, with a failed commit status, naming the credentials to check', async () => {
    git.requireToken('the-right-token');
    try {
      const message = await pushMessage('acme/badtoken', PIPELINES);
      expect(await planEvent(message, deps, { finalAttempt: false })).toMatchObject({ kind: 'invalid', buildId: 'acme/badtoken#1' });
      const build = (await store.getBuild('acme/badtoken#1'))!;
      expect(build.error).toMatch(/github answered 401 for \.drone\.yml .*Bad credentials.*; the token of "github" in the SCM credentials .* was refused/);
    } finally {
      git.requireToken(undefined);
    }
  });

  it('a private repository without a token (hosts answer 404 then) is an error build saying the token is missing, not "no pipeline file"', async () => {
    const anonymous = await withCredentials({ github: { apiUrl: git.apiUrl, webUrl: 'https://github.com' } });
    const message = await pushMessage('acme/secret-repo', null, {}, undefined, 'private');
    const outcome = await planEvent(message, anonymous, { finalAttempt: false });
    expect(outcome).toMatchObject({ kind: 'invalid', error: expect.stringContaining('github answered 404 for the private repository acme/secret-repo, and the SCM credentials have no "github".token') });
    // A public repository without the file is still nothing to build.
    expect(await planEvent(await pushMessage('acme/public-nofile', null), anonymous)).toMatchObject({ kind: 'skipped' });
  });

  it("any other failure on a message's last delivery records an error build before the message is dead-lettered", async () => {
    const message = await pushMessage('acme/bug', PIPELINES);
    const broken: PlannerDeps = { ...deps, maxReceives: 3, stages: { ...stageStore, putStageJobs: async () => Promise.reject(new Error('the stage store refused the jobs')), getStageJob: (id, n) => stageStore.getStageJob(id, n) } };
    const record = (receives: number): SQSEvent => ({
      Records: [{ messageId: `b${receives}`, body: JSON.stringify(message), attributes: { ApproximateReceiveCount: String(receives) } } as unknown as SQSEvent['Records'][number]],
    });
    expect((await processEventBatch(record(2), broken)).batchItemFailures).toEqual([{ itemIdentifier: 'b2' }]);
    expect((await store.listBuilds('acme/bug')).items).toEqual([]);
    expect((await processEventBatch(record(3), broken)).batchItemFailures).toEqual([]);
    const [build] = (await store.listBuilds('acme/bug')).items;
    expect(build).toMatchObject({ status: 'error', deliveryId: message.deliveryId });
    expect(build!.error).toMatch(/^the planner could not plan this push \([0-9a-f]{12}\): the stage store refused the jobs$/);
  });
});

describe('processEventBatch', () => {
  const record = (id: string, body: string) => ({ messageId: id, body, attributes: { ApproximateReceiveCount: '1' } });

  it('reports only the failed messages', async () => {
    const good1 = await pushMessage('batch/one', PIPELINES);
    const good2 = await pushMessage('batch/two', PIPELINES);
    const event = { Records: [record('m1', JSON.stringify(good1)), record('poison', '{"version":1'), record('m2', JSON.stringify(good2))] } as unknown as SQSEvent;
    const res = await processEventBatch(event, deps);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'poison' }]);
    expect(await store.getBuild('batch/one#1')).not.toBeNull();
    expect(await store.getBuild('batch/two#1')).not.toBeNull();
  });

  it('retries a message whose config could not be fetched, and the retry succeeds', async () => {
    const message = await pushMessage('batch/flaky', PIPELINES);
    git.failNext(1, 503, '/contents/');
    const first = await processEventBatch({ Records: [record('f1', JSON.stringify(message))] } as unknown as SQSEvent, deps);
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'f1' }]);
    const second = await processEventBatch({ Records: [record('f1', JSON.stringify(message))] } as unknown as SQSEvent, deps);
    expect(second.batchItemFailures).toEqual([]);
    expect((await store.listBuilds('batch/flaky')).items).toHaveLength(1);
  });

  it('lets SQS move a poison message to the dead-letter queue after its retries', async () => {
    const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'events-dlq' }))).QueueUrl!;
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    const eventsUrl = (
      await sqs.send(
        new CreateQueueCommand({ QueueName: 'events-redrive', Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }) } }),
      )
    ).QueueUrl!;
    const good = await pushMessage('batch/redrive', PIPELINES);
    await sqs.send(new SendMessageCommand({ QueueUrl: eventsUrl, MessageBody: JSON.stringify(good) }));
    await sqs.send(new SendMessageCommand({ QueueUrl: eventsUrl, MessageBody: '{"version":1,"deliveryId":"x","host":"svn"}' }));

    // What the Lambda event source mapping does: receive, invoke, delete the successes,
    // leave the failures to reappear.
    for (let pass = 0; pass < 4; pass++) {
      const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: eventsUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, AttributeNames: ['All'] }));
      const messages = res.Messages ?? [];
      if (messages.length === 0) break;
      const event = { Records: messages.map((m) => ({ messageId: m.MessageId!, body: m.Body!, attributes: m.Attributes ?? {} })) } as unknown as SQSEvent;
      const { batchItemFailures } = await processEventBatch(event, deps);
      const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier));
      for (const m of messages) {
        if (failed.has(m.MessageId!)) await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: eventsUrl, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }));
        else await sqs.send(new DeleteMessageCommand({ QueueUrl: eventsUrl, ReceiptHandle: m.ReceiptHandle! }));
      }
    }
    const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    expect(dead.Messages?.map((m) => m.Body)).toEqual(['{"version":1,"deliveryId":"x","host":"svn"}']);
    expect((await store.listBuilds('batch/redrive')).items).toHaveLength(1);
    expect(logs.filter((l) => l.message === 'message failed').length).toBe(2);
  });
});

describe('restart of a pull request build', () => {
  it('keeps the source branch, number and title, and sets DRONE_BUILD_PARENT', async () => {
    const message = await pushMessage('acme/pr', PIPELINES, {
      event: 'pull_request',
      action: 'opened',
      commit: { sha: 'f'.repeat(40), ref: 'refs/pull/7/head', branch: 'main', message: 'Add the thing\n\nlong text', link: 'l', author: { login: 'octocat', name: 'O', email: '', avatar: '' } },
      pullRequest: { number: 7, title: 'Add the thing (PR title)', sourceBranch: 'feature/thing', targetBranch: 'main', fork: false },
    });
    git.setFile('acme/pr', 'f'.repeat(40), '.drone.yml', PIPELINES);
    await planEvent(message, deps);
    const original = (await store.getBuild('acme/pr#1'))!;
    expect(original).toMatchObject({ sourceBranch: 'feature/thing', targetBranch: 'main', pullRequestNumber: 7, pullRequestTitle: 'Add the thing (PR title)' });
    await drainJobs();

    const restarted = await restartBuild(
      {
        store,
        now: Date.now,
        submit: async (m) => {
          const outcome = await planEvent(m, deps);
          return outcome.kind === 'skipped' ? { skipped: outcome.reason } : { buildId: outcome.buildId };
        },
      },
      original,
    );
    expect(restarted).toMatchObject({ number: 2, parent: 1, sourceBranch: 'feature/thing', targetBranch: 'main', pullRequestNumber: 7, pullRequestTitle: 'Add the thing (PR title)' });
    // The agent computes the steps' DRONE_* environment from the build context it is given.
    const job = decodeJob((await drainJobs())[0]!.Body!);
    const overrides = (job.runTask.overrides as { containerOverrides: { name: string; environment?: { name: string; value: string }[] }[] }).containerOverrides;
    const ctx = JSON.parse(overrides.flatMap((o) => o.environment ?? []).find((e) => e.name === 'SLIPWAY_BUILD')!.value) as BuildContext;
    const env = buildEnvironment(ctx, { name: 'build', number: 1, kind: 'pipeline', type: 'docker', os: 'linux', arch: 'amd64', dependsOn: [], workspace: '' });
    expect([env.DRONE_SOURCE_BRANCH, env.DRONE_TARGET_BRANCH, env.DRONE_BUILD_PARENT, env.DRONE_PULL_REQUEST, env.DRONE_PULL_REQUEST_TITLE]).toEqual([
      'feature/thing', 'main', '1', '7', 'Add the thing (PR title)',
    ]);
  });
});

describe('build-finished messages (a build the API cancelled before anything ran)', () => {
  it('travel through the events queue and post the final commit status with the planner\'s credentials', async () => {
    const message = await pushMessage('acme/cancelled', PIPELINES);
    await planEvent(message, deps);
    await drainJobs();
    const build = (await store.getBuild('acme/cancelled#1'))!;
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'events-finished' }))).QueueUrl!;
    const result = await cancelBuild(
      { store, stopTask: async () => {}, buildFinished: (b) => sendBuildFinished(sqs, queueUrl, b.id, Date.now()), now: Date.now, log: () => {} },
      build,
      'tester',
    );
    expect(result.build.status).toBe('killed');
    const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    const event = { Records: (res.Messages ?? []).map((m) => ({ messageId: m.MessageId!, body: m.Body!, attributes: { ApproximateReceiveCount: '1' } })) } as unknown as SQSEvent;
    expect(event.Records).toHaveLength(1);
    const batch = await processEventBatch(event, deps);
    expect(batch.batchItemFailures).toEqual([]);
    const statuses = git.statuses.filter((s) => s.sha === message.hook.commit.sha).map((s) => s.state);
    expect(statuses).toEqual(['pending', 'error']);
  });

  it('a host that is down makes the message fail (retried, then dead-lettered); an unfinished build posts nothing', async () => {
    const message = await pushMessage('acme/cancelled2', PIPELINES);
    await planEvent(message, deps);
    await drainJobs();
    const body = (id: string) => JSON.stringify({ version: 1, kind: 'build-finished', buildId: id, sentAt: Date.now() });
    const batchOf = (id: string) => ({ Records: [{ messageId: 'bf', body: body(id), attributes: { ApproximateReceiveCount: '1' } }] }) as unknown as SQSEvent;
    expect((await processEventBatch(batchOf('acme/cancelled2#1'), deps)).batchItemFailures).toEqual([]);
    expect(git.statuses.filter((s) => s.sha === message.hook.commit.sha).map((s) => s.state)).toEqual(['pending']);
    await store.updateBuild('acme/cancelled2#1', { status: 'killed', finishedAt: Date.now() });
    git.failNext(1, 502, '/statuses/');
    expect((await processEventBatch(batchOf('acme/cancelled2#1'), deps)).batchItemFailures).toEqual([{ itemIdentifier: 'bf' }]);
    expect((await processEventBatch(batchOf('acme/cancelled2#1'), deps)).batchItemFailures).toEqual([]);
    expect(git.statuses.filter((s) => s.sha === message.hook.commit.sha).map((s) => s.state)).toEqual(['pending', 'error']);
  });
});

describe('clone credentials of private repositories', () => {
  const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:slipway-scm-AbCdEf';
  const TOKEN = 'ghs_cloneTokenValue0123456789';
  const CONFIG: CredentialsByHost = { github: { apiUrl: 'https://api.github.com', token: 'gh-token' }, githubCloneToken: TOKEN };
  let reads = 0;
  const withClone = (config: CredentialsByHost = CONFIG): PlannerDeps => ({
    ...deps,
    cloneCredentials: cloneCredentialsSource({ SCM_CREDENTIALS_SECRET_ARN: ARN }, async () => {
      reads++;
      return config;
    }),
  });
  const privateMessage = (slug: string, overrides: Partial<BuildHook> = {}) => pushMessage(slug, PIPELINES, overrides, undefined, 'private');
  type Def = { name: string; environment?: { name: string; value: string }[]; secrets?: { name: string; valueFrom: string }[] };
  const containersOf = (job: ReturnType<typeof decodeJob>) => (job.taskDefinition as unknown as { containerDefinitions: Def[] }).containerDefinitions;

  beforeEach(() => {
    reads = 0;
  });

  it('puts a secret reference (never the token) in the agent container, and the token nowhere in the table or the jobs', async () => {
    const message = await privateMessage('acme/secret-app');
    expect(await planEvent(message, withClone())).toMatchObject({ kind: 'created', buildId: 'acme/secret-app#1' });
    const messages = await drainJobs();
    const job = decodeJob(messages[0]!.Body!);
    const [agent, ...others] = containersOf(job);
    expect(agent!.name).toBe('slipway-agent');
    expect(agent!.secrets).toEqual([{ name: 'DRONE_NETRC_PASSWORD', valueFrom: `${ARN}:githubCloneToken::` }]);
    expect(agent!.environment!.filter((e) => e.name.startsWith('DRONE_NETRC_'))).toEqual([
      { name: 'DRONE_NETRC_MACHINE', value: 'github.com' },
      { name: 'DRONE_NETRC_USERNAME', value: 'x-access-token' },
    ]);
    // Steps and services: their own secrets only, no clone credentials.
    for (const def of others) expect(JSON.stringify(def), def.name).not.toMatch(/NETRC|CloneToken/);
    expect(JSON.stringify(job.runTask.overrides)).not.toMatch(/NETRC|CloneToken/);

    // The value itself: not in the queued job, the stored jobs of every stage, nor any item of the table.
    expect(messages.map((m) => m.Body!).join('\n')).not.toContain(TOKEN);
    const stored = await Promise.all([1, 2].map((n) => stageStore.getStageJob('acme/secret-app#1', n)));
    expect(stored.every((j) => j !== null)).toBe(true);
    expect(JSON.stringify(stored)).toContain(`${ARN}:githubCloneToken::`);
    expect(JSON.stringify(stored)).not.toContain(TOKEN);
    const items = await db.doc.send(new ScanCommand({ TableName: db.tableName }));
    expect(items.Items!.length).toBeGreaterThan(0);
    expect(JSON.stringify(items.Items)).not.toContain(TOKEN);
  });

  it('keeps the clone credentials for a pull request from a fork, whose steps get no secret at all', async () => {
    const message = await privateMessage('acme/secret-fork', {
      event: 'pull_request',
      action: 'opened',
      pullRequest: { number: 3, title: 'From a fork', sourceBranch: 'feature', targetBranch: 'main', fork: true },
    });
    await planEvent(message, withClone());
    const [agent, ...others] = containersOf(decodeJob((await drainJobs())[0]!.Body!));
    expect(agent!.secrets).toEqual([{ name: 'DRONE_NETRC_PASSWORD', valueFrom: `${ARN}:githubCloneToken::` }]);
    expect(others.flatMap((d) => d.secrets ?? [])).toEqual([]);
  });

  it('gives public repositories none, without reading the secret', async () => {
    await planEvent(await pushMessage('acme/open-app', PIPELINES), withClone());
    const job = decodeJob((await drainJobs())[0]!.Body!);
    expect(JSON.stringify(job.taskDefinition)).not.toMatch(/NETRC|CloneToken/);
    expect(reads).toBe(0);
  });

  it('with a GitHub App, references the repository\'s own clone token parameter (minted when the task starts), never the long-lived token, and the secret check leaves it in', async () => {
    const APP: CredentialsByHost = { github: { apiUrl: 'https://api.github.com', appId: '123', privateKey: 'pem' }, githubCloneToken: TOKEN };
    const checked: string[] = [];
    const withApp: PlannerDeps = {
      ...deps,
      cloneCredentials: cloneCredentialsSource({ SCM_CREDENTIALS_SECRET_ARN: ARN }, async () => APP, { prefix: '/slipway-clone-tokens', region: 'us-east-1', accountId: '123456789012', partition: 'aws' }),
      // The parameter does not exist before the first start: a check must not drop it.
      secretCheck: storeSecretCheck((ref) => {
        checked.push(ref);
        return false;
      }),
    };
    expect((await planEvent(await privateMessage('acme/app-token'), withApp)).kind).toBe('created');
    const job = decodeJob((await drainJobs())[0]!.Body!);
    const [agent, ...others] = containersOf(job);
    expect(agent!.secrets).toEqual([{ name: 'DRONE_NETRC_PASSWORD', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/slipway-clone-tokens/github/acme/app-token' }]);
    expect(agent!.environment!.filter((e) => e.name.startsWith('DRONE_NETRC_'))).toEqual([
      { name: 'DRONE_NETRC_MACHINE', value: 'github.com' },
      { name: 'DRONE_NETRC_USERNAME', value: 'x-access-token' },
    ]);
    expect(JSON.stringify(job)).not.toContain('githubCloneToken');
    for (const def of others) expect(JSON.stringify(def), def.name).not.toMatch(/NETRC|clone-tokens/);
    expect(checked.filter((ref) => ref.includes('clone-tokens'))).toEqual([]);
  });

  it('builds a private repository without a configured clone token anonymously, and says why in the log', async () => {
    const { githubCloneToken: _, ...noClone } = CONFIG;
    expect((await planEvent(await privateMessage('acme/no-token'), withClone(noClone))).kind).toBe('created');
    expect(JSON.stringify(decodeJob((await drainJobs())[0]!.Body!).taskDefinition)).not.toContain('NETRC');
    const warning = logs.find((l) => l.message === 'no clone credentials');
    expect(warning?.fields?.reason).toBe(
      'clone: acme/no-token is private, but its build gets no clone credentials: the SCM credentials secret has no top-level "githubCloneToken" string (the github token the agent clones with); its clone will fail',
    );
  });
});

describe('cloneCredentialsFor', () => {
  const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:slipway-scm-AbCdEf';
  const repo = (scm: 'github' | 'gitea' | 'gitlab' | 'local', httpUrl: string, visibility: 'public' | 'private' | 'internal' = 'private') => ({
    slug: 'acme/app', scm, httpUrl, private: visibility !== 'public', visibility,
  });
  const all: CredentialsByHost = { githubCloneToken: 'a1', giteaCloneToken: 'b2', gitlabCloneToken: 'c3' };

  it('uses each host\'s default login, the clone URL\'s host and a top-level key of the secret', () => {
    expect(cloneCredentialsFor(repo('github', 'https://github.com/acme/app.git'), all, ARN).credentials).toEqual({
      machine: 'github.com', username: 'x-access-token', passwordFrom: `${ARN}:githubCloneToken::`,
    });
    expect(cloneCredentialsFor(repo('gitea', 'https://git.example.com:3443/acme/app.git'), all, ARN).credentials).toEqual({
      machine: 'git.example.com', username: 'oauth2', passwordFrom: `${ARN}:giteaCloneToken::`,
    });
    expect(cloneCredentialsFor(repo('gitlab', 'https://gitlab.example.com/acme/app.git', 'internal'), all, ARN).credentials).toEqual({
      machine: 'gitlab.example.com', username: 'oauth2', passwordFrom: `${ARN}:gitlabCloneToken::`,
    });
  });

  it('with a GitHub App, names the repository\'s clone token parameter for GitHub only; Gitea and GitLab keep their tokens', () => {
    const app = { prefix: '/slipway-clone-tokens', region: 'eu-west-1', accountId: '123456789012', partition: 'aws' };
    const config: CredentialsByHost = { ...all, github: { appId: '123', privateKey: 'pem' } };
    expect(cloneCredentialsFor(repo('github', 'https://github.com/acme/app.git'), config, ARN, app).credentials).toEqual({
      machine: 'github.com', username: 'x-access-token', passwordFrom: 'arn:aws:ssm:eu-west-1:123456789012:parameter/slipway-clone-tokens/github/acme/app',
    });
    // Without the account (a local configuration): the name, which ECS takes in the task's own Region.
    expect(cloneCredentialsFor(repo('github', 'https://github.com/acme/app.git'), config, undefined, { prefix: '/p', region: 'eu-west-1' }).credentials?.passwordFrom).toBe('/p/github/acme/app');
    expect(cloneCredentialsFor(repo('gitea', 'https://git.example.com/acme/app.git'), config, ARN, app).credentials?.passwordFrom).toBe(`${ARN}:giteaCloneToken::`);
    // Not an App: the long-lived token, as before.
    expect(cloneCredentialsFor(repo('github', 'https://github.com/acme/app.git'), all, ARN, app).credentials?.passwordFrom).toBe(`${ARN}:githubCloneToken::`);
  });

  it('takes the login from "<host>".cloneUsername', () => {
    const config: CredentialsByHost = { ...all, gitea: { token: 't', apiUrl: 'https://git.example.com', cloneUsername: 'ci-bot' } };
    expect(cloneCredentialsFor(repo('gitea', 'https://git.example.com/acme/app.git'), config, ARN).credentials?.username).toBe('ci-bot');
    const bad = cloneCredentialsFor(repo('gitea', 'https://git.example.com/acme/app.git'), { ...config, gitea: { cloneUsername: 'ci bot' } }, ARN);
    expect(bad).toEqual({ warning: expect.stringContaining('"gitea".cloneUsername "ci bot" is empty or holds whitespace or quotes') });
  });

  it('gives none to public and local repositories, and says why when it cannot give one', () => {
    expect(cloneCredentialsFor(repo('github', 'https://github.com/acme/app.git', 'public'), all, ARN)).toEqual({});
    expect(cloneCredentialsFor(repo('local', '/srv/repos/app', 'private'), all, ARN)).toEqual({});
    expect(cloneCredentialsFor(repo('github', 'https://github.com/acme/app.git'), all, undefined).warning).toMatch(/SCM_CREDENTIALS_SECRET_ARN is not the full ARN/);
    expect(cloneCredentialsFor(repo('github', 'https://github.com/acme/app.git'), all, 'slipway-scm').warning).toMatch(/not the full ARN/);
    expect(cloneCredentialsFor(repo('github', 'git@github.com:acme/app.git'), all, ARN).warning).toMatch(/is not an HTTP\(S\) URL/);
    // A nested token is the API's, which ECS cannot select: the clone token must be top-level.
    expect(cloneCredentialsFor(repo('github', 'https://github.com/acme/app.git'), { github: { token: 'x' } }, ARN).warning).toMatch(/no top-level "githubCloneToken"/);
  });

  it('uses the ARN only when the configuration came from that secret', async () => {
    const config = async () => all;
    const local = cloneCredentialsSource({ SCM_CREDENTIALS: '{}', SCM_CREDENTIALS_SECRET_ARN: ARN }, config);
    expect((await local(repo('github', 'https://github.com/acme/app.git') as never)).warning).toMatch(/not the full ARN/);
    const deployed = cloneCredentialsSource({ SCM_CREDENTIALS_SECRET_ARN: ARN }, config);
    expect((await deployed(repo('github', 'https://github.com/acme/app.git') as never)).credentials?.passwordFrom).toBe(`${ARN}:githubCloneToken::`);
  });
});

describe('plugin images read from their registries', () => {
  let registry: RegistryStandIn;
  const pluginPipeline = (image: string) =>
    `kind: pipeline\ntype: docker\nname: notify\nsteps:\n- name: notify\n  image: ${image}\n  settings:\n    webhook:\n      from_secret: hook_url\n`;
  beforeAll(async () => {
    registry = await startRegistryStandIn({ auth: 'bearer' });
    registry.publish({ name: 'acme/notify', tag: '2', platforms: { amd64: { entrypoint: ['/bin/drone-notify'], cmd: ['--verbose'] } } });
  });
  afterAll(async () => {
    await registry?.stop();
  });
  const withLookup = (): PlannerDeps => ({ ...deps, imageLookup: createImageCommandLookup({ retries: 0, backoffMs: 1, timeoutMs: 2000 }) });

  it("compiles a plugin that receives secrets to run its image's command line under the mask", async () => {
    const image = `${new URL(registry.url).host}/acme/notify:2`;
    expect(await planEvent(await pushMessage('acme/plugin', pluginPipeline(image)), withLookup())).toMatchObject({ kind: 'created', buildId: 'acme/plugin#1' });
    const job = decodeJob((await drainJobs())[0]!.Body!);
    const containers = (job.taskDefinition as unknown as { containerDefinitions: { name: string; entryPoint?: string[]; command?: string[] }[] }).containerDefinitions;
    const notify = containers.find((c) => c.name === 'notify')!;
    expect(notify.entryPoint).toEqual([STATE_BUSYBOX, 'sh', '-c']);
    expect(notify.command!.slice(1)).toEqual(['slipway-notify', '/bin/drone-notify', '--verbose']);
    expect(logs.find((l) => l.message === 'plugin images looked up')?.fields).toMatchObject({ images: 1, failures: [] });
  });

  it('retries the message while a registry does not answer, using no build number; the last attempt makes an error build', async () => {
    const image = `${new URL(registry.url).host}/acme/notify:2`;
    const message = await pushMessage('acme/flaky', pluginPipeline(image));
    registry.failNext(100, 503);
    try {
      await expect(planEvent(message, withLookup(), { finalAttempt: false })).rejects.toThrow(RegistryUnavailableError);
      expect(await store.listBuilds('acme/flaky')).toMatchObject({ items: [] });
      const outcome = await planEvent(message, withLookup(), { finalAttempt: true });
      // The pipeline's own error: a stage in error, and the build, with nothing else to run, ends so.
      expect(outcome).toMatchObject({ kind: 'created', buildId: 'acme/flaky#1', enqueued: [] });
      const build = (await store.getBuild('acme/flaky#1'))!;
      expect(build.status).toBe('error');
      expect(build.error).toMatch(/step "notify" receives secrets \(PLUGIN_WEBHOOK\), so its output is masked, which needs the command line its image runs: image ".*acme\/notify:2": .*503/);
    } finally {
      registry.recover();
    }
  });

  // A plugin without secrets is looked up too: under the launcher it reads the build's DRONE_*
  // from the agent's env file, so its RunTask override carries nothing (script.ts, pluginScript).
  const plainPlugin = (image: string) => `kind: pipeline\ntype: docker\nname: notify\nsteps:\n- name: notify\n  image: ${image}\n  settings:\n    channel: ci\n`;
  const overrideNames = (job: ReturnType<typeof decodeJob>) => (job.runTask as unknown as { overrides: { containerOverrides: { name: string }[] } }).overrides.containerOverrides.map((o) => o.name);

  it("launches a plugin without secrets with its image's command line: no DRONE_* in its RunTask override", async () => {
    const image = `${new URL(registry.url).host}/acme/notify:2`;
    expect(await planEvent(await pushMessage('acme/plain-plugin', plainPlugin(image)), withLookup())).toMatchObject({ kind: 'created' });
    const job = decodeJob((await drainJobs())[0]!.Body!);
    const notify = (job.taskDefinition as unknown as { containerDefinitions: { name: string; entryPoint?: string[]; command?: string[]; image: string }[] }).containerDefinitions.find((c) => c.name === 'notify')!;
    expect(notify.entryPoint).toEqual([STATE_BUSYBOX, 'sh', '-c']);
    expect(notify.command!.slice(1)).toEqual(['slipway-notify', '/bin/drone-notify', '--verbose']);
    expect(notify.image).toMatch(/acme\/notify@sha256:[0-9a-f]{64}$/);
    expect(overrideNames(job)).toEqual(['slipway-agent']);
  });

  it("does not hold a build for a registry outage when no step needs the answer: the plugin without secrets runs its image's entrypoint", async () => {
    const image = `${new URL(registry.url).host}/acme/notify:2`;
    registry.failNext(100, 503);
    try {
      const outcome = await planEvent(await pushMessage('acme/plain-flaky', plainPlugin(image)), withLookup(), { finalAttempt: false });
      expect(outcome).toMatchObject({ kind: 'created', buildId: 'acme/plain-flaky#1' });
    } finally {
      registry.recover();
    }
    const job = decodeJob((await drainJobs())[0]!.Body!);
    const notify = (job.taskDefinition as unknown as { containerDefinitions: { name: string; entryPoint?: string[] }[] }).containerDefinitions.find((c) => c.name === 'notify')!;
    expect(notify.entryPoint).toBeUndefined();
    expect(overrideNames(job)).toEqual(['slipway-agent', 'notify']);
  });

  it('through the batch: a registry outage fails the first delivery; the second makes the error build', async () => {
    const image = `${new URL(registry.url).host}/acme/notify:2`;
    const message = await pushMessage('acme/batch-flaky', pluginPipeline(image));
    const record = (receives: number): SQSEvent => ({
      Records: [{ messageId: `m${receives}`, body: JSON.stringify(message), attributes: { ApproximateReceiveCount: String(receives) } } as unknown as SQSEvent['Records'][number]],
    });
    registry.failNext(100, 503);
    try {
      expect((await processEventBatch(record(1), withLookup())).batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
      expect(await store.listBuilds('acme/batch-flaky')).toMatchObject({ items: [] });
      expect((await processEventBatch(record(2), withLookup())).batchItemFailures).toEqual([]);
      expect((await store.getBuild('acme/batch-flaky#1'))?.status).toBe('error');
    } finally {
      registry.recover();
    }
  });
});

describe('secrets that do not exist (ECS would stop the whole task on one)', () => {
  const NOTIFY = `kind: pipeline
type: docker
name: build
steps:
- name: test
  image: alpine
  environment:
    TOKEN:
      from_secret: token
  commands: [make test]
- name: chat
  image: alpine
  environment:
    HOOK:
      from_secret: chat_webhook
  commands: ['curl -d failed "$HOOK"']
  when:
    status: [failure]
`;
  const containersOf = (job: ReturnType<typeof decodeJob>) =>
    (job.taskDefinition as unknown as { containerDefinitions: { name: string; secrets?: { name: string; valueFrom: string }[] }[] }).containerDefinitions;

  it('are left out of the task definition with a stage note, as Drone leaves them empty; the others stay', async () => {
    const asked: string[][] = [];
    const withCheck: PlannerDeps = {
      ...deps,
      secretCheck: storeSecretCheck((ref) => {
        asked.push([ref]);
        return !ref.endsWith('/chat_webhook');
      }),
    };
    const outcome = await planEvent(await pushMessage('acme/missing-secret', NOTIFY), withCheck);
    expect(outcome).toMatchObject({ kind: 'created' });
    const containers = containersOf(decodeJob((await drainJobs())[0]!.Body!));
    expect(containers.find((c) => c.name === 'test')!.secrets).toEqual([{ name: 'TOKEN', valueFrom: '/slipway/acme/missing-secret/token' }]);
    expect(containers.find((c) => c.name === 'chat')!.secrets).toBeUndefined();
    expect(asked.flat().sort()).toEqual(['/slipway/acme/missing-secret/chat_webhook', '/slipway/acme/missing-secret/token']);
    const stage = (await store.getBuildDetail((outcome as { buildId: string }).buildId))!.stages[0]!;
    expect(stage.notes?.join('\n')).toMatch(/secrets not found, left out .*: chat_webhook;/);
    // What to do about it, for this repository (issue 17).
    expect(stage.notes?.join('\n')).toContain('Each is not set for repository acme/missing-secret: `slipway secrets add --repo acme/missing-secret NAME --from-file -`');
    expect(logs.find((l) => l.message === 'secrets not found, left out')?.fields).toMatchObject({ missing: ['/slipway/acme/missing-secret/chat_webhook'] });
  });

  it('a check that cannot answer leaves every reference in place and says so in the notes', async () => {
    const failing: PlannerDeps = {
      ...deps,
      secretCheck: async () => {
        throw new SecretCheckError('planner: could not check that the build\'s secrets exist: ThrottlingException: Rate exceeded');
      },
    };
    const outcome = await planEvent(await pushMessage('acme/unchecked', NOTIFY), failing);
    const containers = containersOf(decodeJob((await drainJobs())[0]!.Body!));
    expect(containers.find((c) => c.name === 'chat')!.secrets).toHaveLength(1);
    const stage = (await store.getBuildDetail((outcome as { buildId: string }).buildId))!.stages[0]!;
    expect(stage.notes?.join('\n')).toMatch(/the secrets were not checked .*ThrottlingException/);
  });
});

// image_pull_secrets holding a Docker config (core/pipeline/pull-logins.ts): read and derived
// before the build number, so that a store that does not answer retries the message without
// using a number up, as a registry that does not answer does.
describe('Docker config pull secrets read before the build number', () => {
  const PULL = `kind: pipeline\ntype: docker\nname: p\nimage_pull_secrets: [dockerconfig]\nsteps:\n- name: s\n  image: registry.example.com/team/a:1\n  commands: [x]\n`;
  // Nothing listens on port 9 here: every call is refused, as in a network fault.
  const unreachable = (): PlannerDeps => ({
    ...deps,
    compile: { ...deps.compile, accountId: '123456789012', partition: 'aws' },
    pullSecrets: awsPullSecretStore(
      () => new SSMClient({ endpoint: 'http://127.0.0.1:9', region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 }),
      () => new SecretsManagerClient({ endpoint: 'http://127.0.0.1:9', region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 }),
    ),
  });

  it('a store that does not answer retries the message using no build number; the last attempt makes the pipeline an error saying why', async () => {
    const message = await pushMessage('acme/pull-flaky', PULL);
    await expect(planEvent(message, unreachable(), { finalAttempt: false })).rejects.toThrow(/ECONNREFUSED|connect/);
    expect(await store.listBuilds('acme/pull-flaky')).toMatchObject({ items: [] });
    expect(await planEvent(message, unreachable(), { finalAttempt: true })).toMatchObject({ kind: 'created', buildId: 'acme/pull-flaky#1' });
    const build = (await store.getBuild('acme/pull-flaky#1'))!;
    expect(build.status).toBe('error');
    expect(build.error).toMatch(/image_pull_secrets: "dockerconfig" \(the repository secret \/slipway\/acme\/pull-flaky\/dockerconfig\) cannot be read as a Docker config: Slipway could not read it/);
  });
});

// SOCI-enabled copies (lambdas/planner/soci-images.ts, core/images/soci.ts): where a cached
// tag's current digest (ECR DescribeImages, the ECR stand-in) has a converted copy in the store,
// the task definition names the copy by digest; otherwise the cached tag, as before.
describe('SOCI-enabled copies of cached images', () => {
  const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
  const GOLANG = `sha256:${'9'.repeat(64)}`;
  const POSTGRES = `sha256:${'8'.repeat(64)}`;
  const COPY = `sha256:${'7'.repeat(64)}`;
  let ecrStandIn: EcrStandIn;
  let ecr: ECRClient;
  let soci: DynamoSociIndexStore;

  beforeAll(async () => {
    ecrStandIn = await startEcrStandIn();
    ecr = new ECRClient({ endpoint: ecrStandIn.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    ecrStandIn.repositories.set('slipway-docker-hub/library/golang', [{ digest: GOLANG, tags: ['1.22'], sizeInBytes: 300_000_000 }]);
    ecrStandIn.repositories.set('slipway-docker-hub/library/postgres', [{ digest: POSTGRES, tags: ['15'], sizeInBytes: 150_000_000 }]);
    // The copy as the converter pushed it just now.
    ecrStandIn.repositories.set('slipway-soci/slipway-docker-hub/library/golang', [{ digest: COPY, tags: [`soci-${'9'.repeat(64)}`], sizeInBytes: 300_000_000, pushedAt: Date.now() }]);
    soci = new DynamoSociIndexStore(db.doc, db.tableName);
    // Converted just now: a copy is named until SOCI_COPY_LIFETIME_MS after its conversion.
    await soci.claim({ repository: 'slipway-docker-hub/library/golang', digest: GOLANG }, Date.now(), { repo: 'acme/api', day: conversionDay(Date.now()), limit: SOCI_CONVERSIONS_PER_REPOSITORY_PER_DAY });
    await soci.started(GOLANG, 'arn:aws:ecs:us-east-1:123456789012:task/slipway/converter');
    await soci.converted(GOLANG, COPY, Date.now(), 'arn:aws:ecs:us-east-1:123456789012:task/slipway/converter');
    await soci.skip({ repository: 'slipway-docker-hub/library/postgres', digest: POSTGRES }, 'small');
  });
  afterAll(async () => {
    ecr?.destroy();
    await ecrStandIn?.stop();
  });

  const withSoci = (overrides: Partial<PlannerDeps['compile']> = {}, describeImages?: (images: readonly string[]) => Promise<Map<string, { sizeBytes: number; digest: string }>>): PlannerDeps => {
    const sizes = new EcrImageSizes(ecr, REGISTRY);
    return {
      ...deps,
      compile: { ...deps.compile, pullThroughCache: { registry: REGISTRY, prefixes: { 'docker.io': 'slipway-docker-hub' } }, ...overrides },
      sociImages: sociImageLookup({ describe: describeImages ?? ((images) => sizes.details(images)), store: soci, now: Date.now }),
    };
  };
  const imagesOf = async (buildId: string) => {
    const job = decodeJob((await drainJobs()).find((m) => decodeJob(m.Body!).buildId === buildId)!.Body!);
    return Object.fromEntries((job.taskDefinition as unknown as { containerDefinitions: { name: string; image: string }[] }).containerDefinitions.map((c) => [c.name, c.image]));
  };

  it('names the converted copy of an image that has one, by digest, and the cached tag of one that does not', async () => {
    await planEvent(await pushMessage('acme/soci', PIPELINES), withSoci());
    const images = await imagesOf('acme/soci#1');
    expect(Object.values(images)).toContain(`${REGISTRY}/slipway-soci/slipway-docker-hub/library/golang@${COPY}`);
    expect(Object.values(images)).toContain(`${REGISTRY}/slipway-docker-hub/library/postgres:15`);
    expect(logs.map((l) => l.message)).toContain('SOCI-enabled copies named');
  });

  it('names the cached tag where ECR holds the copy from a push older than the copies\' lifetime (a conversion that ran again pushed the same digest), or no longer holds it', async () => {
    const copies = ecrStandIn.repositories.get('slipway-soci/slipway-docker-hub/library/golang')!;
    try {
      ecrStandIn.repositories.set('slipway-soci/slipway-docker-hub/library/golang', [{ ...copies[0]!, pushedAt: Date.now() - 29.5 * 24 * 3600_000 }]);
      await planEvent(await pushMessage('acme/soci-old-push', PIPELINES), withSoci());
      expect(Object.values(await imagesOf('acme/soci-old-push#1'))).toContain(`${REGISTRY}/slipway-docker-hub/library/golang:1.22`);
      ecrStandIn.repositories.set('slipway-soci/slipway-docker-hub/library/golang', []);
      await planEvent(await pushMessage('acme/soci-expired', PIPELINES), withSoci());
      const images = Object.values(await imagesOf('acme/soci-expired#1'));
      expect(images).toContain(`${REGISTRY}/slipway-docker-hub/library/golang:1.22`);
      expect(images.some((i) => i.includes('slipway-soci/'))).toBe(false);
    } finally {
      ecrStandIn.repositories.set('slipway-soci/slipway-docker-hub/library/golang', copies);
    }
  });

  it('gives a repository opted out of the cache neither the cache nor the copies', async () => {
    await planEvent(await pushMessage('acme/soci-out', PIPELINES), withSoci({ pullThroughCacheOptOut: ['acme/soci-out'] }));
    const images = Object.values(await imagesOf('acme/soci-out#1'));
    expect(images).toContain('golang:1.22');
    expect(images.some((i) => i.includes('.dkr.ecr.'))).toBe(false);
  });

  it("follows the repository's own setting (repo update --no-pull-through-cache / --pull-through-cache) from the next build planned: images as written and no copies while off, through the cache and its copies once on again", async () => {
    const slug = 'acme/soci-setting';
    // pushMessage activates the repository (the cache on) each time: all three before the changes.
    const [first, second, third] = [await pushMessage(slug, PIPELINES), await pushMessage(slug, PIPELINES), await pushMessage(slug, PIPELINES)];
    const cachedGolang = `${REGISTRY}/slipway-soci/slipway-docker-hub/library/golang@${COPY}`;
    await planEvent(first, withSoci());
    expect(Object.values(await imagesOf('acme/soci-setting#1'))).toContain(cachedGolang);

    await store.changeRepositorySettings(slug, { pullThroughCache: false }, Date.now());
    await planEvent(second, withSoci());
    const off = Object.values(await imagesOf('acme/soci-setting#2'));
    expect(off).toEqual(expect.arrayContaining(['golang:1.22', 'postgres:15']));
    expect(off.some((i) => i.includes('.dkr.ecr.'))).toBe(false);

    await store.changeRepositorySettings(slug, { pullThroughCache: true }, Date.now());
    await planEvent(third, withSoci());
    const on = Object.values(await imagesOf('acme/soci-setting#3'));
    expect(on).toContain(cachedGolang);
    expect(on).toContain(`${REGISTRY}/slipway-docker-hub/library/postgres:15`);
  });

  it("gives a fork's pull request its base repository's setting: opted out, its images are pulled as written, even through a rule without credentials", async () => {
    const file = droneYaml({ name: 'prom', steps: [step('test', ['prometheus --version'], { image: 'quay.io/prometheus/prometheus:v2.55.0' })] });
    const cache = { pullThroughCache: { registry: REGISTRY, prefixes: { 'docker.io': 'slipway-docker-hub', 'quay.io': 'slipway-quay' } } };
    const fork = { event: 'pull_request', action: 'opened', pullRequest: { number: 3, title: 'x', sourceBranch: 'f', targetBranch: 'main', fork: true } } as const;
    const message = await pushMessage('acme/fork-out', file, fork);
    await store.changeRepositorySettings('acme/fork-out', { pullThroughCache: false }, Date.now());
    await planEvent(message, withSoci(cache));
    expect((await store.getBuild('acme/fork-out#1'))?.fork).toBe(true);
    expect(Object.values(await imagesOf('acme/fork-out#1'))).toContain('quay.io/prometheus/prometheus:v2.55.0');
  });

  // Only images a build that is not a fork's names are converted (core/images/soci.ts, "Who can
  // cause a conversion"): the planner records them; a fork's pull request records nothing.
  it("records the cached images a build names for conversion, charged to its repository, and none that only a fork's pull request names", async () => {
    // A fork's images go through the rules without credentials only (withoutCredentialedRules): Quay's.
    const file = droneYaml({ name: 'prom', steps: [step('test', ['prometheus --version'], { image: 'quay.io/prometheus/prometheus:v2.55.0' })] });
    const keys = ['slipway-quay/prometheus/prometheus:v2.55.0'];
    const cache = { pullThroughCache: { registry: REGISTRY, prefixes: { 'docker.io': 'slipway-docker-hub', 'quay.io': 'slipway-quay' } } };
    const naming = { ...withSoci(cache), sociNamer: sociImageNamer({ store: soci, now: Date.now }) };
    await planEvent(await pushMessage('acme/soci-fork', file, { event: 'pull_request', action: 'opened', pullRequest: { number: 9, title: 'x', sourceBranch: 'f', targetBranch: 'main', fork: true } }), naming);
    expect((await store.getBuild('acme/soci-fork#1'))?.fork).toBe(true);
    expect(Object.values(await imagesOf('acme/soci-fork#1'))).toContain(`${REGISTRY}/slipway-quay/prometheus/prometheus:v2.55.0`);
    expect(await soci.namings(keys)).toEqual([]);
    const before = Date.now();
    await planEvent(await pushMessage('acme/soci-fork', file, { event: 'pull_request', action: 'opened', pullRequest: { number: 10, title: 'x', sourceBranch: 'g', targetBranch: 'main', fork: false } }), naming);
    await drainJobs();
    expect(await soci.namings(keys)).toEqual([{ repo: 'acme/soci-fork', namedAt: expect.any(Number) }]);
    expect((await soci.namings(keys))[0]!.namedAt).toBeGreaterThanOrEqual(before);
  });

  it('names the cached tags when the lookup fails, and says so in its log', async () => {
    const failing = async (): Promise<never> => {
      throw new Error('AccessDeniedException: not authorized to perform ecr:DescribeImages');
    };
    await planEvent(await pushMessage('acme/soci-down', PIPELINES), withSoci({}, failing));
    const images = Object.values(await imagesOf('acme/soci-down#1'));
    expect(images).toContain(`${REGISTRY}/slipway-docker-hub/library/golang:1.22`);
    expect(logs.find((l) => l.message.startsWith('SOCI copies not looked up'))?.fields).toMatchObject({ error: expect.stringContaining('not authorized') });
  });
});
