// CloudWatch Logs' error shape on the wire (AWS JSON 1.1): HTTP 400 with
// {"__type": "<Exception>", "message": …}; the SDK turns __type into the exception class.
// A throttled call answers `{"__type":"ThrottlingException","message":"Rate exceeded"}`
// (the response AWS sends, as quoted in aws-robotics/cloudwatchlogs-ros1#21).
import { AwsJsonError } from '../aws-json.js';

export type LogsErrorType =
  | 'InvalidParameterException'
  | 'ResourceNotFoundException'
  | 'ThrottlingException'
  | 'ServiceUnavailableException'
  | 'UnknownOperationException';

export class LogsApiError extends AwsJsonError {
  constructor(
    override readonly type: LogsErrorType,
    message: string,
    status = type === 'ServiceUnavailableException' ? 503 : 400,
  ) {
    super(type, message, status);
    this.name = type;
  }
}

export const invalidParameter = (message: string): LogsApiError => new LogsApiError('InvalidParameterException', message);
export const resourceNotFound = (message: string): LogsApiError => new LogsApiError('ResourceNotFoundException', message);
export const throttled = (): LogsApiError => new LogsApiError('ThrottlingException', 'Rate exceeded');
