// `slipway restart N [--repo R] [--json]`: a new build of the same commit (its parent is N).
// Exit 0 started, 1 not found / still running / failed, 2 usage.

import { runOnBuild } from '../command-kit.js';
import type { CliIO } from '../io.js';

const USAGE = `usage: slipway restart N [--repo OWNER/NAME] [--json]

Starts a new build of build N's commit; prints its number.

exit status: 0 started, 1 not found, still running or the API failed, 2 usage error`;

export async function run(args: string[], io: CliIO): Promise<number> {
  return runOnBuild('restart', args, io, USAGE, async (api, repo, number, json) => {
    const { build } = await api.restart(repo, number);
    return json ? JSON.stringify({ build }, null, 2) : `${repo} #${build.number} started (restart of #${number}): ${build.status}`;
  });
}
