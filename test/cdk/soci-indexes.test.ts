// SOCI-enabled copies in the stack (lib/soci-indexes.ts): off unless the soci release's checksum
// is given; on, the rule limited to the stack's cache prefixes (ecr-eventbridge.html, "ECR Pull
// Through Cache Action"), the converter's task definition and roles (read the cache, push only
// to slipway-soci/*), the copies' repository template and lifecycle (LifecyclePolicies.html:
// sinceImagePulled only archives, archive-image.html: an archived image cannot be pulled), the
// autoscaler and planner wired, nothing always on, and cdk-nag clean.
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, settingsFromContext } from '../../lib/config.js';
import { SOCI_COPY_EXPIRY_DAYS, sociCopiesLifecyclePolicy } from '../../lib/soci-indexes.js';
import { SOCI_COPY_LIFETIME_MS } from '../../core/images/soci.js';
import { type Synthesized, fixtureProps, iamStatements, lambdaFunction, synthSlipway } from './synth.js';

const SHA = 'ab'.repeat(32);
const CACHE_PREFIXES = ['slipway-ecr-public', 'slipway-k8s', 'slipway-quay'];

describe('the sociReleaseSha256 setting', () => {
  const get = (values: Record<string, unknown>) => (key: string) => values[key];
  it('is off unless given; refuses what is not a sha256', () => {
    expect(settingsFromContext(get({})).sociReleaseSha256).toBeUndefined();
    expect(settingsFromContext(get({ sociReleaseSha256: SHA })).sociReleaseSha256).toBe(SHA);
    expect(() => settingsFromContext(get({ sociReleaseSha256: 'latest' }))).toThrow(ConfigError);
  });
});

describe('the stack without the setting', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthSlipway(fixtureProps(), { bundle: false, validate: false, nag: false });
  });
  afterAll(() => s?.cleanup());

  it('has no converter, rule or template, and tells no function about SOCI', () => {
    expect(Object.values(s.json.Resources).filter((r) => r.Type === 'AWS::ECR::RepositoryCreationTemplate')).toEqual([]);
    expect(JSON.stringify(s.json)).not.toContain('soci-converter');
    expect(lambdaFunction(s.json, 'autoscaler').props.Environment.Variables.SOCI_INDEXES).toBeUndefined();
  });
});

describe('the stack with SOCI indexes', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthSlipway(fixtureProps({ sociReleaseSha256: SHA }), { bundle: false });
  });
  afterAll(() => s?.cleanup());

  it('passes cdk-nag (AwsSolutions), every suppression with its reason', () => {
    expect(s.error).toBeUndefined();
    expect(s.findings.filter((f) => f.severity === 'error')).toEqual([]);
  });

  it("sends the cache's successful pulls of the stack's prefixes, and only those, to the jobs queue", () => {
    const rules = Object.values(s.json.Resources).filter((r) => r.Type === 'AWS::Events::Rule' && JSON.stringify(r.Properties).includes('Pull Through Cache'));
    expect(rules).toHaveLength(1);
    const props = rules[0]!.Properties as { EventPattern: Record<string, unknown>; Targets: { Arn: unknown }[]; ScheduleExpression?: string };
    expect(props.EventPattern).toEqual({
      source: ['aws.ecr'],
      'detail-type': ['ECR Pull Through Cache Action'],
      detail: { 'sync-status': ['SUCCESS'], 'ecr-repository-prefix': CACHE_PREFIXES },
    });
    expect(props.ScheduleExpression).toBeUndefined();
    expect(JSON.stringify(props.Targets[0]!.Arn)).toMatch(/QueuesJobs[A-Za-z0-9]*\b/);
  });

  it('defines the converter: 1 vCPU / 2 GB on Fargate, amd64, logging to the build log group under the agent\'s prefix', () => {
    s.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Family: 'slipway-soci-converter',
      Cpu: '1024',
      Memory: '2048',
      RequiresCompatibilities: ['FARGATE'],
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
      ContainerDefinitions: [Match.objectLike({ Name: 'soci-converter', Essential: true, LogConfiguration: Match.objectLike({ LogDriver: 'awslogs', Options: Match.objectLike({ 'awslogs-stream-prefix': 'slipway' }) }) })],
    });
  });

  it('lets the converter read the cache and push only to slipway-soci/*', () => {
    const statements = iamStatements(s.json).filter((x) => x.owner.includes('SociIndexesConverterTaskRole'));
    const bySid = Object.fromEntries(statements.map((x) => [x.statement.Sid, x.statement]));
    const resources = (sid: string) => JSON.stringify(bySid[sid]?.Resource);
    expect(Object.keys(bySid).sort()).toEqual(['EcrLogin', 'PushCopies', 'ReadCache']);
    for (const p of CACHE_PREFIXES) expect(resources('ReadCache')).toContain(`repository/${p}/*`);
    expect(resources('ReadCache')).not.toContain('slipway-soci');
    expect(bySid.ReadCache!.Action).not.toContain('ecr:PutImage');
    expect(resources('PushCopies')).toContain('repository/slipway-soci/*');
    expect(resources('PushCopies')).not.toMatch(/slipway-(ecr-public|k8s|quay)/);
    expect(bySid.PushCopies!.Action).toEqual(expect.arrayContaining(['ecr:PutImage', 'ecr:CreateRepository']));
  });

  it("creates the copies' repositories on push, expiring a copy 30 days after its push; the planner stops naming it before", () => {
    s.template.hasResourceProperties('AWS::ECR::RepositoryCreationTemplate', {
      Prefix: 'slipway-soci',
      AppliedFor: ['CREATE_ON_PUSH'],
      LifecyclePolicy: JSON.stringify(sociCopiesLifecyclePolicy()),
    });
    expect(sociCopiesLifecyclePolicy().rules).toEqual([expect.objectContaining({ selection: expect.objectContaining({ countType: 'sinceImagePushed', countNumber: 30 }), action: { type: 'expire' } })]);
    expect(SOCI_COPY_LIFETIME_MS).toBeLessThan(SOCI_COPY_EXPIRY_DAYS * 24 * 3600_000 - 23 * 3600_000);
  });

  it('tells the autoscaler and the planner, lets them describe the cached images, the autoscaler pass the converter its roles, and build tasks pull the copies', () => {
    for (const name of ['autoscaler', 'planner'] as const) {
      const env = JSON.stringify(lambdaFunction(s.json, name).props.Environment.Variables.SOCI_INDEXES);
      expect(env).toContain('slipway-soci-converter');
      for (const p of CACHE_PREFIXES) expect(env).toContain(p);
    }
    const statements = iamStatements(s.json);
    expect(statements.some((x) => x.statement.Sid === 'DigestsOfCachedImages' && x.owner.toLowerCase().includes('planner'))).toBe(true);
    expect(statements.some((x) => x.statement.Sid === 'SizesOfCachedImages' && x.owner.toLowerCase().includes('autoscaler'))).toBe(true);
    const pushTimes = statements.find((x) => x.statement.Sid === 'PushTimesOfSociCopies')!;
    expect(pushTimes.owner.toLowerCase()).toContain('planner');
    expect(pushTimes.statement.Action).toBe('ecr:DescribeImages');
    expect(JSON.stringify(pushTimes.statement.Resource)).toContain('repository/slipway-soci/*');
    const pull = statements.find((x) => x.statement.Sid === 'PullSociCopies')!;
    expect(pull.owner).toMatch(/BuildClusterTaskExecutionRole/);
    expect(JSON.stringify(pull.statement.Resource)).toContain('repository/slipway-soci/*');
    const pass = statements.find((x) => x.statement.Sid === 'PassSociConverterRoles')!;
    expect(JSON.stringify(pass.statement.Resource)).toMatch(/SociIndexesConverterTaskRole.*SociIndexesConverterExecutionRole|SociIndexesConverterExecutionRole.*SociIndexesConverterTaskRole/);
  });
});
