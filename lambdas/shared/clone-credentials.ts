// How the agent of a private repository's build authenticates its clone. With a GitHub App,
// a GitHub repository's token is minted as its stages start (clone-tokens.ts). Otherwise the token lives
// in the SCM credentials secret (Secrets Manager) under a TOP-LEVEL key per host —
// `githubCloneToken`, `giteaCloneToken`, `gitlabCloneToken` — because ECS `secrets`
// can select a top-level JSON key of a secret (`<arn>:<key>::`) but not a nested one.
// The planner only decides whether to reference it: the task definition carries the
// reference, ECS resolves it at task start, and the value never passes through DynamoDB,
// RunTask overrides or a log line.

import type { CloneCredentials } from '../../core/pipeline/compile.js';
import type { RepoInfo, ScmKind } from '../../core/pipeline/context.js';
import { ENV } from '../../core/config/lambda-env.js';
import { RepositoryNameError } from '../../core/scm/locate.js';
import type { Env } from './config.js';
import { cloneTokenParameterName, cloneTokenValueFrom } from './clone-tokens.js';
import type { CredentialsByHost } from './secrets.js';

export type HostedScm = Exclude<ScmKind, 'local'>;

/** The secret's top-level key holding each host's clone token. */
export const CLONE_TOKEN_KEYS = {
  github: 'githubCloneToken',
  gitea: 'giteaCloneToken',
  gitlab: 'gitlabCloneToken',
} as const satisfies Record<HostedScm, string>;

/**
 * The netrc login each host accepts with a token as the password (override per host with
 * `"<host>": {"cloneUsername": "…"}`): GitHub's installation and personal tokens take
 * `x-access-token`; GitLab's personal, project and group tokens take `oauth2`; Gitea
 * ignores the login when the password is a token, and `oauth2` is what its docs show.
 */
export const DEFAULT_CLONE_USERNAMES: Record<HostedScm, string> = {
  github: 'x-access-token',
  gitea: 'oauth2',
  gitlab: 'oauth2',
};

export interface CloneDecision {
  credentials?: CloneCredentials;
  /** Why a repository that needs credentials gets none (for the operator's log; never a secret value). */
  warning?: string;
}

/** Private and internal repositories cannot be cloned anonymously. */
export function needsCloneCredentials(repo: Pick<RepoInfo, 'private' | 'visibility' | 'scm'>): boolean {
  return repo.scm !== 'local' && (repo.private || repo.visibility !== 'public');
}

const NETRC_SAFE = /^[^\s"']+$/;

/**
 * With a GitHub App (`"github": {"appId", "privateKey"}`), a GitHub repository's agent clones
 * with an installation token that the autoscaler mints for its build when the task starts
 * (clone-tokens.ts): the task definition names the repository's own parameter under
 * `prefix`. The token in the secret (`githubCloneToken`) is then not used.
 */
export interface AppCloneTokenSettings {
  prefix: string;
  region: string;
  accountId?: string;
  partition?: string;
}

/** The netrc machine and login of a repository's clone, or why there is none. */
function netrcLogin(repo: Pick<RepoInfo, 'httpUrl'>, config: CredentialsByHost, scm: HostedScm): { machine: string; username: string } | { why: string } {
  let machine: string;
  try {
    const url = new URL(repo.httpUrl);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${url.protocol} is not HTTP(S)`);
    machine = url.hostname;
  } catch (err) {
    return { why: `its clone URL ${JSON.stringify(repo.httpUrl)} is not an HTTP(S) URL (${(err as Error).message})` };
  }
  const username = config[scm]?.cloneUsername ?? DEFAULT_CLONE_USERNAMES[scm];
  if (!NETRC_SAFE.test(username)) {
    return { why: `"${scm}".cloneUsername ${JSON.stringify(username)} is empty or holds whitespace or quotes, which a netrc cannot hold` };
  }
  return { machine, username };
}

/**
 * `secretArn`: the full ARN of the Secrets Manager secret `config` was read from (ECS needs
 * the full ARN to select a JSON key); undefined when the configuration is not such a
 * secret (local mode's SCM_CREDENTIALS), which ECS cannot reference. `app`: where GitHub
 * App clone tokens are written, used when `config.github.appId` is set.
 */
export function cloneCredentialsFor(
  repo: Pick<RepoInfo, 'slug' | 'private' | 'visibility' | 'scm' | 'httpUrl'>,
  config: CredentialsByHost,
  secretArn: string | undefined,
  app?: AppCloneTokenSettings,
): CloneDecision {
  if (!needsCloneCredentials(repo)) return {};
  const scm = repo.scm as HostedScm;
  const key = CLONE_TOKEN_KEYS[scm];
  const without = (why: string): CloneDecision => ({
    warning: `clone: ${repo.slug} is ${repo.visibility}, but its build gets no clone credentials: ${why}; its clone will fail`,
  });
  if (scm === 'github' && config.github?.appId && app) {
    const login = netrcLogin(repo, config, scm);
    if ('why' in login) return without(login.why);
    let name: string;
    try {
      name = cloneTokenParameterName(app.prefix, repo.slug);
    } catch (err) {
      if (!(err instanceof RepositoryNameError)) throw err;
      return without(err.message);
    }
    return { credentials: { ...login, passwordFrom: cloneTokenValueFrom(name, app) } };
  }
  const token: unknown = config[key];
  if (typeof token !== 'string' || token === '') {
    return without(`the SCM credentials secret has no top-level "${key}" string (the ${scm} token the agent clones with)`);
  }
  if (!secretArn || !/^arn:aws[\w-]*:secretsmanager:[^:]+:\d+:secret:[^:]+$/.test(secretArn)) {
    return without(`${ENV.scmCredentialsSecretArn} is not the full ARN of a Secrets Manager secret, which ECS needs to inject one key of it`);
  }
  const login = netrcLogin(repo, config, scm);
  if ('why' in login) return without(login.why);
  return { credentials: { ...login, passwordFrom: `${secretArn}:${key}::` } };
}

/**
 * The planner's source of clone credentials: reads the SCM configuration only for
 * repositories that need it. The ARN is used only when the configuration came from it:
 * SCM_CREDENTIALS (plain JSON, local mode) wins in scmCredentials() and has no ARN.
 */
export function cloneCredentialsSource(env: Env, readConfig: () => Promise<CredentialsByHost>, app?: AppCloneTokenSettings): (repo: RepoInfo) => Promise<CloneDecision> {
  const secretArn = env[ENV.scmCredentials] ? undefined : env[ENV.scmCredentialsSecretArn];
  return async (repo) => (needsCloneCredentials(repo) ? cloneCredentialsFor(repo, await readConfig(), secretArn, app) : {});
}
