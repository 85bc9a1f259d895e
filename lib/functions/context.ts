// What each function's module (lib/functions/<name>.ts) is given by ControlPlaneFunctions
// (lib/functions.ts): the five functions, the stack's other parts, and the two secrets. Each
// module sets its own function's environment, rights, trigger and cdk-nag acknowledgements,
// in the scope of ControlPlaneFunctions, so that logical ids do not change with the split.
import { ArnFormat, Stack } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { EnvName, LambdaName } from '../../core/config/lambda-env.js';
import type { BuildCluster } from '../build-cluster.js';
import { TASK_FAMILY_PREFIX } from '../build-cluster.js';
import { acknowledgeWildcardResource, nagRef } from '../nag.js';
import type { BuildSettings } from '../functions.js';
import type { Network } from '../network.js';
import type { Queues } from '../queues.js';
import type { SnapshotBucket } from '../snapshot-bucket.js';
import type { BuildTable } from '../table.js';

export interface FunctionContext {
  /** ControlPlaneFunctions: the scope of every resource the modules add. */
  readonly scope: Construct;
  readonly functions: Record<LambdaName, lambda.Function>;
  readonly table: BuildTable;
  readonly queues: Queues;
  readonly network: Network;
  readonly buildCluster: BuildCluster;
  readonly snapshots: SnapshotBucket;
  readonly settings: BuildSettings;
  /** Generated at deploy; the bearer token of the builds API. */
  readonly apiTokenSecret: secretsmanager.Secret;
  /** Git host tokens, written by the operator. */
  readonly scmCredentialsSecret: secretsmanager.Secret;
}

export type EnvVars = Partial<Record<EnvName, string>>;

export function setEnvironment(fn: lambda.Function, vars: EnvVars): void {
  for (const [key, value] of Object.entries(vars)) fn.addEnvironment(key, value);
}

export const DDB_READ = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'];
// Transactions are authorized through these per-item actions.
export const DDB_WRITE = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];

export function roleOf(fn: lambda.Function): iam.IRole {
  if (!fn.role) throw new Error(`SLIPWAY-CDK: the function ${fn.node.path} has no role`);
  return fn.role;
}

/**
 * The GitHub App's webhook secret under the webhook-secrets prefix: host `github`, slug
 * GITHUB_APP_SECRET_SLUG of lambdas/shared/webhook-secret-names.ts (lib imports no runtime code;
 * test/cdk checks the two agree).
 */
export const GITHUB_APP_SECRET_NAME = 'github/_app';

/** `arn:…:parameter/<webhookSecretsPrefix>/<rest>` (`*` by default: everything under it). */
export function webhookSecretsArn(ctx: FunctionContext, rest = '*'): string {
  const path = `${ctx.settings.webhookSecretsPrefix.replace(/^\/+|\/+$/g, '')}/${rest}`;
  return Stack.of(ctx.scope).formatArn({ service: 'ssm', resource: 'parameter', resourceName: path, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
}

/** The build cluster's tasks and Slipway's task definition families, and the condition that keeps an ECS call in the cluster. */
export function buildTasks(ctx: FunctionContext): { taskArns: string; familyArns: string; inCluster: Record<string, unknown> } {
  const stack = Stack.of(ctx.scope);
  const cluster = ctx.buildCluster.cluster;
  return {
    taskArns: stack.formatArn({ service: 'ecs', resource: 'task', resourceName: `${cluster.clusterName}/*` }),
    familyArns: stack.formatArn({ service: 'ecs', resource: 'task-definition', resourceName: `${TASK_FAMILY_PREFIX}*` }),
    inCluster: { ArnEquals: { 'ecs:cluster': cluster.clusterArn } },
  };
}

/** The function's default policy, for cdk-nag acknowledgements. */
export function defaultPolicy(name: LambdaName, fn: lambda.Function): Construct {
  const policy = roleOf(fn).node.tryFindChild('DefaultPolicy');
  if (!policy) throw new Error(`SLIPWAY-CDK: the ${name} role has no default policy`);
  return policy;
}

/** Every role may use the table's two GSIs. */
export function acknowledgeTableIndexes(ctx: FunctionContext, policy: Construct): void {
  acknowledgeWildcardResource(
    policy,
    `${nagRef(ctx.table.table, 'Arn')}/index/*`,
    'The table has two GSIs (recent builds, active stages) queried by design; the grant covers only this table.',
  );
}

export const taskPattern = (ctx: FunctionContext): string => `arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/${nagRef(ctx.buildCluster.cluster)}/*`;

export const hookPattern = (ctx: FunctionContext): string =>
  `arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/${ctx.settings.webhookSecretsPrefix.replace(/^\/+|\/+$/g, '')}/*`;

export function acknowledgeWebhookSecrets(ctx: FunctionContext, policy: Construct, rest = '*'): void {
  acknowledgeWildcardResource(
    policy,
    rest === '*' ? hookPattern(ctx) : `${hookPattern(ctx).slice(0, -1)}${rest}`,
    'One webhook secret per activated repository under this prefix, created at run time by `slipway repo add`; the webhook only reads, the API only writes and deletes.',
  );
}
