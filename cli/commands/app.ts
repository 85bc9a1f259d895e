// `slipway app set-secret`: the GitHub App's webhook secret, which signs the deliveries of
// every repository the App is installed on. Unlike `repo rotate-secret`, the value is the
// one typed into the App's settings on GitHub, so it is read from standard input (never
// from an argument, which shell history and `ps` would keep) and sent in the request body.
// Exit 0 ok, 1 failed / refused, 2 usage.

import { parse, withApi } from '../command-kit.js';
import { EXIT, type CliIO } from '../io.js';

const USAGE = `usage: slipway app set-secret [--json] < FILE

Stores the GitHub App's webhook secret (GitHub → the App's settings → Webhook secret) where
only the webhook reads it. Give the same value to both, for example:
  openssl rand -hex 32 | tee /dev/stderr | slipway app set-secret
then paste what it printed into the App's settings. Standard input is read to its end; one
trailing newline is dropped. The secret is never printed.

options:
  --json              print JSON
  -h, --help          show this help

exit status: 0 ok, 1 failed or refused, 2 usage error`;

export async function run(args: string[], io: CliIO): Promise<number> {
  const p = parse('app', args, { json: { type: 'boolean' } }, USAGE, io);
  if (!p) return EXIT.usage;
  if (p.values.help) return io.out(USAGE), EXIT.ok;
  const [action, ...extra] = p.positionals;
  const fail = (message: string) => (io.err(`slipway app: ${message}\n${USAGE}`), EXIT.usage);
  if (action !== 'set-secret') return fail(action ? `unknown action "${action}"` : 'expected set-secret');
  if (extra.length) return fail(`unexpected argument "${extra[0]}": the secret is read from standard input, never from an argument`);
  if (!io.stdin) return fail('no standard input to read the secret from');
  const secret = (await io.stdin()).replace(/\r?\n$/, '');
  if (secret === '') return fail('standard input was empty: pipe the secret in (see the example above)');
  return withApi('app', io, async (api) => {
    const res = await api.setGithubAppSecret(secret);
    if (p.values.json) io.out(JSON.stringify(res, null, 2));
    else {
      io.out(
        [
          "Stored the GitHub App's webhook secret; deliveries signed with it are accepted for activated repositories.",
          `In the App's settings on GitHub: Webhook URL ${res.webhookUrl ?? '<the webhook URL of this deployment>/github'}, Webhook secret: the same value.`,
        ].join('\n'),
      );
    }
    return EXIT.ok;
  });
}
