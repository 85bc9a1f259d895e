// The bucket of split pipelines' workspace snapshots (docs/design/split-pipelines.md): the
// agent of segment n uploads the workspace through a presigned PUT URL when the segment
// ends, the agent of segment n+1 downloads it through a presigned GET URL. Objects live a
// day at most; nobody but the snapshot signer may read or write them, and none is ever
// replaced.
//
// The URLs are signed with the long-term keys of an IAM user, the snapshot signer, kept in
// a secret only the autoscaler reads: a URL stops working when the credentials that signed
// it expire, and a segment's PUT URL is used at its end, up to a pipeline timeout (24 hours)
// after it was signed. The autoscaler's role session cannot cover that, nor a role it
// assumes (role chaining caps a session at one hour); an IAM user's keys sign URLs valid up
// to 7 days. What the keys can do, if they leak: read and write (never replace) workspace
// snapshots under `builds/`, which expire within a day. Rotate them with the setting
// `snapshotSignerKeyVersion` (README, "Split pipelines").
//
// Rotation must not break a segment running at that moment: its PUT URL is used at its end,
// up to the pipeline's timeout plus an hour after it was signed (lambdas/autoscaler/start-stage.ts),
// and S3 refuses a URL whose key no longer exists. So there are two signers in alternating slots
// (the odd and the even versions), each an IAM user with one key: a rotation to version v
// replaces the key of v's slot (CloudFormation creates the new key, then deletes the one of
// version v-2) and leaves the other slot's key, version v-1, which signed the URLs still in use,
// until the next rotation. Each user has one key at rest and two for a moment during its
// replacement, within IAM's limit of two access keys per user
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). The odd slot keeps
// the resources' first names, so a deployment at version 1 keeps its key when this is deployed.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html#PresignedUrl-Expiration
// https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html (DurationSeconds)
import { Duration, type RemovalPolicy, SecretValue, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { SNAPSHOT_PREFIX } from '../core/pipeline/segments.js';
import { acknowledgeWildcardResource, nagRef } from './nag.js';

export interface SnapshotBucketProps {
  readonly removalPolicy: RemovalPolicy;
  /** Bump to replace the signer's access key (the one before it stays until the next bump: signerSlots). */
  readonly signerKeyVersion: number;
}

/** How long a snapshot is kept: a stage's segments follow each other within its timeout (24 hours at most). */
export const SNAPSHOT_RETENTION = Duration.days(1);

/** The signers' slots: the current version's and, from version 2, the previous one's. */
export function signerSlots(version: number): { version: number; current: boolean; id: string }[] {
  const slot = (v: number) => ({ version: v, current: v === version, id: v % 2 === 1 ? 'Signer' : 'SignerEven' });
  return version > 1 ? [slot(version), slot(version - 1)] : [slot(version)];
}

export class SnapshotBucket extends Construct {
  readonly bucket: s3.Bucket;
  /** The IAM user whose keys sign the snapshot URLs now. */
  readonly signer: iam.User;
  /** The IAM user whose key signed them before the last rotation, kept until the next one (absent at version 1). */
  readonly previousSigner?: iam.User;
  /** JSON `{"accessKeyId","secretAccessKey"}` of the signer: the autoscaler reads it. */
  readonly signerSecret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: SnapshotBucketProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: props.removalPolicy,
      lifecycleRules: [
        {
          id: 'ExpireSnapshots',
          enabled: true,
          expiration: SNAPSHOT_RETENTION,
          // The agent uploads with one PUT (at most 5 GB), but a multipart upload begun by
          // anyone else must not linger and bill.
          abortIncompleteMultipartUploadAfter: SNAPSHOT_RETENTION,
        },
      ],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'Short-lived build snapshots (expire after a day), written and read only through URLs the autoscaler signs; the autoscaler logs each segment it starts.',
    });

    const snapshots = this.bucket.arnForObjects(`${SNAPSHOT_PREFIX}*`);
    // A snapshot is written once: a PUT without If-None-Match is refused whoever sends it
    // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html).
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'SnapshotsAreWrittenOnce',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [snapshots],
        conditions: { Null: { 's3:if-none-match': 'true' } },
      }),
    );

    let current: { user: iam.User; key: iam.AccessKey } | undefined;
    for (const slot of signerSlots(props.signerKeyVersion)) {
      const user = new iam.User(this, slot.id);
      user.addToPolicy(new iam.PolicyStatement({ sid: 'ReadWriteSnapshots', actions: ['s3:GetObject', 's3:PutObject'], resources: [snapshots] }));
      // A new serial replaces the key: CloudFormation creates the new one, then deletes the old.
      const slotKey = new iam.AccessKey(this, `${slot.id}AccessKey`, { user, serial: slot.version });
      const policy = user.node.tryFindChild('DefaultPolicy');
      if (!policy) throw new Error('SLIPWAY-CDK: the snapshot signer has no default policy');
      acknowledgeWildcardResource(policy, `${nagRef(this.bucket, 'Arn')}/${SNAPSHOT_PREFIX}*`, 'One snapshot object per segment of a split stage under this prefix, named at run time; the URLs name one object each.');
      if (slot.current) current = { user, key: slotKey };
      else this.previousSigner = user;
    }
    if (!current) throw new Error('SLIPWAY-CDK: no current snapshot signer');
    this.signer = current.user;
    const key = current.key;
    this.signerSecret = new secretsmanager.Secret(this, 'SignerKey', {
      description: "Slipway: access key of the snapshot signer, which signs the URLs of split pipelines' workspace snapshots (autoscaler only)",
      secretObjectValue: {
        // The key id is no secret (it appears in every URL); the template holds a reference, not the value.
        accessKeyId: SecretValue.unsafePlainText(key.accessKeyId),
        secretAccessKey: key.secretAccessKey,
      },
    });
    Validations.of(this.signerSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'An IAM user access key, rotated by raising snapshotSignerKeyVersion and deploying (README); a rotation Lambda would add a function for one key.',
    });
  }
}
