// What the planner learns about a container image from its registry: the command it runs
// when a step does not name one (a Drone plugin step), needed at plan time to wrap that
// command with the secret-masking shell.

import type { Arch } from '../pipeline/types.js';
import type { Fetch } from '../scm/types.js';

export type { Arch, Fetch };

/** An image reference split as Docker splits it, with Docker's defaults filled in. */
export interface ImageRef {
  /** The text as written in the pipeline. */
  original: string;
  /** Registry as Docker names it: `docker.io`, `ghcr.io`, `localhost:5000`. Credentials are keyed by it. */
  domain: string;
  /** Host[:port] to connect to: `registry-1.docker.io` for Docker Hub, otherwise `domain`. */
  host: string;
  /** `http` for the loopback registries Docker trusts without TLS, `https` otherwise. */
  scheme: 'http' | 'https';
  /** Path in the registry: `library/alpine`, `plugins/s3`. */
  repository: string;
  /** `latest` when neither tag nor digest is written; kept when both are (the digest wins). */
  tag?: string;
  /** `sha256:<64 hex>` when pinned. */
  digest?: string;
  /** What to ask the registry for: the digest if any, otherwise the tag. */
  reference: string;
  /** Canonical spelling, `docker.io/library/alpine:latest`: one image, one cache key. */
  canonical: string;
}

/** The image's own ENTRYPOINT and CMD; null when the image does not set it. */
export interface ImageCommand {
  entrypoint: string[] | null;
  cmd: string[] | null;
}

export type ImageCommandResult =
  | {
      ok: true;
      entrypoint: string[] | null;
      cmd: string[] | null;
      /** Digest of the platform's image manifest: pinning `repo@digest` runs exactly this command. */
      digest: string;
    }
  | {
      ok: false;
      /** Starts with `image "<reference>": ` and says what to do. */
      error: string;
      /** True when asking again later may succeed (timeout, 429, 5xx, network). */
      transient: boolean;
    };

/** What the planner depends on: bound to a fetch, credentials, a memory cache and a persistent store by `createImageCommandLookup`. */
export type ImageCommandLookup = (image: string, arch: Arch) => Promise<ImageCommandResult>;

/** Username and password (or token) for one registry. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/** Registry credentials keyed by registry as written in image names (`docker.io`, `ghcr.io`). */
export type RegistryCredentialsByRegistry = Readonly<Record<string, RegistryCredentials>>;

/** Where a lookup's structured log lines go (the planner's `log`). */
export type LookupLog = (message: string, fields?: Record<string, unknown>) => void;
