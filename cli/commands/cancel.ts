// `slipway cancel N [--repo R] [--json]`: stops a running build (its tasks get StopTask;
// the build ends `killed`). Exit 0 cancelled, 1 not found / already finished / failed, 2 usage.

import { runOnBuild } from '../command-kit.js';
import type { CliIO } from '../io.js';

const USAGE = `usage: slipway cancel N [--repo OWNER/NAME] [--json]

Cancels build N: running stages are stopped, waiting ones never start.

exit status: 0 cancelled, 1 not found, already finished or the API failed, 2 usage error`;

export async function run(args: string[], io: CliIO): Promise<number> {
  return runOnBuild('cancel', args, io, USAGE, async (api, repo, number, json) => {
    const { build } = await api.cancel(repo, number);
    return json ? JSON.stringify({ build }, null, 2) : `${repo} #${number}: ${build.status === 'killed' ? 'killed' : 'cancelling (its tasks are stopping)'}`;
  });
}
