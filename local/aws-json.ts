// The AWS JSON 1.1 protocol as the local stand-ins (ECS, CloudWatch Logs) speak it: a POST
// whose X-Amz-Target is `<service prefix><Operation>`, a JSON body in and out, and errors as
// `{"__type": "<Exception>", "message": …}` with the type in X-Amzn-ErrorType too, which is
// what the SDK reads to throw the matching exception class
// (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html).

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** A service error on the wire: its `__type`, HTTP status and any members besides `message`. */
export class AwsJsonError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status: number,
    /** Members of the error shape besides `message` (ECS ConflictException: `resourceIds`). */
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface AwsJsonService {
  /** How the stand-in names itself on the console (`local-ecs`). */
  name: string;
  /** `AmazonEC2ContainerServiceV20141113.`, `Logs_20140328.` */
  targetPrefix: string;
  /** The `__type` of a request whose body is not JSON (ECS ClientException, Logs InvalidParameterException). */
  notJsonType: string;
  /** The `__type` of a failure of the stand-in itself, answered 500. */
  internalErrorType: string;
  handle(operation: string, input: Record<string, unknown>): unknown;
}

/** An HTTP server answering `service` (listen on it, close it). */
export function createAwsJsonServer(service: AwsJsonService): Server {
  return createServer((req, res) => void serveAwsJson(service, req, res));
}

/** Answers one request to `service`. */
async function serveAwsJson(service: AwsJsonService, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = randomUUID();
  const reply = (status: number, body: unknown, errorType?: string): void => {
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': requestId,
      ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
    });
    res.end(JSON.stringify(body));
  };
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const prefix = service.targetPrefix;
    if (req.method !== 'POST' || !target.startsWith(prefix)) {
      throw new AwsJsonError('UnknownOperationException', `expected POST with X-Amz-Target: ${prefix}<Operation>, got ${req.method} '${target}'`, 400);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let input: Record<string, unknown>;
    try {
      input = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch (error) {
      throw new AwsJsonError(service.notJsonType, `request body is not JSON: ${(error as Error).message}`, 400);
    }
    reply(200, service.handle(target.slice(prefix.length), input));
  } catch (error) {
    if (error instanceof AwsJsonError) {
      reply(error.status, { __type: error.type, message: error.message, ...error.fields }, error.type);
    } else {
      console.error(`${service.name}: internal error:`, error);
      reply(500, { __type: service.internalErrorType, message: (error as Error).message }, service.internalErrorType);
    }
  }
}
