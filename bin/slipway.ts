// CLI entry: `slipway lint`, `slipway compile`, `slipway up`, … (see cli/main.ts).
import { main } from '../cli/main.js';
import { processIO } from '../cli/io.js';

try {
  process.exitCode = await main(process.argv.slice(2), processIO);
} catch (error) {
  // A bug of ours, not a user error: one line, no stack trace unless asked for.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`slipway: internal error: ${message}\n`);
  if (process.env.SLIPWAY_DEBUG) process.stderr.write(`${(error as Error).stack ?? ''}\n`);
  process.exitCode = 2;
}
