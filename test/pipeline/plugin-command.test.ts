import { describe, expect, it } from 'vitest';
import { loadManifest } from '../../core/pipeline/load.js';
import { imageCommandQueries, MAX_UNMASKED_LOOKUPS, pinnedImage, pluginArgv } from '../../core/pipeline/plugin-command.js';
import { LOOKUP_CONCURRENCY, resolveImageCommands } from '../../lambdas/planner/image-commands.js';

const manifest = loadManifest(
  '.drone.yml',
  `kind: pipeline
type: docker
name: amd
steps:
- name: s3
  image: plugins/s3:1
  settings:
    secret_key:
      from_secret: key
- name: s3-again
  image: plugins/s3:1
  environment:
    TOKEN:
      from_secret: token
- name: own-entrypoint
  image: example/tool
  entrypoint: [/tool]
  settings:
    token:
      from_secret: token
- name: no-secrets
  image: plugins/slack
  settings:
    channel: ci
- name: commands
  image: alpine
  environment:
    TOKEN:
      from_secret: token
  commands: [echo]
---
kind: pipeline
type: docker
name: arm
platform: { os: linux, arch: arm64 }
environment:
  SHARED:
    from_secret: shared
steps:
- name: s3
  image: plugins/s3:1
`,
);

describe('imageCommandQueries', () => {
  it('asks for each plugin image once per architecture, masked where a step may receive a secret, never masked for a fork', () => {
    expect(manifest.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    // The pipeline's environment counts: its secret reaches every step. A plugin without
    // secrets is asked for too: its launcher spares RunTask's overrides (script.ts, pluginScript).
    expect(imageCommandQueries(manifest, true)).toEqual([
      { image: 'plugins/s3:1', arch: 'amd64', masked: true },
      { image: 'plugins/slack', arch: 'amd64', masked: false },
      { image: 'plugins/s3:1', arch: 'arm64', masked: true },
    ]);
    expect(imageCommandQueries(manifest, false)).toEqual([
      { image: 'plugins/s3:1', arch: 'amd64', masked: false },
      { image: 'plugins/slack', arch: 'amd64', masked: false },
      { image: 'plugins/s3:1', arch: 'arm64', masked: false },
    ]);
  });
});

describe('a file naming many plugin images (attacker-written)', () => {
  const many = (n: number, secret: boolean) =>
    loadManifest(
      '.drone.yml',
      `kind: pipeline\ntype: docker\nname: many\nsteps:\n${Array.from({ length: n }, (_, i) => `- name: p${i}\n  image: example.com/p${i}:1\n${secret ? '  settings:\n    token:\n      from_secret: t\n' : ''}`).join('')}`,
    );

  it('asks for at most MAX_UNMASKED_LOOKUPS images that only the launcher needs (a fork: none masked), and every one a secret needs', () => {
    const queries = imageCommandQueries(many(500, false), true);
    expect(queries).toHaveLength(MAX_UNMASKED_LOOKUPS);
    expect(queries[0]).toEqual({ image: 'example.com/p0:1', arch: 'amd64', masked: false });
    expect(imageCommandQueries(many(500, true), false)).toHaveLength(MAX_UNMASKED_LOOKUPS);
    expect(imageCommandQueries(many(40, true), true)).toHaveLength(40);
  });

  it('looks them up LOOKUP_CONCURRENCY at a time, and answers each', async () => {
    let open = 0;
    let most = 0;
    const resolved = await resolveImageCommands(imageCommandQueries(many(40, true), true), async (image) => {
      most = Math.max(most, ++open);
      await new Promise((r) => setImmediate(r));
      open -= 1;
      return { ok: true, entrypoint: [`/bin/${image.split('/')[1]}`], cmd: [], digest: `sha256:${'0'.repeat(64)}` };
    });
    expect(most).toBe(LOOKUP_CONCURRENCY);
    expect(resolved.failures).toEqual([]);
    expect(resolved.commands('example.com/p39:1', 'amd64')).toMatchObject({ ok: true, entrypoint: ['/bin/p39:1'] });
  });
});

describe('pluginArgv', () => {
  const step = (name: string) => manifest.pipelines[0]!.steps.find((s) => s.name === name)!;
  it("assembles the command line as Docker does: the step's entrypoint clears the image's CMD; its command replaces only the CMD", () => {
    expect(pluginArgv(step('own-entrypoint'), 'amd64', () => ({ ok: true, entrypoint: ['/ignored'], cmd: ['--ignored'] }))).toEqual({ kind: 'known', argv: ['/tool'] });
    expect(pluginArgv(step('s3'), 'amd64', () => ({ ok: true, entrypoint: ['/bin/drone-s3'], cmd: ['--debug'], digest: 'sha256:' + 'a'.repeat(64) }))).toEqual({
      kind: 'known',
      argv: ['/bin/drone-s3', '--debug'],
      image: `plugins/s3@sha256:${'a'.repeat(64)}`,
    });
    expect(pluginArgv({ ...step('s3'), command: ['--quiet'] }, 'amd64', () => ({ ok: true, entrypoint: null, cmd: ['/run'] }))).toEqual({ kind: 'known', argv: ['--quiet'] });
  });

  it('says unknown without an answer, and passes a registry error on', () => {
    expect(pluginArgv(step('s3'), 'amd64', undefined)).toEqual({ kind: 'unknown' });
    expect(pluginArgv(step('s3'), 'amd64', () => ({ ok: false, error: 'image "plugins/s3:1": not found' }))).toEqual({ kind: 'error', message: 'image "plugins/s3:1": not found' });
    expect(pluginArgv(step('s3'), 'arm64', () => ({ ok: true, entrypoint: null, cmd: null }))).toMatchObject({ kind: 'error', message: expect.stringContaining('(linux/arm64) has neither an ENTRYPOINT nor a CMD') });
  });

  it('treats `entrypoint: []` as no entrypoint, as Drone does', () => {
    expect(pluginArgv({ ...step('s3'), entrypoint: [] }, 'amd64', () => ({ ok: true, entrypoint: ['/bin/drone-s3'], cmd: null }))).toEqual({ kind: 'known', argv: ['/bin/drone-s3'] });
  });
});

describe('pinnedImage', () => {
  const digest = `sha256:${'b'.repeat(64)}`;
  it('replaces the tag by the digest, keeps a registry port, and leaves a pinned image alone', () => {
    expect(pinnedImage('plugins/s3:1', digest)).toBe(`plugins/s3@${digest}`);
    expect(pinnedImage('plugins/s3', digest)).toBe(`plugins/s3@${digest}`);
    expect(pinnedImage('localhost:5000/tools/up', digest)).toBe(`localhost:5000/tools/up@${digest}`);
    expect(pinnedImage('localhost:5000/tools/up:2', digest)).toBe(`localhost:5000/tools/up@${digest}`);
    expect(pinnedImage(`ghcr.io/o/r@sha256:${'c'.repeat(64)}`, digest)).toBe(`ghcr.io/o/r@sha256:${'c'.repeat(64)}`);
  });
});
