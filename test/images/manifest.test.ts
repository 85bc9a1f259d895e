import { describe, expect, it } from 'vitest';
import { MEDIA_TYPES, parseImageConfig, parseManifest, selectPlatform, type PlatformEntry } from '../../core/images/manifest.js';

const digest = (c: string): string => `sha256:${c.repeat(64)}`;
const entry = (architecture: string, variant?: string, os = 'linux', d = 'a'): Record<string, unknown> => ({
  mediaType: MEDIA_TYPES.ociManifest,
  digest: digest(d),
  size: 100,
  platform: { architecture, os, ...(variant ? { variant } : {}) },
});
const index = (mediaType: string, manifests: unknown[]): string => JSON.stringify({ schemaVersion: 2, mediaType, manifests });

describe('parseManifest', () => {
  it('reads an OCI image index and a Docker manifest list alike', () => {
    for (const type of [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]) {
      const parsed = parseManifest(type, index(type, [entry('amd64', undefined, 'linux', 'a'), entry('arm64', 'v8', 'linux', 'b')]));
      expect(parsed).toEqual({
        ok: true,
        kind: 'index',
        entries: [
          { digest: digest('a'), mediaType: MEDIA_TYPES.ociManifest, os: 'linux', architecture: 'amd64' },
          { digest: digest('b'), mediaType: MEDIA_TYPES.ociManifest, os: 'linux', architecture: 'arm64', variant: 'v8' },
        ],
      });
    }
  });

  it('reads OCI and Docker schema 2 image manifests to their config digest', () => {
    for (const type of [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]) {
      const body = JSON.stringify({ schemaVersion: 2, mediaType: type, config: { mediaType: 'x', digest: digest('c'), size: 1 }, layers: [] });
      expect(parseManifest(`${type}; charset=utf-8`, body)).toEqual({ ok: true, kind: 'image', configDigest: digest('c') });
    }
  });

  it('falls back to the document when the Content-Type is generic', () => {
    const body = JSON.stringify({ schemaVersion: 2, config: { digest: digest('c') } });
    expect(parseManifest('application/json', body)).toEqual({ ok: true, kind: 'image', configDigest: digest('c') });
    expect(parseManifest(null, index(MEDIA_TYPES.ociIndex, []))).toEqual({ ok: true, kind: 'index', entries: [] });
  });

  it('refuses schema 1, malformed JSON and unknown types with a reason', () => {
    const schema1 = JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] });
    expect(parseManifest('application/vnd.docker.distribution.manifest.v1+prettyjws', schema1)).toEqual({ ok: false, error: expect.stringMatching(/schema 1 manifest, which is not supported/) });
    expect(parseManifest('application/json', schema1)).toEqual({ ok: false, error: expect.stringMatching(/schema 1/) });
    expect(parseManifest(MEDIA_TYPES.ociIndex, '{"manifests": [')).toEqual({ ok: false, error: expect.stringMatching(/^malformed manifest: not JSON/) });
    expect(parseManifest(MEDIA_TYPES.ociIndex, '[]')).toEqual({ ok: false, error: 'malformed manifest: expected a JSON object' });
    expect(parseManifest(MEDIA_TYPES.ociIndex, '{"manifests": [{"size": 1}]}')).toEqual({ ok: false, error: 'malformed index: manifests[0] has no digest' });
    expect(parseManifest(MEDIA_TYPES.ociManifest, '{"config": {}}')).toEqual({ ok: false, error: expect.stringMatching(/config.digest. is missing/) });
    expect(parseManifest('text/html', '{"hello": 1}')).toEqual({ ok: false, error: expect.stringMatching(/unsupported manifest type "text\/html"/) });
  });
});

describe('selectPlatform', () => {
  const entries = (list: Array<[string, string | undefined, string?]>): PlatformEntry[] =>
    list.map(([architecture, variant, os], i) => ({ digest: digest(String.fromCharCode(97 + i)), os: os ?? 'linux', architecture, ...(variant ? { variant } : {}) }));

  it('chooses linux and the wanted architecture', () => {
    const list = entries([['amd64', undefined, 'windows'], ['amd64', undefined], ['arm64', 'v8'], ['arm', 'v7']]);
    expect(selectPlatform(list, 'amd64')).toEqual({ ok: true, value: list[1] });
    expect(selectPlatform(list, 'arm64')).toEqual({ ok: true, value: list[2] });
  });

  it('prefers arm64 v8 or no variant over another variant, and takes another only when alone', () => {
    const list = entries([['arm64', 'v9'], ['arm64', undefined], ['arm64', 'v8']]);
    expect(selectPlatform(list, 'arm64')).toEqual({ ok: true, value: list[1] });
    const onlyV9 = entries([['arm64', 'v9']]);
    expect(selectPlatform(onlyV9, 'arm64')).toEqual({ ok: true, value: onlyV9[0] });
  });

  it('prefers the amd64 baseline over micro-architecture variants', () => {
    const list = entries([['amd64', 'v3'], ['amd64', undefined]]);
    expect(selectPlatform(list, 'amd64')).toEqual({ ok: true, value: list[1] });
  });

  it('ignores attestation entries and lists what exists when the architecture is missing', () => {
    const list = entries([['amd64', undefined], ['unknown', undefined, 'unknown'], ['arm', 'v7'], ['unknown', undefined, 'unknown']]);
    expect(selectPlatform(list, 'arm64')).toEqual({ ok: false, error: 'no manifest for linux/arm64 (the image has linux/amd64, linux/arm/v7)' });
    expect(selectPlatform(entries([['unknown', undefined, 'unknown']]), 'amd64')).toEqual({ ok: false, error: 'no manifest for linux/amd64 (the image has no platforms)' });
  });
});

describe('parseImageConfig', () => {
  it('reads Entrypoint and Cmd, null when absent or null', () => {
    const cfg = (config: unknown): string => JSON.stringify({ architecture: 'arm64', os: 'linux', variant: 'v8', config });
    expect(parseImageConfig(cfg({ Entrypoint: ['/bin/drone-s3'], Cmd: ['--help'] }))).toEqual({
      ok: true,
      value: { entrypoint: ['/bin/drone-s3'], cmd: ['--help'], os: 'linux', architecture: 'arm64', variant: 'v8' },
    });
    expect(parseImageConfig(cfg({ Entrypoint: null, Cmd: ['/bin/sh'] }))).toMatchObject({ ok: true, value: { entrypoint: null, cmd: ['/bin/sh'] } });
    expect(parseImageConfig(cfg({ Env: [] }))).toMatchObject({ ok: true, value: { entrypoint: null, cmd: null } });
    expect(parseImageConfig(cfg(null))).toMatchObject({ ok: true, value: { entrypoint: null, cmd: null } });
    expect(parseImageConfig('{}')).toEqual({ ok: true, value: { entrypoint: null, cmd: null } });
  });

  it('refuses a config whose command is not an array of strings', () => {
    expect(parseImageConfig(JSON.stringify({ config: { Entrypoint: '/bin/sh -c' } }))).toEqual({ ok: false, error: 'malformed image config: `config.Entrypoint` should be an array of strings' });
    expect(parseImageConfig(JSON.stringify({ config: { Cmd: ['a', 1] } }))).toEqual({ ok: false, error: 'malformed image config: `config.Cmd` should be an array of strings' });
    expect(parseImageConfig('not json')).toEqual({ ok: false, error: expect.stringMatching(/^malformed image config: not JSON/) });
  });
});
