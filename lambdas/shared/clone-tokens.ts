// GitHub App installation tokens for a build's clone, minted when its task starts.
//
// With a GitHub App, a private repository's agent clones with a token minted for that one
// repository with `contents: read` only, valid an hour (GitHub: "Installation access
// tokens expire one hour from the time you create them",
// https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-an-installation-access-token-for-a-github-app).
// It reaches the agent the way every secret does, through the task definition's `secrets`,
// never through RunTask overrides (DescribeTasks and CloudTrail show those), DynamoDB or a
// log line. The definition must stay the same for every build (its family is a hash of its
// content), so it names one SSM parameter per repository,
// `<CLONE_TOKENS_PREFIX>/github/<owner>/<name>`, and the autoscaler writes a new token
// there just before RunTask: a stage may wait for capacity longer than a token lives, so
// the token is bought at start, not at planning.
//
// A token this instance minted and wrote for the same repository a short while ago is still
// in the parameter, or a newer one is (below), and it is valid an hour: a start whose
// token has comfortably more life left than its task needs before its clone (`reuseMinLifeMs`,
// set by the autoscaler from its bound on a task's start) neither calls GitHub nor writes.
// ECS reads the parameter when it starts the task, never later ("Sensitive data is injected
// into your container when the container is initially started",
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-ssm-paramstore.html):
// so the parameter holds a valid token before RunTask, never only after it.
//
// Why SSM Parameter Store: a standard SecureString costs nothing and holds 4 KB (GitHub's
// new stateless tokens are ~520 characters); Secrets Manager asks not to call PutSecretValue
// more than once every 10 minutes per secret (each call is a version, and versions younger
// than 24 h are kept: https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html),
// which one push an hour would already exceed. SSM keeps a parameter's last 100 versions and
// drops the oldest on each new one (unless it has a label: ParameterMaxVersionLimitExceeded,
// https://docs.aws.amazon.com/botocore/latest/reference/services/ssm/client/exceptions/ParameterMaxVersionLimitExceeded.html).
//
// Two builds of one repository starting together both write it, or one of them reuses a token
// its instance wrote: each task reads whatever was written last when ECS fetches its secrets.
// Only a token just minted is ever written (a reuse writes nothing), and the token a start
// wrote or reused was written before its RunTask by the same instance: so the last write is
// a token minted no earlier than its own, give or take the seconds between another writer's
// mint and its write, which the reuse margin covers, for the same repository, with the same
// one permission: either serves the clone.
//
// The prefix must be apart from the repositories' secrets (`from_secret` names parameters
// under SECRETS_PREFIX and reaches steps: a clone token there could be asked for by a step)
// and from the webhook secrets (lib/config.ts checks both).

import { PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { CLONE_PERMISSIONS } from '../../core/scm/github-app.js';
import { ScmApiError } from '../../core/scm/fetch-config.js';
import { apiBaseOf, RepositoryNameError, ScmConfigError, validateSlug } from '../../core/scm/locate.js';
import type { StageJob } from '../../core/scaling/job.js';
import type { GithubInstallation } from '../../core/builds/types.js';
import { classifyAwsError, describeAwsError } from '../../core/util/aws-errors.js';
import { ENV } from '../../core/config/lambda-env.js';
import type { Env } from './config.js';
import { GithubAppTokens, installationHint } from './github-app-tokens.js';
import type { CredentialsByHost } from './secrets.js';

export const DEFAULT_CLONE_TOKENS_PREFIX = '/slipway-clone-tokens';

const SSM_PATH = /^\/[A-Za-z0-9_.\-/]+$/;

/** CLONE_TOKENS_PREFIX, checked as an SSM path (default /slipway-clone-tokens), without a trailing slash. */
export function cloneTokensPrefix(env: Env): string {
  const raw = env[ENV.cloneTokensPrefix] || DEFAULT_CLONE_TOKENS_PREFIX;
  const prefix = raw.replace(/\/+$/, '');
  if (!SSM_PATH.test(prefix) || /^\/(aws|ssm)/i.test(prefix)) {
    throw new Error(`config: ${ENV.cloneTokensPrefix}=${JSON.stringify(raw)} must be an SSM path such as ${DEFAULT_CLONE_TOKENS_PREFIX} (letters, digits, "_", ".", "-", "/"; not starting with aws or ssm)`);
  }
  return prefix;
}

/**
 * `<prefix>/github/<owner>/<name>`. A name that validateSlug accepts is within SSM's
 * characters (`a-zA-Z0-9_.-/`) and three levels below the prefix (SSM allows 15 in all:
 * HierarchyLevelLimitExceededException, PutParameter), so it needs no encoding. Throws
 * RepositoryNameError for anything else.
 */
export function cloneTokenParameterName(prefix: string, slug: string): string {
  return `${prefix}/github/${validateSlug('github', slug)}`;
}

/**
 * The task definition's `valueFrom`: the parameter's ARN when the account is known (as
 * every secret reference the planner writes), else its name, which ECS accepts for a
 * parameter in the task's own Region (AWS::ECS::TaskDefinition Secret,
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ecs-taskdefinition-secret.html).
 */
export function cloneTokenValueFrom(name: string, where: { accountId?: string; partition?: string; region: string }): string {
  return where.accountId && where.partition ? `arn:${where.partition}:ssm:${where.region}:${where.accountId}:parameter${name}` : name;
}

/** Where tokens are written. */
export interface CloneTokenStore {
  put(name: string, value: string): Promise<void>;
}

/**
 * A standard-tier SecureString (free; the tier is named so that an account whose default
 * tier is Advanced or Intelligent-Tiering is not billed for it), encrypted with the
 * account's aws/ssm key, overwritten each time.
 */
export function ssmCloneTokenStore(client: () => SSMClient): CloneTokenStore {
  return {
    async put(name, value) {
      await client().send(new PutParameterCommand({ Name: name, Value: value, Type: 'SecureString', Tier: 'Standard', Overwrite: true }));
    },
  };
}

/** Why a stage's clone token could not be provided; `retryable`: worth another start after a back-off. */
export class CloneTokenError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'CloneTokenError';
  }
}

/** The parameter names a task definition reads its secrets from (SSM ARNs become names). */
function parameterNamesOf(taskDefinition: StageJob['taskDefinition']): string[] {
  const containers = Array.isArray(taskDefinition.containerDefinitions) ? (taskDefinition.containerDefinitions as { secrets?: unknown }[]) : [];
  return containers.flatMap((c) => (Array.isArray(c?.secrets) ? (c.secrets as { valueFrom?: unknown }[]) : []))
    .map((s) => s?.valueFrom)
    .filter((v): v is string => typeof v === 'string')
    .map((v) => /^arn:aws[\w-]*:ssm:[^:]*:[^:]*:parameter(\/.*)$/.exec(v)?.[1] ?? v);
}

/**
 * The clone token parameter the job's task reads, if any. Only its own repository's: a
 * definition that names another one under the prefix is refused (the compiler never
 * writes one; this keeps a stored job from ever carrying another repository's token).
 */
export function cloneTokenParameterOf(job: Pick<StageJob, 'repo' | 'taskDefinition'>, prefix: string): string | undefined {
  const names = parameterNamesOf(job.taskDefinition).filter((n) => n.startsWith(`${prefix}/`));
  if (names.length === 0) return undefined;
  let own: string;
  try {
    own = cloneTokenParameterName(prefix, job.repo);
  } catch (err) {
    if (!(err instanceof RepositoryNameError)) throw err;
    throw new CloneTokenError(`clone token: ${err.message}`, false);
  }
  const foreign = names.find((n) => n !== own);
  if (foreign !== undefined) {
    throw new CloneTokenError(`clone token: the task definition of ${job.repo} reads ${foreign}, which is not its repository's clone token (${own}); restart the build`, false);
  }
  return own;
}

export interface CloneTokenMinterOptions {
  prefix: string;
  /** The SCM credentials (the `github` entry's appId and privateKey, apiUrl). */
  credentials: () => Promise<CredentialsByHost>;
  store: CloneTokenStore;
  tokens?: GithubAppTokens;
  /**
   * A token this minter wrote for the repository is used again while it has at least this
   * long to live (milliseconds); absent: every start mints and writes.
   */
  reuseMinLifeMs?: number;
  now?: () => number;
  /**
   * Keeps the installation GitHub named when a job carried none for the App, or one GitHub
   * refused (scm.ts installationKeeper: on the repository's record, where the planner reads it
   * and puts it on the next jobs). Should not throw.
   */
  keepInstallation?: (slug: string, installation: GithubInstallation) => Promise<void>;
}

/** The token a stage's task reads: written now, or one this minter wrote before and still good (`reused`). */
export interface CloneTokenWritten {
  parameter: string;
  expiresAt: number;
  reused: boolean;
}

/** What a stage's start needs: the token written where its task definition reads it, or nothing to do. */
export type CloneTokenMinter = (job: Pick<StageJob, 'repo' | 'taskDefinition' | 'githubInstallation'>) => Promise<CloneTokenWritten | undefined>;

/** GitHub down or limiting: worth another try. Anything else (not installed, bad key) is not. */
function retryableScmError(err: ScmApiError): boolean {
  return err.status >= 500 || err.status === 429 || (err.status === 403 && /rate limit/i.test(err.message));
}

export function createCloneTokenMinter(options: CloneTokenMinterOptions): CloneTokenMinter {
  const tokens = options.tokens ?? new GithubAppTokens();
  const now = options.now ?? Date.now;
  /** What this minter wrote last to each parameter, and with which App (apiBase, appId). */
  const written = new Map<string, { app: string; expiresAt: number }>();
  /** Starts of one repository at once (a pass starts stages in parallel) share one mint and write. */
  const writing = new Map<string, Promise<CloneTokenWritten>>();
  return async (job) => {
    const parameter = cloneTokenParameterOf(job, options.prefix);
    if (parameter === undefined) return undefined;
    const under = writing.get(parameter);
    if (under) return under;
    const work = mintAndWrite(job, parameter).finally(() => writing.delete(parameter));
    writing.set(parameter, work);
    return work;
  };

  async function mintAndWrite(job: Pick<StageJob, 'repo' | 'githubInstallation'>, parameter: string): Promise<CloneTokenWritten> {
    let credentials: CredentialsByHost;
    try {
      credentials = await options.credentials();
    } catch (err) {
      const info = classifyAwsError(err);
      throw new CloneTokenError(`clone token: could not read the SCM credentials: ${describeAwsError(info)}`, info.retryable);
    }
    const github = credentials.github;
    if (!github?.appId) {
      throw new CloneTokenError(
        `clone token: the task of ${job.repo} clones with a GitHub App token (${parameter}), but the SCM credentials have no "github".appId: configure the App (README, "GitHub as a GitHub App") or restart the build to plan it with the configured token`,
        false,
      );
    }
    if (!github.privateKey) throw new CloneTokenError('clone token: "github".appId is set but "github".privateKey (the App\'s PEM key) is not', false);
    const apiBase = apiBaseOf('github', github);
    const app = `${apiBase}\n${github.appId}`;
    const last = written.get(parameter);
    if (options.reuseMinLifeMs !== undefined && last?.app === app && last.expiresAt - now() >= options.reuseMinLifeMs) {
      return { parameter, expiresAt: last.expiresAt, reused: true };
    }
    let minted: { token: string; expiresAt: number };
    try {
      // The job's installation (the planner read it on the repository's record): one call to GitHub.
      const hint = installationHint(github.appId, job.repo, job.githubInstallation, options.keepInstallation);
      minted = await tokens.mint({ appId: github.appId, privateKey: github.privateKey }, apiBase, job.repo, CLONE_PERMISSIONS, hint);
    } catch (err) {
      if (err instanceof ScmConfigError) throw new CloneTokenError(`clone token: ${err.message}`, false);
      if (err instanceof ScmApiError) throw new CloneTokenError(`clone token: ${err.message}`, retryableScmError(err));
      // No answer at all (network, timeout, a body that is not JSON): GitHub may be back soon.
      throw new CloneTokenError(`clone token: GitHub did not answer for ${job.repo}: ${(err as Error).message}`, true);
    }
    // A write that fails may still have landed: nothing is taken as written until it answered.
    written.delete(parameter);
    try {
      await options.store.put(parameter, minted.token);
    } catch (err) {
      const info = classifyAwsError(err);
      throw new CloneTokenError(`clone token: could not write ${parameter}: ${describeAwsError(info)}`, info.retryable);
    }
    written.set(parameter, { app, expiresAt: minted.expiresAt });
    return { parameter, expiresAt: minted.expiresAt, reused: false };
  }
}
