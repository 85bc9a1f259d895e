// The stack's ECR pull-through cache (lib/pull-through-cache.ts): rules for the registries that
// need no credentials by default (ECR Public, the Kubernetes registry, Quay), Docker Hub's,
// ghcr.io's and registry.gitlab.com's each once its `ecr-pullthroughcache/` secret is named,
// the build tasks' right to fill the cache, and the planner told which registries it covers.
// The upstream URLs are ECR's (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreatePullThroughCacheRule.html).
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, settingsFromContext } from '../../lib/config.js';
import { PullThroughCacheRules } from '../../lib/pull-through-cache.js';
import { type Synthesized, asList, fixtureProps, iamStatements, logicalIds, synthSlipway } from './synth.js';

const DOCKER_HUB_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/docker-hub-AbCdEf';
const GHCR_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/ghcr-AbCdEf';
const GITLAB_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/gitlab-AbCdEf';

function rulesOf(props: ConstructorParameters<typeof PullThroughCacheRules>[2], env?: { account: string; region: string }): { template: Template; rules: PullThroughCacheRules } {
  const stack = new Stack(new App(), 'S', env ? { env } : {});
  const rules = new PullThroughCacheRules(stack, 'Cache', props);
  return { template: Template.fromStack(stack), rules };
}

describe('the rules', () => {
  it('ECR Public, the Kubernetes registry and Quay without credentials; no Docker Hub, ghcr.io or GitLab rule without its secret (ECR requires one)', () => {
    const { template, rules } = rulesOf({});
    template.resourceCountIs('AWS::ECR::PullThroughCacheRule', 3);
    template.hasResourceProperties('AWS::ECR::PullThroughCacheRule', { EcrRepositoryPrefix: 'slipway-ecr-public', UpstreamRegistryUrl: 'public.ecr.aws' });
    template.hasResourceProperties('AWS::ECR::PullThroughCacheRule', { EcrRepositoryPrefix: 'slipway-k8s', UpstreamRegistryUrl: 'registry.k8s.io' });
    template.hasResourceProperties('AWS::ECR::PullThroughCacheRule', { EcrRepositoryPrefix: 'slipway-quay', UpstreamRegistryUrl: 'quay.io' });
    for (const rule of Object.values(template.findResources('AWS::ECR::PullThroughCacheRule'))) expect(rule.Properties.CredentialArn).toBeUndefined();
    expect(rules.prefixes).toEqual({ 'public.ecr.aws': 'slipway-ecr-public', 'registry.k8s.io': 'slipway-k8s', 'quay.io': 'slipway-quay' });
  });

  it.each([
    ['ghcr.io', 'slipway-ghcr', 'ghcr.io', { ghcrCredentialsSecretArn: GHCR_SECRET }, GHCR_SECRET],
    ['registry.gitlab.com', 'slipway-gitlab', 'registry.gitlab.com', { gitlabRegistryCredentialsSecretArn: GITLAB_SECRET }, GITLAB_SECRET],
  ] as const)('%s through its own rule with its own secret, alone', (domain, prefix, upstream, props, secret) => {
    const { template, rules } = rulesOf(props);
    template.resourceCountIs('AWS::ECR::PullThroughCacheRule', 4);
    template.hasResourceProperties('AWS::ECR::PullThroughCacheRule', { EcrRepositoryPrefix: prefix, UpstreamRegistryUrl: upstream, CredentialArn: secret });
    expect(rules.prefixes[domain]).toBe(prefix);
    expect(rules.prefixes['docker.io']).toBeUndefined();
  });

  it("refuses a secret outside the stack's account or Region, where ECR would not read it", () => {
    expect(() => rulesOf({ ghcrCredentialsSecretArn: GHCR_SECRET }, { account: '123456789012', region: 'us-east-1' })).toThrow(
      /context ghcrCredentialsSecretArn: the secret is in Region eu-west-1, the stack's us-east-1; ECR reads .* only from a secret in the stack's own account and Region/,
    );
    expect(() => rulesOf({ dockerHubCredentialsSecretArn: DOCKER_HUB_SECRET }, { account: '210987654321', region: 'eu-west-1' })).toThrow(/account 123456789012, the stack's 210987654321/);
    expect(rulesOf({ gitlabRegistryCredentialsSecretArn: GITLAB_SECRET }, { account: '123456789012', region: 'eu-west-1' }).rules.prefixes['registry.gitlab.com']).toBe('slipway-gitlab');
  });

  it('every ECR prefix is within CreatePullThroughCacheRule\'s 2–30 characters and unique', () => {
    const { rules } = rulesOf({ dockerHubCredentialsSecretArn: DOCKER_HUB_SECRET, ghcrCredentialsSecretArn: GHCR_SECRET, gitlabRegistryCredentialsSecretArn: GITLAB_SECRET });
    const prefixes = Object.values(rules.prefixes);
    expect(prefixes).toHaveLength(6);
    expect(new Set(prefixes).size).toBe(6);
    for (const p of prefixes) expect(p.length >= 2 && p.length <= 30, p).toBe(true);
  });

  it('Docker Hub through registry-1.docker.io with the named secret', () => {
    const { template, rules } = rulesOf({ dockerHubCredentialsSecretArn: DOCKER_HUB_SECRET });
    template.hasResourceProperties('AWS::ECR::PullThroughCacheRule', { EcrRepositoryPrefix: 'slipway-docker-hub', UpstreamRegistryUrl: 'registry-1.docker.io', CredentialArn: DOCKER_HUB_SECRET });
    expect(rules.prefixes['docker.io']).toBe('slipway-docker-hub');
  });

  it("settings: on by default; each registry's secret must be named ecr-pullthroughcache/…; opt-outs are owner/name", () => {
    const get = (values: Record<string, unknown>) => (key: string) => values[key];
    expect(settingsFromContext(get({}))).toMatchObject({ pullThroughCache: true, dockerHubCredentialsSecretArn: undefined, ghcrCredentialsSecretArn: undefined, gitlabRegistryCredentialsSecretArn: undefined, pullThroughCacheOptOut: [] });
    expect(settingsFromContext(get({ pullThroughCache: 'false', pullThroughCacheOptOut: 'acme/legacy' }))).toMatchObject({ pullThroughCache: false, pullThroughCacheOptOut: ['acme/legacy'] });
    expect(settingsFromContext(get({ ghcrCredentialsSecretArn: GHCR_SECRET, gitlabRegistryCredentialsSecretArn: '' }))).toMatchObject({ ghcrCredentialsSecretArn: GHCR_SECRET, gitlabRegistryCredentialsSecretArn: undefined });
    for (const key of ['dockerHubCredentialsSecretArn', 'ghcrCredentialsSecretArn', 'gitlabRegistryCredentialsSecretArn']) {
      expect(() => settingsFromContext(get({ [key]: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:registry' }))).toThrow(new RegExp(`context ${key}: .* ecr-pullthroughcache/`));
    }
    expect(() => settingsFromContext(get({ ghcrCredentialsSecretArn: 42 }))).toThrow(ConfigError);
    expect(() => settingsFromContext(get({ pullThroughCacheOptOut: ['legacy'] }))).toThrow(/owner\/name/);
  });
});

describe('in the stack', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthSlipway(fixtureProps({ dockerHubCredentialsSecretArn: DOCKER_HUB_SECRET, ghcrCredentialsSecretArn: GHCR_SECRET, gitlabRegistryCredentialsSecretArn: GITLAB_SECRET, pullThroughCacheOptOut: ['acme/legacy'] }), { bundle: false, validate: false });
  });
  afterAll(() => s?.cleanup());

  it('lets build tasks create and fill the cached repositories of its rules', () => {
    const exec = iamStatements(s.json).filter(({ owner }) => owner.includes('TaskExecutionRole')).map((x) => x.statement);
    const cache = exec.find((st) => st.Sid === 'PullThroughCache')!;
    expect(asList(cache.Action)).toEqual(expect.arrayContaining(['ecr:BatchImportUpstreamImage', 'ecr:CreateRepository', 'ecr:BatchGetImage']));
    const resources = JSON.stringify(cache.Resource);
    for (const prefix of ['slipway-docker-hub', 'slipway-ecr-public', 'slipway-k8s', 'slipway-quay', 'slipway-ghcr', 'slipway-gitlab']) expect(resources).toContain(`:repository/${prefix}/*`);
  });

  it('tells the planner which registries the rules cover, and which repositories opted out', () => {
    const id = logicalIds(s.json, 'AWS::Lambda::Function', 'SlipwayFunctionsPlanner')[0]!;
    const env = (s.json.Resources[id]!.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
    expect(JSON.parse(env.PULL_THROUGH_CACHE as string)).toEqual({
      'public.ecr.aws': 'slipway-ecr-public',
      'registry.k8s.io': 'slipway-k8s',
      'quay.io': 'slipway-quay',
      'docker.io': 'slipway-docker-hub',
      'ghcr.io': 'slipway-ghcr',
      'registry.gitlab.com': 'slipway-gitlab',
    });
    expect(env.PULL_THROUGH_CACHE_OPT_OUT).toBe('acme/legacy');
  });
});
