// A small Secrets Manager stand-in for the SDK's SecretsManagerClient (AWS JSON 1.1 protocol:
// `POST /` with `X-Amz-Target: secretsmanager.<Action>`), with what the planner's pull secret
// store calls: GetSecretValue, DescribeSecret, CreateSecret, PutSecretValue. As strict as
// Secrets Manager where Slipway relies on it
// (https://docs.aws.amazon.com/secretsmanager/latest/apireference/): names of
// `A-Za-z0-9/_+=.@-`, 1 to 512 characters (API_CreateSecret.html, Name); a SecretId is the name,
// the full ARN or the ARN without its `-XXXXXX` suffix; an unknown one is ResourceNotFoundException
// (the recorded shape of test/fixtures/aws/); CreateSecret of an existing name is
// ResourceExistsException; tags are the secret's and DescribeSecret returns them.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AwsJsonError, createAwsJsonServer } from '../../local/aws-json.js';

export interface SecretsManagerCall {
  action: string;
  input: Record<string, unknown>;
}

export interface StoredSecret {
  value: string;
  tags: { Key: string; Value: string }[];
  versions: number;
}

export interface SecretsManagerStandIn {
  endpoint: string;
  calls: SecretsManagerCall[];
  /** Secrets by name, for seeding and assertions. */
  secrets: Map<string, StoredSecret>;
  /** The ARN of a secret name, as this stand-in answers it. */
  arnOf(name: string): string;
  stop(): Promise<void>;
}

const NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const ARN = /^arn:aws[\w-]*:secretsmanager:([^:]*):([^:]*):secret:(.+)$/;

/** Secrets Manager's error shape: `__type` and `Message` (CommonErrors), answered 400. */
class ServiceError extends AwsJsonError {
  constructor(type: string, message: string) {
    super(type, message, 400, { Message: message });
  }
}

export async function startSecretsManagerStandIn(region = 'eu-west-1', account = '123456789012'): Promise<SecretsManagerStandIn> {
  const calls: SecretsManagerCall[] = [];
  const secrets = new Map<string, StoredSecret>();
  // Secrets Manager appends six random characters to every ARN; here they come from the name.
  const suffix = (name: string) => createHash('sha256').update(name).digest('base64url').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 6);
  const arnOf = (name: string) => `arn:aws:secretsmanager:${region}:${account}:secret:${name}-${suffix(name)}`;
  const notFound = () => {
    const shape = JSON.parse(readFileSync(new URL('../fixtures/aws/secretsmanager-DescribeSecret-ResourceNotFoundException.json', import.meta.url), 'utf8')) as { __type: string; Message: string };
    return new ServiceError(shape.__type, shape.Message);
  };
  /** The secret a SecretId names: its name, its ARN, or its ARN without the suffix. */
  const find = (id: unknown): [string, StoredSecret] => {
    if (typeof id !== 'string' || id === '') throw new ServiceError('InvalidParameterException', 'You must provide a SecretId.');
    const arn = ARN.exec(id);
    const candidates = arn ? [arn[3]!, arn[3]!.replace(/-[A-Za-z0-9]{6}$/, '')] : [id];
    for (const name of candidates) {
      const secret = secrets.get(name);
      if (secret && (!arn || arn[3] === name || arn[3] === `${name}-${suffix(name)}`)) return [name, secret];
    }
    throw notFound();
  };
  const checkName = (name: unknown): string => {
    if (typeof name !== 'string' || !NAME.test(name)) throw new ServiceError('ValidationException', `Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!`);
    return name;
  };
  const version = (name: string, secret: StoredSecret) => ({ ARN: arnOf(name), Name: name, VersionId: `${secret.versions}-${randomUUID()}` });

  const actions: Record<string, (input: Record<string, unknown>) => unknown> = {
    GetSecretValue(input) {
      const [name, secret] = find(input.SecretId);
      return { ...version(name, secret), SecretString: secret.value, VersionStages: ['AWSCURRENT'], CreatedDate: Date.now() / 1000 };
    },
    DescribeSecret(input) {
      const [name, secret] = find(input.SecretId);
      return { ARN: arnOf(name), Name: name, Tags: secret.tags, LastChangedDate: Date.now() / 1000 };
    },
    CreateSecret(input) {
      const name = checkName(input.Name);
      if (secrets.has(name)) throw new ServiceError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
      if (typeof input.SecretString !== 'string') throw new ServiceError('InvalidParameterException', 'You must provide either SecretString or SecretBinary.');
      const tags = ((input.Tags ?? []) as { Key: string; Value: string }[]).map(({ Key, Value }) => ({ Key, Value }));
      const secret = { value: input.SecretString, tags, versions: 1 };
      secrets.set(name, secret);
      return version(name, secret);
    },
    PutSecretValue(input) {
      const [name, secret] = find(input.SecretId);
      if (typeof input.SecretString !== 'string') throw new ServiceError('InvalidParameterException', 'You must provide either SecretString or SecretBinary.');
      secret.value = input.SecretString;
      secret.versions += 1;
      return { ...version(name, secret), VersionStages: ['AWSCURRENT'] };
    },
  };

  const server: Server = createAwsJsonServer({
    name: 'secrets-manager-stand-in',
    targetPrefix: 'secretsmanager.',
    notJsonType: 'SerializationException',
    internalErrorType: 'InternalServiceError',
    handle(operation, input) {
      const action = actions[operation];
      if (!action) throw new ServiceError('UnknownOperationException', `the Secrets Manager stand-in does not implement ${operation}`);
      calls.push({ action: operation, input });
      return action(input);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    secrets,
    arnOf,
    stop: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}
