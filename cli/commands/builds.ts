// `slipway builds [--repo R] [--branch B] [--status S] [--limit N] [--json]`: recent builds,
// newest first. Exit 0 listed, 1 the API failed, 2 usage.

import { parse, positiveInt, withApi } from '../command-kit.js';
import { costCell } from '../cost.js';
import { duration, table, timestamp } from '../format.js';
import { EXIT, type CliIO } from '../io.js';
import { BUILD_STATUSES } from '../../core/builds/types.js';

const USAGE = `usage: slipway builds [options]

Lists builds, newest first, from the API at SLIPWAY_SERVER (default: the server slipway up
runs on this machine, else http://localhost:8080).

options:
  --repo OWNER/NAME   only this repository
  --branch B          only this branch
  --status S          pending, running, success, failure, killed or error
  --limit N           how many (default 25, at most 100)
  --json              the API's JSON ({"builds":[…],"next":"…"}) for scripts
  -h, --help          show this help

exit status: 0 ok, 1 the API failed, 2 usage error`;


export async function run(args: string[], io: CliIO): Promise<number> {
  const p = parse('builds', args, { repo: { type: 'string' }, branch: { type: 'string' }, status: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } }, USAGE, io);
  if (!p) return EXIT.usage;
  if (p.values.help) return io.out(USAGE), EXIT.ok;
  if (p.positionals.length) return io.err(`slipway builds: unexpected argument "${p.positionals[0]}"\n${USAGE}`), EXIT.usage;
  const status = p.values.status as string | undefined;
  if (status !== undefined && !(BUILD_STATUSES as readonly string[]).includes(status)) return io.err(`slipway builds: --status must be one of ${BUILD_STATUSES.join(', ')}`), EXIT.usage;
  const limit = p.values.limit === undefined ? undefined : positiveInt(p.values.limit as string);
  if (p.values.limit !== undefined && (limit === undefined || limit > 100)) return io.err('slipway builds: --limit must be a number from 1 to 100'), EXIT.usage;

  return withApi('builds', io, async (api) => {
    const res = await api.builds({ repo: p.values.repo as string | undefined, branch: p.values.branch as string | undefined, status: status as never, limit });
    if (p.values.json) {
      io.out(JSON.stringify(res, null, 2));
      return EXIT.ok;
    }
    if (res.builds.length === 0) {
      io.out('no builds');
      return EXIT.ok;
    }
    const now = Date.now();
    io.out(
      table(
        ['REPO', 'BUILD', 'STATUS', 'EVENT', 'BRANCH', 'COMMIT', 'CREATED', 'COST', 'DURATION', 'MESSAGE'],
        res.builds.map((b) => [
          b.repo,
          `#${b.number}`,
          b.status,
          b.event,
          b.branch,
          b.commit.slice(0, 8),
          timestamp(b.createdAt),
          costCell(b.cost),
          duration(b.startedAt, b.finishedAt, now),
          // A build that ended before it ran (its file could not be read, the Git host did not
          // answer) says why here; `slipway build N` shows the whole text.
          (b.error ? `error: ${b.error.split('\n')[0] ?? ''}` : (b.message.split('\n')[0] ?? '')).slice(0, b.error ? 100 : 60),
        ]),
      ),
    );
    if (res.next) io.out(`(more: slipway builds --json gives the cursor "next")`);
    return EXIT.ok;
  });
}
