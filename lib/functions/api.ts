// The builds API (CLI and dashboard): reads builds and logs, cancels (StopTask), restarts
// through the planner, and activates repositories (writes their webhook secrets).
import * as iam from 'aws-cdk-lib/aws-iam';
import { ENV } from '../../core/config/lambda-env.js';
import { acknowledgeWildcardResource } from '../nag.js';
import {
  DDB_READ,
  DDB_WRITE,
  GITHUB_APP_SECRET_NAME,
  type FunctionContext,
  acknowledgeTableIndexes,
  acknowledgeWebhookSecrets,
  buildTasks,
  defaultPolicy,
  roleOf,
  setEnvironment,
  taskPattern,
  webhookSecretsArn,
} from './context.js';

export function configureApi(ctx: FunctionContext): void {
  const fn = ctx.functions.api;
  const { table, queues, buildCluster, settings } = ctx;
  setEnvironment(fn, {
    [ENV.tableName]: table.table.tableName,
    // Restarting a build goes through the planner, like a webhook.
    [ENV.eventsQueueUrl]: queues.events.queue.queueUrl,
    [ENV.cluster]: buildCluster.cluster.clusterArn,
    [ENV.buildLogGroup]: buildCluster.logGroup.logGroupName,
    [ENV.apiTokenSecretArn]: ctx.apiTokenSecret.secretArn,
    // Activation writes each repository's webhook secret there (and may not read it).
    [ENV.webhookSecretsPrefix]: settings.webhookSecretsPrefix,
  });

  table.table.grant(fn, ...DDB_READ, ...DDB_WRITE);
  // Repositories are listed by a filtered Scan (no access pattern of the flow needs an index).
  table.table.grant(fn, 'dynamodb:Scan');
  queues.events.queue.grantSendMessages(fn);
  // Each repository's webhook secret: the API writes and deletes it (activation, rotation,
  // removal) and can never read it back; the webhook reads it; no other role touches the
  // prefix (build tasks read only under secretsPrefix, which may not overlap it: config.ts).
  // SecureStrings use the account's aws/ssm key, whose policy lets principals of the account
  // use it through SSM, so ssm:GetParameter on this prefix is the control
  // (https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-restrict-decryption.html).
  // Repositories' secrets are <prefix>/<host>/<owner>/<name>: `*` in an IAM ARN spans `/`, so
  // `*/*/*` takes two slashes and never covers the GitHub App's one-segment
  // <prefix>/github/_app, which the API may put (slipway app set-secret) but never delete.
  const role = roleOf(fn);
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ sid: 'WriteWebhookSecrets', actions: ['ssm:PutParameter', 'ssm:DeleteParameter'], resources: [webhookSecretsArn(ctx, '*/*/*')] }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ sid: 'PutGitHubAppWebhookSecret', actions: ['ssm:PutParameter'], resources: [webhookSecretsArn(ctx, GITHUB_APP_SECRET_NAME)] }),
  );
  ctx.apiTokenSecret.grantRead(fn);
  // Cancel stops the build's task; step logs are read from the build log group.
  const { taskArns, inCluster } = buildTasks(ctx);
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'CancelSlipwayTasks', actions: ['ecs:StopTask'], resources: [taskArns], conditions: inCluster }));
  buildCluster.logGroup.grant(fn, 'logs:GetLogEvents', 'logs:FilterLogEvents', 'logs:DescribeLogStreams');

  const policy = defaultPolicy('api', fn);
  acknowledgeTableIndexes(ctx, policy);
  acknowledgeWildcardResource(policy, taskPattern(ctx), 'Task ids exist only at run time; the ARN is limited to the build cluster.');
  acknowledgeWebhookSecrets(ctx, policy, '*/*/*');
}
