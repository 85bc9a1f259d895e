// Remembers successful image lookups for a while, so a planner Lambda kept warm asks the
// registry once per image and architecture. Bounded, so a stream of distinct images
// cannot grow it without limit. Failures are never stored: the next plan asks again.

import type { ImageCommandResult } from './types.js';

type Success = Extract<ImageCommandResult, { ok: true }>;

export interface ImageCommandCacheOptions {
  /** Default 10 minutes: a moved tag is seen again after at most this long. */
  ttlMs?: number;
  /** Default 500 entries; the oldest entry leaves first. */
  maxEntries?: number;
  /** Epoch milliseconds; injected by tests. */
  now?: () => number;
}

export class ImageCommandCache {
  private readonly entries = new Map<string, { value: Success; expiresAt: number }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: ImageCommandCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 10 * 60_000;
    this.maxEntries = options.maxEntries ?? 500;
    this.now = options.now ?? Date.now;
  }

  get(key: string): Success | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: Success): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
    // Maps iterate in insertion order: the first key is the oldest.
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
