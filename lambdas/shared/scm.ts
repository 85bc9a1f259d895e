// One door to the Git hosts for the Lambdas: fetch the pipeline file at a commit, post a
// commit status. Dispatches on the repository's host; `local` reads a local repository.

import type { RepoInfo, ScmKind } from '../../core/pipeline/context.js';
import type { Build, GithubInstallation, Repository } from '../../core/builds/types.js';
import { fetchConfig } from '../../core/scm/fetch-config.js';
import { postStatus } from '../../core/scm/post-status.js';
import { repositoryRequestOf, sendApiRequest } from '../../core/scm/api-request.js';
import { SCM_HOSTS } from '../../core/scm/hosts.js';
import { buildCommitStatus } from '../../core/scm/commit-state.js';
import { apiBaseOf, locateRepository, ScmConfigError } from '../../core/scm/locate.js';
import { GithubAppTokens, installationHint } from './github-app-tokens.js';
import type { CommitStatus, Fetch, HookHost, ScmCredentials } from '../../core/scm/types.js';
import type { CredentialsByHost } from './secrets.js';
import { localRepoPath, readFileAtCommit } from './local-git.js';
import type { GitHostOperation, SlipwayMetrics } from './observability/metrics.js';

export type ScmRepo = Pick<RepoInfo, 'slug' | 'link' | 'httpUrl'> & {
  scm: ScmKind;
  visibility?: RepoInfo['visibility'];
  /** The GitHub App installation the repository's record holds (never a webhook's): a token is then one call. */
  githubInstallation?: GithubInstallation;
};

export interface ScmAccess {
  /**
   * Where a repository lives: from the host's configuration and the name (core/scm/locate.ts);
   * a local repository is where its activation says. Throws ScmConfigError for a host whose
   * configuration cannot locate it.
   */
  locate(repo: Pick<ScmRepo, 'scm' | 'slug' | 'httpUrl' | 'link'>): Promise<{ httpUrl: string; link: string }>;
  /** The file's text at the commit, or null when the commit has none. */
  fetchConfig(repo: ScmRepo, path: string, sha: string): Promise<string | null>;
  postStatus(repo: ScmRepo, sha: string, status: CommitStatus): Promise<void>;
  /**
   * Asks the host's API for the repository itself with the configured credentials (what
   * `slipway doctor` checks): the host's HTTP status and, when it is not a success, its message;
   * or why no request got an answer (no route, DNS, TLS, a GitHub App token not minted).
   * Throws ScmConfigError for a host whose configuration cannot make the request.
   */
  probe(repo: ScmRepo & { scm: HookHost }): Promise<{ apiUrl: string; status: number; message: string } | { apiUrl: string; error: string }>;
  /**
   * The GitHub App installation this access last bought a token of the repository with (the
   * record's id GitHub took, or the one GitHub named instead), without a call; undefined without
   * a GitHub App or before a token. The planner puts it on the stage's jobs.
   */
  githubInstallation?(repo: ScmRepo): Promise<GithubInstallation | undefined>;
}

export interface ScmAccessOptions {
  credentials: () => Promise<CredentialsByHost>;
  fetch?: Fetch;
  /** Where statuses of `local` repositories go (local mode shows them; default: nowhere). */
  onLocalStatus?: (repo: ScmRepo, sha: string, status: CommitStatus) => void;
  /** Counts the Git host calls that failed (GitHostErrors); not our configuration's errors. */
  metrics?: Pick<SlipwayMetrics, 'gitHostError'>;
  /**
   * Keeps the GitHub App installation GitHub's API named for a repository whose record held none,
   * or one GitHub refused (the planner: on the repository's record). Should not throw.
   */
  keepInstallation?: (slug: string, installation: GithubInstallation) => Promise<void>;
}

export function createScmAccess(options: ScmAccessOptions): ScmAccess {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const appTokens = new GithubAppTokens(fetchImpl);
  /** A host's credentials for one repository: GitHub App ones become a token scoped to it. */
  const credentialsFor = async (repo: ScmRepo & { scm: HookHost }): Promise<ScmCredentials> => {
    const creds = (await options.credentials())[repo.scm] ?? {};
    if (repo.scm !== 'github' || !creds.appId) return creds;
    if (!creds.privateKey) throw new ScmConfigError('scm: "github".appId is set but "github".privateKey (the App\'s PEM key) is not');
    const app = { appId: creds.appId, privateKey: creds.privateKey };
    return { ...creds, token: await appTokens.token(app, apiBaseOf('github', creds), repo.slug, installationHint(app.appId, repo.slug, repo.githubInstallation, options.keepInstallation)) };
  };
  /** A call to the host that throws (an HTTP error answer, or no answer at all) is counted, then rethrown. */
  const counted = async <T>(host: HookHost, operation: GitHostOperation, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      options.metrics?.gitHostError(host, operation);
      throw err;
    }
  };
  return {
    async locate(repo) {
      if (repo.scm === 'local') return { httpUrl: repo.httpUrl, link: repo.link };
      const { httpUrl, link } = locateRepository(repo.scm, repo.slug, (await options.credentials())[repo.scm] ?? {});
      return { httpUrl, link };
    },
    async fetchConfig(repo, path, sha) {
      if (repo.scm === 'local') return readFileAtCommit(localRepoPath(repo.httpUrl), sha, path);
      const credentials = await credentialsFor({ ...repo, scm: repo.scm });
      const text = await counted(repo.scm, 'fetch-config', () => fetchConfig(repo.scm as HookHost, credentials, repo, path, sha, fetchImpl));
      // Hosts answer 404 for a private repository's files without a token (GitHub's REST API
      // "Troubleshooting": "we send a 404 error when your client isn't properly authenticated"):
      // that is missing credentials, not a missing file.
      if (text === null && !credentials.token && repo.visibility !== undefined && repo.visibility !== 'public') {
        throw new ScmConfigError(`scm: ${repo.scm} answered 404 for the ${repo.visibility} repository ${repo.slug}, and the SCM credentials have no "${repo.scm}".token to read it with`);
      }
      return text;
    },
    async postStatus(repo, sha, status) {
      if (repo.scm === 'local') {
        options.onLocalStatus?.(repo, sha, status);
        return;
      }
      const credentials = await credentialsFor({ ...repo, scm: repo.scm });
      await counted(repo.scm, 'post-status', () => postStatus(repo.scm as HookHost, credentials, repo, sha, status, fetchImpl));
    },
    async githubInstallation(repo) {
      if (repo.scm !== 'github') return undefined;
      const creds = (await options.credentials()).github ?? {};
      if (!creds.appId) return undefined;
      const id = appTokens.installationOf({ appId: creds.appId }, apiBaseOf('github', creds), repo.slug);
      return id === undefined ? undefined : { appId: creds.appId, id };
    },
    async probe(repo) {
      const apiUrl = apiBaseOf(repo.scm, (await options.credentials())[repo.scm] ?? {});
      const failed = (what: string, err: unknown) => {
        if (err instanceof ScmConfigError) throw err;
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        return { apiUrl, error: [`${what}${(err as Error).message}`, cause?.code ?? cause?.message].filter(Boolean).join(': ') };
      };
      let credentials: ScmCredentials;
      try {
        credentials = await credentialsFor(repo);
      } catch (err) {
        return failed('GitHub App token: ', err);
      }
      let res: Response;
      try {
        res = await sendApiRequest(repositoryRequestOf(SCM_HOSTS[repo.scm].api, credentials, repo), fetchImpl);
      } catch (err) {
        return failed('', err);
      }
      const text = await res.text();
      // A success's body describes the repository: not needed, not passed on.
      return { apiUrl, status: res.status, message: res.ok ? '' : hostMessage(text) };
    },
  };
}

/** Posts a build's status (`continuous-integration/slipway`) to the host of its repository. */
export async function postBuildStatus(
  scm: ScmAccess,
  getRepository: (slug: string) => Promise<Repository | null>,
  build: Build,
  publicUrl?: string,
): Promise<void> {
  const repo = await getRepository(build.repo);
  if (!repo) throw new Error(`scm: repository ${build.repo} of build ${build.id} is not in the table`);
  await scm.postStatus(repo, build.commit, buildCommitStatus(build, publicUrl));
}

/** The host's own error message (`{"message": …}` on GitHub, Gitea and GitLab), cut short. */
function hostMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof message === 'string') return message.slice(0, 200);
  } catch {
    // Not JSON (a proxy's page): its first characters say enough.
  }
  return text.slice(0, 200);
}
