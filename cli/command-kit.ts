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

/**
 * The shape shared by `build N`, `cancel N` and `restart N`: one build number, `--repo`,
 * `--json`; `act` does the request and returns what to print.
 */
export async function runOnBuild(
  command: string,
  args: string[],
  io: CliIO,
  usage: string,
  act: (api: ApiClient, repo: string, number: number, json: boolean) => Promise<string>,
): Promise<number> {
  const p = parse(command, args, { repo: { type: 'string' }, json: { type: 'boolean' } }, usage, io);
  if (!p) return EXIT.usage;
  if (p.values.help) return io.out(usage), EXIT.ok;
  const number = positiveInt(p.positionals[0]);
  if (number === undefined || p.positionals.length !== 1) return io.err(`slipway ${command}: expected one build number\n${usage}`), EXIT.usage;
  return withApi(command, io, async (api) => {
    const repo = await api.resolveRepo(p.values.repo as string | undefined, io.env);
    io.out(await act(api, repo, number, Boolean(p.values.json)));
    return EXIT.ok;
  });
}
