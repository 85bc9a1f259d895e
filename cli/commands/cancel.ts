// `slipway cancel N [--repo R] [--json]`: stops a running build (its tasks get StopTask;
// the build ends `killed`). Exit 0 cancelled, 1 not found / already finished / failed, 2 usage.

import { parse, positiveInt, withApi } from '../command-kit.js';
import { EXIT, type CliIO } from '../io.js';

const USAGE = `usage: slipway cancel N [--repo OWNER/NAME] [--json]

Cancels build N: running stages are stopped, waiting ones never start.

exit status: 0 cancelled, 1 not found, already finished or the API failed, 2 usage error`;

export async function run(args: string[], io: CliIO): Promise<number> {
  const p = parse('cancel', args, { repo: { type: 'string' }, json: { type: 'boolean' } }, USAGE, io);
  if (!p) return EXIT.usage;
  if (p.values.help) return io.out(USAGE), EXIT.ok;
  const number = positiveInt(p.positionals[0]);
  if (number === undefined || p.positionals.length !== 1) return io.err(`slipway cancel: expected one build number\n${USAGE}`), EXIT.usage;
  return withApi('cancel', io, async (api) => {
    const repo = await api.resolveRepo(p.values.repo as string | undefined, io.env);
    const { build } = await api.cancel(repo, number);
    io.out(p.values.json ? JSON.stringify({ build }, null, 2) : `${repo} #${number}: ${build.status === 'killed' ? 'killed' : 'cancelling (its tasks are stopping)'}`);
    return EXIT.ok;
  });
}
