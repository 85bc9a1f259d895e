// `slipway restart N [--repo R] [--json]`: a new build of the same commit (its parent is N).
// Exit 0 started, 1 not found / still running / failed, 2 usage.

import { parse, positiveInt, withApi } from '../command-kit.js';
import { EXIT, type CliIO } from '../io.js';

const USAGE = `usage: slipway restart N [--repo OWNER/NAME] [--json]

Starts a new build of build N's commit; prints its number.

exit status: 0 started, 1 not found, still running or the API failed, 2 usage error`;

export async function run(args: string[], io: CliIO): Promise<number> {
  const p = parse('restart', args, { repo: { type: 'string' }, json: { type: 'boolean' } }, USAGE, io);
  if (!p) return EXIT.usage;
  if (p.values.help) return io.out(USAGE), EXIT.ok;
  const number = positiveInt(p.positionals[0]);
  if (number === undefined || p.positionals.length !== 1) return io.err(`slipway restart: expected one build number\n${USAGE}`), EXIT.usage;
  return withApi('restart', io, async (api) => {
    const repo = await api.resolveRepo(p.values.repo as string | undefined, io.env);
    const { build } = await api.restart(repo, number);
    io.out(p.values.json ? JSON.stringify({ build }, null, 2) : `${repo} #${build.number} started (restart of #${number}): ${build.status}`);
    return EXIT.ok;
  });
}
