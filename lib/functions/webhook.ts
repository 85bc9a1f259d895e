// The webhook: verifies a Git host's delivery (its HMAC, with the repository's secret read
// from SSM) and puts it on the events queue for the planner.
import * as iam from 'aws-cdk-lib/aws-iam';
import { ENV } from '../../core/config/lambda-env.js';
import { type FunctionContext, acknowledgeTableIndexes, acknowledgeWebhookSecrets, defaultPolicy, roleOf, setEnvironment, webhookSecretsArn } from './context.js';

export function configureWebhook(ctx: FunctionContext): void {
  const fn = ctx.functions.webhook;
  const { table, queues, settings } = ctx;
  setEnvironment(fn, {
    [ENV.tableName]: table.table.tableName,
    [ENV.eventsQueueUrl]: queues.events.queue.queueUrl,
    [ENV.webhookSecretsPrefix]: settings.webhookSecretsPrefix,
    ...(settings.allowedRepositories.length > 0 ? { [ENV.allowedRepositories]: settings.allowedRepositories.join(',') } : {}),
  });

  table.table.grant(fn, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem');
  queues.events.queue.grantSendMessages(fn);
  // Each repository's webhook secret: the webhook reads it (see api.ts for the writes).
  roleOf(fn).addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadWebhookSecrets', actions: ['ssm:GetParameter'], resources: [webhookSecretsArn(ctx)] }));

  const policy = defaultPolicy('webhook', fn);
  acknowledgeTableIndexes(ctx, policy);
  acknowledgeWebhookSecrets(ctx, policy);
}
