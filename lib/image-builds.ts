// Image builds' rights (docs/design/image-builds.md): for each Slipway repository an
// administrator lists in `imagePushRepositories`, a build task role that may push to exactly
// the ECR repositories listed for it and to its own layer cache repository, nothing else,
// and that cache repository (a lifecycle policy expires old layers). The planner gives the
// role to that repository's task definitions (ENV.imageBuilds).
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from './nag.js';

/** Cached layers older than this expire (kaniko pushes one image per cached layer). */
export const CACHE_MAX_AGE_DAYS = 14;
/** Prefix of the cache repositories: `slipway-cache/<owner>/<name>`, lower case as ECR requires. */
export const CACHE_REPOSITORY_PREFIX = 'slipway-cache';

/** What pushing needs (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html), plus reading the image back (kaniko checks tags and reuses layers). */
export const PUSH_ACTIONS = [
  'ecr:BatchCheckLayerAvailability',
  'ecr:BatchGetImage',
  'ecr:CompleteLayerUpload',
  'ecr:GetDownloadUrlForLayer',
  'ecr:InitiateLayerUpload',
  'ecr:PutImage',
  'ecr:UploadLayerPart',
];

export interface ImageBuildsProps {
  /** `owner/name` → ECR repository names it may push to. */
  readonly pushRepositories: Readonly<Record<string, readonly string[]>>;
  readonly removalPolicy: RemovalPolicy;
}

/** The planner's view of one repository's image builds (JSON in ENV.imageBuilds). */
export interface RepositoryImageBuilds {
  taskRoleArn: string;
  pushRepositories: string[];
  cacheRepository: string;
}

export class ImageBuilds extends Construct {
  readonly roles: iam.Role[] = [];
  readonly byRepository: Record<string, RepositoryImageBuilds> = {};

  constructor(scope: Construct, id: string, props: ImageBuildsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const tasks = new iam.ServicePrincipal('ecs-tasks.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    });
    for (const [slug, names] of Object.entries(props.pushRepositories).sort(([a], [b]) => a.localeCompare(b))) {
      const key = slug.replace(/[^A-Za-z0-9]/g, '-');
      const cache = new ecr.Repository(this, `Cache-${key}`, {
        repositoryName: `${CACHE_REPOSITORY_PREFIX}/${slug.toLowerCase()}`,
        imageScanOnPush: false,
        lifecycleRules: [{ description: `cached layers older than ${CACHE_MAX_AGE_DAYS} days expire`, tagStatus: ecr.TagStatus.ANY, maxImageAge: Duration.days(CACHE_MAX_AGE_DAYS) }],
        removalPolicy: props.removalPolicy,
        emptyOnDelete: props.removalPolicy === 'destroy',
      });
      const role = new iam.Role(this, `BuildRole-${key}`, {
        assumedBy: tasks,
        description: `Slipway builds of ${slug}: push images to ${names.length > 0 ? names.join(', ') : 'no ECR repository'} and to its layer cache`,
      });
      role.addToPolicy(new iam.PolicyStatement({ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
      const targets = names.map((name) => stack.formatArn({ service: 'ecr', resource: 'repository', resourceName: name }));
      if (targets.length > 0) role.addToPolicy(new iam.PolicyStatement({ sid: 'PushImages', actions: PUSH_ACTIONS, resources: targets }));
      role.addToPolicy(new iam.PolicyStatement({ sid: 'LayerCache', actions: PUSH_ACTIONS, resources: [cache.repositoryArn] }));
      acknowledgeWildcardResource(
        role.node.tryFindChild('DefaultPolicy')!,
        '*',
        'ecr:GetAuthorizationToken has no resource-level permission; what may be pushed is limited per repository.',
      );
      this.roles.push(role);
      this.byRepository[slug] = { taskRoleArn: role.roleArn, pushRepositories: [...names], cacheRepository: cache.repositoryUri };
    }
  }
}
