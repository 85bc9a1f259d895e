// Multi-architecture images end to end on the local stand-ins, the way Drone users build
// them: one pipeline per architecture, each building and pushing with plugins/docker and
// auto_tag_suffix, then a pipeline that depends on both and joins them with plugins/manifest
// (drone-plugins/drone-manifest: platforms, target, template). Locally both architectures
// build on this machine's CPU: the arm64 image is FROM scratch with no RUN, labelled arm64
// by buildah's --arch (local/image-builder.sh); plugins/manifest runs as
// local/manifest-plugin.sh (buildah manifest), its entrypoint answered by
// local/plugin-images.ts since the planner cannot ask Docker Hub here.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupImageCommand } from '../../adapters/registry/registry-client.js';
import { MANIFEST_ACCEPT, parseManifest } from '../../core/images/manifest.js';
import type { ImageRegistry } from '../../local/image-registry.js';
import { E2E_REPO, startE2e, stepTable, type E2e } from '../support/control-plane-e2e.js';
import { skipWithout } from '../support/required-tool.js';
import { imageBuildToolsMissing, REGISTRY_PASSWORD, REGISTRY_USER, startTaskRegistry } from '../support/task-registry.js';

const USER = REGISTRY_USER;
const PASSWORD = REGISTRY_PASSWORD;
const missing = imageBuildToolsMissing;

const archPipeline = (registry: string, arch: string) => `kind: pipeline
type: docker
name: build-${arch}
platform:
  os: linux
  arch: ${arch}
steps:
- name: dockerfile
  image: alpine:3
  commands:
  - echo ${arch} > arch.txt
  - printf 'FROM scratch\\nCOPY arch.txt /arch.txt\\n' > Dockerfile
- name: publish
  image: plugins/docker
  settings:
    repo: ${registry}/acme/multi
    registry: ${registry}
    insecure: true
    auto_tag: true
    auto_tag_suffix: ${arch}
    auto_label: false
    username: ${USER}
    password:
      from_secret: registry_password
`;

const pipelines = (registry: string) => `${archPipeline(registry, 'amd64')}---
${archPipeline(registry, 'arm64')}---
kind: pipeline
type: docker
name: manifest
depends_on: [build-amd64, build-arm64]
clone:
  disable: true
steps:
- name: manifest
  image: plugins/manifest
  settings:
    username: ${USER}
    password:
      from_secret: registry_password
    target: ${registry}/acme/multi:1.0
    template: ${registry}/acme/multi:1.0-ARCH
    platforms:
    - linux/amd64
    - linux/arm64
    auto_tag: true
    insecure: true
`;

describe.skipIf(skipWithout('buildah and docker-registry', missing))('multi-architecture images, end to end (plugins/docker per arch, then plugins/manifest)', () => {
  let e2e: E2e;
  let registry: ImageRegistry;
  let dir: string;
  let pushTo: string;
  let hostPorts: number[];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-e2e-manifest-'));
    process.env.SLIPWAY_BUILDAH_ROOT = join(dir, 'buildah');
    ({ registry, pushTo, hostPorts } = await startTaskRegistry(dir));
    e2e = await startE2e({ name: 'e2e-manifest', localPluginImages: true, hostPorts, secrets: { [`/slipway/${E2E_REPO}/registry_password`]: PASSWORD } });
  });
  afterAll(async () => {
    await e2e?.stop();
    await registry?.stop();
    delete process.env.SLIPWAY_BUILDAH_ROOT;
    rmSync(dir, { recursive: true, force: true });
  });

  const login = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const tags = async () => ((await (await fetch(`${registry.url}/v2/acme/multi/tags/list`, { headers: { authorization: login } })).json()) as { tags: string[] }).tags.sort();
  const architectureOf = async (tag: string): Promise<unknown> => {
    const response = await fetch(`${registry.url}/v2/acme/multi/manifests/${tag}`, { headers: { authorization: login, accept: MANIFEST_ACCEPT } });
    const manifest = parseManifest(response.headers.get('content-type'), await response.text());
    if (!manifest.ok || manifest.kind !== 'image') throw new Error(`${tag}: not an image manifest: ${JSON.stringify(manifest)}`);
    const config = await fetch(`${registry.url}/v2/acme/multi/blobs/${manifest.configDigest}`, { headers: { authorization: login } });
    return ((await config.json()) as { architecture?: unknown }).architecture;
  };
  const everyLog = (detail: Awaited<ReturnType<E2e['finishedBuild']>>) =>
    detail.stages
      .flatMap((stage) => {
        const task = e2e.aws.ecs.tasks().find((t) => t.taskArn === stage.taskArn) as { containers: { name: string }[] } | undefined;
        return (task?.containers ?? []).map((c) => e2e.aws.ecs.logs(stage.taskArn!, c.name).map((l) => l.message).join('\n'));
      })
      .join('\n');

  it('a tag push: both architectures built and pushed with their suffix, then plugins/manifest pushes 1.0 as a list naming both', async () => {
    const sha = e2e.commit(pipelines(pushTo), 'release 1.0.0');
    execFileSync('git', ['-C', e2e.repoDir, 'tag', 'v1.0.0', sha]);
    const payload = e2e.pushPayload(sha, 'release 1.0.0') as Record<string, unknown>;
    payload.ref = 'refs/tags/v1.0.0';
    payload.base_ref = 'refs/heads/main';
    expect((await e2e.deliver(payload, 'manifest-tag')).statusCode).toBe(202);
    const detail = await e2e.finishedBuild('manifest-tag', 600_000);
    const log = everyLog(detail);
    expect({ status: detail.status, steps: stepTable(detail) }, log).toEqual({
      status: 'success',
      steps: [
        { stage: 'build-amd64', status: 'success', steps: ['clone:clone=success', 'step:dockerfile=success', 'step:publish=success'] },
        { stage: 'build-arm64', status: 'success', steps: ['clone:clone=success', 'step:dockerfile=success', 'step:publish=success'] },
        { stage: 'manifest', status: 'success', steps: ['step:manifest=success'] },
      ],
    });
    // drone-docker: refs/tags/v1.0.0 with a suffix → 1-ARCH, 1.0-ARCH, 1.0.0-ARCH; drone-manifest's
    // auto_tag adds 1, 1.0, 1.0.0 beside its target 1.0.
    expect(await tags()).toEqual(['1', '1-amd64', '1-arm64', '1.0', '1.0-amd64', '1.0-arm64', '1.0.0', '1.0.0-amd64', '1.0.0-arm64']);

    // The registry's answer for 1.0 is a list (OCI index or Docker manifest list) naming both platforms.
    const response = await fetch(`${registry.url}/v2/acme/multi/manifests/1.0`, { headers: { authorization: login, accept: MANIFEST_ACCEPT } });
    const list = parseManifest(response.headers.get('content-type'), await response.text());
    expect(list.ok && list.kind === 'index' && list.entries.map((e) => `${e.os}/${e.architecture}`).sort(), JSON.stringify(list)).toEqual(['linux/amd64', 'linux/arm64']);
    // The registry client picks each architecture's image from it, as the planner would.
    const credentials = { credentials: { [registry.host]: { username: USER, password: PASSWORD } } };
    const [amd64, arm64] = await Promise.all([lookupImageCommand(`${registry.host}/acme/multi:1.0`, 'amd64', credentials), lookupImageCommand(`${registry.host}/acme/multi:1.0`, 'arm64', credentials)]);
    expect(amd64).toMatchObject({ ok: true });
    expect(arm64).toMatchObject({ ok: true });
    expect(amd64.ok && arm64.ok && amd64.digest !== arm64.digest).toBe(true);
    // The arm64 image's own configuration says arm64 (built here on amd64, labelled by buildah --arch).
    expect(await architectureOf('1.0-arm64')).toBe('arm64');
    expect(await architectureOf('1.0-amd64')).toBe('amd64');

    // The manifest step ran masked (its password is a secret) and said what it pushed; the password is in no log.
    expect(log).toContain(`slipway: manifest (local, buildah): pushing manifest list ${pushTo}/acme/multi:1.0`);
    expect(log).toContain(`slipway: manifest (local, buildah): registry credentials for ${pushTo} (user ${USER})`);
    expect(log).toContain('labelled linux/arm64');
    expect(log).not.toContain(PASSWORD);
  }, 660_000);
});
