// The one place that says what an AWS error means for its caller: retry soon (throttling,
// a transient or server fault), wait for capacity, give up (the request is wrong), or a
// meaning the caller handles itself (not found, a failed condition, a clientToken conflict).
// Pure: it reads the error's name, HTTP status and the SDK's own flags, never an SDK client.
//
// By name and status first, as the AWS SDK for JavaScript v3 classifies them for its own
// retries (smithy-typescript, packages/service-error-classification/src/constants.ts:
// THROTTLING_ERROR_CODES, TRANSIENT_ERROR_CODES, TRANSIENT_ERROR_STATUS_CODES and the
// Node.js network error codes). Two distinctions that ECS puts only in the message are
// read from the message, each with the documented text it rests on:
// - capacity: "Capacity is unavailable at this time. Please try again later or in a
//   different availability zone" (https://repost.aws/knowledge-center/ecs-fargate-runtask-capacity,
//   RunTask answers it as a failures[] reason or as an error), and the quota messages
//   "You've reached the limit on the number of vCPUs / tasks you can run concurrently"
//   (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-event-messages.html,
//   https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html);
// - an EC2 throttle behind RunTask's network set-up arrives as InvalidParameterException
//   whose message ends "(ErrorCode: RequestLimitExceeded)", e.g. "Error retrieving security
//   group information for [sg-…]: Request limit exceeded. (ErrorCode: RequestLimitExceeded)"
//   (reported in dask/dask-cloudprovider#56 and reproio/wrapbox#32); the embedded code is
//   classified like a top-level error name;
// - RegisterTaskDefinition's ClientException "Too many concurrent attempts to create a new
//   revision of the specified family." (hashicorp/terraform-provider-aws#9777) is a throttle.

export type AwsErrorKind =
  /** The service or an account rate refused the call: retry after a back-off. */
  | 'throttling'
  /** A server fault, a time-out or a broken connection: retry after a back-off. */
  | 'transient'
  /** No Fargate capacity or the account's quota is used up: wait, nothing is wrong with the request. */
  | 'capacity'
  /** The thing asked about does not exist. */
  | 'not-found'
  /** A DynamoDB condition refused the write (someone else moved the item first). */
  | 'conditional-check'
  /** ECS RunTask: the clientToken already started tasks with other parameters (`resourceIds`). */
  | 'conflict'
  /** The request itself is wrong (parameters, permissions, configuration): retrying cannot help. */
  | 'fatal';

export interface AwsErrorInfo {
  kind: AwsErrorKind;
  /** Worth calling again after a back-off (throttling, transient, capacity). */
  retryable: boolean;
  /** The error's name (the AWS error code), or the code embedded in its message when that decided. */
  name: string;
  status?: number;
  message: string;
  /** ConflictException: the tasks ECS already started for the clientToken. */
  resourceIds?: string[];
}

/** smithy-typescript service-error-classification THROTTLING_ERROR_CODES. */
const THROTTLING_NAMES: ReadonlySet<string> = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);

/** TRANSIENT_ERROR_CODES, plus the server-fault names of the services Slipway calls (ECS ServerException, DynamoDB InternalServerError, SQS/SSM InternalFailure / ServiceUnavailable). */
const TRANSIENT_NAMES: ReadonlySet<string> = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ServerException',
  'InternalServerError',
  'InternalServerException',
  'InternalFailure',
  'InternalError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  // DynamoDB rejects a PutItem, UpdateItem or DeleteItem on an item an ongoing TransactWriteItems
  // holds: nothing was written, and the same call succeeds once the transaction ends
  // (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html,
  // "Transaction conflict handling"). The SDK does not retry it itself.
  'TransactionConflictException',
]);

/** TRANSIENT_ERROR_STATUS_CODES. */
const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504]);

/** NODEJS_TIMEOUT_ERROR_CODES and NODEJS_NETWORK_ERROR_CODES (Node.js `error.code`). */
const NETWORK_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

const NOT_FOUND_NAMES: ReadonlySet<string> = new Set([
  'ResourceNotFoundException',
  'NotFoundException',
  'ParameterNotFound',
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'ClusterNotFoundException',
  'RepositoryNotFoundException',
  'ImageNotFoundException',
]);

/** ECS's capacity and quota texts (see the head of this file), lower-cased. */
export const ECS_CAPACITY_MESSAGES: readonly string[] = [
  'capacity is unavailable at this time',
  "you've reached the limit on the number of vcpus you can run concurrently",
  "you've reached the limit on the number of tasks you can run concurrently",
];

/** RegisterTaskDefinition's ClientException for concurrent revisions of one family, lower-cased. */
export const ECS_CONCURRENT_REVISION_MESSAGE = 'too many concurrent attempts to create a new revision';

const EMBEDDED_CODE_MARK = '(ErrorCode: ';

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $retryable?: { throttling?: boolean } | undefined;
  $metadata?: { httpStatusCode?: unknown };
  resourceIds?: unknown;
}

/** What an error thrown by an AWS SDK call (or the network under it) means. */
export function classifyAwsError(err: unknown): AwsErrorInfo {
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrorLike;
  const name = typeof e.name === 'string' && e.name !== '' ? e.name : 'Error';
  const message = typeof e.message === 'string' ? e.message : String(err);
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const base = { name, message, ...(status !== undefined ? { status } : {}) };
  const info = (kind: AwsErrorKind, extra: Partial<AwsErrorInfo> = {}): AwsErrorInfo => ({
    ...base,
    kind,
    retryable: kind === 'throttling' || kind === 'transient' || kind === 'capacity',
    ...extra,
  });

  if (THROTTLING_NAMES.has(name) || status === 429 || e.$retryable?.throttling === true) return info('throttling');
  if (TRANSIENT_NAMES.has(name) || (status !== undefined && TRANSIENT_STATUSES.has(status)) || e.$fault === 'server') return info('transient');
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return info('transient', { name: e.code });
  if (e.$retryable !== undefined) return info('transient');
  if (name === 'ConditionalCheckFailedException') return info('conditional-check');
  if (name === 'ConflictException') {
    const ids = Array.isArray(e.resourceIds) ? e.resourceIds.filter((id): id is string => typeof id === 'string') : [];
    return info('conflict', { resourceIds: ids });
  }
  if (NOT_FOUND_NAMES.has(name)) return info('not-found');

  // ECS's message-only distinctions (documented at the head of this file).
  const embedded = embeddedErrorCode(message);
  if (embedded !== undefined && THROTTLING_NAMES.has(embedded)) return info('throttling', { name: embedded });
  if (name === 'ClientException' || name === 'InvalidParameterException') {
    if (isEcsCapacityReason(message)) return info('capacity');
    if (message.toLowerCase().includes(ECS_CONCURRENT_REVISION_MESSAGE)) return info('throttling');
  }
  return info('fatal');
}

/**
 * RunTask's `failures[]` (not exceptions: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html)
 * as one line, each reason with its detail: what a stage's message, a log line or a claim says.
 */
export function describeRunTaskFailures(failures: readonly { reason?: string; detail?: string }[] | undefined): string {
  return (failures ?? []).map((f) => `${f.reason ?? 'unknown'}${f.detail ? ` (${f.detail})` : ''}`).join('; ');
}

/** Whether a RunTask `failures[].reason` (or an error message) is ECS saying capacity or quota is short. */
export function isEcsCapacityReason(reason: string): boolean {
  const text = reason.toLowerCase();
  return ECS_CAPACITY_MESSAGES.some((m) => text.includes(m));
}

/** The code in "… (ErrorCode: RequestLimitExceeded)", if the message carries one. */
export function embeddedErrorCode(message: string): string | undefined {
  const at = message.lastIndexOf(EMBEDDED_CODE_MARK);
  if (at < 0) return undefined;
  const end = message.indexOf(')', at);
  if (end < 0) return undefined;
  const code = message.slice(at + EMBEDDED_CODE_MARK.length, end).trim();
  return code === '' ? undefined : code;
}

/** A one-line description for logs and stage messages: `Name (status): message`. */
export function describeAwsError(info: AwsErrorInfo): string {
  return `${info.name}${info.status !== undefined ? ` (HTTP ${info.status})` : ''}: ${info.message}`;
}

export function isConditionalCheckFailure(err: unknown): boolean {
  return classifyAwsError(err).kind === 'conditional-check';
}

export function isNotFound(err: unknown): boolean {
  return classifyAwsError(err).kind === 'not-found';
}

/**
 * The reasons DynamoDB gives for a TransactWriteItems call it cancelled
 * (TransactionCanceledException), one per action in order, `None` for an action that was not a
 * cause; undefined for any other error. The API reference says only Java sets them; the
 * JavaScript SDK v3 does too (aws/aws-sdk-js-v3#3635).
 * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
 */
export function transactionCancellationCodes(err: unknown): string[] | undefined {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { name?: unknown; CancellationReasons?: unknown };
  if (e.name !== 'TransactionCanceledException' || !Array.isArray(e.CancellationReasons)) return undefined;
  return (e.CancellationReasons as { Code?: unknown }[]).map((r) => (typeof r?.Code === 'string' ? r.Code : 'None'));
}

/**
 * A cancelled transaction whose only causes are refused conditions: a refusal, not an error of the
 * write. A conflicting transaction or throttling among the causes is an error.
 */
export function isTransactionRefusedByConditions(err: unknown): boolean {
  const causes = transactionCancellationCodes(err)?.filter((code) => code !== 'None');
  return causes !== undefined && causes.length > 0 && causes.every((code) => code === 'ConditionalCheckFailed');
}
