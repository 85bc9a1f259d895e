// `slipway doctor` as after `cdk deploy`: every AWS call through the real SDK clients to
// stand-ins that speak each service's protocol (test/support/doctor-aws-stand-in.ts), the
// webhook, API and planner being those of the local stack (the deployed planner's Invoke is
// passed on to it). Proves the requests the doctor makes and what it concludes from the answers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../../cli/client.js';
import { run } from '../../cli/commands/doctor.js';
import type { CliIO } from '../../cli/io.js';
import { ENV } from '../../core/config/lambda-env.js';
import type { CheckId, DoctorReport } from '../../core/doctor/types.js';
import { setLogDestination } from '../../lambdas/shared/observability/logger.js';
import { localWebhookSecrets } from '../../local/secrets.js';
import { startLocalSlipway, type LocalSlipway } from '../../local/up.js';
import { startDoctorAwsStandIn, type DoctorAwsStandIn, type DoctorAwsState } from '../support/doctor-aws-stand-in.js';
import { startFakeGitHost, type FakeGitHost } from '../support/fake-git-host.js';
import { waitFor } from '../support/wait.js';

const REPO = 'Codertocat/Hello-World';
const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/Slipway-AutoscalerRole`;
const CLUSTER = `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/Slipway-Cluster`;
const EXEC_ROLE = `arn:aws:iam::${ACCOUNT}:role/Slipway-TaskExecutionRole`;
const TASK_ROLE = `arn:aws:iam::${ACCOUNT}:role/Slipway-BuildTaskRole`;
const FORK_ROLE = `arn:aws:iam::${ACCOUNT}:role/Slipway-ForkExecutionRole`;
const FORK_TASK_ROLE = `arn:aws:iam::${ACCOUNT}:role/Slipway-ForkTaskRole`;
const ASSETS = `cdk-hnb659fds-container-assets-${ACCOUNT}-us-east-1`;
const image = (tag: string) => `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/${ASSETS}:${tag}`;
/** Another CDK app's container asset, pushed to the same bootstrap repository. */
const OTHER_ASSET = { tag: 'f'.repeat(64), manifest: { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', body: JSON.stringify({ schemaVersion: 2, config: { digest: `sha256:${'b'.repeat(64)}` } }) } };
const DEFAULT_RULES = { 'public.ecr.aws': 'slipway-ecr-public', 'registry.k8s.io': 'slipway-k8s', 'quay.io': 'slipway-quay' };
const MANIFEST = { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', body: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { digest: `sha256:${'a'.repeat(64)}` } }) };

describe('slipway doctor against a deployed stack (AWS stand-ins)', () => {
  let local: LocalSlipway;
  let git: FakeGitHost;
  let aws: DoctorAwsStandIn;
  let home: string;
  let state: DoctorAwsState;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    vi.spyOn(console, 'log').mockImplementation(() => {});
    setLogDestination(() => undefined);
    home = mkdtempSync(join(tmpdir(), 'slipway-doctor-aws-'));
    git = await startFakeGitHost();
    git.setFile(REPO, 'main', '.drone.yml', 'kind: pipeline\nname: default\nsteps: []\n');
    const credentials = JSON.stringify({ github: { token: 'gh-token', apiUrl: git.apiUrl, webUrl: git.apiUrl } });
    local = await startLocalSlipway({ port: 0, scheduleMs: 500, env: { ...process.env, SLIPWAY_HOME: home, [ENV.scmCredentials]: credentials } });
    const api = new ApiClient({ SLIPWAY_SERVER: local.url });
    await api.activateRepo(REPO, 'github');
    // The doctor picks the repository from the API's list, an index that lags a write (as a GSI does).
    await waitFor(`${REPO} in the repository list`, async () => (await api.repos()).repos.some((r) => r.slug === REPO));
    const secret = await localWebhookSecrets(home).get('github', REPO);
    state = {
      outputs: {
        PlannerFunctionName: 'Slipway-Planner-abc',
        DashboardUrl: `${local.url}/`,
        WebhookUrlGitHub: `${local.url}/hooks/github`,
        WebhookSecretsPrefix: '/slipway-webhooks',
        ApiTokenSecretArn: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:ApiToken-x`,
      },
      functions: {
        'Slipway-Planner-abc': {
          role: `arn:aws:iam::${ACCOUNT}:role/Slipway-PlannerRole`,
          // The cache rules of a deployment at its defaults: no Docker Hub secret, so no Docker Hub rule.
          env: { [ENV.autoscalerFunctionName]: 'Slipway-Autoscaler-def', [ENV.agentImageAmd64]: image('amd'), [ENV.agentImageArm64]: image('arm'), [ENV.pullThroughCache]: JSON.stringify(DEFAULT_RULES) },
        },
        'Slipway-Autoscaler-def': {
          role: ROLE,
          env: { [ENV.cluster]: CLUSTER, [ENV.taskExecutionRoleArn]: EXEC_ROLE, [ENV.taskRoleArn]: TASK_ROLE, [ENV.forkTaskExecutionRoleArn]: FORK_ROLE, [ENV.forkTaskRoleArn]: FORK_TASK_ROLE, [ENV.vcpuQuota]: '6', [ENV.useSpot]: 'false', [ENV.defaultCpu]: '1024' },
        },
      },
      simulate: (action, resource) => (action === 'iam:PassRole' && resource === TASK_ROLE ? { decision: 'implicitDeny', boundaryDenies: true } : { decision: 'allowed' }),
      quotas: { 'fargate/L-3032A538': 4, 'fargate/L-36FBB829': 6 },
      account: { concurrentExecutions: 10, unreservedConcurrentExecutions: 9 },
      images: { [`${ASSETS}:amd`]: MANIFEST, [`${ASSETS}:${OTHER_ASSET.tag}`]: OTHER_ASSET.manifest },
      parameters: { [`/slipway-webhooks/github/${REPO}`]: secret! },
      secrets: { [`arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:ApiToken-x`]: 'the-api-token' },
      invokeUrl: local.url,
    };
    aws = await startDoctorAwsStandIn(state);
    // The doctor's clients are made with `{}`: the endpoints come from the environment, as with AWS_PROFILE.
    for (const [k, v] of Object.entries({ ...aws.env, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' })) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  }, 180_000);

  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await aws?.stop();
    await local?.stop();
    await git?.stop();
    setLogDestination(undefined);
    if (home) rmSync(home, { recursive: true, force: true });
  });

  async function doctor(...args: string[]) {
    let out = '';
    const io: CliIO = { out: (t) => void (out += t), err: () => undefined, cwd: process.cwd(), env: { ...process.env, SLIPWAY_TOKEN: '' } };
    const code = await run(['--json', ...args], io);
    const report = JSON.parse(out) as DoctorReport;
    return { code, report, check: (id: CheckId) => report.checks.find((c) => c.id === id)! };
  }

  it('reads the stack, and says what is wrong with each part and what to do', async () => {
    const { code, report, check } = await doctor('--stack', 'Slipway', '--timeout', '300');
    expect({ code, target: report.target, statuses: report.checks.map((c) => [c.id, c.status]) }).toEqual({
      code: 1,
      target: 'aws',
      statuses: [
        ['webhook-ping', 'ok'],
        ['git-host', 'ok'],
        ['run-task', 'fail'],
        ['fargate-quota', 'fail'],
        ['lambda-concurrency', 'warn'],
        ['agent-images', 'fail'],
        ['fork-pulls', 'warn'],
        ['docker-hub-cache', 'warn'],
        ['hello-build', 'ok'],
      ],
    });
    expect(check('run-task').detail).toBe(`${ROLE} is refused iam:PassRole on ${TASK_ROLE} (implicitDeny by the permissions boundary)`);
    expect(check('fargate-quota').fix).toBe('cdk deploy -c vcpuQuota=4, or request an increase of L-3032A538 in Service Quotas.');
    expect(check('lambda-concurrency').detail).toMatch(/^account limit 10 concurrent executions, 9 unreserved/);
    expect(check('agent-images').detail).toBe('amd64: found, arm64: missing (no such image in its repository)');
    // The other app's asset is what the fork execution role could pull beside the agent.
    expect(check('fork-pulls').detail).toBe(
      `${ASSETS} holds 1 other tagged image (${OTHER_ASSET.tag}), which the execution role of pull requests from forks may pull: ECR grants pulls per repository, not per image; the compiler refuses them in a fork's pipeline`,
    );
    expect(check('fork-pulls').fix).toMatch(/deploy with agentImageUri/);
    expect(check('docker-hub-cache').detail).toMatch(/^no Docker Hub pull-through cache rule is deployed \(no dockerHubCredentialsSecretArn\)/);
    expect(check('docker-hub-cache').fix).toMatch(/-c dockerHubCredentialsSecretArn=/);
    expect(check('hello-build').detail).toMatch(/^slipway-doctor\/hello #1 succeeded in \d+ s, its log says hello$/);

    const calls = (action: string) => aws.calls.filter((c) => c.action === action).map((c) => c.input);
    expect(calls('DescribeStacks')).toEqual([expect.objectContaining({ StackName: 'Slipway' })]);
    // The autoscaler's role, the cluster as the ecs:cluster condition, a slipway-* family, the build roles passed to ECS tasks (a fork's execution and task roles among them).
    const [runTask, passRole] = calls('SimulatePrincipalPolicy') as Record<string, string>[];
    expect(runTask).toMatchObject({
      PolicySourceArn: ROLE,
      'ActionNames.member.1': 'ecs:RunTask',
      'ResourceArns.member.1': `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/slipway-doctor-0:1`,
      'ContextEntries.member.1.ContextKeyName': 'ecs:cluster',
      'ContextEntries.member.1.ContextKeyValues.member.1': CLUSTER,
    });
    expect(passRole).toMatchObject({ 'ActionNames.member.1': 'iam:PassRole', 'ResourceArns.member.1': EXEC_ROLE, 'ResourceArns.member.2': TASK_ROLE, 'ResourceArns.member.3': FORK_ROLE, 'ResourceArns.member.4': FORK_TASK_ROLE, 'ContextEntries.member.1.ContextKeyValues.member.1': 'ecs-tasks.amazonaws.com' });
    expect(calls('GetServiceQuota').map((i) => `${i.ServiceCode}/${i.QuotaCode}`).sort()).toEqual(['fargate/L-3032A538', 'fargate/L-36FBB829']);
    expect(calls('BatchGetImage').map((i) => [i.registryId, i.repositoryName, (i.imageIds as { imageTag: string }[])[0]!.imageTag])).toEqual([
      [ACCOUNT, ASSETS, 'amd'],
      [ACCOUNT, ASSETS, 'arm'],
    ]);
    expect(calls('ListImages')).toEqual([{ registryId: ACCOUNT, repositoryName: ASSETS, filter: { tagStatus: 'TAGGED' }, maxResults: 1000 }]);
    expect(calls('GetParameter')).toEqual([{ Name: `/slipway-webhooks/github/${REPO}`, WithDecryption: true }]);
    // The token came from the stack's secret; the Git host's token never left the planner.
    expect(calls('GetSecretValue')).toEqual([{ SecretId: state.outputs.ApiTokenSecretArn }]);
    expect(calls('Invoke').map((i) => [i.FunctionName, i.Payload])).toEqual([
      ['Slipway-Planner-abc', { slipwayDoctor: 'git-host', repo: REPO }],
      ['Slipway-Planner-abc', { slipwayDoctor: 'hello' }],
    ]);
  }, 330_000);

  it('passes a healthy stack (exit 0) and explains a stack it cannot read', async () => {
    state.simulate = () => ({ decision: 'allowed' });
    state.quotas['fargate/L-3032A538'] = 100;
    state.account = { concurrentExecutions: 1000, unreservedConcurrentExecutions: 999 };
    state.images[`${ASSETS}:arm`] = MANIFEST;
    delete state.images[`${ASSETS}:${OTHER_ASSET.tag}`];
    const planner = state.functions['Slipway-Planner-abc']!;
    planner.env = { ...planner.env, [ENV.pullThroughCache]: JSON.stringify({ ...DEFAULT_RULES, 'docker.io': 'slipway-docker-hub' }) };
    const healthy = await doctor('--repo', REPO, '--no-build');
    expect({ code: healthy.code, statuses: healthy.report.checks.map((c) => c.status) }).toEqual({ code: 0, statuses: ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'skipped'] });
    expect(healthy.check('docker-hub-cache').detail).toMatch(/through the cache rule slipway-docker-hub\//);
    expect(healthy.check('fork-pulls').detail).toBe(`${ASSETS} holds only the images the stack runs`);

    let err = '';
    const io: CliIO = { out: () => undefined, err: (t) => void (err += t), cwd: process.cwd(), env: process.env };
    state.outputs = {};
    expect(await run(['--stack', 'Gone'], io)).toBe(1);
    expect(err).toBe('slipway doctor: the stack Gone has no output PlannerFunctionName: deploy this version of Slipway (cdk deploy) first');
  });
});
