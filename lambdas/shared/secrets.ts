// The Git host credentials: plain environment values locally,
// Secrets Manager ARNs when deployed (read once per container, refreshed every 5 minutes
// so a rotated secret takes effect without a deploy).

import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ScmKind } from '../../core/pipeline/context.js';
import type { ScmCredentials } from '../../core/scm/types.js';
import { ENV } from '../../core/config/lambda-env.js';
import type { Env } from './config.js';

const TTL_MS = 5 * 60_000;
const cache = new Map<string, { value: string; at: number }>();

async function secretString(client: SecretsManagerClient, arn: string): Promise<string> {
  const hit = cache.get(arn);
  if (hit && Date.now() - hit.at < TTL_MS) return hit.value;
  const res = await client.send(new GetSecretValueCommand({ SecretId: arn }));
  if (res.SecretString === undefined) throw new Error(`secrets: ${arn} has no string value`);
  cache.set(arn, { value: res.SecretString, at: Date.now() });
  return res.SecretString;
}

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
export async function scmCredentials(env: Env, client: () => SecretsManagerClient): Promise<CredentialsByHost> {
  const plain = env[ENV.scmCredentials];
  if (plain) return parseCredentials(plain, ENV.scmCredentials);
  const arn = env[ENV.scmCredentialsSecretArn];
  if (arn) {
    return parseCredentials(await secretString(client(), arn), 'the SCM credentials secret');
  }
  return {};
}
