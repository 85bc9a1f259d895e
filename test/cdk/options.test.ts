// Settings and their effect on the stack: context parsing, private subnets, repository
// allow-lists, teardown-friendly settings, and the clear errors for missing inputs.
// Synthesized without bundling (placeholder Lambda assets) to stay fast.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildCluster } from '../../lib/build-cluster.js';
import { ConfigError, DEFAULT_SETTINGS, appSettingsFromContext, settingsFromContext } from '../../lib/config.js';
import { FIXTURES, type Synthesized, asList, fixtureProps, iamStatements, logicalIds, synthSlipway } from './synth.js';

const fast = { bundle: false, validate: false } as const;
const fromMap = (values: Record<string, unknown>) => (key: string) => values[key];

describe('settings from CDK context', () => {
  it('uses the defaults when nothing is set', () => {
    expect(settingsFromContext(fromMap({}))).toEqual(DEFAULT_SETTINGS);
    expect(appSettingsFromContext(fromMap({}))).toEqual({
      stackName: 'Slipway',
      dashboardDir: 'web/dist',
      dashboardWhenMissing: 'fail',
      agentImageUri: undefined,
    });
  });

  it('accepts command-line strings and cdk.json values alike', () => {
    const fromCli = settingsFromContext(
      fromMap({ maxConcurrentBuilds: '20', useSpot: 'true', allowedRepositories: 'acme/api, acme/web', logRetentionDays: '7', autoscalerReservedConcurrency: 'false' }),
    );
    const fromJson = settingsFromContext(
      fromMap({ maxConcurrentBuilds: 20, useSpot: true, allowedRepositories: ['acme/api', 'acme/web'], logRetentionDays: 7, autoscalerReservedConcurrency: false }),
    );
    expect(fromCli).toEqual(fromJson);
    expect(fromCli).toMatchObject({ maxConcurrentBuilds: 20, useSpot: true, allowedRepositories: ['acme/api', 'acme/web'], logRetentionDays: 7, autoscalerReservedConcurrency: false });
  });

  it('reads forkPullRepositories as ECR repository names, `*` allowed, default none', () => {
    expect(DEFAULT_SETTINGS.forkPullRepositories).toEqual([]);
    expect(settingsFromContext(fromMap({ forkPullRepositories: 'mirror/*, base/node' })).forkPullRepositories).toEqual(['mirror/*', 'base/node']);
    expect(settingsFromContext(fromMap({ forkPullRepositories: ['mirror/*'] })).forkPullRepositories).toEqual(['mirror/*']);
  });

  it.each([
    [{ maxConcurrentBuilds: 'ten' }, /maxConcurrentBuilds: "ten" is not an integer/],
    [{ maxConcurrentBuilds: 0 }, /maxConcurrentBuilds: 0 is not an integer ≥ 1/],
    [{ useSpot: 'yes' }, /useSpot: "yes"; expected true or false/],
    [{ logRetentionDays: 10 }, /logRetentionDays: 10 is not a CloudWatch Logs retention/],
    [{ defaultCpu: 1000 }, /defaultCpu: 1000 is not a Fargate CPU size/],
    [{ allowedRepositories: 'acme' }, /allowedRepositories: "acme" is not owner\/name/],
    [{ secretsPrefix: 'slipway' }, /secretsPrefix: "slipway" must be an SSM path/],
    [{ agentPlatforms: 'amd64,x86' }, /agentPlatforms: "x86" is not amd64 or arm64/],
    [{ pullRepositories: 'team/*' }, /pullRepositories: "team\/\*" is not an ECR repository ARN/],
    [{ pullThroughCachePrefixes: 'Docker Hub' }, /pullThroughCachePrefixes: "Docker Hub" is not an ECR repository prefix/],
    [{ forkPullRepositories: 'arn:aws:ecr:eu-west-1:123456789012:repository/mirror/*' }, /forkPullRepositories: "arn:aws:ecr:.*" is not an ECR repository name of this account and Region such as mirror\/node or mirror\/\*/],
    [{ forkPullRepositories: 'Mirror/Node' }, /forkPullRepositories: "Mirror\/Node" is not an ECR repository name/],
    [{ forkPullRepositories: 'mirror/' }, /forkPullRepositories: "mirror\/" is not an ECR repository name/],
    [{ webhookSecretsPrefix: '/slipway/hooks' }, /webhookSecretsPrefix "\/slipway\/hooks" and secretsPrefix "\/slipway" overlap/],
    [{ secretsPrefix: '/ci', webhookSecretsPrefix: '/' }, /webhookSecretsPrefix: "" must be an SSM path/],
    [{ webhookSecretsPrefix: '/ssm-hooks' }, /must be an SSM path such as \/slipway-webhooks \(not starting with aws or ssm\)/],
    [{ metricsNamespace: 'AWS/Lambda' }, /metricsNamespace: "AWS\/Lambda" must be 1 to 255 printable ASCII characters, not starting with ":" or "AWS\/"/],
    [{ metricsNamespace: 'x'.repeat(256) }, /metricsNamespace: "x+" must be 1 to 255/],
    [{ metricsNamespace: 'Slipway\u0007' }, /metricsNamespace: .* must be 1 to 255 printable ASCII/],
    [{ cloneTokensPrefix: '/slipway/clone' }, /cloneTokensPrefix "\/slipway\/clone" and secretsPrefix "\/slipway" overlap \(a step's from_secret reads under it/],
    [{ cloneTokensPrefix: '/slipway-webhooks' }, /cloneTokensPrefix "\/slipway-webhooks" and webhookSecretsPrefix "\/slipway-webhooks" overlap/],
    [{ cloneTokensPrefix: '/aws-tokens' }, /cloneTokensPrefix: "\/aws-tokens" must be an SSM path such as \/slipway-clone-tokens/],
    [{ prices: '{"regions":' }, /context prices: not JSON/],
    [{ prices: { regions: { 'eu-west-1': { publicIpv4Hour: 'cheap' } } } }, /context prices.regions.eu-west-1.publicIpv4Hour: expected a price in USD/],
  ])('rejects %j with a message naming the key', (context, message) => {
    expect(() => settingsFromContext(fromMap(context))).toThrow(ConfigError);
    expect(() => settingsFromContext(fromMap(context))).toThrow(message);
  });

  it('rejects an unknown dashboard policy', () => {
    expect(() => appSettingsFromContext(fromMap({ dashboardWhenMissing: 'skip' }))).toThrow(/expected fail or placeholder/);
  });
});

describe('private subnets, an allow-list and teardown-friendly settings', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthSlipway(
      fixtureProps({
        privateSubnets: true,
        allowedRepositories: ['acme/api', 'acme/web'],
        deletionProtection: false,
        autoscalerReservedConcurrency: false,
        useSpot: true,
        maxConcurrentBuilds: 3,
        agentImage: { uri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent:1' },
        pullRepositories: ['arn:aws:ecr:eu-west-1:123456789012:repository/team/*'],
        pullThroughCachePrefixes: ['docker-hub'],
        metricsNamespace: 'Acme/CI',
        prices: { regions: { 'eu-west-1': { fargate: { ARM64: { spot: { vcpuHour: 0.0101 } } } } } },
      }),
      fast,
    );
  });
  afterAll(() => s?.cleanup());

  const env = (prefix: string) => {
    const id = logicalIds(s.json, 'AWS::Lambda::Function', prefix)[0]!;
    return (s.json.Resources[id]!.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
  };

  it('passes cdk-nag', () => {
    expect(s.error?.message).toBeUndefined();
    expect(s.findings.filter((f) => f.severity === 'error')).toEqual([]);
  });

  it('uses isolated subnets, no internet gateway, and VPC endpoints instead', () => {
    s.template.resourceCountIs('AWS::EC2::NatGateway', 0);
    s.template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    s.template.allResourcesProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false });
    const endpoints = Object.values(s.json.Resources).filter((r) => r.Type === 'AWS::EC2::VPCEndpoint');
    const services = endpoints.map((e) => JSON.stringify(e.Properties?.ServiceName));
    for (const service of ['ecr.api', 'ecr.dkr', '.logs', '.ssm', '.secretsmanager', '.sts', '.s3']) {
      expect(services.some((x) => x.includes(service)), service).toBe(true);
    }
    expect(env('SlipwayFunctionsAutoscaler').ASSIGN_PUBLIC_IP).toBe('DISABLED');
  });

  it('lets build tasks pull from the configured repositories and through the pull-through cache (create the cached repository, import upstream)', () => {
    const exec = iamStatements(s.json).filter(({ owner }) => owner.includes('TaskExecutionRole')).map((x) => x.statement);
    expect(exec.find((st) => st.Sid === 'PullImages')!.Resource).toBe('arn:aws:ecr:eu-west-1:123456789012:repository/team/*');
    const cache = exec.find((st) => st.Sid === 'PullThroughCache')!;
    expect(asList(cache.Action)).toEqual(expect.arrayContaining(['ecr:BatchImportUpstreamImage', 'ecr:CreateRepository', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer']));
    // The account's own rule (pullThroughCachePrefixes) beside the stack's (test/cdk/pull-through-cache.test.ts).
    expect(asList(cache.Resource)).toContainEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':repository/docker-hub/*']],
    });
  });

  it('scopes secret reads to the allowed repositories and tells the webhook and planner', () => {
    const ssm = iamStatements(s.json).filter(({ statement }) => asList(statement.Action).includes('ssm:GetParameters') && statement.Sid === 'RepositorySecrets');
    expect(ssm).toHaveLength(1);
    const resources = JSON.stringify(ssm[0]!.statement.Resource);
    expect(resources).toContain(':parameter/slipway/acme/api/*');
    expect(resources).toContain(':parameter/slipway/acme/web/*');
    expect(resources).not.toContain(':parameter/slipway/*"');
    // The GitHub App clone tokens of the allowed repositories only, for trusted builds and forks
    // alike, each role by a statement of its own.
    const allTokens = iamStatements(s.json).filter(({ statement }) => statement.Sid === 'AppCloneTokens');
    expect(allTokens.map(({ owner }) => owner.replace(/DefaultPolicy.*/, '')).sort()).toEqual(['SlipwayBuildClusterForkExecutionRole', 'SlipwayBuildClusterTaskExecutionRole']);
    expect(allTokens[0]!.statement).toEqual(allTokens[1]!.statement);
    const tokens = allTokens.filter(({ owner }) => owner.startsWith('SlipwayBuildClusterTaskExecutionRole'));
    expect(tokens).toHaveLength(1);
    expect(JSON.stringify(tokens[0]!.statement.Resource)).toContain(':parameter/slipway-clone-tokens/github/acme/api"');
    expect(JSON.stringify(tokens[0]!.statement.Resource)).toContain(':parameter/slipway-clone-tokens/github/acme/web"');
    expect(JSON.stringify(tokens[0]!.statement.Resource)).not.toContain('github/*');
    expect(env('SlipwayFunctionsWebhook').ALLOWED_REPOSITORIES).toBe('acme/api,acme/web');
    expect(env('SlipwayFunctionsPlanner').ALLOWED_REPOSITORIES).toBe('acme/api,acme/web');
  });

  it('passes capacity settings and a prebuilt agent image through to the Lambdas', () => {
    // The autoscaler decides capacity; the planner compiles task sizes and the agent image.
    expect(env('SlipwayFunctionsAutoscaler')).toMatchObject({ USE_SPOT: 'true', MAX_CONCURRENT_BUILDS: '3', VCPU_QUOTA: '6', DEFAULT_CPU: '1024' });
    expect(env('SlipwayFunctionsPlanner')).toMatchObject({
      DEFAULT_CPU: '1024',
      DEFAULT_MEMORY: '2048',
      AGENT_IMAGE: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent:1',
    });
    // The stack's prices setting reaches the two Lambdas that price builds, as checked JSON.
    for (const fn of ['SlipwayFunctionsAutoscaler', 'SlipwayFunctionsTaskEvents']) {
      expect(JSON.parse(String(env(fn).PRICES_OVERRIDE)), fn).toEqual({ regions: { 'eu-west-1': { fargate: { ARM64: { spot: { vcpuHour: 0.0101 } } } } } });
    }
    expect(settingsFromContext(fromMap({ prices: '{"regions":{"eu-west-1":{"publicIpv4Hour":0.006}}}' })).prices).toEqual({ regions: { 'eu-west-1': { publicIpv4Hour: 0.006 } } });
    const assets = JSON.parse(readFileSync(join(s.outdir, `${s.stack.artifactId}.assets.json`), 'utf8'));
    expect(assets.dockerImages ?? {}).toEqual({});
  });

  it("gives every Lambda that counts the configured metrics namespace (Powertools Metrics' POWERTOOLS_METRICS_NAMESPACE)", () => {
    // The webhook counts nothing: it gets the service name only.
    expect(env('SlipwayFunctionsWebhook')).toMatchObject({ POWERTOOLS_SERVICE_NAME: 'slipway' });
    for (const fn of ['Planner', 'Autoscaler', 'TaskEvents', 'Api']) {
      expect(env(`SlipwayFunctions${fn}`), fn).toMatchObject({ POWERTOOLS_METRICS_NAMESPACE: 'Acme/CI', POWERTOOLS_SERVICE_NAME: 'slipway' });
    }
  });

  it('lets the table and logs go with the stack, and leaves the autoscaler unreserved', () => {
    s.template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    s.template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    s.template.allResources('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
    const autoscaler = logicalIds(s.json, 'AWS::Lambda::Function', 'SlipwayFunctionsAutoscaler')[0]!;
    expect(s.json.Resources[autoscaler]!.Properties?.ReservedConcurrentExecutions).toBeUndefined();
  });
});

describe('missing inputs', () => {
  it('fails with a clear message when the dashboard build is missing, unless a placeholder is asked for', () => {
    const missing = join(FIXTURES, 'no-such-dashboard');
    expect(() => synthSlipway(fixtureProps({ dashboardDir: missing }), fast)).toThrow(
      /SLIPWAY-CDK: dashboard: .*no-such-dashboard\/index.html does not exist; build the dashboard first/,
    );
    const s = synthSlipway(fixtureProps({ dashboardDir: missing, dashboardWhenMissing: 'placeholder' }), { ...fast, nag: false });
    try {
      expect(s.error).toBeUndefined();
      expect(s.stack.slipway.dashboard.deployed).toBe(false);
      // The one deployed file is the placeholder page saying what to do.
      const deployment = Object.values(s.json.Resources).find((r) => r.Type === 'Custom::CDKBucketDeployment')!;
      const [key] = deployment.Properties?.SourceObjectKeys as string[];
      const page = readFileSync(join(s.outdir, `asset.${key!.replace(/\.zip$/, '')}`, 'index.html'), 'utf8');
      expect(page).toContain('The dashboard was not built');
      const warnings = s.app.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:warning'));
      expect(JSON.stringify(warnings)).toContain('a placeholder page is deployed instead');
    } finally {
      s.cleanup();
    }
  });

  it('names a missing Lambda entry and a missing agent Dockerfile', () => {
    const entries = { ...fixtureProps().entries, planner: join(FIXTURES, 'nope', 'handler.ts') };
    expect(() => synthSlipway(fixtureProps({ entries }), fast)).toThrow(/SLIPWAY-CDK: the planner Lambda's entry .*nope\/handler.ts does not exist/);
    expect(() => synthSlipway(fixtureProps({ agentImage: { directory: join(FIXTURES, 'nope') } }), fast)).toThrow(
      /SLIPWAY-CDK: agent image: .*nope\/Dockerfile does not exist/,
    );
  });

  it('names the Lambda, the file and the position when a handler does not bundle', () => {
    const entries = { ...fixtureProps().entries, webhook: join(FIXTURES, 'broken', 'handler.ts') };
    expect(() => synthSlipway(fixtureProps({ entries }), { validate: false, nag: false })).toThrow(
      /SLIPWAY-CDK: bundling the webhook Lambda \(.*broken\/handler.ts\) failed: .*broken\/handler.ts:3:\d+: Could not resolve "\.\/missing-module\.js"/,
    );
  });
});

describe('BuildCluster.grantCloneTokenRead', () => {
  it('adds kms:Decrypt through Secrets Manager, on that key only, when the secret has a customer managed key', () => {
    const stack = new Stack(new App(), 'T', { env: { account: '123456789012', region: 'eu-west-1' } });
    const cluster = new BuildCluster(stack, 'Builds', {
      vpc: new ec2.Vpc(stack, 'Vpc', { natGateways: 0 }),
      agentImage: { uri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent:1' },
      logRetention: logs.RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
      secretsPrefix: '/slipway',
      allowedRepositories: [],
    });
    const key = new kms.Key(stack, 'Key');
    cluster.grantCloneTokenRead(new secretsmanager.Secret(stack, 'Scm', { encryptionKey: key }));
    const statements = iamStatements(Template.fromStack(stack).toJSON() as Synthesized['json'])
      .filter(({ owner }) => owner.includes('TaskExecutionRole'))
      .map((x) => x.statement)
      .filter((st) => st.Sid === 'CloneTokens' || st.Sid === 'DecryptCloneTokens');
    expect(statements).toHaveLength(2);
    // A fork's task clones with it too: the fork execution role gets the same, in its own policy.
    const forks = iamStatements(Template.fromStack(stack).toJSON() as Synthesized['json'])
      .filter(({ owner }) => owner.includes('ForkExecutionRole'))
      .map((x) => x.statement)
      .filter((st) => st.Sid === 'CloneTokens' || st.Sid === 'DecryptCloneTokens');
    expect(forks).toEqual(statements);
    expect(statements[0]).toMatchObject({ Action: 'secretsmanager:GetSecretValue', Resource: { Ref: expect.stringMatching(/^Scm/) } });
    expect(statements[1]).toMatchObject({
      Action: 'kms:Decrypt',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] },
      Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
    });
  });
});
