// Image builds end to end on the local stand-ins: a push plans the build, a test step runs,
// then a plugins/docker step runs as the image builder (core/pipeline/image-build.ts) — kaniko
// on AWS, buildah here (local/images.ts, local/image-builder.sh) — and pushes to the local
// registry (Debian's docker-registry, with logins), whose manifest the registry client reads
// back. Nothing is pulled from the internet: the image is built FROM scratch.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupImageCommand } from '../../adapters/registry/registry-client.js';
import type { ImageRegistry } from '../../local/image-registry.js';
import { E2E_REPO, startE2e, stepTable, type E2e } from '../support/control-plane-e2e.js';
import { skipWithout } from '../support/required-tool.js';
import { imageBuildToolsMissing, REGISTRY_PASSWORD, REGISTRY_USER, startTaskRegistry } from '../support/task-registry.js';

const USER = REGISTRY_USER;
const PASSWORD = REGISTRY_PASSWORD;
const missing = imageBuildToolsMissing;

const pipeline = (registry: string, secret: string) => `kind: pipeline
type: docker
name: release
steps:
- name: test
  image: alpine:3
  commands:
  - test -f README.md
  - echo 'hello from an image built without a daemon' > hello.txt
  - printf 'FROM scratch\\nCOPY hello.txt /hello.txt\\nLABEL stage=test\\n' > Dockerfile
- name: publish
  image: plugins/docker
  settings:
    repo: ${registry}/acme/hello
    registry: ${registry}
    insecure: true
    auto_tag: true
    auto_label: false
    username: ${USER}
    password:
      from_secret: ${secret}
`;

describe.skipIf(skipWithout('buildah and docker-registry', missing))('image builds, end to end (buildah and docker-registry)', () => {
  let e2e: E2e;
  let registry: ImageRegistry;
  let dir: string;
  /** The registry as the build's steps name it. */
  let pushTo: string;
  let hostPorts: number[];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-e2e-registry-'));
    // buildah's storage (the local layer cache) of this file alone: the first build starts cold.
    process.env.SLIPWAY_BUILDAH_ROOT = join(dir, 'buildah');
    ({ registry, pushTo, hostPorts } = await startTaskRegistry(dir));
    e2e = await startE2e({
      name: 'e2e-image-build',
      hostPorts,
      secrets: { [`/slipway/${E2E_REPO}/registry_password`]: PASSWORD, [`/slipway/${E2E_REPO}/wrong_password`]: 'not-the-password' },
    });
  });
  afterAll(async () => {
    await e2e?.stop();
    await registry?.stop();
    delete process.env.SLIPWAY_BUILDAH_ROOT;
    rmSync(dir, { recursive: true, force: true });
  });

  const logsOf = (detail: Awaited<ReturnType<E2e['finishedBuild']>>, step: string) => {
    const stage = detail.stages[0]!;
    return e2e.aws.ecs
      .logs(stage.taskArn!, stage.steps.find((s) => s.name === step)!.container)
      .map((l) => l.message)
      .join('\n');
  };
  const everyLog = (detail: Awaited<ReturnType<E2e['finishedBuild']>>) => {
    const stage = detail.stages[0]!;
    const task = e2e.aws.ecs.tasks().find((t) => t.taskArn === stage.taskArn) as { containers: { name: string }[] };
    return task.containers.map((c) => e2e.aws.ecs.logs(stage.taskArn!, c.name).map((l) => l.message).join('\n')).join('\n');
  };
  const tags = async () => ((await (await fetch(`${registry.url}/v2/acme/hello/tags/list`, { headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` } })).json()) as { tags: string[] }).tags.sort();
  const readBack = (tag: string) => lookupImageCommand(`${registry.host}/acme/hello:${tag}`, 'amd64', { credentials: { [registry.host]: { username: USER, password: PASSWORD } } });

  it('a tag push: the test step, then the image built FROM scratch and pushed with the tags auto_tag gives v1.2.3', async () => {
    const sha = e2e.commit(pipeline(pushTo, 'registry_password'), 'release 1.2.3');
    execFileSync('git', ['-C', e2e.repoDir, 'tag', 'v1.2.3', sha]);
    const payload = e2e.pushPayload(sha, 'release 1.2.3') as Record<string, unknown>;
    payload.ref = 'refs/tags/v1.2.3';
    payload.base_ref = 'refs/heads/main';
    expect((await e2e.deliver(payload, 'image-build-tag')).statusCode).toBe(202);
    const detail = await e2e.finishedBuild('image-build-tag', 300_000);
    expect({ status: detail.status, steps: stepTable(detail) }, logsOf(detail, 'publish')).toEqual({
      status: 'success',
      steps: [{ stage: 'release', status: 'success', steps: ['clone:clone=success', 'step:test=success', 'step:publish=success'] }],
    });
    // drone-docker tags.go: refs/tags/v1.2.3 → 1, 1.2, 1.2.3.
    expect(await tags()).toEqual(['1', '1.2', '1.2.3']);
    expect(logsOf(detail, 'publish')).not.toMatch(/Using cache/);
    const image = await readBack('1.2.3');
    expect(image, JSON.stringify(image)).toMatchObject({ ok: true, digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    // The password reached the registry (it requires a login) and no log line.
    expect(everyLog(detail)).not.toContain(PASSWORD);
    expect(logsOf(detail, 'publish')).toContain(`slipway: image build: registry credentials for ${pushTo} (user ${USER})`);
  }, 360_000);

  it('a second build of the unchanged Dockerfile, on the default branch, reuses cached layers and pushes latest', async () => {
    const sha = e2e.commit(pipeline(pushTo, 'registry_password'), 'again');
    expect((await e2e.deliver(e2e.pushPayload(sha, 'again'), 'image-build-cache')).statusCode).toBe(202);
    const detail = await e2e.finishedBuild('image-build-cache', 300_000);
    expect(detail.status, logsOf(detail, 'publish')).toBe('success');
    expect(logsOf(detail, 'publish')).toMatch(/Using cache [0-9a-f]{64}/);
    expect(await tags()).toEqual(['1', '1.2', '1.2.3', 'latest']);
    expect(await readBack('latest')).toMatchObject({ ok: true });
  }, 360_000);

  it('a push the registry refuses (wrong password) fails the step with a message that says why, and the secret is not logged', async () => {
    const sha = e2e.commit(pipeline(pushTo, 'wrong_password'), 'wrong login');
    expect((await e2e.deliver(e2e.pushPayload(sha, 'wrong login'), 'image-build-denied')).statusCode).toBe(202);
    const detail = await e2e.finishedBuild('image-build-denied', 300_000);
    expect(stepTable(detail)).toEqual([{ stage: 'release', status: 'failure', steps: ['clone:clone=success', 'step:test=success', 'step:publish=failure'] }]);
    const log = logsOf(detail, 'publish');
    expect(log).toContain(`the push of ${pushTo}/acme/hello:latest was refused by ${pushTo}`);
    expect(log).toMatch(/unauthorized|authentication required/i);
    expect(everyLog(detail)).not.toContain('not-the-password');
  }, 360_000);
});
