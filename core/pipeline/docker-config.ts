// Drone's pull secrets hold a Docker config JSON (`{"auths": {"HOST": {"auth": base64("user:pass")}}}`,
// drone/runner-go registry/auths/auth.go), which the runner matches to each image's registry
// host (drone-runner-docker: image.MatchHostname). ECS takes only a whole Secrets Manager secret
// holding {"username": …, "password": …} per container (`repositoryCredentials`,
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/private-auth.html). So the planner
// reads such a pull secret, and keeps each registry's login from it in a secret of its own
// under the repository's prefix, in ECS's form (a "derived" secret); the compiler points
// `repositoryCredentials` at it. Pure: parsing, naming and which secrets to read.

import { isEcrHost, registryHost } from './pull-credentials.js';
import { SECRET_NAME } from './secret-names.js';
import type { Manifest, SecretDocument } from './types.js';

export interface RegistryLogin {
  username: string;
  password: string;
}

/** What the planner found in one Docker config pull secret, as the compiler sees it (hosts only, no value). */
export type PullSecretLogins = { kind: 'read'; hosts: string[] } | { kind: 'absent' } | { kind: 'invalid'; message: string };

/** The planner's answers by pull secret name; undefined: not read (`slipway compile`, lint). */
export type PullSecretLoginsOf = (secret: string) => PullSecretLogins | undefined;

/** Marks the derived secrets Slipway writes (and the only ones its planner may change). */
export const DERIVED_TAG = { key: 'slipway:derived', value: 'pull-credentials' } as const;

/** Docker's names for Docker Hub's registry, as an image's host reads `docker.io`. */
const DOCKER_HUB_ALIASES = new Set(['index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com', 'docker.io']);

/**
 * An `auths` key as an image's registry host: a URL gives its host (`https://index.docker.io/v1/`),
 * Docker Hub's aliases are `docker.io` (as image.MatchHostname reads `index.docker.io`), case
 * folded (host names are case-insensitive).
 */
export function authHost(key: string): string {
  let host = key.trim();
  const url = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]+)/i.exec(host);
  if (url) host = url[1]!;
  else host = host.split('/')[0]!;
  host = host.toLowerCase();
  return DOCKER_HUB_ALIASES.has(host) ? 'docker.io' : host;
}

/**
 * The logins of a Docker config JSON by registry host. An entry gives `auth` (base64 of
 * `user:password`, what `docker login` writes) or `username` and `password`. Messages name
 * the registries and what is wrong, never a value.
 */
export function parseDockerConfig(text: string): { ok: true; logins: Map<string, RegistryLogin> } | { ok: false; message: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, message: 'it is not JSON (a Docker config, as `docker login` writes to ~/.docker/config.json, is expected)' };
  }
  const auths = (json as { auths?: unknown } | null)?.auths;
  if (typeof auths !== 'object' || auths === null || Array.isArray(auths)) {
    return { ok: false, message: 'it has no "auths" map (a Docker config: {"auths": {"registry.example.com": {"auth": "<base64 of user:password>"}}})' };
  }
  const logins = new Map<string, RegistryLogin>();
  const broken: string[] = [];
  for (const [key, entry] of Object.entries(auths as Record<string, unknown>)) {
    const login = loginOf(entry);
    const host = authHost(key);
    if (login === undefined) broken.push(host);
    // The first entry of a host wins, as Drone's runner takes the first that matches.
    else if (!logins.has(host)) logins.set(host, login);
  }
  if (logins.size === 0) {
    return { ok: false, message: broken.length > 0 ? `no login in it can be read (${broken.join(', ')}: "auth" must be base64 of user:password)` : 'its "auths" map is empty' };
  }
  return { ok: true, logins };
}

function loginOf(entry: unknown): RegistryLogin | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { auth, username, password } = entry as Record<string, unknown>;
  if (typeof auth === 'string' && auth !== '') {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(auth)) return undefined;
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return undefined;
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof username === 'string' && username !== '' && typeof password === 'string') return { username, password };
  return undefined;
}

/**
 * The derived secret's name under the repository's prefix: one segment (secret-names.ts,
 * SECRET_NAME), telling which pull secret and registry it comes from. Secrets Manager names
 * allow no `:`, so a port becomes `_`.
 */
export function derivedPullSecretName(secret: string, host: string): string {
  const name = `slipway-pull.${secret}.${host.replace(/:/g, '_')}`;
  if (!SECRET_NAME.test(name)) throw new Error(`docker-config: derived secret name ${JSON.stringify(name)} is not a valid secret name`);
  return name;
}

/** The derived secret's value: ECS's form for repositoryCredentials. */
export function derivedPullSecretValue(login: RegistryLogin): string {
  return JSON.stringify({ username: login.username, password: login.password });
}

/**
 * A pull secret is a Docker config (read by the planner) when it reads a key of a Secrets
 * Manager secret (`get: { path, name: .dockerconfigjson }`, as a Kubernetes pull secret keeps
 * it) or is a repository secret (no `kind: secret` document: SSM Parameter Store, as Drone's own
 * repository secrets are). A document naming a whole secret holds {"username", "password"}
 * already, and is used as it is (pull-credentials.ts).
 */
export function isDockerConfigPullSecret(secret: string, documents: readonly SecretDocument[]): boolean {
  const document = documents.find((d) => d.name === secret);
  if (document === undefined) return true;
  return document.get?.name !== undefined;
}

/**
 * The Docker config pull secrets of a manifest, each with the registry hosts (outside ECR) of
 * the images of the pipelines that name it: the logins the planner derives, before compiling.
 */
export function dockerConfigPullSecrets(manifest: Pick<Manifest, 'pipelines' | 'secrets'>): { secret: string; hosts: string[] }[] {
  const bySecret = new Map<string, Set<string>>();
  for (const pipeline of manifest.pipelines) {
    if (pipeline.imagePullSecrets.length === 0) continue;
    const hosts = [...pipeline.services, ...pipeline.steps].map((s) => registryHost(s.image)).filter((h): h is string => h !== undefined && !isEcrHost(h));
    for (const secret of pipeline.imagePullSecrets) {
      if (!isDockerConfigPullSecret(secret, manifest.secrets ?? [])) continue;
      const set = bySecret.get(secret) ?? new Set<string>();
      for (const host of hosts) set.add(host);
      bySecret.set(secret, set);
    }
  }
  return [...bySecret].map(([secret, hosts]) => ({ secret, hosts: [...hosts].sort() }));
}
