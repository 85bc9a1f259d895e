// The five Lambdas of the control plane: each with its own role and log group, made here;
// what triggers each, what each may do (least privilege) and the environment each reads in
// lib/functions/<name>.ts (variable names: core/config/lambda-env.ts, shared with the
// handlers' wiring).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, type RemovalPolicy, SecretValue, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { BuildCluster } from './build-cluster.js';
import type { PriceOverride } from '../core/cost/price-table.js';
import { LAMBDA_ARCHITECTURE, LAMBDA_HANDLER, LAMBDA_RUNTIME, bundledCode } from './bundling.js';
import { ENV, LAMBDA_NAMES, type LambdaName } from '../core/config/lambda-env.js';
import { configureApi } from './functions/api.js';
import { configureAutoscaler } from './functions/autoscaler.js';
import type { FunctionContext } from './functions/context.js';
import { PLANNER_TIMEOUT, configurePlanner } from './functions/planner.js';
import { configurePrices } from './functions/prices.js';
import { configureTaskEvents } from './functions/task-events.js';
import { configureWebhook } from './functions/webhook.js';
import { configureKeepWarm } from './functions/keep-warm.js';
import type { Network } from './network.js';
import type { Queues } from './queues.js';
import type { SnapshotBucket } from './snapshot-bucket.js';
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
  /** Where the autoscaler writes GitHub App clone tokens (lambdas/shared/clone-tokens.ts). */
  readonly cloneTokensPrefix: string;
  readonly allowedRepositories: readonly string[];
  readonly metricsNamespace: string;
  /** The image builder image (kaniko); unset: the compiler's pinned default. */
  readonly imageBuilder?: string | undefined;
  /** Prices that win over the defaults and the Price List refresh (core/cost/price-table.ts). */
  readonly prices?: PriceOverride | undefined;
  /** The stack's pull-through cache rules: registry domain → repository prefix (lib/pull-through-cache.ts). */
  readonly pullThroughCacheRules?: Readonly<Record<string, string>>;
  /** `owner/name` repositories whose builds pull images as written. */
  readonly pullThroughCacheOptOut?: readonly string[];
  /** Further ECR repository names a fork's pull request may pull (settings forkPullRepositories). */
  readonly forkPullRepositories?: readonly string[];
  /** Ping the webhook and the planner every few minutes (lib/functions/keep-warm.ts); off when unset. */
  readonly keepWarm?: boolean;
}

export interface ControlPlaneFunctionsProps {
  readonly entries: Record<LambdaName, string>;
  readonly table: BuildTable;
  readonly queues: Queues;
  readonly network: Network;
  readonly buildCluster: BuildCluster;
  /** Split pipelines' workspace snapshots: the autoscaler signs their URLs. */
  readonly snapshots: SnapshotBucket;
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

export { PLANNER_TIMEOUT };

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
  // Six services' products for one Region, a page of 100 at a time: well under a minute.
  prices: { timeout: Duration.minutes(2), memorySize: 256, description: 'Slipway: refreshes the price table from the AWS Price List, daily' },
};

/** A function's memory in MiB, as deployed (the keepWarm cost figures read it: bench/lib/keep-warm-cost.ts). */
export function memorySizeOf(name: LambdaName): number {
  return SPECS[name].memorySize;
}

export class ControlPlaneFunctions extends Construct {
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

    // Each function's environment, rights, trigger and acknowledgements: lib/functions/<name>.ts.
    const context: FunctionContext = {
      scope: this,
      functions: this.functions,
      table: props.table,
      queues: props.queues,
      network: props.network,
      buildCluster: props.buildCluster,
      snapshots: props.snapshots,
      settings: props.settings,
      apiTokenSecret: this.apiTokenSecret,
      scmCredentialsSecret: this.scmCredentialsSecret,
    };
    configureWebhook(context);
    configurePlanner(context);
    configureAutoscaler(context);
    configureTaskEvents(context);
    configureApi(context);
    configurePrices(context);
    configureKeepWarm(context);

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
      // Powertools for AWS Lambda (lambdas/shared/observability): one service, `slipway`, for the
      // logs and metrics of every function (the `source` key tells them apart), and the metrics'
      // namespace for those that count something (the webhook and the price refresh count nothing).
      environment: {
        [ENV.powertoolsServiceName]: 'slipway',
        ...(name === 'webhook' || name === 'prices' ? {} : { [ENV.powertoolsMetricsNamespace]: this.props.settings.metricsNamespace }),
      },
      reservedConcurrentExecutions:
        name === 'autoscaler' && this.props.autoscalerReservedConcurrency !== false ? this.props.autoscalerReservedConcurrency : undefined,
      // EventBridge invokes task-events asynchronously: an event that still fails after
      // Lambda's two retries is parked in an alarmed queue instead of being dropped.
      ...(name === 'task-events' ? { deadLetterQueue: this.props.queues.taskEventsFailed.queue } : {}),
    });
    return fn;
  }
}

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, _dash: string, c: string) => c.toUpperCase());
}
