// `slipway secrets add|list|rm --repo OWNER/NAME …`: repository secrets for `from_secret`.
// Deployed (SLIPWAY_SERVER not on this machine, or --ssm): SSM Parameter Store SecureString
// parameters `<SECRETS_PREFIX, default /slipway>/<owner>/<repo>/<NAME>`, with the caller's
// AWS credentials. Local mode: the local secret store (SLIPWAY_HOME/secrets.json).
// Values never go to stdout. Exit 0 ok, 1 failed / not found, 2 usage.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DeleteParameterCommand, GetParametersByPathCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { isNotFound } from '../../core/util/aws-errors.js';
import { LocalSecretStore, secretPath, slipwayHome } from '../../local/secrets.js';
import { serverUrl } from '../client.js';
import { parse } from '../command-kit.js';
import { table } from '../format.js';
import { EXIT, type CliIO } from '../io.js';
import { ENV } from '../../core/config/lambda-env.js';

const USAGE = `usage: slipway secrets add --repo OWNER/NAME NAME (--value V | --from-file F)
       slipway secrets list --repo OWNER/NAME [--json]
       slipway secrets rm --repo OWNER/NAME NAME

Repository secrets, read by pipelines through \`from_secret: NAME\`.
Where they live: SSM Parameter Store (SecureString ${'`'}/slipway/OWNER/NAME/SECRET${'`'}) when
SLIPWAY_SERVER points at a deployment or with --ssm; the local store otherwise
(SLIPWAY_HOME/secrets.json, default ~/.slipway).

options:
  --repo OWNER/NAME   the repository (default SLIPWAY_REPO)
  --value V           the value (beware: shell history); or
  --from-file F       read the value from file F ("-": standard input)
  --ssm | --local     choose the store explicitly
  --json              list as JSON
  -h, --help          show this help

exit status: 0 ok, 1 failed or not found, 2 usage error`;

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

function isLocalServer(env: NodeJS.ProcessEnv): boolean {
  const host = new URL(serverUrl(env)).hostname;
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
}

interface SecretBackend {
  where: string;
  put(path: string, value: string): Promise<void>;
  list(prefix: string): Promise<{ path: string; updated?: Date }[]>;
  remove(path: string): Promise<boolean>;
}

function localBackend(env: NodeJS.ProcessEnv): SecretBackend {
  const store = new LocalSecretStore(slipwayHome(env));
  return {
    where: `the local store (${store.file})`,
    put: async (path, value) => store.put(path, value),
    list: async (prefix) => store.list(prefix).map((path) => ({ path })),
    remove: async (path) => store.remove(path),
  };
}

function ssmBackend(): SecretBackend {
  const ssm = new SSMClient({});
  return {
    where: 'SSM Parameter Store',
    async put(path, value) {
      await ssm.send(new PutParameterCommand({ Name: path, Value: value, Type: 'SecureString', Overwrite: true, Description: 'Slipway repository secret' }));
    },
    async list(prefix) {
      const out: { path: string; updated?: Date }[] = [];
      let token: string | undefined;
      do {
        // Names only: values are never decrypted for a listing.
        const res = await ssm.send(new GetParametersByPathCommand({ Path: prefix, WithDecryption: false, NextToken: token }));
        for (const p of res.Parameters ?? []) out.push({ path: p.Name!, ...(p.LastModifiedDate ? { updated: p.LastModifiedDate } : {}) });
        token = res.NextToken;
      } while (token);
      return out.sort((a, b) => a.path.localeCompare(b.path));
    },
    async remove(path) {
      try {
        await ssm.send(new DeleteParameterCommand({ Name: path }));
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    },
  };
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const p = parse(
    'secrets',
    args,
    { repo: { type: 'string' }, value: { type: 'string' }, 'from-file': { type: 'string' }, ssm: { type: 'boolean' }, local: { type: 'boolean' }, json: { type: 'boolean' } },
    USAGE,
    io,
  );
  if (!p) return EXIT.usage;
  if (p.values.help) return io.out(USAGE), EXIT.ok;
  const [action, name, ...extra] = p.positionals;
  const fail = (message: string) => (io.err(`slipway secrets: ${message}\n${USAGE}`), EXIT.usage);
  if (action !== 'add' && action !== 'list' && action !== 'rm') return fail(action ? `unknown action "${action}"` : 'expected add, list or rm');
  const repo = (p.values.repo as string | undefined) ?? io.env.SLIPWAY_REPO;
  if (!repo || !/^[^/\s]+\/[^\s]+$/.test(repo)) return fail('--repo OWNER/NAME is required');
  if (extra.length) return fail(`unexpected argument "${extra[0]}"`);
  if (action === 'list' ? name !== undefined : name === undefined || !NAME.test(name)) {
    return fail(action === 'list' ? `unexpected argument "${name}"` : `expected a secret NAME (letters, digits, _ . -; not starting with a digit)`);
  }
  if (p.values.ssm && p.values.local) return fail('--ssm and --local exclude each other');
  const backend = p.values.ssm ? ssmBackend() : p.values.local || isLocalServer(io.env) ? localBackend(io.env) : ssmBackend();
  const root = (io.env[ENV.secretsPrefix] || '/slipway').replace(/\/+$/, '');
  const prefix = `${root}/${repo}`;
  const file = p.values['from-file'] as string | undefined;

  try {
    if (action === 'list') {
      const items = await backend.list(prefix);
      const names = items.map((i) => ({ name: i.path.slice(prefix.length + 1), ...(i.updated ? { updated: i.updated.toISOString() } : {}) }));
      if (p.values.json) io.out(JSON.stringify({ repo, secrets: names }, null, 2));
      else if (names.length === 0) io.out(`no secrets for ${repo} in ${backend.where}`);
      else io.out(table(['NAME', 'UPDATED'], names.map((n) => [n.name, n.updated ?? '-'])));
      return EXIT.ok;
    }
    const path = secretPath(root, repo, name!);
    if (action === 'rm') {
      if (!(await backend.remove(path))) {
        io.err(`slipway secrets: ${repo} has no secret ${name} in ${backend.where}`);
        return EXIT.failed;
      }
      io.out(`removed ${name} of ${repo} from ${backend.where}`);
      return EXIT.ok;
    }
    const given = p.values.value as string | undefined;
    if ((given === undefined) === (file === undefined)) return fail('add needs exactly one of --value or --from-file');
    const value = given ?? readFileSync(file === '-' ? 0 : resolve(io.cwd, file!), 'utf8').replace(/\r?\n$/, '');
    await backend.put(path, value);
    io.out(`stored ${name} for ${repo} in ${backend.where}`);
    return EXIT.ok;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      io.err(`slipway secrets: cannot read ${file ?? ''}: no such file`);
      return EXIT.failed;
    }
    io.err(`slipway secrets: ${backend.where}: ${(err as Error).message}`);
    return EXIT.failed;
  }
}
