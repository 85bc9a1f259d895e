// The Lambdas' structured logs: Powertools Logger, one JSON object per line (CloudWatch Logs
// Insights reads its keys). Every line has `level`, `message`, `timestamp`, `service` and
// `source` (which Lambda); with a Lambda context also `function_request_id` and `cold_start`;
// lines about a build or a stage carry `buildId` / `stageId`. The handlers' code takes the
// small `Log` port below, so tests and local mode can pass their own.

import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { parseStageKey } from '../../../core/builds/types.js';
import { ENV } from '../../../core/config/lambda-env.js';
import type { Env } from '../config.js';

export type LogFields = Record<string, unknown>;
/** The logging port the handlers' code depends on. */
export type Log = (message: string, fields?: LogFields) => void;

/** The `service` of every line and metric unless POWERTOOLS_SERVICE_NAME names another. */
export const SERVICE_NAME = 'slipway';

let destination: ((line: string) => void) | undefined;

/**
 * Local commands send the handlers' lines to a file instead of the terminal (cli/handler-log.ts);
 * undefined: standard output again, as in Lambda.
 */
export function setLogDestination(write: ((line: string) => void) | undefined): void {
  destination = write;
}

/** Powertools' Logger, printing to the local destination when one is set. */
class SlipwayLogger extends Logger {
  protected override printLog(logLevel: number, log: LogItem): void {
    if (!destination) return super.printLog(logLevel, log);
    log.prepareForPrint();
    destination(JSON.stringify(log.getAttributes(), this.getJsonReplacer()));
  }

  protected override createLogger(options?: ConstructorParameters<typeof Logger>[0]): Logger {
    return new SlipwayLogger(options);
  }
}

const loggers = new Map<string, Logger>();

/** The logger of one Lambda (`source`), built once per process and service (POWERTOOLS_SERVICE_NAME of `env`). */
export function lambdaLogger(source: string, env: Env = process.env): Logger {
  const serviceName = env[ENV.powertoolsServiceName] || SERVICE_NAME;
  const key = `${source}\n${serviceName}`;
  let logger = loggers.get(key);
  if (!logger) {
    logger = new SlipwayLogger({ serviceName, persistentKeys: { source } });
    loggers.set(key, logger);
  }
  return logger;
}

/** The port over a Powertools logger: each call is one INFO line with `fields` as top-level keys. */
export function logTo(logger: Logger): Log {
  return (message, fields = {}) => logger.info(message, fields);
}

/** `log` with `keys` on every line (a build's or a stage's ids for the lines about it). */
export function withKeys(log: Log, keys: LogFields): Log {
  return (message, fields = {}) => log(message, { ...keys, ...fields });
}

/** The ids of a stage as log keys: `buildId` and `stageId` (`<buildId>/<stage number>`). */
export function stageKeys(stageId: string): { buildId?: string; stageId: string } {
  const parsed = parseStageKey(stageId);
  return parsed ? { buildId: parsed.buildId, stageId } : { stageId };
}

/**
 * At the start of an invocation: the keys appended for the previous one go, the Lambda
 * context (request id, cold start) comes in when there is one (local mode has none), and
 * `keys` stay on every line of this invocation.
 */
export function startInvocation(logger: Logger, context: Partial<Context> | undefined, keys: LogFields = {}): void {
  logger.resetKeys();
  if (context?.awsRequestId) logger.addContext(context as Context);
  if (Object.keys(keys).length > 0) logger.appendKeys(keys);
}
