// The execution role of a fork's pull request (lib/build-cluster.ts forkExecutionRole): the build
// tasks' common rights (logs, clone tokens, ECR login) in a policy of its own that no other role
// shares, so that no grant to the trusted execution role or the task role reaches it; pulls from an
// allow-list of its own (the agent, the image builder, the cache rules without credentials and
// their SOCI copies, forkPullRepositories), never every repository of the account, as Drone gives
// a fork's pull request no pull secrets; and an explicit Deny on the pull-through cache rules that
// fetch with the deployment's stored registry credentials (and on their SOCI-enabled copies). The
// autoscaler is told its ARN and may pass it (RunTask's TaskOverride.executionRoleArn,
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_TaskOverride.html).
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlipwayStack } from '../../lib/slipway.js';
import { FORK_REFUSED_ECR_ACTIONS } from '../../lib/build-cluster.js';
import { type Synthesized, asList, fixtureProps, iamStatements, lambdaFunction, logicalIds, synthSlipway } from './synth.js';

const BUILDER = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/tools/kaniko:v1-debug';

const DOCKER_HUB_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/docker-hub-AbCdEf';
const GHCR_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/ghcr-AbCdEf';

const roleId = (s: Synthesized, prefix: string): string => {
  const ids = logicalIds(s.json, 'AWS::IAM::Role', prefix);
  expect(ids).toHaveLength(1);
  return ids[0]!;
};
/** The repository names an ECR ARN of the template ends in (`arn:…:repository/NAME`). */
const repositoryNames = (resource: unknown): string[] =>
  asList(resource).map((r) => {
    const text = JSON.stringify(r);
    return /:repository\/([^"]+)"/.exec(text)?.[1] ?? text;
  });

describe("a fork's pull request runs with its own execution role", () => {
  let s: Synthesized;
  let exec: string;
  let fork: string;
  beforeAll(() => {
    s = synthSlipway(
      fixtureProps({
        dockerHubCredentialsSecretArn: DOCKER_HUB_SECRET,
        ghcrCredentialsSecretArn: GHCR_SECRET,
        pullThroughCachePrefixes: ['team-cache'],
        sociReleaseSha256: 'a'.repeat(64),
        forkPullRepositories: ['mirror/*', 'base/node'],
        imageBuilder: BUILDER,
      }),
      { bundle: false, validate: false },
    );
    exec = roleId(s, 'SlipwayBuildClusterTaskExecutionRole');
    fork = roleId(s, 'SlipwayBuildClusterForkExecutionRole');
  });
  afterAll(() => s?.cleanup());

  it('assumed by ECS tasks of this account only, as the execution role', () => {
    const trust = (id: string) => s.json.Resources[id]!.Properties!.AssumeRolePolicyDocument;
    expect(trust(fork)).toEqual(trust(exec));
  });

  /** The policies attached to a role, by logical id. */
  const policiesOf = (role: string) =>
    Object.entries(s.json.Resources).filter(([, r]) => r.Type === 'AWS::IAM::Policy' && asList(r.Properties!.Roles as unknown[]).some((x) => JSON.stringify(x) === JSON.stringify({ Ref: role })));
  const sidsOf = (policy: { Properties?: Record<string, unknown> }) => (policy.Properties!.PolicyDocument as { Statement: { Sid?: string }[] }).Statement.map((st) => st.Sid);
  /** The repositories a role may pull from: every Allow of ecr:BatchGetImage in its policies. */
  const pullableBy = (role: string) =>
    policiesOf(role)
      .flatMap(([, p]) => (p.Properties!.PolicyDocument as { Statement: { Effect: string; Action: string | string[]; Resource: unknown }[] }).Statement)
      .filter((st) => st.Effect === 'Allow' && asList(st.Action).includes('ecr:BatchGetImage'))
      .flatMap((st) => repositoryNames(st.Resource));

  /** Every policy resource (inline or managed) attached to a role, by logical id. */
  const attachedTo = (role: string) =>
    Object.entries(s.json.Resources).filter(
      ([, r]) => (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') && asList((r.Properties!.Roles ?? []) as unknown[]).some((x) => JSON.stringify(x) === JSON.stringify({ Ref: role })),
    );

  it("holds the build tasks' logs, clone tokens and ECR login in statements of its own, in a policy attached to no other role", () => {
    const own = attachedTo(fork);
    expect(own.map(([id]) => id)).toEqual([expect.stringMatching(/^SlipwayBuildClusterForkExecutionRoleDefaultPolicy/)]);
    const [, policy] = own[0]!;
    // Attached to the fork role alone: a statement added to any other role's policy cannot reach it.
    expect(policy.Properties!.Roles).toEqual([{ Ref: fork }]);
    expect(sidsOf(policy)).toEqual(expect.arrayContaining(['EcrLogin', 'CloneTokens', 'DecryptSecretsViaSsm', 'AppCloneTokens']));
    const actions = (policy.Properties!.PolicyDocument as { Statement: { Action: string | string[] }[] }).Statement.flatMap((st) => asList(st.Action));
    expect(actions).toEqual(expect.arrayContaining(['logs:CreateLogStream', 'logs:PutLogEvents']));
    for (const trusted of ['PullImages', 'PullThroughCache', 'PullSociCopies', 'RepositorySecrets', 'RepositorySecretsManagerSecrets']) expect(sidsOf(policy)).not.toContain(trusted);
    // And the execution role's policies are its own: none is attached to the fork role.
    for (const [, p] of attachedTo(exec)) expect(p.Properties!.Roles).toEqual([{ Ref: exec }]);
  });

  it("keeps the repository secrets (SSM and Secrets Manager under the prefix) in a policy of the execution role alone: forks get no secrets, as in Drone", () => {
    const secrets = policiesOf(exec).filter(([id]) => id.startsWith('SlipwayBuildClusterTaskExecutionRoleSecrets'));
    expect(secrets).toHaveLength(1);
    expect(secrets[0]![1].Properties!.Roles).toEqual([{ Ref: exec }]);
    expect(sidsOf(secrets[0]![1]).sort()).toEqual(['RepositorySecrets', 'RepositorySecretsManagerSecrets']);
    const forkReads = policiesOf(fork)
      .flatMap(([, p]) => (p.Properties!.PolicyDocument as { Statement: { Effect: string; Action: string | string[]; Resource: unknown }[] }).Statement)
      .filter((st) => st.Effect === 'Allow' && asList(st.Action).some((a) => a === 'ssm:GetParameters' || a === 'secretsmanager:GetSecretValue'));
    // Only the clone tokens: the stack's SCM secret (one key of it) and the App tokens' own prefix.
    for (const st of forkReads) expect(JSON.stringify(st.Resource)).not.toMatch(/parameter\/slipway\/|secret:\/slipway\//);
    expect(forkReads.length).toBeGreaterThan(0);
  });

  it("keeps the trusted builds' pulls (every repository by default, every cache prefix, the SOCI copies) in a policy of the execution role alone", () => {
    const pulls = policiesOf(exec).filter(([id]) => id.startsWith('SlipwayBuildClusterTaskExecutionRolePulls'));
    expect(pulls).toHaveLength(1);
    const [, policy] = pulls[0]!;
    expect(policy.Properties!.Roles).toEqual([{ Ref: exec }]);
    expect(sidsOf(policy).sort()).toEqual(['PullImages', 'PullSociCopies', 'PullThroughCache']);
    expect(pullableBy(exec)).toContain('*');
  });

  it('pulls only from its allow-list: the agent, the builder, the cache rules without credentials and their SOCI copies, forkPullRepositories', () => {
    const pullable = pullableBy(fork);
    // The agent built here: the CDK asset repository (the compiler lets a fork name the agent's image alone there).
    const agent = pullable.filter((name) => name.includes('container-assets'));
    expect(agent).toHaveLength(1);
    expect(pullable.filter((name) => !agent.includes(name)).sort()).toEqual(
      [
        'slipway-ecr-public/*',
        'slipway-k8s/*',
        'slipway-quay/*',
        'slipway-soci/slipway-ecr-public/*',
        'slipway-soci/slipway-k8s/*',
        'slipway-soci/slipway-quay/*',
        'tools/kaniko',
        'mirror/*',
        'base/node',
      ].sort(),
    );
    // The builder's repository in the account and Region its reference names.
    expect(JSON.stringify(iamStatements(s.json).find(({ statement }) => statement.Sid === 'ForkPullImages')!.statement.Resource)).toContain(':ecr:eu-west-1:123456789012:repository/tools/kaniko');
    // A first pull through a rule without credentials creates the repository and imports the image, nowhere else.
    const cache = iamStatements(s.json).find(({ statement }) => statement.Sid === 'ForkPullThroughCache')!;
    expect(asList(cache.statement.Action)).toEqual(expect.arrayContaining(['ecr:CreateRepository', 'ecr:BatchImportUpstreamImage']));
    expect(repositoryNames(cache.statement.Resource).sort()).toEqual(['slipway-ecr-public/*', 'slipway-k8s/*', 'slipway-quay/*']);
    const imports = iamStatements(s.json).filter(({ owner, statement }) => owner.startsWith('SlipwayBuildClusterForkExecutionRole') && asList(statement.Action).includes('ecr:BatchImportUpstreamImage') && statement.Effect === 'Allow');
    expect(imports.map(({ statement }) => statement.Sid)).toEqual(['ForkPullThroughCache']);
  });

  it('passes cdk-nag: every wildcard of its pulls acknowledged with a reason', () => {
    expect(s.findings.filter((f) => f.paths.some((p) => /ForkExecutionRole|TaskExecutionRole/.test(p)))).toEqual([]);
  });

  it('is denied every pull, import and repository creation under the credentialed rules, the operator\'s own prefixes, and their SOCI copies', () => {
    const denies = iamStatements(s.json).filter(({ statement }) => statement.Effect === 'Deny');
    expect(denies).toHaveLength(1);
    const { owner, statement } = denies[0]!;
    expect(owner).toMatch(/^SlipwayBuildClusterForkExecutionRoleDefaultPolicy/);
    const policy = s.json.Resources[owner]!;
    expect(policy.Properties!.Roles).toEqual([{ Ref: fork }]);
    expect(asList(statement.Action).sort()).toEqual([...FORK_REFUSED_ECR_ACTIONS].sort());
    expect(asList(statement.Action)).toEqual(expect.arrayContaining(['ecr:BatchGetImage', 'ecr:BatchImportUpstreamImage']));
    expect(repositoryNames(statement.Resource).sort()).toEqual(
      [
        'slipway-docker-hub/*',
        'slipway-ghcr/*',
        'slipway-gitlab/*',
        'team-cache/*',
        'slipway-soci/slipway-docker-hub/*',
        'slipway-soci/slipway-ghcr/*',
        'slipway-soci/slipway-gitlab/*',
        'slipway-soci/team-cache/*',
      ].sort(),
    );
    // The rules without credentials stay open to forks.
    for (const anonymous of ['slipway-ecr-public', 'slipway-k8s', 'slipway-quay']) expect(JSON.stringify(statement.Resource)).not.toContain(anonymous);
  });

  it('holds nothing else: its own policy of shared rights, pulls and Deny, no inline or managed policy', () => {
    const own = attachedTo(fork);
    expect(own).toHaveLength(1);
    expect(sidsOf(own[0]![1]).filter((sid) => sid !== undefined).sort()).toEqual(
      ['AppCloneTokens', 'CloneTokens', 'DecryptSecretsViaSsm', 'EcrLogin', 'ForkPullImages', 'ForkPullThroughCache', 'NoCredentialedPullThroughCache'].sort(),
    );
    const role = s.json.Resources[fork]!.Properties!;
    expect(role.Policies).toBeUndefined();
    expect(role.ManagedPolicyArns).toBeUndefined();
  });

  it('the planner is told the further repositories forks may pull, so that the compiler refuses the rest', () => {
    expect(lambdaFunction(s.json, 'planner').props.Environment.Variables.FORK_PULL_REPOSITORIES).toBe('mirror/*,base/node');
  });

  it("a fork's containers get a task role of their own, assumed by ECS tasks of this account, with no right at all", () => {
    const forkTask = roleId(s, 'SlipwayBuildClusterForkTaskRole');
    const role = s.json.Resources[forkTask]!.Properties!;
    expect(role.AssumeRolePolicyDocument).toEqual(s.json.Resources[roleId(s, 'SlipwayBuildClusterBuildTaskRole')]!.Properties!.AssumeRolePolicyDocument);
    expect(role.Policies).toBeUndefined();
    expect(role.ManagedPolicyArns).toBeUndefined();
    expect(attachedTo(forkTask)).toEqual([]);
  });

  it("the trusted builds' execution role is denied nothing", () => {
    const ownDeny = iamStatements(s.json).filter(({ owner, statement }) => statement.Effect === 'Deny' && owner.startsWith('SlipwayBuildClusterTaskExecutionRole'));
    expect(ownDeny).toEqual([]);
  });

  it('the autoscaler reads its ARN and may pass it to ECS tasks', () => {
    const { props } = lambdaFunction(s.json, 'autoscaler');
    expect(props.Environment.Variables.FORK_TASK_EXECUTION_ROLE_ARN).toEqual({ 'Fn::GetAtt': [fork, 'Arn'] });
    const forkTask = roleId(s, 'SlipwayBuildClusterForkTaskRole');
    expect(props.Environment.Variables.FORK_TASK_ROLE_ARN).toEqual({ 'Fn::GetAtt': [forkTask, 'Arn'] });
    const pass = iamStatements(s.json).find(({ owner, statement }) => owner.startsWith('SlipwayFunctionsAutoscaler') && statement.Sid === 'PassBuildRoles')!.statement;
    expect(asList(pass.Resource)).toEqual(expect.arrayContaining([{ 'Fn::GetAtt': [fork, 'Arn'] }, { 'Fn::GetAtt': [exec, 'Arn'] }, { 'Fn::GetAtt': [forkTask, 'Arn'] }]));
    expect(pass.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
  });
});

describe("a fork's pulls with an agent given by URI and no cache rules", () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthSlipway(fixtureProps({ agentImage: { uri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/platform/slipway-agent:1' }, pullThroughCache: false }), { bundle: false, validate: false });
  });
  afterAll(() => s?.cleanup());

  it("may pull the agent's repository, in the account and Region its URI names, and nothing else of the account", () => {
    const fork = roleId(s, 'SlipwayBuildClusterForkExecutionRole');
    const pulls = iamStatements(s.json).filter(
      ({ owner, statement }) =>
        statement.Effect === 'Allow' &&
        asList(statement.Action).includes('ecr:BatchGetImage') &&
        JSON.stringify(s.json.Resources[owner]!.Properties!.Roles ?? []).includes(JSON.stringify({ Ref: fork })),
    );
    expect(pulls.map(({ statement }) => statement.Sid)).toEqual(['ForkPullImages']);
    expect(JSON.stringify(pulls[0]!.statement.Resource)).toMatch(/:ecr:eu-west-1:123456789012:repository\/platform\/slipway-agent"/);
    expect(repositoryNames(pulls[0]!.statement.Resource)).toEqual(['platform/slipway-agent']);
    expect(iamStatements(s.json).some(({ statement }) => statement.Sid === 'ForkPullThroughCache')).toBe(false);
    expect(s.findings.filter((f) => f.paths.some((p) => /ForkExecutionRole|TaskExecutionRole/.test(p)))).toEqual([]);
  });
});

describe('a grant to the trusted execution role or to the task role never reaches the fork execution role', () => {
  const props = () => fixtureProps({ forkPullRepositories: ['mirror/*'] });
  /** What a platform team extending the stack might grant the build tasks' roles. */
  const extend = (stack: SlipwayStack) => {
    const { executionRole, taskRole, trustedPulls } = stack.slipway.buildCluster;
    executionRole.addToPolicy(new iam.PolicyStatement({ sid: 'PlatformParameters', actions: ['ssm:GetParameters'], resources: ['arn:aws:ssm:eu-west-1:123456789012:parameter/platform/*'] }));
    new ecr.Repository(stack, 'PlatformImages').grantPull(executionRole);
    new secretsmanager.Secret(stack, 'PlatformSecret').grantRead(executionRole);
    executionRole.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonEC2ContainerRegistryReadOnly'));
    new iam.Policy(stack, 'PlatformPolicy', { statements: [new iam.PolicyStatement({ sid: 'PlatformLogs', actions: ['logs:CreateLogGroup'], resources: ['*'] })] }).attachToRole(executionRole);
    trustedPulls.addStatements(new iam.PolicyStatement({ sid: 'PlatformPulls', actions: ['ecr:BatchGetImage'], resources: ['arn:aws:ecr:eu-west-1:123456789012:repository/platform/*'] }));
    taskRole.addToPolicy(new iam.PolicyStatement({ sid: 'PlatformTaskRole', actions: ['s3:GetObject'], resources: ['arn:aws:s3:::platform-artifacts/*'] }));
    new s3.Bucket(stack, 'PlatformBucket').grantReadWrite(taskRole);
  };
  let plain: Synthesized;
  let extended: Synthesized;
  beforeAll(() => {
    plain = synthSlipway(props(), { bundle: false, validate: false, nag: false });
    extended = synthSlipway(props(), { bundle: false, validate: false, nag: false, customize: extend });
  });
  afterAll(() => {
    plain?.cleanup();
    extended?.cleanup();
  });

  /** Everything that gives a role rights: its inline and managed policies, and every policy resource naming it. */
  const rightsOf = (s: Synthesized, prefix: string) => {
    const role = roleId(s, prefix);
    const props = s.json.Resources[role]!.Properties!;
    const attached = Object.entries(s.json.Resources)
      .filter(([, r]) => (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') && JSON.stringify([r.Properties!.Roles ?? [], r.Properties!.Groups ?? [], r.Properties!.Users ?? []]).includes(JSON.stringify({ Ref: role })))
      .map(([id, r]) => ({ id, document: r.Properties!.PolicyDocument }));
    return { inline: props.Policies ?? [], managed: props.ManagedPolicyArns ?? [], attached };
  };

  it("the fork execution role's synthesized rights are the same with or without the grants", () => {
    expect(rightsOf(extended, 'SlipwayBuildClusterForkExecutionRole')).toEqual(rightsOf(plain, 'SlipwayBuildClusterForkExecutionRole'));
  });

  it("and the fork task role's: none, with or without them", () => {
    expect(rightsOf(extended, 'SlipwayBuildClusterForkTaskRole')).toEqual({ inline: [], managed: [], attached: [] });
    expect(rightsOf(plain, 'SlipwayBuildClusterForkTaskRole')).toEqual({ inline: [], managed: [], attached: [] });
  });

  it('the grants did land on the trusted execution role and the task role (so the comparison above compares something)', () => {
    const grants = (s: Synthesized, prefix: string) => JSON.stringify(rightsOf(s, prefix));
    const exec = grants(extended, 'SlipwayBuildClusterTaskExecutionRole');
    for (const sign of ['PlatformParameters', 'PlatformLogs', 'PlatformPulls', 'AmazonEC2ContainerRegistryReadOnly', 'secretsmanager:GetSecretValue', 'PlatformImages']) expect(exec).toContain(sign);
    expect(grants(plain, 'SlipwayBuildClusterTaskExecutionRole')).not.toContain('PlatformParameters');
    const task = grants(extended, 'SlipwayBuildClusterBuildTaskRole');
    for (const sign of ['PlatformTaskRole', 'PlatformBucket']) expect(task).toContain(sign);
  });
});
