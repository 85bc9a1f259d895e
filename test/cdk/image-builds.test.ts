// Image builds in the stack (lib/image-builds.ts): a build task role per listed repository
// that may push to exactly its ECR repositories and its own layer cache, a cache repository
// with a lifecycle policy, and the planner and autoscaler wired to them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, settingsFromContext } from '../../lib/config.js';
import { CACHE_MAX_AGE_DAYS, PUSH_ACTIONS } from '../../lib/image-builds.js';
import { asList, fixtureProps, iamStatements, synthSlipway, type Synthesized } from './synth.js';

const PUSH = { 'acme/app': ['acme/app', 'acme/tools'], 'acme/Site': [] };

describe('image builds in the stack', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthSlipway(fixtureProps({ imagePushRepositories: PUSH, imageBuilder: 'registry.example.com/kaniko:debug' }), { bundle: false });
  }, 300_000);
  afterAll(() => s?.cleanup());

  const roleIdOf = (slug: string) =>
    Object.entries(s.json.Resources).find(([, r]) => r.Type === 'AWS::IAM::Role' && String((r.Properties as { Description?: string }).Description).includes(`builds of ${slug}:`))?.[0];
  const statementsOf = (roleId: string) =>
    iamStatements(s.json).filter(({ owner }) => {
      const roles = (s.json.Resources[owner]?.Properties as { Roles?: { Ref: string }[] } | undefined)?.Roles ?? [];
      return roles.some((r) => r.Ref === roleId);
    });
  const cacheArn = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
  const cacheIdOf = (name: string) => Object.entries(s.json.Resources).find(([, r]) => r.Type === 'AWS::ECR::Repository' && (r.Properties as { RepositoryName?: string }).RepositoryName === name)?.[0];

  it('synthesizes with no unacknowledged cdk-nag finding', () => {
    expect(s.error).toBeUndefined();
    expect(s.findings).toEqual([]);
  });

  it('gives acme/app a role that pushes to exactly acme/app, acme/tools and its cache, nothing else', () => {
    const role = roleIdOf('acme/app')!;
    expect(role).toBeDefined();
    const statements = statementsOf(role).map(({ statement }) => statement);
    const push = statements.find((st) => st.Sid === 'PushImages')!;
    expect(asList(push.Action).sort()).toEqual([...PUSH_ACTIONS].sort());
    const resources = JSON.stringify(push.Resource);
    expect(resources).toContain(':repository/acme/app"');
    expect(resources).toContain(':repository/acme/tools"');
    expect(asList(push.Resource)).toHaveLength(2);
    const cache = statements.find((st) => st.Sid === 'LayerCache')!;
    expect(cache.Resource).toEqual(cacheArn(cacheIdOf('slipway-cache/acme/app')!));
    // Only the ECR login has a wildcard resource (no resource-level permission exists for it).
    for (const st of statements) {
      if (asList(st.Resource).includes('*')) expect(st.Action).toBe('ecr:GetAuthorizationToken');
    }
    expect(statements.map((st) => st.Sid).sort()).toEqual(['EcrLogin', 'LayerCache', 'PushImages']);
  });

  it('gives a repository with an empty list its cache only', () => {
    const role = roleIdOf('acme/Site')!;
    const sids = statementsOf(role).map(({ statement }) => statement.Sid).sort();
    expect(sids).toEqual(['EcrLogin', 'LayerCache']);
    expect(cacheIdOf('slipway-cache/acme/site')).toBeDefined();
  });

  it('expires cached layers with a lifecycle policy', () => {
    const id = cacheIdOf('slipway-cache/acme/app')!;
    const policy = (s.json.Resources[id]!.Properties as { LifecyclePolicy: { LifecyclePolicyText: string } }).LifecyclePolicy.LifecyclePolicyText;
    expect(JSON.parse(policy).rules).toEqual([
      expect.objectContaining({ selection: expect.objectContaining({ tagStatus: 'any', countType: 'sinceImagePushed', countNumber: CACHE_MAX_AGE_DAYS, countUnit: 'days' }), action: { type: 'expire' } }),
    ]);
  });

  it('tells the planner each repository role, pushes and cache, and lets the autoscaler pass those roles', () => {
    const fns = Object.values(s.json.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    const planner = fns.find((f) => JSON.stringify(f.Properties).includes('IMAGE_BUILDS'))!;
    const env = (planner.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
    expect(env.IMAGE_BUILDER).toBe('registry.example.com/kaniko:debug');
    const text = JSON.stringify(env.IMAGE_BUILDS);
    for (const part of ['acme/app', 'acme/tools', 'taskRoleArn', 'cacheRepository', 'acme/Site']) expect(text).toContain(part);
    const pass = iamStatements(s.json).find(({ statement }) => statement.Sid === 'PassBuildRoles')!.statement;
    const passed = JSON.stringify(pass.Resource);
    expect(passed).toContain(roleIdOf('acme/app')!);
    expect(passed).toContain(roleIdOf('acme/Site')!);
  });

  it('leaves the shared build task role without any permission', () => {
    const shared = Object.entries(s.json.Resources).find(([, r]) => r.Type === 'AWS::IAM::Role' && (r.Properties as { Description?: string }).Description === 'Slipway build containers: no permissions by default')![0];
    expect(statementsOf(shared)).toEqual([]);
  });
});

describe('imagePushRepositories in CDK context', () => {
  const get = (value: unknown) => (key: string) => (key === 'imagePushRepositories' ? value : undefined);
  it('reads JSON from the command line and objects from cdk.json', () => {
    expect(settingsFromContext(get('{"acme/app":["team/app"]}')).imagePushRepositories).toEqual({ 'acme/app': ['team/app'] });
    expect(settingsFromContext(get({ 'acme/app': [] })).imagePushRepositories).toEqual({ 'acme/app': [] });
  });
  it.each([
    ['{"acme":["x"]}', '"acme" is not owner/name'],
    ['{"acme/app":["Team/App"]}', 'expected a list of ECR repository names'],
    ['[1]', 'expected {"owner/name"'],
    ['{nope', 'not JSON'],
  ])('refuses %s, saying why', (value, message) => {
    expect(() => settingsFromContext(get(value))).toThrow(ConfigError);
    expect(() => settingsFromContext(get(value))).toThrow(message);
  });
});
