// One call starts the three local stand-ins (DynamoDB Local, fauxqs for SQS, the ECS
// stand-in) and returns their endpoints; one call stops them all.
import { startDynamoDb, type DynamoDbOptions, type LocalDynamoDb } from './dynamodb.js';
import { startSqs, type LocalSqs, type SqsOptions } from './sqs.js';
import { startLocalEcs, type LocalEcs, type LocalEcsOptions } from './ecs/index.js';

export interface LocalAwsOptions {
  region?: string;
  dynamodb?: DynamoDbOptions;
  sqs?: SqsOptions;
  ecs?: LocalEcsOptions;
}

export interface LocalAws {
  region: string;
  endpoints: { dynamodb: string; sqs: string; ecs: string };
  dynamodb: LocalDynamoDb;
  sqs: LocalSqs;
  ecs: LocalEcs;
  /** Environment for a child process whose `new XClient({})` should use the stand-ins. */
  env(): Record<string, string>;
  /** SDK client configuration for code in this process. */
  clientConfig(service: 'dynamodb' | 'sqs' | 'ecs'): { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  stop(): Promise<void>;
}

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const region = options.region ?? 'us-east-1';
  const started: { stop(): Promise<void> }[] = [];
  try {
    // DynamoDB Local (a JVM) is the slow one: start the others while it boots.
    const [dynamodb, sqs, ecs] = await Promise.all([
      startDynamoDb(options.dynamodb).then((s) => (started.push(s), s)),
      startSqs({ region, ...options.sqs }).then((s) => (started.push(s), s)),
      startLocalEcs({ region, ...options.ecs }).then((s) => (started.push(s), s)),
    ]);
    const endpoints = { dynamodb: dynamodb.endpoint, sqs: sqs.endpoint, ecs: ecs.endpoint };
    return {
      region,
      endpoints,
      dynamodb,
      sqs,
      ecs,
      env: () => localAwsEnv(endpoints, region),
      clientConfig: (service) => ({ endpoint: endpoints[service], region, credentials: LOCAL_CREDENTIALS }),
      stop: () => stopAll([ecs, sqs, dynamodb]),
    };
  } catch (error) {
    // Promise.all rejects on the first failure; the others may still finish starting.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await stopAll(started);
    throw error;
  }
}

export function localAwsEnv(endpoints: { dynamodb: string; sqs: string; ecs: string }, region = 'us-east-1'): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_ENDPOINT_URL_ECS: endpoints.ecs,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  };
}

async function stopAll(services: { stop(): Promise<void> }[]): Promise<void> {
  const results = await Promise.allSettled(services.map((s) => s.stop()));
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    throw new AggregateError(failures.map((f) => f.reason), `local-aws: ${failures.length} stand-in(s) failed to stop`);
  }
}

export { startDynamoDb, startSqs, startLocalEcs };
export type { LocalDynamoDb, LocalSqs, LocalEcs, LocalEcsOptions };
