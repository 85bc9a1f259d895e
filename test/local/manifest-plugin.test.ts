// local/manifest-plugin.sh, plugins/manifest's local stand-in, run directly with the
// plugin's PLUGIN_* variables against the local registry (no login), as drone-manifest
// reads them (plugin/plugin.go: verifyArgs, yamlFromArgs; tagging/tagging.go).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_ACCEPT, parseManifest } from '../../core/images/manifest.js';
import { imageRegistryBinary, startImageRegistry, type ImageRegistry } from '../../local/image-registry.js';
import { PROJECT_ROOT } from '../../local/images.js';
import { findBinary } from '../../local/require-binary.js';
import { skipWithout } from '../support/required-tool.js';

const missing = !findBinary('buildah', ['/usr/bin']) ? 'buildah is not installed' : !imageRegistryBinary() ? 'docker-registry is not installed' : undefined;
const PROGRAM = join(PROJECT_ROOT, 'local', 'manifest-plugin.sh');

describe.skipIf(skipWithout('buildah and docker-registry', missing))('plugins/manifest stand-in (local/manifest-plugin.sh)', () => {
  let registry: ImageRegistry;
  let dir: string;
  const run = (env: Record<string, string>) => {
    const out = spawnSync('sh', [PROGRAM], { env: { PATH: process.env.PATH, TMPDIR: dir, PLUGIN_USERNAME: 'u', PLUGIN_PASSWORD: 'secret-pw', PLUGIN_INSECURE: 'true', ...env }, encoding: 'utf8' });
    return { status: out.status, output: `${out.stdout}${out.stderr}` };
  };
  const list = async (tag: string) => {
    const response = await fetch(`${registry.url}/v2/app/manifests/${tag}`, { headers: { accept: MANIFEST_ACCEPT } });
    return parseManifest(response.headers.get('content-type'), await response.text());
  };
  const tags = async () => ((await (await fetch(`${registry.url}/v2/app/tags/list`)).json()) as { tags: string[] }).tags.sort();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-manifest-plugin-'));
    registry = await startImageRegistry({ dir: join(dir, 'registry') });
    // Two images FROM scratch, one per architecture (labelled; nothing runs), as the per-arch pipelines push them.
    const context = join(dir, 'context');
    mkdirSync(context);
    writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY arch.txt /arch.txt\n');
    const b = (...args: string[]) => {
      const out = spawnSync('buildah', ['--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--storage-driver', 'vfs', ...args], { encoding: 'utf8' });
      if (out.status !== 0) throw new Error(`buildah ${args.join(' ')}: ${out.stderr}`);
    };
    for (const arch of ['amd64', 'arm64']) {
      writeFileSync(join(context, 'arch.txt'), arch);
      b('bud', '--isolation', 'chroot', '--pull-never', '--arch', arch, '-t', `${registry.host}/app:2.0-${arch}`, context);
      b('push', '--tls-verify=false', `${registry.host}/app:2.0-${arch}`, `docker://${registry.host}/app:2.0-${arch}`);
    }
  });
  afterAll(async () => {
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses what drone-manifest refuses, before it reads any image, naming the setting', () => {
    const base = { PLUGIN_PLATFORMS: 'linux/amd64', PLUGIN_TARGET: 'r/app:1', PLUGIN_TEMPLATE: 'r/app:1-ARCH' };
    expect(run({ ...base, PLUGIN_PASSWORD: '' })).toMatchObject({ status: 1, output: expect.stringContaining('no password provided (settings.password') });
    expect(run({ ...base, PLUGIN_USERNAME: '' })).toMatchObject({ status: 1, output: expect.stringContaining('no username provided') });
    expect(run({ ...base, PLUGIN_TARGET: '' })).toMatchObject({ status: 1, output: expect.stringContaining('no target provided') });
    expect(run({ ...base, PLUGIN_PLATFORMS: '' })).toMatchObject({ status: 1, output: expect.stringContaining('no platforms provided') });
    expect(run({ ...base, PLUGIN_TEMPLATE: '' })).toMatchObject({ status: 1, output: expect.stringContaining('no template provided') });
    expect(run({ ...base, PLUGIN_SPEC: 'image: r/app:1' })).toMatchObject({ status: 1, output: expect.stringContaining('settings.spec (a manifest-tool spec template) is not supported by the local stand-in') });
    expect(run({ ...base, PLUGIN_PLATFORMS: 'amd64' })).toMatchObject({ status: 1, output: expect.stringContaining('of the form os/arch[/variant], not amd64') });
  });

  it('joins the images the template names into one list at the target, plus tags; the password in no output', async () => {
    const out = run({ PLUGIN_PLATFORMS: 'linux/amd64,linux/arm64', PLUGIN_TARGET: `${registry.host}/app:2.0`, PLUGIN_TEMPLATE: `${registry.host}/app:2.0-ARCH`, PLUGIN_TAGS: 'stable,two' });
    expect(out.status, out.output).toBe(0);
    for (const tag of ['2.0', 'stable', 'two']) {
      const index = await list(tag);
      expect(index.ok && index.kind === 'index' && index.entries.map((e) => `${e.os}/${e.architecture}`), tag).toEqual(['linux/amd64', 'linux/arm64']);
    }
    expect(out.output).not.toContain('secret-pw');
  });

  it('auto_tag: the tags tagging.go gives a tag ref; nothing at all on a branch other than the default', async () => {
    const args = { PLUGIN_PLATFORMS: 'linux/amd64,linux/arm64', PLUGIN_TARGET: `${registry.host}/app:auto`, PLUGIN_TEMPLATE: `${registry.host}/app:2.0-ARCH`, PLUGIN_AUTO_TAG: 'true', DRONE_REPO_BRANCH: 'main' };
    const branch = run({ ...args, DRONE_COMMIT_REF: 'refs/heads/feature' });
    expect(branch).toMatchObject({ status: 0, output: expect.stringContaining('skipping automated tags for refs/heads/feature') });
    expect(await tags()).not.toContain('auto');
    const tagged = run({ ...args, DRONE_COMMIT_REF: 'refs/tags/v3.4.5' });
    expect(tagged.status, tagged.output).toBe(0);
    const pre = run({ ...args, DRONE_COMMIT_REF: 'refs/tags/v0.9.0-rc.1' });
    expect(pre.status, pre.output).toBe(0);
    const zero = run({ ...args, DRONE_COMMIT_REF: 'refs/tags/v0.8.1' });
    expect(zero.status, zero.output).toBe(0);
    expect((await tags()).filter((t) => !t.startsWith('2.0') && !['stable', 'two'].includes(t))).toEqual(['0.8', '0.8.1', '0.9.0-rc.1', '3', '3.4', '3.4.5', 'auto']);
  }, 180_000);

  it('a missing image fails the step, unless ignore_missing leaves it out; the variant goes where VARIANT is', async () => {
    const args = { PLUGIN_PLATFORMS: 'linux/amd64,linux/arm64/v8', PLUGIN_TARGET: `${registry.host}/app:partial`, PLUGIN_TEMPLATE: `${registry.host}/app:2.0-ARCHVARIANT` };
    const failed = run(args);
    expect(failed).toMatchObject({ status: 1, output: expect.stringContaining(`could not read ${registry.host}/app:2.0-arm64v8`) });
    const ignored = run({ ...args, PLUGIN_IGNORE_MISSING: 'true' });
    expect(ignored.status, ignored.output).toBe(0);
    expect(ignored.output).toContain(`${registry.host}/app:2.0-arm64v8 is missing: left out (ignore_missing)`);
    const index = await list('partial');
    expect(index.ok && index.kind === 'index' && index.entries.map((e) => `${e.os}/${e.architecture}`)).toEqual(['linux/amd64']);
  });
});
