// The execution role of a fork's pull request (lib/build-cluster.ts forkExecutionRole): the build
// tasks' own rights through the same policy, and an explicit Deny on the pull-through cache rules
// that fetch with the deployment's stored registry credentials (and on their SOCI-enabled copies),
// so that ECR itself refuses a fork's file that names such a cache repository directly. The
// autoscaler is told its ARN and may pass it (RunTask's TaskOverride.executionRoleArn,
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_TaskOverride.html).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORK_REFUSED_ECR_ACTIONS } from '../../lib/build-cluster.js';
import { type Synthesized, asList, fixtureProps, iamStatements, lambdaFunction, logicalIds, synthSlipway } from './synth.js';

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
      fixtureProps({ dockerHubCredentialsSecretArn: DOCKER_HUB_SECRET, ghcrCredentialsSecretArn: GHCR_SECRET, pullThroughCachePrefixes: ['team-cache'], sociReleaseSha256: 'a'.repeat(64) }),
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

  it("gets every right of the build tasks' execution role, through that same policy (later grants such as the SOCI copies included)", () => {
    const shared = Object.entries(s.json.Resources).filter(([, r]) => r.Type === 'AWS::IAM::Policy' && asList(r.Properties!.Roles as unknown[]).some((x) => JSON.stringify(x) === JSON.stringify({ Ref: exec })));
    expect(shared).toHaveLength(1);
    const [, policy] = shared[0]!;
    expect(asList(policy.Properties!.Roles as unknown[])).toContainEqual({ Ref: fork });
    const sids = (policy.Properties!.PolicyDocument as { Statement: { Sid?: string }[] }).Statement.map((st) => st.Sid);
    expect(sids).toEqual(expect.arrayContaining(['PullImages', 'PullThroughCache', 'RepositorySecrets', 'PullSociCopies']));
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

  it('holds nothing else: the shared policy and its Deny, no inline or managed policy of its own', () => {
    const attached = Object.entries(s.json.Resources).filter(
      ([, r]) => (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') && JSON.stringify(r.Properties!.Roles ?? []).includes(JSON.stringify({ Ref: fork })),
    );
    expect(attached).toHaveLength(2);
    const own = attached.find(([id]) => id.startsWith('SlipwayBuildClusterForkExecutionRoleDefaultPolicy'))!;
    expect((own[1].Properties!.PolicyDocument as { Statement: { Sid?: string }[] }).Statement.map((st) => st.Sid)).toEqual(['NoCredentialedPullThroughCache']);
    const role = s.json.Resources[fork]!.Properties!;
    expect(role.Policies).toBeUndefined();
    expect(role.ManagedPolicyArns).toBeUndefined();
  });

  it("the trusted builds' execution role is denied nothing", () => {
    const ownDeny = iamStatements(s.json).filter(({ owner, statement }) => statement.Effect === 'Deny' && owner.startsWith('SlipwayBuildClusterTaskExecutionRole'));
    expect(ownDeny).toEqual([]);
  });

  it('the autoscaler reads its ARN and may pass it to ECS tasks', () => {
    const { props } = lambdaFunction(s.json, 'autoscaler');
    expect(props.Environment.Variables.FORK_TASK_EXECUTION_ROLE_ARN).toEqual({ 'Fn::GetAtt': [fork, 'Arn'] });
    const pass = iamStatements(s.json).find(({ owner, statement }) => owner.startsWith('SlipwayFunctionsAutoscaler') && statement.Sid === 'PassBuildRoles')!.statement;
    expect(asList(pass.Resource)).toEqual(expect.arrayContaining([{ 'Fn::GetAtt': [fork, 'Arn'] }, { 'Fn::GetAtt': [exec, 'Arn'] }]));
    expect(pass.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
  });
});
