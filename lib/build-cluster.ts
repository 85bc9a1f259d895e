// Where pipelines run: an ECS cluster with Fargate and Fargate Spot capacity, the two
// roles every build task uses, the build log group, and the agent (task-runner) image.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ArnFormat, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ecrImageOf } from '../core/images/ecr-image.js';
import { SOCI_REPOSITORY_PREFIX } from '../core/images/soci.js';
import { ImageBuilds } from './image-builds.js';
import { acknowledgeWildcardResource } from './nag.js';

/** Pulling an image from an ECR repository (https://docs.aws.amazon.com/AmazonECR/latest/userguide/ECR_on_ECS.html). */
const ECR_PULL_ACTIONS: readonly string[] = ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'];
/** A first pull through a pull-through cache rule also creates the repository and imports the image (pull-through-cache-iam.html). */
const ECR_CACHE_ACTIONS: readonly string[] = [...ECR_PULL_ACTIONS, 'ecr:CreateRepository', 'ecr:BatchImportUpstreamImage'];

/** What a fork's execution role may not do on a refused cache prefix's repositories: pull, or make ECR fetch. */
export const FORK_REFUSED_ECR_ACTIONS: readonly string[] = ECR_CACHE_ACTIONS;

/** Every task definition Slipway registers has a family starting with this (core/pipeline/family.ts). */
export const TASK_FAMILY_PREFIX = 'slipway-';

/** A Fargate CPU architecture, as pipelines name it (`platform: { arch }`). */
export type AgentArch = 'amd64' | 'arm64';
export const AGENT_ARCHES: readonly AgentArch[] = ['amd64', 'arm64'];

/**
 * The agent image. Fargate runs a task on its runtimePlatform's architecture and pulls only
 * an image (or a manifest-list entry) of that platform, so an arm64 pipeline needs an arm64
 * agent: built here from the Dockerfile for each of `platforms` (default both; building
 * arm64 on an x86 machine needs Docker buildx with QEMU emulation), or given as one
 * multi-arch image (`uri`, a manifest list holding both) or one image per architecture (`uris`).
 */
export type AgentImageSource =
  | { readonly directory: string; readonly file?: string; readonly exclude?: string[]; readonly platforms?: readonly AgentArch[] }
  | { readonly uri: string }
  | { readonly uris: Partial<Record<AgentArch, string>> };

/** Where the agent images are, as the planner reads them (lambdas/planner/compile-options.ts). */
export interface AgentImages {
  /** One image per architecture. */
  readonly byArch: Partial<Record<AgentArch, string>>;
  /** One multi-arch image for every architecture. */
  readonly anyArch?: string;
}

export interface BuildClusterProps {
  readonly vpc: ec2.IVpc;
  readonly agentImage: AgentImageSource;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** SSM path prefix of repository secrets, e.g. `/slipway` → `/slipway/<owner>/<repo>/<NAME>`. */
  readonly secretsPrefix: string;
  /** SSM prefix of the GitHub App clone tokens (`<prefix>/github/<owner>/<name>`); read for the agent only. */
  readonly cloneTokensPrefix?: string;
  /** `owner/name` of the repositories whose secrets tasks may read; empty: every repository. */
  readonly allowedRepositories: readonly string[];
  /**
   * ECR repositories build tasks may pull from (repository ARNs, wildcards allowed); default
   * every repository of this account and region. Images from other registries are pulled
   * anonymously, or with `image_pull_secrets` (repositoryCredentials).
   */
  readonly pullRepositories?: readonly string[];
  /**
   * Repository prefixes of ECR pull-through cache rules (e.g. `docker-hub`, `ghcr`): tasks may
   * create the cached repository on a first pull and import the upstream image
   * (ecr:CreateRepository, ecr:BatchImportUpstreamImage). Empty: no pull-through cache.
   */
  readonly pullThroughCachePrefixes?: readonly string[];
  /** Image builds: `owner/name` → ECR repositories its builds may push to (lib/image-builds.ts). */
  readonly imagePushRepositories?: Readonly<Record<string, readonly string[]>>;
  /**
   * Cache prefixes a fork's pull request may not pull from, create in or import through (the
   * rules that fetch with the deployment's registry credentials, and those whose credentials the
   * stack cannot tell): refused to forkExecutionRole, with their SOCI-enabled copies.
   */
  readonly forkRefusedCachePrefixes?: readonly string[];
  /**
   * Cache prefixes a fork's pull request may pull through: the stack's rules without
   * credentials (ECR Public, registry.k8s.io, Quay), with their SOCI-enabled copies.
   */
  readonly forkCachePrefixes?: readonly string[];
  /** Further ECR repository names of this account and Region (`*` any characters) a fork's pull request may pull (setting forkPullRepositories). */
  readonly forkPullRepositories?: readonly string[];
  /** Images the stack puts into forks' tasks itself (the image builder): their repositories, when in ECR, are pullable by forks. */
  readonly forkPullImages?: readonly string[];
}

export class BuildCluster extends Construct {
  readonly cluster: ecs.Cluster;
  /**
   * Pulls images, writes logs, resolves the task definition's `secrets` (SSM under the prefix,
   * the clone tokens): the trusted builds' alone. What forks need too (logs, clone tokens, ECR's
   * login, the agent) is granted to forkExecutionRole by statements of its own, so that nothing
   * granted to this role (addToPolicy, grant*, a policy attached to it) reaches a fork's task;
   * its pulls are in trustedPulls, its repository secrets in trustedSecrets.
   */
  readonly executionRole: iam.Role;
  /** The pulls of trusted builds only: pullRepositories (default every repository), every cache prefix, the SOCI copies. */
  readonly trustedPulls: iam.Policy;
  /**
   * The repository secrets of trusted builds only (SSM and Secrets Manager under secretsPrefix):
   * a fork's pull request gets none (the compiler leaves them out), and its role could not
   * resolve one either.
   */
  readonly trustedSecrets: iam.Policy;
  /**
   * The execution role of a fork's pull request (the autoscaler puts it in RunTask's overrides):
   * one policy of its own, shared with no other role: logs, clone tokens and ECR's login as the
   * build tasks (grantBuildTasks), pulls from an allow-list (grantForkPulls), and an explicit
   * Deny on the refused cache prefixes (forkRefusedCachePrefixes) as a second guard.
   */
  readonly forkExecutionRole: iam.Role;
  /** The build containers' own identity: no permission at all unless an administrator adds some. */
  readonly taskRole: iam.Role;
  /**
   * The containers' identity in a fork's pull request (the autoscaler puts it in RunTask's
   * overrides, TaskOverride.taskRoleArn): no permission, and none of what taskRole is given, as
   * every container of a task gets the task role's credentials and a fork's author writes its steps.
   */
  readonly forkTaskRole: iam.Role;
  readonly logGroup: logs.LogGroup;
  /** The agent images, as the compiler must write them into task definitions (one per architecture, or one for all). */
  readonly agentImages: AgentImages;
  /** The ECR repositories the agent images built here are pushed to (none when given by URI). */
  readonly agentRepositories: ecr.IRepository[] = [];
  /** Per-repository build roles that may push images, and their layer caches. */
  readonly imageBuilds: ImageBuilds;

  constructor(scope: Construct, id: string, props: BuildClusterProps) {
    super(scope, id);
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      enableFargateCapacityProviders: true,
    });
    Validations.of(this.cluster).acknowledge({
      id: 'AwsSolutions-ECS4',
      reason: 'Container Insights bills per metric every month, including idle ones; Slipway keeps the idle cost at zero and records build metrics itself.',
    });

    this.logGroup = new logs.LogGroup(this, 'BuildLogs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });

    const tasksPrincipal = new iam.ServicePrincipal('ecs-tasks.amazonaws.com', {
      // Only ECS tasks of this account may assume the roles (confused-deputy guard).
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
    });
    this.executionRole = new iam.Role(this, 'TaskExecutionRole', {
      assumedBy: tasksPrincipal,
      description: 'Slipway build tasks: pull images, write build logs, read repository secrets',
    });
    this.forkExecutionRole = new iam.Role(this, 'ForkExecutionRole', {
      assumedBy: tasksPrincipal,
      description: "Slipway build tasks of forks' pull requests: logs and clone tokens as the build tasks, no repository secrets, pulls of public images' caches and the listed repositories only",
    });
    this.trustedPulls = new iam.Policy(this, 'TaskExecutionRolePulls', { roles: [this.executionRole] });
    this.trustedSecrets = new iam.Policy(this, 'TaskExecutionRoleSecrets', { roles: [this.executionRole] });
    this.taskRole = new iam.Role(this, 'BuildTaskRole', {
      assumedBy: tasksPrincipal,
      description: 'Slipway build containers: no permissions by default',
    });
    this.forkTaskRole = new iam.Role(this, 'ForkTaskRole', {
      assumedBy: tasksPrincipal,
      description: "Slipway build containers of forks' pull requests: no permissions",
    });

    this.logGroup.grantWrite(this.executionRole);
    this.logGroup.grantWrite(this.forkExecutionRole);
    this.grantSecretsRead(props);
    if (props.cloneTokensPrefix) this.grantAppCloneTokensRead(props.cloneTokensPrefix, props.allowedRepositories);
    this.agentImages = this.agentImage(props.agentImage);
    this.grantImagePulls(props);
    this.imageBuilds = new ImageBuilds(this, 'ImageBuilds', { pushRepositories: props.imagePushRepositories ?? {}, removalPolicy: props.removalPolicy });
    this.grantForkPulls(props);
  }

  /**
   * A right every build task's execution role needs, a fork's too: a fresh statement in each
   * role's own policy, never one policy or statement object shared by both (a statement is
   * mutable, a policy takes further statements), so that a grant to executionRole stays there.
   */
  private grantBuildTasks(statement: () => iam.PolicyStatement): void {
    this.executionRole.addToPolicy(statement());
    this.forkExecutionRole.addToPolicy(statement());
  }

  /** Acknowledges a wildcard of a grantBuildTasks statement on both roles' policies. */
  private acknowledgeBuildTasksWildcard(resource: string, reason: string): void {
    for (const role of [this.executionRole, this.forkExecutionRole]) {
      const policy = role.node.tryFindChild('DefaultPolicy');
      if (!policy) throw new Error(`SLIPWAY-CDK: ${role.node.path} has no default policy`);
      acknowledgeWildcardResource(policy, resource, reason);
    }
  }

  /**
   * A fork's pulls, an allow-list of its own, as Drone gives a fork's pull request no pull
   * secrets (drone/drone plugin/registry/static.go skips a pull secret for a pull_request build
   * unless the secret allows pull requests): the agent (its asset repository, granted with the
   * asset in agentImage, or its repository when given by URI), the image builder when in ECR, the
   * cache rules without credentials (a first pull creates the repository and imports the image:
   * https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html) and their
   * SOCI-enabled copies, and the operator's forkPullRepositories. ECR grants pulls per repository:
   * its only resource type is the repository, its only condition key of its own the repository's
   * tags (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html),
   * so no policy can narrow a pull to one tag or digest; the compiler refuses, in the agent's and
   * the builder's repositories, every image but theirs (core/pipeline/fork-pulls.ts), and the
   * rest of the account (lambdas/planner/compile-options.ts forkPullsOf mirrors this list). Then
   * a Deny, which no Allow overrides (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html),
   * on the refused prefixes' repositories and their SOCI-enabled copies: through a credentialed
   * rule ECR fetches with the deployment's token whatever the image names, so they stay closed
   * whatever forkPullRepositories says.
   */
  private grantForkPulls(props: BuildClusterProps): void {
    const stack = Stack.of(this);
    const trim = (p: string) => p.replace(/^\/+|\/+$/g, '');
    const repository = (name: string) => stack.formatArn({ service: 'ecr', resource: 'repository', resourceName: name });
    const pattern = (name: string) => `arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/${name}`;
    const acknowledged: string[] = [];

    const cachePrefixes = [...new Set((props.forkCachePrefixes ?? []).map(trim))];
    if (cachePrefixes.length > 0) {
      this.forkExecutionRole.addToPolicy(new iam.PolicyStatement({ sid: 'ForkPullThroughCache', actions: [...ECR_CACHE_ACTIONS], resources: cachePrefixes.map((p) => repository(`${p}/*`)) }));
      acknowledged.push(...cachePrefixes.map((p) => pattern(`${p}/*`)));
    }
    // Repositories named by images the stack chose (an agent given by URI, the image builder):
    // in whichever account and Region the reference names.
    const ownImages = [...Object.values(this.agentImages.byArch), this.agentImages.anyArch, ...(props.forkPullImages ?? [])]
      .filter((image): image is string => image !== undefined && !Token.isUnresolved(image))
      .map((image) => ecrImageOf(image))
      .filter((ecr) => ecr !== undefined)
      .map((ecr) => stack.formatArn({ service: 'ecr', resource: 'repository', resourceName: ecr.repository, account: ecr.accountId, region: ecr.region }));
    const names = [...cachePrefixes.map((p) => `${SOCI_REPOSITORY_PREFIX}/${p}/*`), ...(props.forkPullRepositories ?? []).map(trim)];
    const pulls = [...new Set(ownImages)].concat([...new Set(names)].map(repository));
    if (pulls.length > 0) {
      this.forkExecutionRole.addToPolicy(new iam.PolicyStatement({ sid: 'ForkPullImages', actions: [...ECR_PULL_ACTIONS], resources: pulls }));
      acknowledged.push(...names.filter((n) => n.includes('*')).map(pattern));
    }
    const own = this.forkExecutionRole.node.tryFindChild('DefaultPolicy');
    for (const resource of new Set(acknowledged)) {
      acknowledgeWildcardResource(own!, resource, "A fork's pulls: the cache rules without credentials create a repository per upstream image under their prefix, and the operator's forkPullRepositories; nothing else of the account.");
    }

    const refused = [...new Set((props.forkRefusedCachePrefixes ?? []).map(trim))];
    if (refused.length === 0) return;
    this.forkExecutionRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'NoCredentialedPullThroughCache',
        effect: iam.Effect.DENY,
        actions: [...FORK_REFUSED_ECR_ACTIONS],
        resources: refused.flatMap((p) => [`${p}/*`, `${SOCI_REPOSITORY_PREFIX}/${p}/*`]).map(repository),
      }),
    );
  }

  /**
   * Lets trusted builds pull the SOCI-enabled copies the planner names (lib/soci-indexes.ts),
   * whatever pullRepositories limits them to. Forks pull the copies of the rules without
   * credentials only, granted with those rules (grantForkPulls).
   */
  grantSociCopyPulls(): void {
    this.trustedPulls.addStatements(
      new iam.PolicyStatement({
        sid: 'PullSociCopies',
        actions: [...ECR_PULL_ACTIONS],
        resources: [Stack.of(this).formatArn({ service: 'ecr', resource: 'repository', resourceName: `${SOCI_REPOSITORY_PREFIX}/*` })],
      }),
    );
    acknowledgeWildcardResource(
      this.trustedPulls,
      `arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/${SOCI_REPOSITORY_PREFIX}/*`,
      'The converter creates a repository per cached repository under this prefix; build tasks pull the copies the planner names.',
    );
  }

  /**
   * Lets ECS resolve the agent's clone token: a top-level key of this secret
   * (`<arn>:githubCloneToken::`, lambdas/shared/clone-credentials.ts). IAM cannot narrow a
   * grant to one JSON key, so it is this one secret, read only (no DescribeSecret, no
   * versions listing); ECS injects only the key a task definition names, and only the
   * compiler writes task definitions, each naming its repository's own secrets. Forks' tasks
   * clone with it too (the agent alone reads it, never a step): both execution roles.
   */
  grantCloneTokenRead(secret: secretsmanager.ISecret): void {
    this.grantBuildTasks(() => new iam.PolicyStatement({ sid: 'CloneTokens', actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }));
    // A customer managed key: decrypt it only on behalf of Secrets Manager (the AWS managed
    // key needs no grant).
    const key = secret.encryptionKey;
    if (key) {
      this.grantBuildTasks(
        () =>
          new iam.PolicyStatement({
            sid: 'DecryptCloneTokens',
            actions: ['kms:Decrypt'],
            resources: [key.keyArn],
            conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
          }),
      );
    }
  }

  /**
   * Lets ECS resolve a GitHub App clone token (lambdas/shared/clone-tokens.ts): the SSM
   * parameters under `<prefix>/github/` (only the allowed repositories' when there is a list),
   * ssm:GetParameters alone, as ECS reads secrets
   * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-ssm-paramstore.html).
   * They are SecureStrings of the aws/ssm key, which needs no kms grant; a customer key would
   * be covered by DecryptSecretsViaSsm (kms:Decrypt through SSM only).
   */
  private grantAppCloneTokensRead(cloneTokensPrefix: string, allowedRepositories: readonly string[]): void {
    const stack = Stack.of(this);
    const base = `${cloneTokensPrefix.replace(/^\/+|\/+$/g, '')}/github`;
    const paths = allowedRepositories.length > 0 ? allowedRepositories.map((repo) => `${base}/${repo}`) : [`${base}/*`];
    this.grantBuildTasks(
      () =>
        new iam.PolicyStatement({
          sid: 'AppCloneTokens',
          actions: ['ssm:GetParameters'],
          resources: paths.map((path) => stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: path, arnFormat: ArnFormat.SLASH_RESOURCE_NAME })),
        }),
    );
    if (allowedRepositories.length === 0) {
      this.acknowledgeBuildTasksWildcard(
        `arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/${base}/*`,
        'One clone token parameter per repository, created when its first build starts; the compiler names only the repository\'s own in its task definition.',
      );
    }
  }

  private grantSecretsRead(props: BuildClusterProps): void {
    const stack = Stack.of(this);
    const prefix = props.secretsPrefix.replace(/^\/+|\/+$/g, '');
    const paths = props.allowedRepositories.length > 0 ? props.allowedRepositories.map((repo) => `${prefix}/${repo}/*`) : [`${prefix}/*`];
    const parameterArns = paths.map((path) =>
      stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: path, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }),
    );
    this.trustedSecrets.addStatements(new iam.PolicyStatement({ sid: 'RepositorySecrets', actions: ['ssm:GetParameters'], resources: parameterArns }));
    // `kind: secret` documents and image_pull_secrets name Secrets Manager secrets under the
    // same prefix (`/slipway/OWNER/NAME/…`, a name that keeps its leading slash in the ARN);
    // the trailing `*` covers the `-XXXXXX` suffix Secrets Manager adds to every secret ARN.
    const secretArns = paths.map((path) =>
      stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `/${path}`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    );
    this.trustedSecrets.addStatements(new iam.PolicyStatement({ sid: 'RepositorySecretsManagerSecrets', actions: ['secretsmanager:GetSecretValue'], resources: secretArns }));
    // SecureString parameters and secrets are encrypted with a KMS key whose id is not known
    // here (aws/ssm, aws/secretsmanager or the user's own): allow decrypting only on behalf of
    // SSM and Secrets Manager in this region. Forks' tasks too: their clone token may need it.
    this.grantBuildTasks(
      () =>
        new iam.PolicyStatement({
          sid: 'DecryptSecretsViaSsm',
          actions: ['kms:Decrypt'],
          resources: [stack.formatArn({ service: 'kms', resource: 'key', resourceName: '*' })],
          conditions: { StringEquals: { 'kms:ViaService': [`ssm.${stack.region}.amazonaws.com`, `secretsmanager.${stack.region}.amazonaws.com`] } },
        }),
    );
    for (const path of paths) {
      acknowledgeWildcardResource(
        this.trustedSecrets,
        `arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/${path}`,
        'Build secrets are one SSM parameter per repository and name under this prefix; the set is open by design.',
      );
      acknowledgeWildcardResource(
        this.trustedSecrets,
        `arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:/${path}`,
        'Secrets Manager secrets of kind: secret documents and image_pull_secrets, under the repository prefix; the compiler lets a pipeline name only its own repository\'s.',
      );
    }
    this.acknowledgeBuildTasksWildcard(
      'arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*',
      'The SecureString or secret key is chosen by whoever writes it; kms:ViaService restricts use to SSM and Secrets Manager reads.',
    );
  }

  private agentImage(source: AgentImageSource): AgentImages {
    if ('uri' in source) return { byArch: {}, anyArch: source.uri };
    if ('uris' in source) {
      if (Object.keys(source.uris).length === 0) throw new Error('SLIPWAY-CDK: agentImage.uris is empty; give the image of amd64, arm64 or both');
      return { byArch: { ...source.uris } };
    }
    const file = source.file ?? 'Dockerfile';
    if (!existsSync(join(source.directory, file))) {
      throw new Error(
        `SLIPWAY-CDK: agent image: ${join(source.directory, file)} does not exist; ` +
          'expected the task-runner Dockerfile there, or give agentImage: { uri } for an image built elsewhere',
      );
    }
    const platforms = source.platforms ?? AGENT_ARCHES;
    if (platforms.length === 0) throw new Error('SLIPWAY-CDK: agentImage.platforms is empty; expected amd64, arm64 or both');
    const byArch: Partial<Record<AgentArch, string>> = {};
    for (const arch of new Set(platforms)) {
      // Synth only fingerprints the directory; Docker builds and pushes the image at deploy
      // (`docker build --platform linux/<arch>`).
      const asset = new ecrAssets.DockerImageAsset(this, arch === 'amd64' ? 'AgentImage' : `AgentImage${arch.toUpperCase()}`, {
        directory: source.directory,
        file,
        exclude: source.exclude,
        platform: arch === 'arm64' ? ecrAssets.Platform.LINUX_ARM64 : ecrAssets.Platform.LINUX_AMD64,
      });
      // Always pullable, whatever pullRepositories says, by forks too (the one image of this
      // repository they may name: grantForkPulls).
      asset.repository.grantPull(this.executionRole);
      asset.repository.grantPull(this.forkExecutionRole);
      this.agentRepositories.push(asset.repository);
      byArch[arch] = asset.imageUri;
    }
    return { byArch };
  }

  /**
   * Image pulls with the execution role: ECR's token (no resource-level permission; the fork
   * execution role gets its own statement of it), then, for trusted builds only (trustedPulls), the layers of the allowed
   * repositories (default: every repository of this account and
   * region, the agent's asset repository among them), and, with a pull-through cache, the
   * creation of the cached repository and the import of the upstream image
   * (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html).
   * Images outside ECR need no IAM: a public one is pulled anonymously, a private one with
   * repositoryCredentials (image_pull_secrets, see grantPullCredentialsRead).
   */
  private grantImagePulls(props: BuildClusterProps): void {
    const stack = Stack.of(this);
    // The ARN and how cdk-nag prints it.
    const repository = (name: string) => ({
      arn: stack.formatArn({ service: 'ecr', resource: 'repository', resourceName: name }),
      pattern: `arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/${name}`,
    });
    const configured = (props.pullRepositories ?? []).map((arn) => ({ arn, pattern: arn }));
    const pullFrom = configured.length > 0 ? configured : [repository('*')];
    this.grantBuildTasks(() => new iam.PolicyStatement({ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    // Forks pull from their own allow-list (grantForkPulls): these are the trusted builds'.
    this.trustedPulls.addStatements(new iam.PolicyStatement({ sid: 'PullImages', actions: [...ECR_PULL_ACTIONS], resources: pullFrom.map((r) => r.arn) }));
    const prefixes = (props.pullThroughCachePrefixes ?? []).map((p) => p.replace(/^\/+|\/+$/g, ''));
    const cached = prefixes.map((p) => repository(`${p}/*`));
    if (cached.length > 0) {
      this.trustedPulls.addStatements(new iam.PolicyStatement({ sid: 'PullThroughCache', actions: [...ECR_CACHE_ACTIONS], resources: cached.map((r) => r.arn) }));
    }
    this.acknowledgeBuildTasksWildcard('*', 'ecr:GetAuthorizationToken has no resource-level permission; what may be pulled is limited per repository.');
    for (const r of [...pullFrom, ...cached]) {
      if (!r.pattern.includes('*')) continue;
      acknowledgeWildcardResource(this.trustedPulls, r.pattern, 'Build images are chosen by each pipeline; pulls are limited to the configured ECR repositories (default: this account and region) and pull-through cache prefixes.');
    }
  }
}
