// What the API commands share: option parsing with a usage error on anything unknown,
// and turning API errors into messages and exit codes (1 failed, 2 usage).

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ApiClient, ApiClientError, UsageError } from './client.js';
import { EXIT, type CliIO } from './io.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Parses `args`; on an unknown or malformed option prints it with the usage and returns null. */
export function parse(command: string, args: string[], options: Options, usage: string, io: CliIO): Parsed | null {
  try {
    const res = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    return { values: res.values as Parsed['values'], positionals: res.positionals };
  } catch (err) {
    io.err(`slipway ${command}: ${(err as Error).message}\n${usage}`);
    return null;
  }
}

export function positiveInt(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 ? n : undefined;
}

/** Runs a command body against the API; maps errors to messages and exit codes. */
export async function withApi(command: string, io: CliIO, body: (api: ApiClient) => Promise<number>): Promise<number> {
  try {
    return await body(new ApiClient(io.env));
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`slipway ${command}: ${err.message}`);
      return EXIT.usage;
    }
    if (err instanceof ApiClientError) {
      io.err(`slipway ${command}: ${err.message}`);
      return EXIT.failed;
    }
    throw err;
  }
}
