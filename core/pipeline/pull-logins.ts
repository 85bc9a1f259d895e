// Before compiling, the planner reads the Docker config pull secrets of the build's file
// (docker-config.ts) and keeps each registry's login that a pipeline's images need in a
// derived secret in ECS's {"username", "password"} form, under the repository's own prefix.
// The compiler then learns only which registries each pull secret has a login for, never a
// value: the values go from the store to the store.

import type { BuildContext } from './context.js';
import { derivedPullSecretName, derivedPullSecretValue, dockerConfigPullSecrets, parseDockerConfig, type PullSecretLogins, type PullSecretLoginsOf } from './docker-config.js';
import { defaultSecretPath, secretArn, type SecretOptions } from './secret-refs.js';
import type { Manifest } from './types.js';

/** Where the repository's secrets are read, and the derived ones written (a port: Secrets Manager and SSM, or local mode's store). */
export interface PullSecretStore {
  /** The value a reference names (a `valueFrom` as compiled: SSM parameter, Secrets Manager secret and JSON key); undefined when it does not exist. */
  read(valueFrom: string): Promise<string | undefined>;
  /**
   * Makes the Secrets Manager secret `name` hold `value`: created (tagged DERIVED_TAG) when
   * missing, updated when different, left alone when equal. A secret of that name without the
   * tag was not written by Slipway: it is never changed (DerivedSecretConflict).
   */
  ensure(name: string, value: string): Promise<'created' | 'updated' | 'unchanged'>;
}

/** The value a reference names is not what it should be (a JSON key of a secret that is no JSON, binary data): the pull secret's error, not the store's. */
export class SecretValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretValueError';
  }
}

/** A secret of a derived secret's name exists but Slipway did not write it. */
export class DerivedSecretConflict extends Error {
  constructor(name: string) {
    super(`pull credentials: the secret ${name} exists but was not written by Slipway (it has no tag slipway:derived): rename or delete it, Slipway keeps a pull secret's derived login there`);
    this.name = 'DerivedSecretConflict';
  }
}

export interface DerivedPullLogins {
  /** What the compiler learns (CompileOptions.pullSecretLogins). */
  logins: PullSecretLoginsOf;
  /** The derived secrets, with what was done to each (for the log: names only). */
  written: { name: string; outcome: 'created' | 'updated' | 'unchanged' }[];
}

/**
 * Reads each Docker config pull secret of `manifest` that the repository may read (another
 * repository's path is refused here as the compiler refuses it: never read) and writes the
 * logins its pipelines' registries need. A store error propagates (the planner retries the
 * message); `cannotRead` turns one into the pull secret's error instead (the last attempt).
 */
export async function derivePullLogins(
  manifest: Pick<Manifest, 'pipelines' | 'secrets'>,
  ctx: BuildContext,
  options: SecretOptions,
  store: PullSecretStore,
  cannotRead?: (error: unknown) => string | undefined,
): Promise<DerivedPullLogins> {
  const answers = new Map<string, PullSecretLogins>();
  const written: DerivedPullLogins['written'] = [];
  const pathOf = options.secretPath ?? ((slug: string, name: string) => defaultSecretPath(slug, name, options.secretsPrefix));
  for (const { secret, hosts } of dockerConfigPullSecrets(manifest)) {
    const ref = referenceOf(secret, ctx, options, manifest);
    if (ref === undefined) continue; // refused or invalid: the compiler says why
    let text: string | undefined;
    try {
      text = await store.read(ref);
    } catch (error) {
      if (error instanceof SecretValueError) {
        answers.set(secret, { kind: 'invalid', message: error.message });
        continue;
      }
      const message = cannotRead?.(error);
      if (message === undefined) throw error;
      answers.set(secret, { kind: 'invalid', message: `Slipway could not read it (${message})` });
      continue;
    }
    if (text === undefined) {
      answers.set(secret, { kind: 'absent' });
      continue;
    }
    const parsed = parseDockerConfig(text);
    if (!parsed.ok) {
      answers.set(secret, { kind: 'invalid', message: parsed.message });
      continue;
    }
    const served: string[] = [];
    let conflict: string | undefined;
    for (const host of hosts) {
      const login = parsed.logins.get(host);
      if (login === undefined) continue;
      const name = pathOf(ctx.repo.slug, derivedPullSecretName(secret, host));
      try {
        written.push({ name, outcome: await store.ensure(name, derivedPullSecretValue(login)) });
      } catch (error) {
        if (!(error instanceof DerivedSecretConflict)) throw error;
        conflict = error.message;
        break;
      }
      served.push(host);
    }
    if (conflict !== undefined) {
      answers.set(secret, { kind: 'invalid', message: conflict });
      continue;
    }
    // Only the hosts written: a container of another registry (an image build's builder) pulls anonymously.
    answers.set(secret, { kind: 'read', hosts: served });
  }
  return { logins: (secret) => answers.get(secret), written };
}

/** The pull secret's `valueFrom`, or undefined when the repository may not read it. */
function referenceOf(secret: string, ctx: BuildContext, options: SecretOptions, manifest: Pick<Manifest, 'secrets'>): string | undefined {
  class Invalid extends Error {}
  try {
    const ref = secretArn(secret, ctx, options, manifest.secrets ?? [], (message) => {
      throw new Invalid(message);
    });
    return ref.ok ? ref.valueFrom : undefined;
  } catch (error) {
    if (error instanceof Invalid) return undefined;
    throw error;
  }
}
