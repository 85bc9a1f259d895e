// Split pipelines in the stack (lib/snapshot-bucket.ts): the bucket of workspace snapshots,
// locked down and short-lived; the IAM user whose long-term keys sign their URLs (a URL
// lives only as long as the credentials that signed it:
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html#PresignedUrl-Expiration),
// with rights on the snapshots only; the autoscaler alone reads its keys; the planner splits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../core/config/lambda-env.js';
import { SNAPSHOT_PREFIX } from '../../core/pipeline/segments.js';
import { ConfigError, settingsFromContext } from '../../lib/config.js';
import { SnapshotBucket } from '../../lib/snapshot-bucket.js';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { asList, fixtureProps, iamStatements, lambdaFunction, synthSlipway, type Synthesized } from './synth.js';

describe('the snapshot bucket of split pipelines', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthSlipway(fixtureProps({ snapshotSignerKeyVersion: 3 }), { bundle: false, validate: false });
  }, 300_000);
  afterAll(() => s?.cleanup());

  const only = (type: string) => {
    const found = Object.entries(s.json.Resources).filter(([id, r]) => r.Type === type && id.startsWith('SlipwaySnapshots'));
    expect(found, type).toHaveLength(1);
    return { id: found[0]![0], props: found[0]![1].Properties as Record<string, any> };
  };
  const bucket = () => only('AWS::S3::Bucket');
  const secret = () => only('AWS::SecretsManager::Secret');
  const bucketPolicy = () => only('AWS::S3::BucketPolicy').props.PolicyDocument.Statement as any[];
  const refersTo = (value: unknown, logicalId: string) => JSON.stringify(value).includes(`"${logicalId}"`);

  it('synthesizes with no unacknowledged cdk-nag finding', () => {
    expect(s.error).toBeUndefined();
    expect(s.findings).toEqual([]);
  });

  it('blocks public access, encrypts with S3-managed keys and refuses requests without TLS', () => {
    const { props } = bucket();
    expect(props.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(props.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }]);
    const tls = bucketPolicy().find((st) => st.Condition?.Bool?.['aws:SecureTransport'] === 'false');
    expect(tls).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:*' });
  });

  it('expires snapshots after a day and aborts multipart uploads left incomplete', () => {
    expect(bucket().props.LifecycleConfiguration.Rules).toEqual([
      { Id: 'ExpireSnapshots', Status: 'Enabled', ExpirationInDays: 1, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
    ]);
  });

  it('refuses any PUT of a snapshot without If-None-Match: a snapshot is never replaced (conditional-writes-enforce)', () => {
    const deny = bucketPolicy().find((st) => st.Sid === 'SnapshotsAreWrittenOnce');
    expect(deny).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:PutObject', Condition: { Null: { 's3:if-none-match': 'true' } } });
    expect(JSON.stringify(deny.Resource)).toContain(`/${SNAPSHOT_PREFIX}*`);
  });

  const all = (type: string) => Object.entries(s.json.Resources).filter(([id, r]) => r.Type === type && id.startsWith('SlipwaySnapshots')).map(([id, r]) => ({ id, props: r.Properties as Record<string, any> }));

  it('gives each signer (the current one and the one before the last rotation) exactly GetObject and PutObject on the snapshots, and no other principal any right on them', () => {
    const users = all('AWS::IAM::User');
    expect(users).toHaveLength(2);
    const ofSigners = iamStatements(s.json).filter(({ owner }) => {
      const attached = (s.json.Resources[owner]?.Properties?.Users as { Ref: string }[] | undefined) ?? [];
      return attached.some((u) => users.some((x) => x.id === u.Ref));
    });
    const expected = { Sid: 'ReadWriteSnapshots', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket().id, 'Arn'] }, `/${SNAPSHOT_PREFIX}*`]] } };
    expect(ofSigners.map(({ statement }) => statement)).toEqual([expected, expected]);
    // No role (a Lambda's, a build task's) is granted anything on the bucket.
    const others = iamStatements(s.json).filter(({ owner, statement }) => !ofSigners.some((x) => x.owner === owner) && refersTo(statement.Resource, bucket().id));
    expect(others).toEqual([]);
  });

  it('keeps the current signer key in a secret that only the autoscaler reads, and hands the autoscaler the bucket', () => {
    const { id: secretId, props } = secret();
    const keys = all('AWS::IAM::AccessKey');
    expect(keys.map((k) => k.props.Serial).sort()).toEqual([2, 3]);
    const key = keys.find((k) => k.props.Serial === 3)!;
    expect(refersTo(props.SecretString, key.id)).toBe(true);
    expect(refersTo(props.SecretString, keys.find((k) => k.props.Serial === 2)!.id)).toBe(false);
    const readers = iamStatements(s.json).filter(({ statement }) => asList(statement.Action).includes('secretsmanager:GetSecretValue') && refersTo(statement.Resource, secretId));
    const autoscalerRole = (lambdaFunction(s.json, 'autoscaler').props.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
    expect(readers.map(({ owner }) => (s.json.Resources[owner]!.Properties!.Roles as { Ref: string }[]).map((r) => r.Ref))).toEqual([[autoscalerRole]]);
    const env = lambdaFunction(s.json, 'autoscaler').props.Environment.Variables;
    expect(env[ENV.snapshotBucket]).toEqual({ Ref: bucket().id });
    expect(env[ENV.snapshotSignerSecretArn]).toEqual({ Ref: secretId });
  });

  it('turns splitting on in the planner, and gives the snapshot bucket to no other function', () => {
    expect(lambdaFunction(s.json, 'planner').props.Environment.Variables[ENV.splitPipelines]).toBe('true');
    for (const name of ['webhook', 'planner', 'task-events', 'api'] as const) {
      const env = lambdaFunction(s.json, name).props.Environment.Variables;
      expect([env[ENV.snapshotBucket], env[ENV.snapshotSignerSecretArn]], name).toEqual([undefined, undefined]);
    }
  });
});

describe('snapshotSignerKeyVersion', () => {
  it('defaults to 1 and takes an integer ≥ 1 from the context', () => {
    expect(settingsFromContext(() => undefined).snapshotSignerKeyVersion).toBe(1);
    expect(settingsFromContext((k) => (k === 'snapshotSignerKeyVersion' ? '2' : undefined)).snapshotSignerKeyVersion).toBe(2);
    expect(() => settingsFromContext((k) => (k === 'snapshotSignerKeyVersion' ? 'x' : undefined))).toThrow(ConfigError);
  });
});

// S3 refuses a presigned URL once the key that signed it is deleted, and a segment's PUT URL is
// used up to its pipeline's timeout plus an hour after it was signed: a rotation keeps the key
// before it, unchanged (same resource, same serial: CloudFormation leaves it), until the next.
describe('rotating the snapshot signer key', () => {
  const keysAt = (version: number) => {
    const stack = new Stack(new App(), 'Rotation');
    new SnapshotBucket(stack, 'Snapshots', { removalPolicy: RemovalPolicy.DESTROY, signerKeyVersion: version });
    const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };
    const keys = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::IAM::AccessKey');
    const secret = Object.values(template.Resources).find((r) => r.Type === 'AWS::SecretsManager::Secret')!;
    return {
      serials: Object.fromEntries(keys.map(([id, r]) => [id, r.Properties.Serial])),
      users: Object.fromEntries(keys.map(([id, r]) => [id, r.Properties.UserName])),
      current: keys.find(([id]) => JSON.stringify(secret.Properties.SecretString).includes(`"${id}"`))![0],
    };
  };

  it('version 1 (the default) has one signer and one key, under the names a deployment already has', () => {
    const v1 = keysAt(1);
    expect(Object.keys(v1.serials)).toEqual([expect.stringMatching(/^SnapshotsSignerAccessKey/)]);
    expect(Object.values(v1.serials)).toEqual([1]);
  });

  it.each([1, 2, 3, 10])('from version %i to the next, the key in use stays as it was and the new one takes the other slot; the one before is replaced', (version) => {
    const before = keysAt(version);
    const after = keysAt(version + 1);
    // The key that signed the URLs in use: same logical id, same serial, same user (left in place).
    expect(after.serials[before.current]).toBe(version);
    expect(after.users[before.current]).toEqual(before.users[before.current]);
    // The secret now names the other slot's key, of the new version.
    expect(after.current).not.toBe(before.current);
    expect(after.serials[after.current]).toBe(version + 1);
    expect(Object.keys(after.serials)).toHaveLength(2);
    // Two users, one key each: a replacement never holds more than IAM's two keys per user.
    expect(new Set(Object.values(after.users).map((u) => JSON.stringify(u))).size).toBe(2);
  });
});
