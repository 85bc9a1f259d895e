// Drone's `image_pull_secrets` → ECS `repositoryCredentials`. Pure.
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
  | { ok: true; byHost: Map<string, { secret: string; document: SecretDocument }>; unused: string[] }
  | { ok: false; message: string; document?: SecretDocument };

/**
 * Which registry each pull secret is for, given the images of the pipeline's own containers.
 * `repoPrefix` is where the repository's secrets live (for the messages).
 */
export function planPullCredentials(pullSecrets: readonly string[], documents: readonly SecretDocument[], images: readonly string[], repoPrefix: string): PullCredentialPlan {
  const hosts = [...new Set(images.map(registryHost).filter((h): h is string => h !== undefined && !isEcrHost(h)))].sort();
  const byHost = new Map<string, { secret: string; document: SecretDocument }>();
  const unused: string[] = [];
  const implicit: { secret: string; document: SecretDocument }[] = [];
  for (const secret of pullSecrets) {
    const document = documents.find((d) => d.name === secret);
    if (!document?.get) {
      return {
        ok: false,
        message:
          `image_pull_secrets: "${secret}" is not a kind: secret document, so it would be a repository secret in SSM Parameter Store; ` +
          `ECS reads registry credentials only from a Secrets Manager secret holding {"username": "…", "password": "…"} (not Drone's Docker config JSON): ` +
          `store them in Secrets Manager as ${repoPrefix}<registry host> and add a document "kind: secret", "name: ${secret}", "get: { path: ${repoPrefix}<registry host> }"`,
      };
    }
    if (document.get.name) {
      return {
        ok: false,
        document,
        message:
          `image_pull_secrets: the secret document "${secret}" reads the key "${document.get.name}", but ECS takes a whole Secrets Manager secret ` +
          `holding {"username": "…", "password": "…"} as registry credentials: remove "name:" from its get:`,
      };
    }
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
  return { ok: true, byHost, unused };
}
