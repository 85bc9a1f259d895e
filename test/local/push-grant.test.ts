// A task role's push right to the local registry (local/push-grant.ts), as the programs that
// push read it: local/image-builder.sh (kaniko's executor here) and local/manifest-plugin.sh
// (plugins/manifest here), run directly against a registry that wants its login. A destination
// the grant names is pushed with the login; another is refused before anything is built; with
// no grant the registry refuses the push (401); the password is in no output.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_ACCEPT, parseManifest } from '../../core/images/manifest.js';
import { startImageRegistry, type ImageRegistry } from '../../local/image-registry.js';
import { PROJECT_ROOT } from '../../local/images.js';
import { PUSH_GRANT_DIR, writePushGrant } from '../../local/push-grant.js';
import { basicAuthorization, htpasswdLine, type RegistryLogin } from '../../local/registry-login.js';
import { skipWithout } from '../support/required-tool.js';
import { imageBuildToolsMissing } from '../support/task-registry.js';

const EXECUTOR = join(PROJECT_ROOT, 'local', 'image-builder.sh');
const MANIFEST = join(PROJECT_ROOT, 'local', 'manifest-plugin.sh');
const LOGIN: RegistryLogin = { username: 'slipway', password: 'push-grant-test-pa55word-0123456789' };

describe.skipIf(skipWithout('buildah and docker-registry', imageBuildToolsMissing))('push rights to the local registry, as the pushing programs use them', () => {
  let dir: string;
  let registry: ImageRegistry;
  let container: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-push-grant-'));
    registry = await startImageRegistry({ dir: join(dir, 'registry'), htpasswd: htpasswdLine(LOGIN) });
    container = join(dir, 'container');
    writePushGrant(container, { registries: [registry.host], ...LOGIN, repositories: ['team/app'] });
    const context = join(dir, 'context');
    mkdirSync(context);
    writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
    writeFileSync(join(context, 'hello.txt'), 'hello\n');
  });
  afterAll(async () => {
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string>) => ({ PATH: process.env.PATH, TMPDIR: dir, SLIPWAY_BUILDAH_ROOT: join(dir, 'buildah'), DOCKER_CONFIG: join(container, 'docker'), ...extra });
  const withGrant = () => ({ SLIPWAY_PUSH_GRANT: join(container, PUSH_GRANT_DIR) });
  const build = (destinations: string[], extra: Record<string, string>) => {
    const args = ['--context', `dir://${join(dir, 'context')}`, '--dockerfile', join(dir, 'context', 'Dockerfile'), ...destinations.flatMap((d) => ['--destination', d]), '--insecure-registry', registry.host];
    const out = spawnSync('sh', [EXECUTOR, ...args], { env: env(extra), encoding: 'utf8' });
    return { status: out.status, output: `${out.stdout}${out.stderr}` };
  };
  const manifest = (extra: Record<string, string>) => {
    const out = spawnSync('sh', [MANIFEST], { env: env({ PLUGIN_PLATFORMS: 'linux/amd64', PLUGIN_TEMPLATE: `${registry.host}/team/app:1-ARCH`, PLUGIN_INSECURE: 'true', ...extra }), encoding: 'utf8' });
    return { status: out.status, output: `${out.stdout}${out.stderr}` };
  };
  const tags = async (repository: string) => {
    const response = await fetch(`${registry.url}/v2/${repository}/tags/list`, { headers: { authorization: basicAuthorization(LOGIN) } });
    return response.status === 200 ? ((await response.json()) as { tags: string[] }).tags.sort() : response.status;
  };

  it('the image builder pushes a repository the grant names with its login, and says so', async () => {
    const out = build([`${registry.host}/team/app:1`, `${registry.host}/team/app:1-amd64`], withGrant());
    expect(out.status, out.output).toBe(0);
    expect(out.output).toContain(`pushing ${registry.host}/team/app:1 with this build's push right to ${registry.host}`);
    expect(await tags('team/app')).toEqual(['1', '1-amd64']);
    expect(out.output).not.toContain(LOGIN.password);
  });

  it('refuses a repository the grant does not name, before it builds', async () => {
    const out = build([`${registry.host}/team/app:2`, `${registry.host}/team/other:2`], withGrant());
    expect(out.status).toBe(1);
    expect(out.output).toContain(`this repository may not push to team/other on ${registry.host} (allowed: team/app): the local registry's push rights are listed in SLIPWAY_IMAGE_PUSH_REPOSITORIES`);
    expect(out.output).not.toContain('buildah bud');
    expect(await tags('team/other')).toBe(404);
  });

  it('without a grant (or login of its own) the registry refuses the push: 401', async () => {
    const out = build([`${registry.host}/team/app:3`], {});
    expect(out.status).toBe(1);
    expect(out.output).toContain(`the push of ${registry.host}/team/app:3 was refused by ${registry.host}`);
    expect(out.output).toMatch(/unauthorized|authentication required/i);
    expect(await tags('team/app')).toEqual(['1', '1-amd64']);
  });

  it("refuses a context or Dockerfile in the container's private directory (or a context holding it), links resolved, before it builds", () => {
    const privateDir = { SLIPWAY_PRIVATE_DIR: container };
    const grantDir = join(container, PUSH_GRANT_DIR);
    const link = join(dir, 'context', 'private-link');
    symlinkSync(container, link);
    const run = (context: string, dockerfile: string) => {
      const out = spawnSync('sh', [EXECUTOR, '--context', `dir://${context}`, '--dockerfile', dockerfile, '--no-push'], { env: env({ ...withGrant(), ...privateDir }), encoding: 'utf8' });
      return { status: out.status, output: `${out.stdout}${out.stderr}` };
    };
    try {
      const ownDockerfile = join(dir, 'context', 'Dockerfile');
      for (const [context, dockerfile] of [
        [grantDir, ownDockerfile],
        [link, ownDockerfile],
        [dir, ownDockerfile],
        ['/', ownDockerfile],
        [join(dir, 'context'), join(grantDir, 'auth.json')],
        [join(dir, 'context'), join(link, PUSH_GRANT_DIR, 'auth.json')],
      ]) {
        const out = run(context!, dockerfile!);
        expect(out.status, `${context} ${dockerfile}: ${out.output}`).toBe(1);
        expect(out.output).toMatch(/is (or holds|in) this container's private directory/);
        expect(out.output).not.toContain('buildah bud');
        expect(out.output).not.toContain(LOGIN.password);
      }
      // The workspace's own context is built.
      expect(run(join(dir, 'context'), ownDockerfile)).toMatchObject({ status: 0 });
    } finally {
      rmSync(link);
    }
  });

  it('plugins/manifest without username and password pushes its list with the grant to a repository it names, and only there', async () => {
    const pushed = manifest({ ...withGrant(), PLUGIN_TARGET: `${registry.host}/team/app:multi` });
    expect(pushed.status, pushed.output).toBe(0);
    expect(pushed.output).toContain(`pushing to ${registry.host} with this build's push right`);
    const response = await fetch(`${registry.url}/v2/team/app/manifests/multi`, { headers: { authorization: basicAuthorization(LOGIN), accept: MANIFEST_ACCEPT } });
    const list = parseManifest(response.headers.get('content-type'), await response.text());
    expect(list.ok && list.kind === 'index' && list.entries.map((e) => `${e.os}/${e.architecture}`)).toEqual(['linux/amd64']);
    expect(pushed.output).not.toContain(LOGIN.password);

    const elsewhere = manifest({ ...withGrant(), PLUGIN_TARGET: `${registry.host}/team/other:multi` });
    expect(elsewhere).toMatchObject({ status: 1, output: expect.stringContaining(`this repository may not push to team/other on ${registry.host} (allowed: team/app)`) });
    // Without a grant it is drone-manifest again: a login is required.
    expect(manifest({ PLUGIN_TARGET: `${registry.host}/team/app:multi` })).toMatchObject({ status: 1, output: expect.stringContaining('no username provided') });
  });
});
