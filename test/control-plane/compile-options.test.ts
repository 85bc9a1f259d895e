// The compile options the planner builds from its environment (lambdas/planner/compile-options.ts):
// secret references are full ARNs in the deployment's own partition, and each architecture
// gets its own agent image.
import { describe, expect, it } from 'vitest';
import { cliContext } from '../../cli/commands/compile.js';
import { CompileError, compileManifest } from '../../core/pipeline/compile.js';
import { isValid, loadManifest } from '../../core/pipeline/load.js';
import { buildCompileOptions, compileOptionsFromEnv } from '../../lambdas/planner/compile-options.js';
import { plannerDepsFromEnv } from '../../lambdas/planner/deps.js';

const push = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40) });

const CN_ENV = {
  AWS_REGION: 'cn-north-1',
  ACCOUNT_ID: '210987654321',
  PARTITION: 'aws-cn',
  AGENT_IMAGE_AMD64: '210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/agent:amd64',
  AGENT_IMAGE_ARM64: '210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/agent:arm64',
};

function compile(yaml: string, env: Record<string, string>) {
  const manifest = loadManifest('.drone.yml', yaml);
  if (!isValid(manifest)) throw new Error(manifest.diagnostics.map((d) => d.message).join('\n'));
  const result = compileManifest(manifest, push, buildCompileOptions(compileOptionsFromEnv(env), { repoSlug: 'acme/app', buildNumber: 7, fork: false }));
  if (result.errors.length > 0) throw new CompileError(result.errors.flatMap((e) => e.diagnostics));
  return result;
}

const secretPipeline = (get: string) => `kind: pipeline
type: docker
name: deploy
steps:
  - name: push
    image: alpine:3.20
    environment:
      PASSWORD:
        from_secret: registry_password
    commands: [./push.sh]
---
kind: secret
name: registry_password
get:
${get}
`;

const containerSecrets = (yaml: string, env: Record<string, string>) =>
  compile(yaml, env).stages[0]!.taskDefinition.containerDefinitions!.find((c) => c.name === 'push')!.secrets;

describe('secret references with the planner\'s own options', () => {
  it('a kind: secret with get.name compiles to a Secrets Manager ARN with the JSON key, in the deployment\'s partition (aws-cn)', () => {
    expect(containerSecrets(secretPipeline('  path: /slipway/acme/app/registry\n  name: password'), CN_ENV)).toEqual([
      { name: 'PASSWORD', valueFrom: 'arn:aws-cn:secretsmanager:cn-north-1:210987654321:secret:/slipway/acme/app/registry:password::' },
    ]);
  });

  it('a kind: secret without get.name is a Secrets Manager ARN too, never a bare path (ECS reads a bare name as an SSM parameter)', () => {
    expect(containerSecrets(secretPipeline('  path: /slipway/acme/app/registry'), CN_ENV)).toEqual([
      { name: 'PASSWORD', valueFrom: 'arn:aws-cn:secretsmanager:cn-north-1:210987654321:secret:/slipway/acme/app/registry' },
    ]);
  });

  it('repository secrets in SSM are ARNs of the deployment\'s partition', () => {
    const yaml = 'kind: pipeline\ntype: docker\nname: p\nsteps:\n  - name: push\n    image: alpine\n    environment:\n      T:\n        from_secret: token\n    commands: [x]\n';
    expect(containerSecrets(yaml, CN_ENV)![0]!.valueFrom).toBe('arn:aws-cn:ssm:cn-north-1:210987654321:parameter/slipway/acme/app/token');
  });

  it('the planner Lambda\'s dependencies carry the account and the partition from its environment', () => {
    const deps = plannerDepsFromEnv({ TABLE_NAME: 't', JOBS_QUEUE_URL: 'https://sqs.example/q', ...CN_ENV });
    expect(deps.compile).toMatchObject({ accountId: '210987654321', partition: 'aws-cn', region: 'cn-north-1' });
  });

  it('local mode passes its own secret check, and SECRETS_CHECK=local (which needed lambdas/ to import local/) is refused by name', async () => {
    const base = { TABLE_NAME: 't', JOBS_QUEUE_URL: 'https://sqs.example/q' };
    const deps = plannerDepsFromEnv({ ...base, SECRETS_CHECK: 'off' }, { secretCheck: async (refs) => new Set(refs.filter((r) => r.endsWith('/gone'))) });
    expect([...(await deps.secretCheck!(['/slipway/a/b/kept', '/slipway/a/b/gone']))]).toEqual(['/slipway/a/b/gone']);
    expect(plannerDepsFromEnv({ ...base, SECRETS_CHECK: 'off' }).secretCheck).toBeUndefined();
    expect(() => plannerDepsFromEnv({ ...base, SECRETS_CHECK: 'local' })).toThrow(/SECRETS_CHECK="local"; expected aws or off \(local mode passes its secret store/);
  });

  it('without ACCOUNT_ID a Secrets Manager reference is a deployment error that names the setting, not a silent SSM read', () => {
    expect(() => containerSecrets(secretPipeline('  path: /slipway/acme/app/registry'), { AWS_REGION: 'eu-west-1' })).toThrow(/needs the account id .*ACCOUNT_ID/);
  });

  it('refuses half a setting and malformed values', () => {
    expect(() => compileOptionsFromEnv({ ACCOUNT_ID: '123456789012' })).toThrow(/set both ACCOUNT_ID and PARTITION/);
    expect(() => compileOptionsFromEnv({ ACCOUNT_ID: '1234', PARTITION: 'aws' })).toThrow(/12-digit/);
    expect(() => compileOptionsFromEnv({ ACCOUNT_ID: '123456789012', PARTITION: 'arn:aws' })).toThrow(/not an AWS partition/);
  });
});

describe('agent image per architecture', () => {
  const gated = (arch: string) => `kind: pipeline
type: docker
name: p
platform:
  arch: ${arch}
steps:
  - name: test
    image: alpine
    commands: [make test]
  - name: notify
    image: plugins/slack
    settings:
      channel: ci
    when:
      status: [failure]
`;

  it('an arm64 pipeline runs the arm64 agent image, in the agent and in the status gates', () => {
    const stage = compile(gated('arm64'), CN_ENV).stages[0]!;
    const agentImages = stage.taskDefinition.containerDefinitions!.filter((c) => c.image!.includes('/agent:')).map((c) => `${c.name} ${c.image}`);
    expect(stage.taskDefinition.runtimePlatform!.cpuArchitecture).toBe('ARM64');
    expect(agentImages).toEqual([`slipway-agent ${CN_ENV.AGENT_IMAGE_ARM64}`, `notify-gate ${CN_ENV.AGENT_IMAGE_ARM64}`]);
  });

  it('an amd64 pipeline runs the amd64 agent image', () => {
    const stage = compile(gated('amd64'), CN_ENV).stages[0]!;
    expect(stage.taskDefinition.containerDefinitions![0]!.image).toBe(CN_ENV.AGENT_IMAGE_AMD64);
  });

  it('one multi-arch image (AGENT_IMAGE) serves both', () => {
    const env = { AWS_REGION: 'eu-west-1', AGENT_IMAGE: 'registry.example.com/agent:multi' };
    expect(compile(gated('arm64'), env).stages[0]!.taskDefinition.containerDefinitions![0]!.image).toBe('registry.example.com/agent:multi');
  });

  it('a deployment without an arm64 agent image refuses an arm64 pipeline, saying what to do', () => {
    const env = { AWS_REGION: 'eu-west-1', AGENT_IMAGE_AMD64: 'x.dkr.ecr.eu-west-1.amazonaws.com/agent:amd64' };
    expect(() => compile(gated('arm64'), env)).toThrow(CompileError);
    expect(() => compile(gated('arm64'), env)).toThrow(/platform: arch arm64: this deployment has no arm64 agent image \(it has amd64\)/);
  });
});

// IMAGE_BUILDS (lib/image-builds.ts): a listed repository's stages run under its own build role
// with its pushes and cache; any other repository may push to no ECR repository.
describe('image builds from the stack', () => {
  const env = {
    ...CN_ENV,
    TASK_ROLE_ARN: 'arn:aws-cn:iam::210987654321:role/shared',
    IMAGE_BUILDS: JSON.stringify({
      'acme/app': { taskRoleArn: 'arn:aws-cn:iam::210987654321:role/acme-app-builds', pushRepositories: ['acme/app'], cacheRepository: '210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/slipway-cache/acme/app' },
    }),
  };
  const ecr = (repo: string) => `kind: pipeline
type: docker
name: image
steps:
  - name: publish
    image: plugins/ecr
    settings: { repo: ${repo}, tags: [latest] }
`;

  it('runs a listed repository under its role, with its cache', () => {
    const stage = compile(ecr('acme/app'), env).stages[0]!;
    expect(stage.taskDefinition.taskRoleArn).toBe('arn:aws-cn:iam::210987654321:role/acme-app-builds');
    const publish = stage.taskDefinition.containerDefinitions!.find((c) => c.name === 'publish')!;
    expect(publish.environment).toEqual(
      expect.arrayContaining([
        { name: 'SLIPWAY_CACHE_REPO', value: '210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/slipway-cache/acme/app' },
        { name: 'SLIPWAY_ECR_ACCOUNT', value: '210987654321' },
      ]),
    );
  });

  it('refuses a push to an ECR repository the stack does not list for the repository', () => {
    expect(() => compile(ecr('acme/other'), env)).toThrow(/may not push to the ECR repository acme\/other \(allowed: acme\/app\)/);
    const unlisted = compileOptionsFromEnv(env);
    const options = buildCompileOptions(unlisted, { repoSlug: 'acme/unlisted', buildNumber: 1, fork: false });
    expect(options.taskRoleArn).toBe('arn:aws-cn:iam::210987654321:role/shared');
    expect(options.imageBuilds?.pushRepositories).toEqual([]);
  });

  it("compiles a fork's pull request through the pull-through cache's rules without credentials only", () => {
    const cacheEnv = { ...env, PULL_THROUGH_CACHE: JSON.stringify({ 'docker.io': 'slipway-docker-hub', 'ghcr.io': 'slipway-ghcr', 'quay.io': 'slipway-quay' }) };
    const yaml = 'kind: pipeline\ntype: docker\nname: p\nsteps:\n- name: a\n  image: acme/private:1\n  commands: [true]\n- name: b\n  image: ghcr.io/acme/private:1\n  commands: [true]\n- name: c\n  image: quay.io/acme/tool:1\n  commands: [true]\n';
    const manifest = loadManifest('.drone.yml', yaml);
    if (!isValid(manifest)) throw new Error('invalid');
    const images = (fork: boolean) => {
      const result = compileManifest(manifest, push, buildCompileOptions(compileOptionsFromEnv(cacheEnv), { repoSlug: 'acme/app', buildNumber: 3, fork }));
      return Object.fromEntries(result.stages[0]!.taskDefinition.containerDefinitions!.filter((c) => ['a', 'b', 'c'].includes(c.name!)).map((c) => [c.name, c.image]));
    };
    const registry = '210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn';
    expect(images(true)).toEqual({ a: 'acme/private:1', b: 'ghcr.io/acme/private:1', c: `${registry}/slipway-quay/acme/tool:1` });
    expect(images(false)).toEqual({ a: `${registry}/slipway-docker-hub/acme/private:1`, b: `${registry}/slipway-ghcr/acme/private:1`, c: `${registry}/slipway-quay/acme/tool:1` });
  });

  it("never gives a fork's pull request the repository's push role or its cache: every container of the task would hold them", () => {
    const options = buildCompileOptions(compileOptionsFromEnv(env), { repoSlug: 'acme/app', buildNumber: 2, fork: true });
    expect(options.taskRoleArn).toBe('arn:aws-cn:iam::210987654321:role/shared');
    expect(options.imageBuilds?.pushRepositories).toEqual([]);
    expect(options.imageBuilds?.cacheRepository).toBeUndefined();
    const own = buildCompileOptions(compileOptionsFromEnv(env), { repoSlug: 'acme/app', buildNumber: 2, fork: false });
    expect(own.taskRoleArn).toBe('arn:aws-cn:iam::210987654321:role/acme-app-builds');
  });

  it('says what is wrong with a malformed IMAGE_BUILDS', () => {
    expect(() => compileOptionsFromEnv({ ...env, IMAGE_BUILDS: '{"acme/app": {}}' })).toThrow('config: IMAGE_BUILDS: the entry of acme/app is incomplete');
  });
});
