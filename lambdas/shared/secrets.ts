// The Git host credentials: plain environment values locally, a Secrets Manager ARN when
// deployed (read through Powertools Parameters and kept MAX_AGE_SECONDS.scmCredentials, so a
// rotated secret takes effect within 5 minutes, without a deploy).

import type { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { ScmKind } from '../../core/pipeline/context.js';
import type { ScmCredentials } from '../../core/scm/types.js';
import { ENV } from '../../core/config/lambda-env.js';
import type { Env } from './config.js';
import { MAX_AGE_SECONDS, secretText, secretsManagerSecrets } from './parameters.js';

/** A host's entry: the API token and URL, and the login the agent clones with (not secret). */
export type HostCredentials = ScmCredentials & {
  cloneUsername?: string;
  /** GitHub only: a GitHub App (its id and PEM private key) instead of a long-lived `token`. */
  appId?: string;
  privateKey?: string;
};

/**
 * The SCM credentials JSON: `{"github":{"token","apiUrl"},…}` for the Git host APIs, plus
 * optional top-level clone tokens (`"githubCloneToken": "…"`, see clone-credentials.ts)
 * that ECS injects into build agents. Top-level because ECS selects only top-level keys.
 * `registries` (optional): `{"docker.io":{"username","password"},…}`, the logins the planner
 * reads plugin images' commands with (see registry-credentials.ts); unchecked here.
 */
export type CredentialsByHost = Partial<Record<ScmKind, HostCredentials>> &
  Partial<Record<'githubCloneToken' | 'giteaCloneToken' | 'gitlabCloneToken', string>> & { registries?: unknown };

export function parseCredentials(json: string, source: string): CredentialsByHost {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new Error(`config: ${source} is not JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`config: ${source} must be an object like {"github":{"token":"…","apiUrl":"…"}}`);
  }
  return value as CredentialsByHost;
}

/** SCM_CREDENTIALS (local JSON) or SCM_CREDENTIALS_SECRET_ARN (deployed); none: anonymous. */
export async function scmCredentials(env: Env, secrets: () => Pick<SecretsProvider, 'get'> = secretsManagerSecrets): Promise<CredentialsByHost> {
  const plain = env[ENV.scmCredentials];
  if (plain) return parseCredentials(plain, ENV.scmCredentials);
  const arn = env[ENV.scmCredentialsSecretArn];
  if (arn) {
    const text = await secretText(secrets(), arn, MAX_AGE_SECONDS.scmCredentials, 'the SCM credentials secret');
    return parseCredentials(text, 'the SCM credentials secret');
  }
  return {};
}
