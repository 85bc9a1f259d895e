// `slipway repo add|update|list|rm|rotate-secret`: which repositories Slipway builds. A
// repository is activated on one Git host with its own webhook secret, which the API
// generates and shows once; webhooks of repositories that are not activated run nothing.
// `update` changes only the settings it names (Drone's `drone repo update`).
// Exit 0 ok, 1 failed / refused, 2 usage.

import type { RepoActivationResponse, RepoUpdateResponse } from '../../core/builds/api.js';
import { repositoryVisibility, type Repository } from '../../core/builds/types.js';
import { parse, withApi } from '../command-kit.js';
import { table, timestamp } from '../format.js';
import { EXIT, type CliIO } from '../io.js';

const USAGE = `usage: slipway repo add OWNER/NAME --host github|gitea|gitlab [--visibility private|internal|public] [--trusted] [--capacity warm|fargate] [--no-pull-through-cache] [--json]
       slipway repo update OWNER/NAME [--trusted|--no-trusted] [--capacity warm|fargate] [--visibility private|internal|public] [--pull-through-cache|--no-pull-through-cache] [--json]
       slipway repo list [--json]
       slipway repo rm OWNER/NAME
       slipway repo rotate-secret OWNER/NAME [--json]

Repositories Slipway builds. \`add\` activates one on its Git host and prints the webhook
URL and the repository's own secret to paste into the host (shown only then).
\`update\` changes only the settings it names, in place (its secret, builds and numbers
stay); they apply to builds planned from then on, not to builds already planned.
\`rotate-secret\` replaces the secret (the old one stops working at once), \`rm\` stops
building it (its builds stay). Where it is cloned from and which API is called come from
the SCM credentials' configuration of the host, never from a webhook.

options:
  --host H            github, gitea or gitlab (as configured in the SCM credentials)
  --visibility V      private (default) and internal repositories are cloned with the host's
                      clone token; public ones anonymously
  --trusted           may run on the deployment's EC2 capacity: privileged steps, the host's
                      Docker socket, docker:dind (a build there is root on its instance);
                      never for pull requests from forks
  --no-trusted        (update) no longer trusted: its pipelines that need EC2 are refused again
  --capacity C        where its pipelines run unless their node: { capacity } says: warm (EC2
                      instances that keep images cached, for a trusted repository) or fargate
  --no-pull-through-cache
                      its images are pulled as written, not through the deployment's ECR
                      pull-through cache (on by default); also no SOCI copies
  --pull-through-cache
                      (update) through the cache again
  --json              print JSON
  -h, --help          show this help

exit status: 0 ok, 1 failed or refused, 2 usage error`;

const EVENTS: Record<string, { secretField: string; contentType?: string; events: string }> = {
  github: { secretField: 'Secret', contentType: 'application/json', events: 'Pushes and Pull requests ("Let me select individual events")' },
  gitea: { secretField: 'Secret', contentType: 'application/json (POST)', events: 'Push, Create and Pull Request events' },
  gitlab: { secretField: 'Secret token', events: 'Push events (all branches), Tag push events, Merge request events' },
};

function instructions(res: RepoActivationResponse, verb: string): string {
  const { repo, webhook } = res;
  const how = EVENTS[webhook.host] ?? { secretField: 'Secret', events: 'push and pull request events' };
  const clone = repo.visibility === 'public' ? 'cloned anonymously' : `cloned with the ${webhook.host} clone token`;
  return [
    `${verb} ${webhook.host} repository ${repo.slug} (${repo.visibility ?? 'private'}: ${clone}${repo.trusted ? '; trusted: may run on EC2 capacity' : ''}${repo.capacity ? `; capacity ${repo.capacity}` : ''}${repo.pullThroughCache === false ? '; images pulled as written, not through the pull-through cache' : ''}).`,
    `In ${repo.slug}'s webhook settings on ${webhook.host}:`,
    `  URL:${' '.repeat(how.secretField.length - 3)}  ${webhook.url ?? `<the webhook URL of this deployment>/${webhook.host}`}`,
    ...(how.contentType ? [`  Content type${' '.repeat(Math.max(0, how.secretField.length - 12))}  ${how.contentType}`] : []),
    `  ${how.secretField}:  ${webhook.secret}`,
    `  Events:${' '.repeat(Math.max(0, how.secretField.length - 6))}  ${how.events}`,
    `The secret is shown only now; \`slipway repo rotate-secret ${repo.slug}\` makes a new one.`,
  ].join('\n');
}

function setting(value: boolean | string | undefined): string {
  return value === undefined ? '(none)' : String(value);
}

function updated(res: RepoUpdateResponse): string {
  const width = Math.max(...res.changes.map((c) => c.setting.length));
  return [
    `Updated ${res.repo.slug}:`,
    ...res.changes.map((c) => `  ${c.setting.padEnd(width)}  ${c.from === c.to ? `${setting(c.to)} (unchanged)` : `${setting(c.from)} → ${setting(c.to)}`}`),
    'Builds planned from now on use these settings (a restart too); builds already planned keep theirs.',
  ].join('\n');
}

function rows(repos: Repository[]): string[][] {
  return repos.map((r) => [r.slug, r.scm, repositoryVisibility(r), r.active ? (r.activatedAt === undefined ? 'yes (no secret: repo add)' : 'yes') : 'no', String(r.counter), timestamp(r.activatedAt)]);
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const p = parse(
    'repo',
    args,
    {
      host: { type: 'string' },
      visibility: { type: 'string' },
      trusted: { type: 'boolean' },
      'no-trusted': { type: 'boolean' },
      capacity: { type: 'string' },
      'pull-through-cache': { type: 'boolean' },
      'no-pull-through-cache': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    USAGE,
    io,
  );
  if (!p) return EXIT.usage;
  if (p.values.help) return io.out(USAGE), EXIT.ok;
  const [action, repo, ...extra] = p.positionals;
  const fail = (message: string) => (io.err(`slipway repo: ${message}\n${USAGE}`), EXIT.usage);
  if (action !== 'add' && action !== 'update' && action !== 'list' && action !== 'rm' && action !== 'rotate-secret') {
    return fail(action ? `unknown action "${action}"` : 'expected add, update, list, rm or rotate-secret');
  }
  if (extra.length) return fail(`unexpected argument "${extra[0]}"`);
  if (action === 'list' ? repo !== undefined : !repo || !/^[^/\s]+(\/[^/\s]+)+$/.test(repo)) {
    return fail(action === 'list' ? `unexpected argument "${repo}"` : 'expected OWNER/NAME');
  }
  const host = p.values.host as string | undefined;
  if (action === 'add' && !host) return fail('add needs --host github, gitea or gitlab');
  const untrusted = p.values['no-trusted'] === true;
  const cacheOn = p.values['pull-through-cache'] === true;
  const cacheOff = p.values['no-pull-through-cache'] === true;
  const settingsNamed = p.values.visibility !== undefined || p.values.trusted !== undefined || untrusted || p.values.capacity !== undefined || cacheOn || cacheOff;
  if (action === 'update') {
    if (host !== undefined) return fail(`update cannot move a repository to another host: slipway repo rm ${repo}, then slipway repo add ${repo} --host ${host}`);
    if (p.values.trusted && untrusted) return fail('--trusted and --no-trusted contradict each other');
    if (cacheOn && cacheOff) return fail('--pull-through-cache and --no-pull-through-cache contradict each other');
    if (!settingsNamed) return fail('update needs a setting to change: --trusted, --no-trusted, --capacity, --visibility, --pull-through-cache or --no-pull-through-cache');
  } else if (untrusted || cacheOn) {
    return fail(`${untrusted ? '--no-trusted' : '--pull-through-cache'} belongs to update${cacheOn && action === 'add' ? ' (add uses the cache unless --no-pull-through-cache)' : ''}`);
  } else if (action !== 'add' && (host !== undefined || settingsNamed)) {
    return fail('--host, --visibility, --trusted, --capacity and --no-pull-through-cache belong to add (and all but --host to update)');
  }
  const json = Boolean(p.values.json);

  return withApi('repo', io, async (api) => {
    switch (action) {
      case 'list': {
        const { repos } = await api.repos();
        if (json) io.out(JSON.stringify({ repos }, null, 2));
        else if (repos.length === 0) io.out('no repositories yet: slipway repo add OWNER/NAME --host HOST');
        else io.out(table(['REPOSITORY', 'HOST', 'VISIBILITY', 'ACTIVE', 'BUILDS', 'ACTIVATED'], rows(repos)));
        return EXIT.ok;
      }
      case 'add':
      case 'rotate-secret': {
        const res = action === 'add' ? await api.activateRepo(repo!, host!, p.values.visibility as string | undefined, {
                ...(p.values.trusted ? { trusted: true } : {}),
                ...(p.values.capacity !== undefined ? { capacity: p.values.capacity as string } : {}),
                ...(cacheOff ? { pullThroughCache: false } : {}),
              }) : await api.rotateRepoSecret(repo!);
        io.out(json ? JSON.stringify(res, null, 2) : instructions(res, action === 'add' ? 'Activated' : 'New webhook secret for'));
        return EXIT.ok;
      }
      case 'update': {
        const res = await api.updateRepo(repo!, {
          ...(p.values.trusted || untrusted ? { trusted: p.values.trusted === true } : {}),
          ...(p.values.capacity !== undefined ? { capacity: p.values.capacity as string } : {}),
          ...(p.values.visibility !== undefined ? { visibility: p.values.visibility as string } : {}),
          ...(cacheOn || cacheOff ? { pullThroughCache: cacheOn } : {}),
        });
        io.out(json ? JSON.stringify(res, null, 2) : updated(res));
        return EXIT.ok;
      }
      case 'rm': {
        const res = await api.removeRepo(repo!);
        io.out(json ? JSON.stringify(res, null, 2) : `removed ${res.repo.slug}: its webhooks run nothing now (its ${res.repo.counter} builds stay); delete the hook on ${res.repo.scm}`);
        return EXIT.ok;
      }
    }
  });
}
