// The five Lambdas of the control plane, what triggers each, what each may do (least
// privilege, one role per function) and the environment each reads (names and which
// function reads which: core/config/lambda-env.ts, shared with the handlers' wiring).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, SecretValue, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { type BuildCluster, TASK_FAMILY_PREFIX } from './build-cluster.js';
import { LAMBDA_ARCHITECTURE, LAMBDA_HANDLER, LAMBDA_RUNTIME, bundledCode } from './bundling.js';
import { acknowledgeWildcardResource, nagRef } from './nag.js';
import { ENV, LAMBDA_NAMES, type EnvName, type LambdaName } from '../core/config/lambda-env.js';
import type { Network } from './network.js';
import type { Queues } from './queues.js';
import type { BuildTable } from './table.js';

export { LAMBDA_NAMES, type LambdaName };

/** lambdas/<name>/handler.ts under the project root, each exporting `handler`. */
export function defaultEntries(projectRoot: string): Record<LambdaName, string> {
  return Object.fromEntries(LAMBDA_NAMES.map((name) => [name, join(projectRoot, 'lambdas', name, 'handler.ts')])) as Record<
    LambdaName,
    string
  >;
}

/** What the autoscaler and the planner need to know about capacity (see lambdas/shared config). */
export interface BuildSettings {
  readonly maxConcurrentBuilds: number;
  readonly vcpuQuota: number;
  readonly useSpot: boolean;
  readonly defaultCpu: number;
  readonly defaultMemory: number;
  readonly secretsPrefix: string;
  readonly webhookSecretsPrefix: string;
  readonly allowedRepositories: readonly string[];
}

export interface ControlPlaneFunctionsProps {
  readonly entries: Record<LambdaName, string>;
  readonly table: BuildTable;
  readonly queues: Queues;
  readonly network: Network;
  readonly buildCluster: BuildCluster;
  readonly settings: BuildSettings;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /**
   * Reserved concurrency of the autoscaler: 1 so that two passes never race over the same
   * queue and quota. `false` leaves it unreserved, for accounts whose total Lambda
   * concurrency quota is 10 (AWS refuses any reservation there).
   */
  readonly autoscalerReservedConcurrency: number | false;
}

/** The events queue's visibility timeout derives from it. */
export const PLANNER_TIMEOUT = Duration.seconds(60);

interface FunctionSpec {
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly description: string;
}

const SPECS: Record<LambdaName, FunctionSpec> = {
  // More memory means more CPU: the webhook answers the Git host, so it is tuned for latency.
  webhook: { timeout: Duration.seconds(10), memorySize: 512, description: 'Slipway: verifies and records Git host webhooks' },
  planner: { timeout: PLANNER_TIMEOUT, memorySize: 512, description: 'Slipway: turns a push into a build and its stages' },
  autoscaler: { timeout: Duration.seconds(60), memorySize: 256, description: 'Slipway: starts queued stages as ECS tasks, reconciles' },
  'task-events': { timeout: Duration.seconds(30), memorySize: 256, description: 'Slipway: records ECS task state changes' },
  api: { timeout: Duration.seconds(15), memorySize: 512, description: 'Slipway: builds API for the CLI and the dashboard' },
};

const DDB_READ = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'];
// Transactions are authorized through these per-item actions.
const DDB_WRITE = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];

export class ControlPlaneFunctions extends Construct {
  private plannerSecretPaths: string[] = [];
  readonly functions: Record<LambdaName, lambda.Function>;
  readonly webhookUrl: lambda.FunctionUrl;
  readonly apiUrl: lambda.FunctionUrl;
  /** Generated at deploy; the bearer token of the builds API. */
  readonly apiTokenSecret: secretsmanager.Secret;
  /** Git host tokens, JSON `{"github":{"token","apiUrl"},…,"githubCloneToken":"…"}`, written by the operator. */
  readonly scmCredentialsSecret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, private readonly props: ControlPlaneFunctionsProps) {
    super(scope, id);
    for (const name of LAMBDA_NAMES) {
      if (!existsSync(props.entries[name])) {
        throw new Error(
          `SLIPWAY-CDK: the ${name} Lambda's entry ${props.entries[name]} does not exist; expected a module exporting \`handler\``,
        );
      }
    }

    this.apiTokenSecret = new secretsmanager.Secret(this, 'ApiToken', {
      description: 'Slipway: bearer token of the builds API (Authorization: Bearer <token>)',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    this.scmCredentialsSecret = new secretsmanager.Secret(this, 'ScmCredentials', {
      description: 'Slipway: Git host tokens, JSON {"github":{"token","apiUrl"},"gitea":{…},"gitlab":{…},"githubCloneToken":"…","registries":{"docker.io":{"username","password"}}}',
      // Starts as an empty object: it holds nothing secret until the operator writes the tokens.
      secretStringValue: SecretValue.unsafePlainText('{}'),
    });
    for (const secret of [this.apiTokenSecret, this.scmCredentialsSecret]) {
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'Each value is shared with a party outside AWS (Git host, CLI users); rotation is a documented manual step (the README, "Deploy to AWS").',
      });
    }

    this.functions = Object.fromEntries(LAMBDA_NAMES.map((name) => [name, this.createFunction(name)])) as Record<
      LambdaName,
      lambda.Function
    >;

    this.setEnvironment();
    this.grantPermissions();
    this.wireTriggers();

    // Function URLs cost nothing while idle and add no hop; the webhook's authentication is
    // the Git host's HMAC signature (checked in constant time before anything is read), the
    // API's is the bearer token. An HTTP API would add per-request cost and the same 6 MB
    // Lambda payload limit (GitHub caps payloads at 25 MB; larger pushes are not delivered
    // to any endpoint), so it brings nothing here.
    this.webhookUrl = this.functions.webhook.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    this.apiUrl = this.functions.api.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    // `slipway repo add` answers with the URL to paste (the Git host's name is appended).
    this.functions.api.addEnvironment(ENV.webhookUrl, `${this.webhookUrl.url}hooks`);
  }

  /** The dashboard's address, for links in the commit statuses the planner posts. */
  setPublicUrl(url: string): void {
    this.functions.planner.addEnvironment(ENV.publicUrl, url);
  }

  private createFunction(name: LambdaName): lambda.Function {
    const spec = SPECS[name];
    const id = pascal(name);
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      retention: this.props.logRetention,
      removalPolicy: this.props.removalPolicy,
    });
    // Own role per function instead of AWSLambdaBasicExecutionRole: it may write only its own logs.
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Slipway ${name} Lambda`,
    });
    logGroup.grantWrite(role);
    const fn = new lambda.Function(this, id, {
      code: bundledCode(name, this.props.entries[name]),
      handler: LAMBDA_HANDLER,
      runtime: LAMBDA_RUNTIME,
      architecture: LAMBDA_ARCHITECTURE,
      memorySize: spec.memorySize,
      timeout: spec.timeout,
      description: spec.description,
      role,
      logGroup,
      reservedConcurrentExecutions:
        name === 'autoscaler' && this.props.autoscalerReservedConcurrency !== false ? this.props.autoscalerReservedConcurrency : undefined,
      // EventBridge invokes task-events asynchronously: an event that still fails after
      // Lambda's two retries is parked in an alarmed queue instead of being dropped.
      ...(name === 'task-events' ? { deadLetterQueue: this.props.queues.taskEventsFailed.queue } : {}),
    });
    return fn;
  }

  private setEnvironment(): void {
    const { table, queues, network, buildCluster, settings } = this.props;
    const stack = Stack.of(this);
    const f = this.functions;
    type Vars = Partial<Record<EnvName, string>>;
    const env = (name: LambdaName, vars: Vars) => {
      for (const [key, value] of Object.entries(vars)) f[name].addEnvironment(key, value);
    };
    const tableName: Vars = { [ENV.tableName]: table.table.tableName };
    const ecsPlacement: Vars = {
      [ENV.cluster]: buildCluster.cluster.clusterArn,
      [ENV.subnetIds]: network.subnets.map((s) => s.subnetId).join(','),
      [ENV.securityGroupIds]: network.buildSecurityGroup.securityGroupId,
      [ENV.assignPublicIp]: network.assignPublicIp,
    };
    const taskRoles: Vars = {
      [ENV.taskExecutionRoleArn]: buildCluster.executionRole.roleArn,
      [ENV.taskRoleArn]: buildCluster.taskRole.roleArn,
    };
    const compile: Vars = {
      ...taskRoles,
      [ENV.buildLogGroup]: buildCluster.logGroup.logGroupName,
      // lambdas/planner/compile-options.ts: one image per architecture, or one multi-arch image.
      ...(buildCluster.agentImages.byArch.amd64 ? { [ENV.agentImageAmd64]: buildCluster.agentImages.byArch.amd64 } : {}),
      ...(buildCluster.agentImages.byArch.arm64 ? { [ENV.agentImageArm64]: buildCluster.agentImages.byArch.arm64 } : {}),
      ...(buildCluster.agentImages.anyArch ? { [ENV.agentImage]: buildCluster.agentImages.anyArch } : {}),
      // Secret references are full ARNs of this account and partition (never assumed `aws`).
      [ENV.accountId]: stack.account,
      [ENV.partition]: stack.partition,
      [ENV.secretsPrefix]: settings.secretsPrefix,
      [ENV.defaultCpu]: String(settings.defaultCpu),
      [ENV.defaultMemory]: String(settings.defaultMemory),
    };
    const allowed: Vars = settings.allowedRepositories.length > 0 ? { [ENV.allowedRepositories]: settings.allowedRepositories.join(',') } : {};

    const webhookSecrets: Vars = { [ENV.webhookSecretsPrefix]: settings.webhookSecretsPrefix };
    env('webhook', { ...tableName, [ENV.eventsQueueUrl]: queues.events.queue.queueUrl, ...webhookSecrets, ...allowed });
    env('planner', {
      ...tableName,
      [ENV.jobsQueueUrl]: queues.jobs.queue.queueUrl,
      [ENV.scmCredentialsSecretArn]: this.scmCredentialsSecret.secretArn,
      [ENV.autoscalerFunctionName]: f.autoscaler.functionName,
      // Secrets that do not exist are left out of task definitions (lambdas/planner/secret-check.ts).
      [ENV.secretsCheck]: 'aws',
      ...compile,
      ...allowed,
    });
    env('autoscaler', {
      ...tableName,
      [ENV.jobsQueueUrl]: queues.jobs.queue.queueUrl,
      // An undecodable job is parked here at once, not after maxReceiveCount failed passes.
      [ENV.jobsDeadLetterQueueUrl]: queues.jobs.deadLetterQueue.queueUrl,
      ...ecsPlacement,
      // Task definitions are registered with the build roles where the stored definition names none.
      ...taskRoles,
      // The size of a stage that names none, for the vCPU quota.
      [ENV.defaultCpu]: String(settings.defaultCpu),
      // Its reconciling pass fails lost stages: their build's final commit status goes to the
      // planner through the events queue (retried, then dead-lettered).
      [ENV.eventsQueueUrl]: queues.events.queue.queueUrl,
      [ENV.maxConcurrentBuilds]: String(settings.maxConcurrentBuilds),
      [ENV.vcpuQuota]: String(settings.vcpuQuota),
      [ENV.useSpot]: String(settings.useSpot),
    });
    env('task-events', {
      ...tableName,
      [ENV.jobsQueueUrl]: queues.jobs.queue.queueUrl,
      // A finished build's commit status goes to the planner, which posts it (retried, then dead-lettered).
      [ENV.eventsQueueUrl]: queues.events.queue.queueUrl,
      // Nudged when a stage's end makes dependent stages ready.
      [ENV.autoscalerFunctionName]: f.autoscaler.functionName,
      // A stage the agent ended gets the agent's own message from its result line.
      [ENV.buildLogGroup]: buildCluster.logGroup.logGroupName,
    });
    env('api', {
      ...tableName,
      // Restarting a build goes through the planner, like a webhook.
      [ENV.eventsQueueUrl]: queues.events.queue.queueUrl,
      [ENV.cluster]: buildCluster.cluster.clusterArn,
      [ENV.buildLogGroup]: buildCluster.logGroup.logGroupName,
      [ENV.apiTokenSecretArn]: this.apiTokenSecret.secretArn,
      // Activation writes each repository's webhook secret there (and may not read it).
      ...webhookSecrets,
    });
  }

  private grantPermissions(): void {
    const { table, queues, buildCluster } = this.props;
    const f = this.functions;
    const stack = Stack.of(this);
    const t = table.table;

    t.grant(f.webhook, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem');
    for (const name of ['planner', 'autoscaler', 'task-events', 'api'] as const) t.grant(f[name], ...DDB_READ, ...DDB_WRITE);
    // Repositories are listed by a filtered Scan (no access pattern of the flow needs an index).
    t.grant(f.api, 'dynamodb:Scan');

    queues.events.queue.grantSendMessages(f.webhook);
    queues.jobs.queue.grantSendMessages(f.planner);
    queues.jobs.queue.grantSendMessages(f['task-events']);
    queues.events.queue.grantSendMessages(f.api);
    queues.events.queue.grantSendMessages(f['task-events']);
    queues.events.queue.grantSendMessages(f.autoscaler);
    // The autoscaler reads the jobs queue itself (no event source mapping) and deletes what
    // it read: the stages wait in the table.
    queues.jobs.queue.grantConsumeMessages(f.autoscaler);
    // …and queues the dependents of a stage it ends (afterStageEnd).
    queues.jobs.queue.grantSendMessages(f.autoscaler);
    queues.jobs.deadLetterQueue.grantSendMessages(f.autoscaler);

    // Each repository's webhook secret: the webhook reads it, the API writes and deletes it
    // (activation, rotation, removal) and can never read it back, no other role touches the
    // prefix (build tasks read only under secretsPrefix, which may not overlap it: config.ts).
    // SecureStrings use the account's aws/ssm key, whose policy lets principals of the account
    // use it through SSM, so ssm:GetParameter on this prefix is the control
    // (https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-restrict-decryption.html).
    const hookParameters = this.webhookSecretsArn();
    f.webhook.role!.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadWebhookSecrets', actions: ['ssm:GetParameter'], resources: [hookParameters] }));
    f.api.role!.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'WriteWebhookSecrets', actions: ['ssm:PutParameter', 'ssm:DeleteParameter'], resources: [hookParameters] }),
    );
    this.scmCredentialsSecret.grantRead(f.planner);
    this.apiTokenSecret.grantRead(f.api);
    // Build agents of private repositories clone with a top-level key of it (the planner
    // writes the reference into their task definitions).
    buildCluster.grantCloneTokenRead(this.scmCredentialsSecret);

    // The nudge: an asynchronous invoke of the unqualified function (grantInvoke would also
    // allow every version and alias, `<arn>:*`).
    for (const name of ['planner', 'task-events'] as const) {
      f[name].role!.addToPrincipalPolicy(
        new iam.PolicyStatement({ sid: 'NudgeAutoscaler', actions: ['lambda:InvokeFunction'], resources: [f.autoscaler.functionArn] }),
      );
    }

    // The planner reads plugin images' ENTRYPOINT/CMD, private ECR ones with a token from ECR.
    // Any account's repository may grant this role by its repository policy, so the
    // repositories are not limited to this account or region.
    const planner = f.planner.role!;
    planner.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    planner.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'EcrReadImageConfigs',
        actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        resources: [`arn:${stack.partition}:ecr:*:*:repository/*`],
      }),
    );

    // Before a build, the planner checks that the secrets its task definitions name exist
    // (ECS stops the whole task on one missing secret), reading metadata, never a value:
    // ssm:DescribeParameters has no resource-level permission; DescribeSecret is limited to
    // the repository secrets' prefix.
    const secretsPrefix = this.props.settings.secretsPrefix.replace(/^\/+|\/+$/g, '');
    const secretPaths = this.props.settings.allowedRepositories.length > 0 ? this.props.settings.allowedRepositories.map((r) => `${secretsPrefix}/${r}/*`) : [`${secretsPrefix}/*`];
    planner.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'SecretsExist', actions: ['ssm:DescribeParameters'], resources: ['*'] }));
    planner.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SecretsManagerSecretsExist',
        actions: ['secretsmanager:DescribeSecret'],
        resources: secretPaths.map((path) => stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `/${path}`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })),
      }),
    );
    this.plannerSecretPaths = secretPaths;

    const cluster = buildCluster.cluster;
    const taskArns = stack.formatArn({ service: 'ecs', resource: 'task', resourceName: `${cluster.clusterName}/*` });
    const familyArns = stack.formatArn({ service: 'ecs', resource: 'task-definition', resourceName: `${TASK_FAMILY_PREFIX}*` });
    const inCluster = { ArnEquals: { 'ecs:cluster': cluster.clusterArn } };
    const autoscaler = f.autoscaler.role!;
    autoscaler.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'RunSlipwayTasks', actions: ['ecs:RunTask'], resources: [familyArns], conditions: inCluster }),
    );
    autoscaler.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WatchSlipwayTasks',
        actions: ['ecs:DescribeTasks', 'ecs:StopTask'],
        resources: [taskArns],
        conditions: inCluster,
      }),
    );
    autoscaler.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'ListSlipwayTasks', actions: ['ecs:ListTasks'], resources: ['*'], conditions: inCluster }),
    );
    // RegisterTaskDefinition and DescribeTaskDefinition support no resource-level permission.
    autoscaler.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RegisterSlipwayTaskDefinitions',
        actions: ['ecs:RegisterTaskDefinition', 'ecs:DescribeTaskDefinition'],
        resources: ['*'],
      }),
    );
    // Tags on RunTask / RegisterTaskDefinition need TagResource at creation time only.
    autoscaler.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TagOnCreate',
        actions: ['ecs:TagResource'],
        resources: [taskArns, familyArns],
        conditions: { StringEquals: { 'ecs:CreateAction': ['RunTask', 'RegisterTaskDefinition'] } },
      }),
    );
    autoscaler.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PassBuildRoles',
        actions: ['iam:PassRole'],
        resources: [buildCluster.executionRole.roleArn, buildCluster.taskRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    );
    // Cancel stops the build's task; step logs are read from the build log group.
    f.api.role!.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'CancelSlipwayTasks', actions: ['ecs:StopTask'], resources: [taskArns], conditions: inCluster }),
    );
    buildCluster.logGroup.grant(f.api, 'logs:GetLogEvents', 'logs:FilterLogEvents', 'logs:DescribeLogStreams');
    // task-events reads the agent's result line (the end of its stream) from the same group.
    buildCluster.logGroup.grant(f['task-events'], 'logs:GetLogEvents', 'logs:FilterLogEvents');

    this.acknowledgeWildcards();
  }

  /** `arn:…:parameter/<webhookSecretsPrefix>/*` */
  private webhookSecretsArn(): string {
    const path = `${this.props.settings.webhookSecretsPrefix.replace(/^\/+|\/+$/g, '')}/*`;
    return Stack.of(this).formatArn({ service: 'ssm', resource: 'parameter', resourceName: path, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
  }

  private wireTriggers(): void {
    const { queues, buildCluster } = this.props;
    const f = this.functions;
    f.planner.addEventSource(
      new SqsEventSource(queues.events.queue, {
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(0),
        reportBatchItemFailures: true,
        // Bounds the planner's concurrency (and its load on the Git host API) without
        // reserving account concurrency.
        maxConcurrency: 5,
      }),
    );
    new events.Rule(this, 'AutoscalerSchedule', {
      description: 'Slipway: the autoscaler pass (start queued stages, reconcile)',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      // A missed pass is replaced by the next one a minute later: no retries pile up.
      targets: [new targets.LambdaFunction(f.autoscaler, { retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
    });
    new events.Rule(this, 'TaskStateChanges', {
      description: 'Slipway: ECS task state changes of the build cluster',
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        // Only this cluster's tasks: other workloads in the account never reach Slipway.
        detail: { clusterArn: [buildCluster.cluster.clusterArn] },
      },
      targets: [new targets.LambdaFunction(f['task-events'], { retryAttempts: 8, maxEventAge: Duration.hours(2) })],
    });
  }

  private acknowledgeWildcards(): void {
    const f = this.functions;
    const cluster = this.props.buildCluster.cluster;
    const tableRef = nagRef(this.props.table.table, 'Arn');
    const taskPattern = `arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/${nagRef(cluster)}/*`;
    const familyPattern = `arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task-definition/${TASK_FAMILY_PREFIX}*`;
    const hookPattern = `arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/${this.props.settings.webhookSecretsPrefix.replace(/^\/+|\/+$/g, '')}/*`;
    for (const name of LAMBDA_NAMES) {
      const policy = f[name].role!.node.tryFindChild('DefaultPolicy');
      if (!policy) throw new Error(`SLIPWAY-CDK: the ${name} role has no default policy`);
      acknowledgeWildcardResource(
        policy,
        `${tableRef}/index/*`,
        'The table has two GSIs (recent builds, active stages) queried by design; the grant covers only this table.',
      );
      if (name === 'autoscaler') {
        acknowledgeWildcardResource(policy, familyPattern, 'Task definition families are content hashes named slipway-<pipeline>-<hash>, created at run time; RunTask is also limited to this cluster.');
        acknowledgeWildcardResource(policy, taskPattern, 'Task ids exist only at run time; the ARN is limited to the build cluster.');
        acknowledgeWildcardResource(policy, '*', 'ecs:RegisterTaskDefinition and ecs:DescribeTaskDefinition have no resource-level permissions; ecs:ListTasks is limited by the ecs:cluster condition.');
      }
      if (name === 'planner') {
        acknowledgeWildcardResource(
          policy,
          '*',
          'ecr:GetAuthorizationToken and ssm:DescribeParameters have no resource-level permission; the first only mints a login, the second reads parameter names and metadata, never values.',
        );
        for (const path of this.plannerSecretPaths) {
          acknowledgeWildcardResource(
            policy,
            `arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:/${path}`,
            'DescribeSecret on the repository secrets\' prefix: the planner checks that a secret exists (metadata only, never its value).',
          );
        }
        acknowledgeWildcardResource(
          policy,
          'arn:<AWS::Partition>:ecr:*:*:repository/*',
          'Plugin images may be in any ECR repository a pipeline names, in any account or region whose repository policy grants this role; reads of image manifests and config blobs only.',
        );
      }
      if (name === 'api') {
        acknowledgeWildcardResource(policy, taskPattern, 'Task ids exist only at run time; the ARN is limited to the build cluster.');
      }
      if (name === 'api' || name === 'webhook') {
        acknowledgeWildcardResource(
          policy,
          hookPattern,
          'One webhook secret per activated repository under this prefix, created at run time by `slipway repo add`; the webhook only reads, the API only writes and deletes.',
        );
      }
    }
  }
}

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, _dash: string, c: string) => c.toUpperCase());
}
