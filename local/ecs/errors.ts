// ECS's error shape on the wire: HTTP 400 with {"__type": "<Exception>", "message": …};
// the SDK turns __type into the matching exception class.
import { AwsJsonError } from '../aws-json.js';

export type EcsErrorType =
  | 'ClientException'
  | 'InvalidParameterException'
  | 'ClusterNotFoundException'
  | 'ConflictException'
  | 'ServerException'
  | 'ThrottlingException'
  | 'UnknownOperationException';

export class EcsApiError extends AwsJsonError {
  constructor(
    override readonly type: EcsErrorType,
    message: string,
    status = type === 'ServerException' ? 500 : 400,
    /** Members of the error shape besides `message` (ConflictException: `resourceIds`). */
    fields: Record<string, unknown> = {},
  ) {
    super(type, message, status, fields);
  }
}

export const clientError = (message: string): EcsApiError => new EcsApiError('ClientException', message);
export const invalidParameter = (message: string): EcsApiError => new EcsApiError('InvalidParameterException', message);

/**
 * A secret (`secrets[].valueFrom` or `repositoryCredentials.credentialsParameter`) that does
 * not exist. Thrown by a stand-in's `resolveSecret`; the task then stops as ECS stops it.
 */
export class SecretNotFoundError extends Error {
  constructor(
    /** `ssm` (Parameter Store) or `asm` (Secrets Manager), as the ECS agent names them. */
    readonly source: 'ssm' | 'asm',
    /** The parameter name or the secret ARN, as ECS reports it. */
    readonly reference: string,
    /** What to do about it locally (how to add the secret). */
    readonly hint?: string,
  ) {
    super(`${source === 'ssm' ? 'parameter' : 'secret'} ${reference} does not exist${hint ? ` (${hint})` : ''}`);
    this.name = 'SecretNotFoundError';
  }
}
