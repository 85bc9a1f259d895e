// Repository secrets of local mode: what SSM Parameter Store holds when deployed
// (`/slipway/<owner>/<repo>/<NAME>`), kept in one JSON file readable only by its owner
// (SLIPWAY_HOME, default ~/.slipway). The ECS stand-in resolves a container's
// `secrets[].valueFrom` (a parameter name or ARN) through it. A Secrets Manager secret of a
// `kind: secret` document (`/slipway/<owner>/<repo>/<path>`) is kept under its name too; its
// value is JSON when a document reads one of its keys.

import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { SecretNotFoundError } from './ecs/errors.js';
import { secretReference } from '../core/pipeline/secret-refs.js';
import { DERIVED_TAG } from '../core/pipeline/docker-config.js';
import { DerivedSecretConflict, SecretValueError, type PullSecretStore } from '../core/pipeline/pull-logins.js';
import { DEFAULT_WEBHOOK_SECRETS_PREFIX, webhookSecretName, type WebhookSecrets } from '../lambdas/shared/webhook-secrets.js';

export function slipwayHome(env: NodeJS.ProcessEnv): string {
  return env.SLIPWAY_HOME || join(homedir(), '.slipway');
}

export function secretPath(prefix: string, repo: string, name: string): string {
  return `${prefix.replace(/\/+$/, '')}/${repo}/${name}`;
}

// What a `valueFrom` names: one definition, in core (secret-refs.ts).
export { parameterName, secretReference, type SecretReference } from '../core/pipeline/secret-refs.js';
export class LocalSecretStore {
  readonly file: string;

  /** `fileName`: another file for another kind of secret (webhook secrets: build tasks never resolve those). */
  constructor(home: string, fileName = 'secrets.json') {
    this.file = join(home, fileName);
  }

  private load(): Record<string, string> {
    if (!existsSync(this.file)) return {};
    const text = readFileSync(this.file, 'utf8');
    try {
      return JSON.parse(text) as Record<string, string>;
    } catch (err) {
      throw new Error(`local-secrets: ${this.file} is not JSON (${(err as Error).message}); fix or remove it`);
    }
  }

  private save(values: Record<string, string>): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(values, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }

  put(path: string, value: string): void {
    this.save({ ...this.load(), [path]: value });
  }

  get(path: string): string | undefined {
    return this.load()[path];
  }

  /** Names under a path prefix, sorted. */
  list(prefix: string): string[] {
    const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
    return Object.keys(this.load())
      .filter((k) => k.startsWith(base))
      .sort();
  }

  /** True when it existed. */
  remove(path: string): boolean {
    const values = this.load();
    if (!(path in values)) return false;
    delete values[path];
    this.save(values);
    return true;
  }

  /**
   * A container secret's value. One that is not set throws SecretNotFoundError, which the ECS
   * stand-in reports as ECS does (the task stops before any container starts), with a hint
   * saying how to add it.
   */
  async resolve(valueFrom: string): Promise<string> {
    const ref = secretReference(valueFrom);
    const value = this.load()[ref.name];
    if (value === undefined) {
      const parts = ref.name.split('/').filter(Boolean);
      const hint = parts.length >= 4 ? `add it with: slipway secrets add --repo ${parts.slice(1, 3).join('/')} ${parts.slice(3).join('/')}` : 'add it with: slipway secrets add';
      throw new SecretNotFoundError(ref.source, ref.source === 'ssm' ? ref.name : valueFrom.replace(/(:secret:[^:]+):.*$/, '$1'), hint);
    }
    if (ref.source === 'ssm' || ref.key === undefined) return value;
    let json: unknown;
    try {
      json = JSON.parse(value);
    } catch (err) {
      throw new Error(`local-secrets: secret ${ref.name} is read by key "${ref.key}" but is not JSON (${(err as Error).message}); store it as {"${ref.key}": "…"}`);
    }
    const field = (json as Record<string, unknown> | null)?.[ref.key];
    if (typeof field !== 'string') throw new Error(`local-secrets: secret ${ref.name} has no string key "${ref.key}"; store it as {"${ref.key}": "…"}`);
    return field;
  }

  /** Whether a reference names a secret that is set (no value is returned). */
  has(valueFrom: string): boolean {
    return secretReference(valueFrom).name in this.load();
  }
}

/**
 * Local mode's webhook secrets (the SSM parameters of lambdas/shared/webhook-secrets.ts), in
 * their own file: the ECS stand-in resolves build secrets from secrets.json only, as build
 * tasks in AWS may read the repository secrets' prefix but not the webhook secrets' one.
 */
export function localWebhookSecrets(home: string, prefix = DEFAULT_WEBHOOK_SECRETS_PREFIX): WebhookSecrets {
  const store = new LocalSecretStore(home, 'webhook-secrets.json');
  return {
    get: async (host, slug) => store.get(webhookSecretName(prefix, host, slug)),
    put: async (host, slug, value) => store.put(webhookSecretName(prefix, host, slug), value),
    remove: async (host, slug) => {
      store.remove(webhookSecretName(prefix, host, slug));
    },
  };
}

/**
 * The planner's PullSecretStore in local mode (core/pipeline/pull-logins.ts): it reads the
 * repository's secrets as the ECS stand-in resolves them (a JSON key of a JSON value) and keeps
 * derived secrets beside them, with their tags in `secret-tags.json`, as strict as Secrets
 * Manager: a secret of that name without Slipway's tag is never changed.
 */
export function localPullSecretStore(store: LocalSecretStore, tags: LocalSecretStore = new LocalSecretStore(dirname(store.file), 'secret-tags.json')): PullSecretStore {
  return {
    async read(valueFrom) {
      if (!store.has(valueFrom)) return undefined;
      try {
        return await store.resolve(valueFrom);
      } catch {
        // Not the store's message: JSON.parse quotes the start of the text it could not read.
        const ref = secretReference(valueFrom);
        throw new SecretValueError(`the secret ${ref.name} is read by its key "${ref.source === 'asm' ? ref.key : ''}" but is not JSON holding text at that key`);
      }
    },
    async ensure(name, value) {
      const current = store.get(name);
      if (current === undefined) {
        store.put(name, value);
        tags.put(name, JSON.stringify({ [DERIVED_TAG.key]: DERIVED_TAG.value }));
        return 'created';
      }
      const tagged = (JSON.parse(tags.get(name) ?? '{}') as Record<string, string>)[DERIVED_TAG.key] === DERIVED_TAG.value;
      if (!tagged) throw new DerivedSecretConflict(name);
      if (current === value) return 'unchanged';
      store.put(name, value);
      return 'updated';
    },
  };
}
