// Container registry logins for the planner's image lookups, from the SCM credentials
// secret's top-level `registries` key: `{"docker.io":{"username":"…","password":"…"}}`.
// Keyed by registry as image names spell it. Docker Hub gets the higher pull limit of an
// authenticated account; a private registry's plugin images become readable.

import type { RegistryCredentials, RegistryCredentialsByRegistry } from '../../core/images/types.js';
import type { CredentialsByHost } from './secrets.js';

/** Spellings of Docker Hub in `docker login` and `~/.docker/config.json` that image names call `docker.io`. */
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/**
 * The `registries` entries, checked. Throws (prefix `config:`) on a malformed entry rather
 * than skipping it: a login that is silently ignored shows up later as a puzzling 401.
 */
export function registryCredentials(config: CredentialsByHost, source = 'the SCM credentials secret'): RegistryCredentialsByRegistry {
  const value = config.registries;
  if (value === undefined) return {};
  const shape = '{"docker.io":{"username":"…","password":"…"}}';
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`config: ${source}: "registries" should be an object like ${shape}`);
  }
  const result: Record<string, RegistryCredentials> = {};
  for (const [name, entry] of Object.entries(value as Record<string, unknown>)) {
    const e = entry as Partial<Record<'username' | 'password', unknown>> | null;
    if (e === null || typeof e !== 'object' || typeof e.username !== 'string' || typeof e.password !== 'string' || e.username === '' || e.password === '') {
      throw new Error(`config: ${source}: "registries"."${name}" should be {"username":"…","password":"…"} with both non-empty`);
    }
    result[registryName(name)] = { username: e.username, password: e.password };
  }
  return result;
}

/** `https://index.docker.io/v1/` → `docker.io`; `ghcr.io/` → `ghcr.io`: the name images use. */
function registryName(key: string): string {
  const host = key.trim().replace(/^https?:\/\//i, '').replace(/\/.*$/, '');
  const lower = host.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? 'docker.io' : host;
}
