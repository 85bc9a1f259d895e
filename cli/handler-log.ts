// The handlers log one JSON object per line (Powertools Logger, on standard output), as
// CloudWatch wants. In a terminal that would bury the build's progress, so local commands
// send those lines, and anything else logged with console.log, to a file (shown at start)
// unless SLIPWAY_VERBOSE is set.

import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { slipwayHome } from '../local/secrets.js';
import { setLogDestination } from '../lambdas/shared/observability/logger.js';

/** Redirects console.log/info to a log file; returns its path and the function that undoes it. */
export function redirectHandlerLogs(env: NodeJS.ProcessEnv, name: string): { file?: string; restore(): void } {
  if (env.SLIPWAY_VERBOSE) return { restore: () => undefined };
  const dir = join(slipwayHome(env), 'logs');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.log`);
  appendFileSync(file, `--- ${new Date().toISOString()} slipway ${name} (pid ${process.pid})\n`);
  const { log, info } = console;
  const write = (...parts: unknown[]) => appendFileSync(file, `${parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(' ')}\n`);
  console.log = write;
  console.info = write;
  setLogDestination((line) => appendFileSync(file, `${line}\n`));
  return {
    file,
    restore() {
      console.log = log;
      console.info = info;
      setLogDestination(undefined);
    },
  };
}
