// ECS's error shape on the wire: HTTP 400 with {"__type": "<Exception>", "message": …};
// the SDK turns __type into the matching exception class.
export type EcsErrorType =
  | 'ClientException'
  | 'InvalidParameterException'
  | 'ClusterNotFoundException'
  | 'ServerException'
  | 'UnknownOperationException';

export class EcsApiError extends Error {
  constructor(
    readonly type: EcsErrorType,
    message: string,
    readonly status = type === 'ServerException' ? 500 : 400,
  ) {
    super(message);
  }
}

export const clientError = (message: string): EcsApiError => new EcsApiError('ClientException', message);
export const invalidParameter = (message: string): EcsApiError => new EcsApiError('InvalidParameterException', message);
