import { describe, expect, it } from 'vitest';
import { parseChallenge, parseChallenges } from '../../core/images/challenge.js';
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

describe('several challenges in one header', () => {
  it('keeps each challenge\'s parameters apart and prefers Bearer, whichever comes first', () => {
    const bearerFirst = 'Bearer realm="https://auth.example/token",service="reg", Basic realm="Registry Realm"';
    expect(parseChallenges(bearerFirst)).toEqual([
      { scheme: 'Bearer', params: { realm: 'https://auth.example/token', service: 'reg' } },
      { scheme: 'Basic', params: { realm: 'Registry Realm' } },
    ]);
    expect(parseChallenge(bearerFirst)).toEqual({ scheme: 'bearer', realm: 'https://auth.example/token', service: 'reg' });
    expect(parseChallenge('Basic realm="Registry Realm", Bearer realm="https://auth.example/token",scope="repository:a/b:pull"')).toEqual({
      scheme: 'bearer',
      realm: 'https://auth.example/token',
      scope: 'repository:a/b:pull',
    });
  });

  it('falls back to Basic when no Bearer challenge is usable, and never borrows its realm', () => {
    expect(parseChallenge('Bearer service="reg", Basic realm="https://not-a-token-realm"')).toEqual({ scheme: 'basic' });
    expect(parseChallenge('Negotiate abc==, Basic realm="r"')).toEqual({ scheme: 'basic' });
    expect(parseChallenges('Negotiate abc=, NTLM, Basic realm="a, b", charset="UTF-8"')).toEqual([
      { scheme: 'Negotiate', params: {} },
      { scheme: 'NTLM', params: {} },
      { scheme: 'Basic', params: { realm: 'a, b', charset: 'UTF-8' } },
    ]);
  });

  it('names the first scheme when none is usable', () => {
    expect(parseChallenge('Negotiate, Digest realm="r", nonce="n"')).toEqual({ scheme: 'other', name: 'Negotiate' });
    expect(parseChallenges('Digest realm="r", nonce="n", qop="auth"')).toEqual([{ scheme: 'Digest', params: { realm: 'r', nonce: 'n', qop: 'auth' } }]);
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
