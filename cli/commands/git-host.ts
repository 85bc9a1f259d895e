// `slipway git-host serve | create OWNER/NAME`: a local Git host for trying webhooks end to
// end with `slipway up` (local/git-host.ts): bare repositories under --root, a GitHub-shaped
// API over them for the planner, and a post-receive hook that sends GitHub's signed push
// webhook. Exit 0 ok, 1 failed, 2 usage.

import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHostedRepository, repositoryPath, startLocalGitHost } from '../../local/git-host.js';
import { parse, positiveInt, withApi } from '../command-kit.js';
import { EXIT, type CliIO } from '../io.js';

const USAGE = `usage: slipway git-host serve [--root DIR] [--port N]
       slipway git-host create OWNER/NAME [--root DIR]

A Git host on this machine for local webhooks (see the README, "Local webhooks"):
  serve    the GitHub-shaped API the planner reads .drone.yml from and posts commit
           statuses to (127.0.0.1 only), and the SCM_CREDENTIALS to start slipway up with
  create   activates OWNER/NAME on the local server (as slipway repo add --host github)
           and makes the bare repository DIR/OWNER/NAME.git, whose pushes send GitHub's
           signed push webhook to that server

options:
  --root DIR          where the bare repositories live (default ~/slipway-git)
  --port N            the API's port (default 3000)
  -h, --help          show this help

exit status: 0 ok, 1 failed, 2 usage error`;

export async function run(args: string[], io: CliIO): Promise<number> {
  const p = parse('git-host', args, { root: { type: 'string' }, port: { type: 'string' } }, USAGE, io);
  if (!p) return EXIT.usage;
  if (p.values.help) return io.out(USAGE), EXIT.ok;
  const [action, ...rest] = p.positionals;
  const root = resolve(io.cwd, (p.values.root as string | undefined) ?? join(io.env.HOME || homedir(), 'slipway-git'));
  const usage = (message: string) => (io.err(`slipway git-host: ${message}\n${USAGE}`), EXIT.usage);

  if (action === 'serve') {
    if (rest.length) return usage(`unexpected argument "${rest[0]}"`);
    const port = p.values.port === undefined ? 3000 : positiveInt(p.values.port as string);
    if (port === undefined || port > 65535) return usage('--port must be a number from 1 to 65535');
    const host = await startLocalGitHost({ root, port, log: (line) => io.out(line) });
    io.out(`Git host API: ${host.apiUrl} (repositories in ${root})`);
    io.out('Start the local server with these SCM credentials (another terminal):');
    io.out(`  SCM_CREDENTIALS='${JSON.stringify({ github: { apiUrl: host.apiUrl, webUrl: host.webUrl, token: 'local' } })}' slipway up`);
    io.out('Press Ctrl-C to stop.');
    await new Promise<void>((done) => {
      process.once('SIGINT', () => done());
      process.once('SIGTERM', () => done());
    });
    await host.stop();
    return EXIT.ok;
  }

  if (action === 'create') {
    const [slug, ...extra] = rest;
    if (!slug || extra.length) return usage('expected one OWNER/NAME');
    try {
      repositoryPath(root, slug);
    } catch (err) {
      return usage((err as Error).message);
    }
    return withApi('git-host', io, async (api) => {
      const activated = await api.activateRepo(slug, 'github', 'public');
      if (!activated.webhook.url) {
        io.err(`slipway git-host: the server at ${api.server} named no webhook URL for ${slug}`);
        return EXIT.failed;
      }
      const repo = createHostedRepository(root, slug, { url: activated.webhook.url, secret: activated.webhook.secret });
      io.out(`Activated ${slug} on ${api.server}; its pushes send the webhook to ${activated.webhook.url}.`);
      io.out(`Push to it: git remote add local ${repo} && git push local HEAD:main`);
      return EXIT.ok;
    });
  }
  return usage(action ? `unknown action "${action}"` : 'expected serve or create');
}
