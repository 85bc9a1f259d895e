import { describe, expect, it } from 'vitest';
import { parseChallenge } from '../../core/images/challenge.js';
import { ImageCommandCache } from '../../core/images/command-cache.js';

describe('parseChallenge', () => {
  it('reads a Docker Hub bearer challenge, commas inside quotes included', () => {
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push"')).toEqual({
      scheme: 'bearer',
      realm: 'https://auth.docker.io/token',
      service: 'registry.docker.io',
      scope: 'repository:library/alpine:pull,push',
    });
  });

  it('accepts unquoted values, any case and escaped quotes', () => {
    expect(parseChallenge('bearer REALM=https://ghcr.io/token, service="a\\"b"')).toEqual({ scheme: 'bearer', realm: 'https://ghcr.io/token', service: 'a"b' });
  });

  it('recognises Basic, and treats a realm-less Bearer or another scheme as unusable', () => {
    expect(parseChallenge('Basic realm="Registry"')).toEqual({ scheme: 'basic' });
    expect(parseChallenge('Bearer service="x"')).toEqual({ scheme: 'other', name: 'Bearer' });
    expect(parseChallenge('Negotiate')).toEqual({ scheme: 'other', name: 'Negotiate' });
    expect(parseChallenge(null)).toBeNull();
    expect(parseChallenge('  ')).toBeNull();
  });
});

describe('ImageCommandCache', () => {
  const value = (n: number) => ({ ok: true as const, entrypoint: [`/bin/${n}`], cmd: null, digest: `sha256:${String(n).repeat(64).slice(0, 64)}` });

  it('forgets an entry once its time is up', () => {
    let now = 0;
    const cache = new ImageCommandCache({ ttlMs: 100, now: () => now });
    cache.set('a', value(1));
    now = 99;
    expect(cache.get('a')).toEqual(value(1));
    now = 100;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('drops the oldest entry beyond its size, a refreshed entry counting as new', () => {
    const cache = new ImageCommandCache({ maxEntries: 2 });
    cache.set('a', value(1));
    cache.set('b', value(2));
    cache.set('a', value(3));
    cache.set('c', value(4));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toEqual(value(3));
    expect(cache.get('c')).toEqual(value(4));
    expect(cache.size).toBe(2);
  });
});
