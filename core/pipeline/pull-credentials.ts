// Drone's `image_pull_secrets` → ECS `repositoryCredentials`. Pure.
//
// A pull secret that holds a Docker config (a key of a Secrets Manager secret, or a repository
// secret) is read by the planner, which keeps each registry's login in a derived secret in ECS's
// form (docker-config.ts); here it is planned by the hosts the planner found in it. The rest of
// this comment is about a document naming a whole secret in ECS's form already.
//
// Drone's pull secret holds a Docker config JSON (`{"auths": {"HOST": {"auth": …}}}`), and the
// runner gives each image the login of its registry host (drone-runner-docker
// engine/compiler/compiler.go: auths.ParseString, image.MatchHostname). ECS takes one Secrets
// Manager secret per container holding `{"username": …, "password": …}`, resolved with the
// task execution role before the task starts
// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/private-auth.html); ECR images
// need none (the execution role pulls them). So a pull secret must be a `kind: secret`
// document naming a whole Secrets Manager secret of that shape, and the registry it is for is:
//   - the last segment of its path when that is a host (`/slipway/acme/app/registry.example.com`);
//   - otherwise, with one pull secret, the one registry outside ECR and Docker Hub the
//     pipeline pulls from (or Docker Hub, when it is the only one).
// Anything else cannot be mapped without reading the secret: a compile error says what to do.

import { parseImageReference } from '../images/reference.js';
import { isDockerConfigPullSecret, type PullSecretLoginsOf } from './docker-config.js';
import type { SecretDocument } from './types.js';

/** `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`: pulled with the execution role. */
const ECR_HOST = /^\d{12}\.dkr\.ecr(?:-fips)?\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$/;
const DOCKER_HUB = 'docker.io';
const HOST_LIKE = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:\d+)?$|^[A-Za-z0-9.-]+:\d+$/;

/** The registry host of an image as Docker resolves it (`alpine` → `docker.io`); undefined when invalid. */
export function registryHost(image: string): string | undefined {
  const parsed = parseImageReference(image);
  return parsed.ok ? parsed.ref.domain : undefined;
}

export function isEcrHost(host: string): boolean {
  return ECR_HOST.test(host.toLowerCase());
}

export type PullCredentialPlan =
  | {
      ok: true;
      /** `derived`: the login is the planner's derived secret of this pull secret and host (docker-config.ts). */
      byHost: Map<string, { secret: string; document?: SecretDocument; derived?: true }>;
      unused: string[];
      /** Docker config pull secrets nobody read (`slipway compile`, lint): their logins are known only when a build is planned. */
      unread: string[];
      /** Docker config pull secrets the planner did not find. */
      absent: string[];
    }
  | { ok: false; message: string; document?: SecretDocument };

/**
 * Which registry each pull secret is for, given the images of the pipeline's own containers.
 * `repoPrefix` is where the repository's secrets live (for the messages).
 */
export function planPullCredentials(
  pullSecrets: readonly string[],
  documents: readonly SecretDocument[],
  images: readonly string[],
  repoPrefix: string,
  logins?: PullSecretLoginsOf,
): PullCredentialPlan {
  const hosts = [...new Set(images.map(registryHost).filter((h): h is string => h !== undefined && !isEcrHost(h)))].sort();
  const byHost = new Map<string, { secret: string; document?: SecretDocument; derived?: true }>();
  const unused: string[] = [];
  const unread: string[] = [];
  const absent: string[] = [];
  const implicit: { secret: string; document: SecretDocument }[] = [];
  const dockerConfigs: { secret: string; hosts: string[] }[] = [];
  for (const secret of pullSecrets) {
    const document = documents.find((d) => d.name === secret);
    if (isDockerConfigPullSecret(secret, documents)) {
      const answer = logins?.(secret);
      if (answer === undefined) unread.push(secret);
      else if (answer.kind === 'absent') absent.push(secret);
      else if (answer.kind === 'invalid') {
        return {
          ok: false,
          ...(document ? { document } : {}),
          message: `image_pull_secrets: "${secret}" (${document?.get ? `the key "${document.get.name}" of ${document.get.path}` : `the repository secret ${repoPrefix}${secret}`}) cannot be read as a Docker config: ${answer.message}`,
        };
      } else dockerConfigs.push({ secret, hosts: answer.hosts });
      continue;
    }
    if (!document?.get) continue; // isDockerConfigPullSecret: a secret without a document is a Docker config
    const last = document.get.path.split('/').filter(Boolean).at(-1) ?? '';
    if (HOST_LIKE.test(last)) {
      const host = registryHost(`${last}/x`) ?? last;
      if (byHost.has(host)) return { ok: false, document, message: `image_pull_secrets: two pull secrets are for the registry ${host}; ECS takes one login per container: keep one` };
      if (hosts.includes(host)) byHost.set(host, { secret, document });
      else unused.push(secret);
      continue;
    }
    implicit.push({ secret, document });
  }
  if (implicit.length > 1) {
    return {
      ok: false,
      document: implicit[1]!.document,
      message:
        `image_pull_secrets: Slipway cannot tell which registry each of ${implicit.map((i) => `"${i.secret}"`).join(', ')} is for without reading them (ECS takes one login per container): ` +
        `name each secret after its registry host, e.g. get: { path: ${repoPrefix}registry.example.com }`,
    };
  }
  const only = implicit[0];
  if (only) {
    const free = hosts.filter((h) => !byHost.has(h));
    const privateHosts = free.filter((h) => h !== DOCKER_HUB);
    const host = privateHosts.length === 1 ? privateHosts[0] : privateHosts.length === 0 && free.includes(DOCKER_HUB) ? DOCKER_HUB : undefined;
    if (privateHosts.length > 1) {
      return {
        ok: false,
        document: only.document,
        message:
          `image_pull_secrets: "${only.secret}" could be for any of the registries ${privateHosts.join(', ')} (ECS takes one login per container, and a login sent to the wrong registry fails the pull): ` +
          `name the secret after its registry host, e.g. get: { path: ${repoPrefix}${privateHosts[0]} }`,
      };
    }
    if (host) byHost.set(host, only);
    else unused.push(only.secret);
  }
  // After the secrets in ECS's form, which name their registry: a Docker config's login goes
  // to each host it has one for that no earlier pull secret covers (Drone's runner takes the
  // first login that matches an image).
  for (const { secret, hosts: theirs } of dockerConfigs) {
    const mine = hosts.filter((h) => theirs.includes(h) && !byHost.has(h));
    for (const host of mine) byHost.set(host, { secret, derived: true });
    if (mine.length === 0) unused.push(secret);
  }
  return { ok: true, byHost, unused, unread, absent };
}
