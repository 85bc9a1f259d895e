// The build's final commit status, posted to its Git host (core/scm/post-status.ts).
// Credentials from SCM_CREDENTIALS (JSON per host: {"github":{"token","apiUrl"},…}).

import { commitState } from '../../core/builds/status.js';
import type { BuildStore } from '../../core/builds/store.js';
import type { Build } from '../../core/builds/types.js';
import { postStatus } from '../../core/scm/post-status.js';
import { BUILD_STATUS_CONTEXT, HOOK_HOSTS, type Fetch, type HookHost, type ScmCredentials } from '../../core/scm/types.js';

const WORDS: Record<string, string> = {
  success: 'passed',
  failure: 'failed',
  error: 'errored',
  killed: 'was cancelled',
  running: 'is running',
  pending: 'is pending',
};

export function buildStatusPoster(
  store: BuildStore,
  env: NodeJS.ProcessEnv = process.env,
  fetchImpl: Fetch = globalThis.fetch,
  log: (message: string, fields?: Record<string, unknown>) => void = () => {},
): (build: Build) => Promise<void> {
  let credentials: Record<string, ScmCredentials> | undefined;
  const credsFor = (host: HookHost): ScmCredentials => {
    if (credentials === undefined) {
      try {
        credentials = env.SCM_CREDENTIALS ? (JSON.parse(env.SCM_CREDENTIALS) as Record<string, ScmCredentials>) : {};
      } catch (err) {
        throw new Error(`task-events: SCM_CREDENTIALS is not valid JSON: ${(err as Error).message}`);
      }
    }
    return credentials[host] ?? {};
  };
  return async (build) => {
    const repo = await store.getRepository(build.repo);
    const host = repo?.scm;
    if (!repo || !host || !(HOOK_HOSTS as readonly string[]).includes(host)) {
      log('no Git host to post the status to', { buildId: build.id, scm: host });
      return;
    }
    const targetUrl = env.PUBLIC_URL ? `${env.PUBLIC_URL.replace(/\/$/, '')}/repos/${build.repo}/builds/${build.number}` : undefined;
    await postStatus(
      host as HookHost,
      credsFor(host as HookHost),
      { slug: repo.slug, link: repo.link },
      build.commit,
      {
        state: commitState(build.status),
        context: BUILD_STATUS_CONTEXT,
        description: `Build #${build.number} ${WORDS[build.status] ?? build.status}${build.error ? `: ${build.error}` : ''}`.slice(0, 140),
        ...(targetUrl ? { targetUrl } : {}),
      },
      fetchImpl,
    );
  };
}
