// The planner's dependencies from the environment (AWS or local mode).

import { InvokeCommand } from '@aws-sdk/client-lambda';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { BuildStore } from '../../core/builds/store.js';
import { StageStore } from '../../core/builds/stage-store.js';
import { encodeJob } from '../../core/scaling/job.js';
import { allowedRepositories, numberEnv, requireEnv, type Env } from '../shared/config.js';
import { dynamoDocument, lambdaClient, secretsClient, sqsClient } from '../shared/clients.js';
import { createScmAccess } from '../shared/scm.js';
import { scmCredentials } from '../shared/secrets.js';
import type { PlannerDeps } from './plan-event.js';

export const SLIPWAY_VERSION = '0.1.0';

export function plannerDepsFromEnv(env: Env = process.env): PlannerDeps {
  const tableName = requireEnv(env, 'TABLE_NAME', 'the build table');
  const jobsQueueUrl = requireEnv(env, 'JOBS_QUEUE_URL', 'where ready stages go');
  const doc = dynamoDocument();
  const prefix = (env.SECRETS_PREFIX ?? '/slipway').replace(/\/+$/, '');
  const publicUrl = env.PUBLIC_URL;
  const autoscaler = env.AUTOSCALER_FUNCTION_NAME;
  let credentials: ReturnType<typeof scmCredentials> | undefined;
  return {
    store: new BuildStore(doc, tableName),
    stages: new StageStore(doc, tableName),
    scm: createScmAccess({ credentials: () => (credentials ??= scmCredentials(env, secretsClient)) }),
    enqueueJob: async (job) => {
      await sqsClient().send(new SendMessageCommand({ QueueUrl: jobsQueueUrl, MessageBody: encodeJob(job) }));
    },
    nudge: async () => {
      // Fire and forget: the planner does not wait for the autoscaler's pass.
      if (autoscaler) await lambdaClient().send(new InvokeCommand({ FunctionName: autoscaler, InvocationType: 'Event', Payload: '{"source":"planner"}' }));
    },
    compile: {
      logGroup: env.BUILD_LOG_GROUP ?? '/slipway/builds',
      region: env.AWS_REGION ?? 'us-east-1',
      ...(env.AGENT_IMAGE ? { agentImage: env.AGENT_IMAGE } : {}),
      ...(env.TASK_EXECUTION_ROLE_ARN ? { executionRoleArn: env.TASK_EXECUTION_ROLE_ARN } : {}),
      ...(env.TASK_ROLE_ARN ? { taskRoleArn: env.TASK_ROLE_ARN } : {}),
      defaultCpu: numberEnv(env, 'DEFAULT_CPU', 1024),
      defaultMemory: numberEnv(env, 'DEFAULT_MEMORY', 2048),
      secretPath: (slug, secret) => `${prefix}/${slug}/${secret}`,
    },
    publicUrl,
    allowedRepositories: allowedRepositories(env),
    system: systemOf(publicUrl),
    now: Date.now,
    log: (message, fields = {}) => console.log(JSON.stringify({ source: 'planner', message, ...fields })),
  };
}

function systemOf(publicUrl: string | undefined): PlannerDeps['system'] {
  if (!publicUrl) return { host: 'localhost', proto: 'http', version: SLIPWAY_VERSION };
  const url = new URL(publicUrl);
  return { host: url.host, proto: url.protocol.replace(':', ''), version: SLIPWAY_VERSION };
}
