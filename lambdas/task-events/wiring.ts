// The execution Lambdas' dependencies built from the environment (AWS and local mode alike:
// `new XClient({})` follows AWS_ENDPOINT_URL_*).

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { BuildStore } from '../../core/builds/store.js';
import { StageStore } from '../../core/builds/stage-store.js';
import { buildStatusPoster } from './commit-status.js';
import { jsonLog, type ExecutionDeps } from './deps.js';

function required(name: string, env: NodeJS.ProcessEnv): string {
  const value = env[name];
  if (!value) throw new Error(`config: environment variable ${name} is not set`);
  return value;
}

export function executionDepsFromEnv(source: string, env: NodeJS.ProcessEnv = process.env, nudge: () => Promise<void> = async () => {}): ExecutionDeps {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
  const tableName = required('TABLE_NAME', env);
  const store = new BuildStore(doc, tableName);
  const log = jsonLog(source);
  return {
    store,
    stages: new StageStore(doc, tableName),
    sqs: new SQSClient({}),
    jobsQueueUrl: required('JOBS_QUEUE_URL', env),
    postBuildStatus: buildStatusPoster(store, env, globalThis.fetch, log),
    // Deployed, the autoscaler's one-minute schedule picks freed capacity up; locally the
    // local runtime passes a nudge that calls the autoscaler directly.
    nudge,
    now: Date.now,
    log,
  };
}
