// Image builds through local mode as `slipway up` (`npm start`) wires it: its registry wants
// the login made for this SLIPWAY_HOME and listens on loopback only (tasks in a namespace reach
// it through the ECS stand-in's relay). A repository SLIPWAY_IMAGE_PUSH_REPOSITORIES lists
// builds under a push role, as a deployed one listed in imagePushRepositories builds under its
// ECR push role: its plugins/docker and plugins/manifest steps push with no username or password of their own. An
// unlisted repository's push is refused (401). The login is in no log and no stored record,
// and a plugin image pushed there is read by the planner (its ENTRYPOINT) and runs.
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildDetail } from '../../core/builds/types.js';
import { isListening, servicePort } from '../../local/ports.js';
import { REGISTRY_LOGIN_FILE, basicAuthorization, type RegistryLogin } from '../../local/registry-login.js';
import { LocalSecretStore } from '../../local/secrets.js';
import { snapshotDirectory } from '../../local/snapshot.js';
import { LOCAL_TABLE, startLocalSlipway, type LocalSlipway } from '../../local/up.js';
import { skipWithout } from '../support/required-tool.js';
import { imageBuildToolsMissing } from '../support/task-registry.js';

const publishing = (registry: string, repository: string) => `kind: pipeline
type: docker
name: release
steps:
- name: dockerfile
  image: alpine:3
  commands:
  - echo hello > hello.txt
  - printf 'FROM scratch\\nCOPY hello.txt /hello.txt\\nENTRYPOINT ["/bin/sh", "-c", "echo plugin image from the local registry ran"]\\n' > Dockerfile
- name: publish
  image: plugins/docker
  settings:
    repo: ${registry}/${repository}
    registry: ${registry}
    insecure: true
    tags: ["1.0"]
`;

// A plugin step that receives a secret runs masked: the planner must read its image's ENTRYPOINT from the registry.
const usingThePushedImage = (registry: string) => `kind: pipeline
type: docker
name: use
clone:
  disable: true
steps:
- name: tool
  image: ${registry}/acme/app:1.0
  settings:
    token:
      from_secret: token
`;

// plugins/manifest with no username or password: it pushes with the role's login, as the image build does.
const joining = (registry: string, target: string) => `kind: pipeline
type: docker
name: manifest
clone:
  disable: true
steps:
- name: manifest
  image: plugins/manifest
  settings:
    target: ${registry}/${target}
    template: ${registry}/acme/app:1.0
    platforms: [linux/amd64]
    insecure: true
`;


describe.skipIf(skipWithout('buildah and docker-registry', imageBuildToolsMissing))('image builds in local mode (slipway up): the registry wants a login; listed repositories push with their role', () => {
  let dir: string;
  let home: string;
  let local: LocalSlipway;
  let login: RegistryLogin;
  let registryPort: number;
  const errors: string[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-e2e-local-registry-'));
    home = join(dir, 'home');
    process.env.SLIPWAY_BUILDAH_ROOT = join(dir, 'buildah');
    // Outside the ephemeral range: no port-0 server takes it before the registry binds it (local/ports.ts).
    registryPort = await servicePort();
    new LocalSecretStore(home).put('/slipway/acme/app/token', 'token-value');
    local = await startLocalSlipway({
      port: 0,
      scheduleMs: 500,
      env: { ...process.env, SLIPWAY_HOME: home, SLIPWAY_REGISTRY_PORT: String(registryPort), SLIPWAY_IMAGE_PUSH_REPOSITORIES: '{"acme/app": ["acme/app"]}' },
      onError: (where, err) => errors.push(`${where}: ${(err as Error).message}`),
    });
    login = JSON.parse(readFileSync(join(home, REGISTRY_LOGIN_FILE), 'utf8')) as RegistryLogin;
  }, 180_000);
  afterAll(async () => {
    await local?.stop();
    delete process.env.SLIPWAY_BUILDAH_ROOT;
    rmSync(dir, { recursive: true, force: true });
  });

  const registryHost = () => {
    if (!('host' in local.imageRegistry)) throw new Error(`no local registry: ${local.imageRegistry.missing}`);
    return local.imageRegistry.host;
  };
  const build = async (slug: string, pipeline: string): Promise<BuildDetail> => {
    const source = join(dir, slug.replace('/', '-'), String(Date.now()));
    mkdirSync(source, { recursive: true });
    writeFileSync(join(source, '.drone.yml'), pipeline);
    const submitted = await local.buildSnapshot(snapshotDirectory(source), { slug });
    if (typeof submitted !== 'object' || !('buildId' in submitted)) throw new Error(`not built: ${JSON.stringify(submitted)}`);
    return local.waitForBuild(submitted.buildId, undefined, 300_000);
  };
  const logsOf = (detail: BuildDetail) =>
    detail.stages
      .flatMap((stage) => stage.steps.map((step) => local.aws.ecs.logs(stage.taskArn!, step.container).map((l) => l.message).join('\n')))
      .join('\n');
  const steps = (detail: BuildDetail) => detail.stages.flatMap((s) => s.steps.map((x) => `${x.name}=${x.status}`));
  const tags = async (repository: string) => {
    const response = await fetch(`http://127.0.0.1:${registryPort}/v2/${repository}/tags/list`, { headers: { authorization: basicAuthorization(login) } });
    return response.status === 200 ? ((await response.json()) as { tags: string[] }).tags.sort() : response.status;
  };

  it('makes the login once in SLIPWAY_HOME (0600); the registry refuses anonymous requests and listens on loopback only', async () => {
    expect(statSync(join(home, REGISTRY_LOGIN_FILE)).mode & 0o777).toBe(0o600);
    expect(local.imageRegistry).toMatchObject({ pushRepositories: { 'acme/app': ['acme/app'] } });
    expect((await fetch(`http://127.0.0.1:${registryPort}/v2/acme/app/blobs/uploads/`, { method: 'POST' })).status).toBe(401);
    expect(await isListening(registryPort, '127.0.0.1')).toBe(true);
    for (const address of Object.values(networkInterfaces()).flat()) {
      if (address && address.family === 'IPv4' && !address.internal) expect(await isListening(registryPort, address.address), address.address).toBe(false);
    }
  });

  it('a listed repository pushes with its role (no username or password in the pipeline); the login is in no log and no stored record', async () => {
    const detail = await build('acme/app', publishing(registryHost(), 'acme/app'));
    const log = logsOf(detail);
    expect({ status: detail.status, steps: steps(detail) }, `${log}\n${errors.join('\n')}`).toEqual({ status: 'success', steps: ['clone=success', 'dockerfile=success', 'publish=success'] });
    expect(log).toContain(`pushing ${registryHost()}/acme/app:1.0 with this build's push right to ${registryHost()}`);
    expect(await tags('acme/app')).toEqual(['1.0']);

    expect(log).not.toContain(login.password);
    const basic = Buffer.from(`${login.username}:${login.password}`).toString('base64');
    expect(log).not.toContain(basic);
    const table = await new DynamoDBClient(local.aws.clientConfig('dynamodb')).send(new ScanCommand({ TableName: LOCAL_TABLE }));
    expect(table.Items?.length).toBeGreaterThan(0);
    for (const secret of [login.password, basic]) {
      expect(JSON.stringify(table.Items)).not.toContain(secret);
      expect(JSON.stringify(local.aws.ecs.tasks())).not.toContain(secret);
    }
  }, 360_000);

  it("an unlisted repository's push is refused by the registry (401), with what to do", async () => {
    const detail = await build('other/app', publishing(registryHost(), 'other/app'));
    expect(steps(detail)).toEqual(['clone=success', 'dockerfile=success', 'publish=failure']);
    const log = logsOf(detail);
    expect(log).toContain(`the push of ${registryHost()}/other/app:1.0 was refused by ${registryHost()}`);
    expect(log).toMatch(/unauthorized|authentication required/i);
    expect(log).toContain('SLIPWAY_IMAGE_PUSH_REPOSITORIES');
    expect(await tags('other/app')).toBe(404);
  }, 360_000);

  it('a listed repository may push only to the names listed for it: another is refused before the build', async () => {
    const detail = await build('acme/app', publishing(registryHost(), 'team/else'));
    expect(steps(detail)).toEqual(['clone=success', 'dockerfile=success', 'publish=failure']);
    expect(logsOf(detail)).toContain(`this repository may not push to team/else on ${registryHost()} (allowed: acme/app)`);
    expect(await tags('team/else')).toBe(404);
  }, 360_000);

  it('plugins/manifest with no login of its own pushes its list with the role, to a listed name only', async () => {
    const detail = await build('acme/app', joining(registryHost(), 'acme/app:multi'));
    const log = logsOf(detail);
    expect({ status: detail.status, steps: steps(detail) }, log).toEqual({ status: 'success', steps: ['manifest=success'] });
    expect(log).toContain(`pushing to ${registryHost()} with this build's push right`);
    expect(await tags('acme/app')).toEqual(['1.0', 'multi']);
    const refused = await build('acme/app', joining(registryHost(), 'team/else:multi'));
    expect(steps(refused)).toEqual(['manifest=failure']);
    expect(logsOf(refused)).toContain(`this repository may not push to team/else on ${registryHost()} (allowed: acme/app)`);
    expect(logsOf(detail)).not.toContain(login.password);
  }, 360_000);

  it("the planner reads a plugin image pushed there with the registry's login, and its step runs", async () => {
    const detail = await build('acme/app', usingThePushedImage(registryHost()));
    const log = logsOf(detail);
    expect({ status: detail.status, steps: steps(detail) }, `${log}\n${JSON.stringify(detail.stages.map((s) => s.message))}`).toEqual({ status: 'success', steps: ['tool=success'] });
    expect(log).toContain('plugin image from the local registry ran');
  }, 360_000);
});
