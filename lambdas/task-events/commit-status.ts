// The build's final commit status, posted to its Git host through the same door as the
// planner's pending one (lambdas/shared/scm.ts), with the credentials of SCM_CREDENTIALS
// (local JSON) or SCM_CREDENTIALS_SECRET_ARN (deployed).
//
// The build's end is recorded before the status is posted, so a redelivered event does
// not post again: a host that fails now is retried here a few times, then logged.

import type { BuildStore } from '../../core/builds/store.js';
import type { Build } from '../../core/builds/types.js';
import type { Fetch } from '../../core/scm/types.js';
import { secretsClient } from '../shared/clients.js';
import type { Env } from '../shared/config.js';
import { createScmAccess, postBuildStatus } from '../shared/scm.js';
import { scmCredentials } from '../shared/secrets.js';

const RETRY_DELAYS_MS = [200, 1000];

export function buildStatusPoster(
  store: Pick<BuildStore, 'getRepository'>,
  env: Env = process.env,
  fetchImpl: Fetch = globalThis.fetch,
  log: (message: string, fields?: Record<string, unknown>) => void = () => {},
): (build: Build) => Promise<void> {
  const scm = createScmAccess({ credentials: () => scmCredentials(env, secretsClient), fetch: fetchImpl });
  const getRepository = (slug: string) => store.getRepository(slug);
  return async (build) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await postBuildStatus(scm, getRepository, build, env.PUBLIC_URL);
        return;
      } catch (err) {
        const status = (err as { status?: number }).status;
        // 4xx other than 429 (bad token, unknown repository) will not get better by retrying.
        const retryable = status === undefined || status === 429 || status >= 500;
        if (!retryable || attempt >= RETRY_DELAYS_MS.length) {
          log('commit status not posted', { buildId: build.id, status: build.status, error: (err as Error).message });
          return;
        }
        await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]));
      }
    }
  };
}
