// SDK clients, created once per Lambda container with `new XClient({})` so that the SDK's
// own AWS_ENDPOINT_URL_* variables point them at the local stand-ins.

import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { documentClient } from '../../adapters/dynamodb/client.js';

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

export const dynamoDocument = /* @__PURE__ */ lazy(() => documentClient());
// The queue URL's host is not an endpoint to follow: local stand-ins name queues
// `sqs.<region>.localhost`, which only the configured endpoint reaches. In AWS both agree.
export const sqsClient = /* @__PURE__ */ lazy(() => new SQSClient({ useQueueUrlAsEndpoint: false }));
export const lambdaClient = /* @__PURE__ */ lazy(() => new LambdaClient({}));
export const secretsClient = /* @__PURE__ */ lazy(() => new SecretsManagerClient({}));
export const ssmClient = /* @__PURE__ */ lazy(() => new SSMClient({}));
// GetLogEvents has a low request quota shared by the whole account (25/s, not adjustable):
// the adaptive retry mode backs off on ThrottlingException and slows the client's own sends
// while throttled (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
export const logsClient = /* @__PURE__ */ lazy(() => new CloudWatchLogsClient({ retryMode: 'adaptive' }));
