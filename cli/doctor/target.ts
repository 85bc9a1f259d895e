// Where `slipway doctor` finds the stack it checks: deployed, from the CloudFormation stack's
// outputs and its Lambdas' configuration (with the operator's AWS credentials); locally, the
// server of `slipway up`. Also the one way to ask the planner (Lambda Invoke, both ways).

import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { functionFacts, invokePlanner, stackOutputs } from '../../adapters/doctor/aws.js';
import type { PlannerDoctorRequest } from '../../core/doctor/planner-probe.js';
import { ENV } from '../../core/config/lambda-env.js';
import { DEFAULT_WEBHOOK_SECRETS_PREFIX, ssmWebhookSecrets, type WebhookSecrets } from '../../lambdas/shared/webhook-secrets.js';
import { localWebhookSecrets, slipwayHome } from '../../local/secrets.js';
import { ApiClient, serverUrl } from '../client.js';

/** What the checks need to know about the stack, however it was found. */
export interface Target {
  kind: 'aws' | 'local';
  api: ApiClient;
  webhookUrl: string;
  secrets: WebhookSecrets;
  lambda: LambdaClient;
  plannerFunction: string;
  /** Deployed only: the autoscaler's role and environment, the planner's environment. */
  autoscaler?: { roleArn: string; env: Record<string, string> };
  plannerEnv?: Record<string, string>;
}

export class TargetError extends Error {}

export function localTarget(env: NodeJS.ProcessEnv): Target {
  const server = serverUrl(env);
  return {
    kind: 'local',
    api: new ApiClient(env),
    webhookUrl: `${server}/hooks/github`,
    secrets: localWebhookSecrets(slipwayHome(env)),
    // `slipway up` answers Lambda's Invoke for its planner (local/server.ts); the SDK signs, so any key does.
    lambda: new LambdaClient({ endpoint: server, region: env.AWS_REGION || 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
    plannerFunction: 'planner',
  };
}

/** The stack's outputs and its Lambdas' configuration: where everything is, read once. */
export async function awsTarget(stackName: string, env: NodeJS.ProcessEnv): Promise<Target> {
  let outputs: Record<string, string>;
  try {
    outputs = await stackOutputs(new CloudFormationClient({}), stackName);
  } catch (err) {
    throw new TargetError(`cannot read the stack ${stackName} (${(err as Error).name}: ${(err as Error).message}); deploy it first, pass --stack, or use --local for \`slipway up\``);
  }
  const need = (key: string): string => {
    const value = outputs[key];
    if (!value) throw new TargetError(`the stack ${stackName} has no output ${key}: deploy this version of Slipway (cdk deploy) first`);
    return value;
  };
  const lambda = new LambdaClient({});
  const plannerFunction = need('PlannerFunctionName');
  const planner = await functionFacts(lambda, plannerFunction);
  const autoscalerName = planner.env[ENV.autoscalerFunctionName];
  const autoscaler = autoscalerName ? await functionFacts(lambda, autoscalerName) : undefined;
  const token = env.SLIPWAY_TOKEN || (await apiToken(need('ApiTokenSecretArn')));
  return {
    kind: 'aws',
    api: new ApiClient({ ...env, SLIPWAY_SERVER: need('DashboardUrl'), SLIPWAY_TOKEN: token }),
    webhookUrl: need('WebhookUrlGitHub'),
    secrets: ssmWebhookSecrets(() => new SSMClient({}), outputs.WebhookSecretsPrefix ?? DEFAULT_WEBHOOK_SECRETS_PREFIX),
    lambda,
    plannerFunction,
    ...(autoscaler ? { autoscaler } : {}),
    plannerEnv: planner.env,
  };
}

/** The API token the stack generated; a secret of token digests cannot give one back. */
async function apiToken(secretArn: string): Promise<string> {
  const res = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: secretArn }));
  const value = (res.SecretString ?? '').trim();
  if (value === '' || value.startsWith('sha256:')) throw new TargetError('the API token secret holds token digests, not a token: set SLIPWAY_TOKEN to one of the tokens');
  return value;
}

export async function askPlanner(target: Target, request: PlannerDoctorRequest): Promise<unknown> {
  return invokePlanner(target.lambda, target.plannerFunction, request);
}
