// The persistent half of the image lookup cache: what an image digest runs on one
// architecture. A digest names immutable content, so a stored answer is always right and
// a cold planner pays one manifest HEAD (free of Docker Hub's pull limit) instead of the
// GETs of index, manifest and config. Only successes are stored.

import type { Arch } from './types.js';

export interface ImageCommandKey {
  /** `docker.io/library/alpine`, `ghcr.io/owner/name`: registry and repository, no tag. */
  repository: string;
  /** What the tag pointed at (index or manifest), or the digest the reference pins. */
  digest: string;
  arch: Arch;
}

export interface StoredImageCommand {
  entrypoint: string[] | null;
  cmd: string[] | null;
  /** Digest of the platform's image manifest. */
  digest: string;
}

export interface ImageCommandStore {
  /** Undefined when unknown. Throws when the store cannot answer; the lookup logs it and asks the registry. */
  get(key: ImageCommandKey): Promise<StoredImageCommand | undefined>;
  put(key: ImageCommandKey, value: StoredImageCommand): Promise<void>;
}

/** An in-process store: local tools and tests; the planner uses the DynamoDB one. */
export class MemoryImageCommandStore implements ImageCommandStore {
  readonly entries = new Map<string, StoredImageCommand>();

  static keyOf(key: ImageCommandKey): string {
    return `${key.repository}@${key.digest}|${key.arch}`;
  }

  async get(key: ImageCommandKey): Promise<StoredImageCommand | undefined> {
    return this.entries.get(MemoryImageCommandStore.keyOf(key));
  }

  async put(key: ImageCommandKey, value: StoredImageCommand): Promise<void> {
    this.entries.set(MemoryImageCommandStore.keyOf(key), value);
  }
}
