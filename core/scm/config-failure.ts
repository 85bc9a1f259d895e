// Why the planner could not read a pipeline file, in words a user can act on, and whether
// another delivery of the event may succeed. The planner turns each into an `error` build
// (at once when retrying cannot help, on the last delivery otherwise), so a push never ends
// as a 202 and then nothing. Pure: it reads the error's class, status and code.

import { classifyAwsError, describeAwsError } from '../util/aws-errors.js';
import { ScmUnreachableError } from './api-request.js';
import { ScmApiError } from './fetch-config.js';
import { RepositoryNameError, ScmConfigError } from './locate.js';

export interface ConfigFailure {
  /** The build's error: what failed, where, and what to check. */
  reason: string;
  /** Another delivery may succeed (the host is down, slow or limiting). */
  retryable: boolean;
}

export interface ConfigFailureContext {
  /** `github`, `gitea`, `gitlab` or `local`. */
  host: string;
  slug: string;
  path: string;
  sha: string;
}

/** Where the SCM credentials are set, in AWS and locally. */
const CREDENTIALS = 'the SCM credentials (the ScmCredentialsSecretArn secret; SCM_CREDENTIALS in local mode)';

/**
 * The host may answer another time: it did not answer, it failed (5xx) or it limits us (429,
 * or GitHub's 403 "rate limit"). Any other answer would be the same on a retry.
 */
export function hostMayAnswerLater(err: unknown): boolean {
  if (err instanceof ScmUnreachableError) return true;
  if (err instanceof ScmApiError) return err.status === 429 || (err.status === 403 && /rate limit/i.test(err.message)) || err.status >= 500;
  return false;
}

export function describeConfigFailure(err: unknown, where: ConfigFailureContext): ConfigFailure {
  const what = `cannot read ${where.path} of ${where.slug} at ${where.sha.slice(0, 12)}`;
  if (err instanceof ScmConfigError || err instanceof RepositoryNameError) return { reason: `${what}: ${err.message}`, retryable: false };
  if (err instanceof ScmUnreachableError) {
    return { reason: `${what}: the ${where.host} API did not answer: ${err.message}; is "${where.host}".apiUrl in ${CREDENTIALS} right, and is the host up?`, retryable: true };
  }
  if (err instanceof ScmApiError) {
    if (hostMayAnswerLater(err)) return { reason: `${what}: ${err.message}`, retryable: true };
    if (err.status === 401 || err.status === 403) {
      return { reason: `${what}: ${err.message}; the token of "${where.host}" in ${CREDENTIALS} was refused or may not read this repository`, retryable: false };
    }
    return { reason: `${what}: ${err.message}`, retryable: false };
  }
  // Reading the credentials themselves (Secrets Manager), a local repository, or a bug.
  const info = classifyAwsError(err);
  return { reason: `${what}: ${describeAwsError(info)}`, retryable: info.retryable };
}
