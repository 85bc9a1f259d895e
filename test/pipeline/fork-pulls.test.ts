// A pull request from a fork pulls no private image of the deployment's registry beyond what its
// execution role may pull (lib/build-cluster.ts grantForkPulls): Drone gives a fork's pull request
// no pull secrets (drone/drone plugin/registry/static.go skips a pull secret for a pull_request
// build unless the secret allows pull requests). The compiler says so at the image's place, before
// a task fails at its pull. In the repositories of the images the stack runs itself (the agent,
// the builder), which that role pulls whole (ECR has no permission per tag or digest:
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html),
// a fork may name those images only: the agent built by the stack lives in CDK's bootstrap asset
// repository, beside every container asset of the account's CDK apps.
import { describe, expect, it } from 'vitest';
import { cliContext } from '../../cli/commands/compile.js';
import { compileManifest } from '../../core/pipeline/compile.js';
import { forkPullRefusal, isPrivateToFork, type ForkPulls } from '../../core/pipeline/fork-pulls.js';
import { loadManifest } from '../../core/pipeline/load.js';
import { buildCompileOptions, compileOptionsFromEnv, forkPullsOf } from '../../lambdas/planner/compile-options.js';
import { FIXTURE_ENV } from '../compiler/support.js';

const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const CACHE_RULES = { 'docker.io': 'slipway-docker-hub', 'ghcr.io': 'slipway-ghcr', 'public.ecr.aws': 'slipway-ecr-public', 'quay.io': 'slipway-quay', 'registry.k8s.io': 'slipway-k8s' };
/** CDK's bootstrap asset repository, where the stack pushes the agent it builds (lib/build-cluster.ts agentImage). */
const ASSETS = `${REGISTRY}/cdk-hnb659fds-container-assets-123456789012-eu-west-1`;
const AGENT_ASSET = `${ASSETS}:${'1'.repeat(64)}`;
const ENV = {
  ...FIXTURE_ENV,
  PULL_THROUGH_CACHE: JSON.stringify(CACHE_RULES),
  IMAGE_BUILDER: `${REGISTRY}/tools/kaniko:v1-debug`,
  FORK_PULL_REPOSITORIES: 'mirror/*, base/node',
};

describe('what a fork may pull from the deployment\'s registry, as the stack grants it', () => {
  it('the rules without credentials and their SOCI copies, the operator\'s list; the agent and the builder as exact images', () => {
    expect(forkPullsOf(compileOptionsFromEnv(ENV))).toEqual({
      accountId: '123456789012',
      region: 'eu-west-1',
      images: [FIXTURE_ENV.AGENT_IMAGE_AMD64, FIXTURE_ENV.AGENT_IMAGE_ARM64, ENV.IMAGE_BUILDER],
      repositories: [
        'slipway-ecr-public/*',
        'slipway-soci/slipway-ecr-public/*',
        'slipway-quay/*',
        'slipway-soci/slipway-quay/*',
        'slipway-k8s/*',
        'slipway-soci/slipway-k8s/*',
        'mirror/*',
        'base/node',
      ],
    });
  });

  it('nothing of the account by default but the agent and the cache rules; nothing to check without the account', () => {
    expect(forkPullsOf(compileOptionsFromEnv(FIXTURE_ENV))).toMatchObject({ repositories: [], images: [FIXTURE_ENV.AGENT_IMAGE_AMD64, FIXTURE_ENV.AGENT_IMAGE_ARM64] });
    // An agent or builder outside ECR is no repository of the account's.
    expect(forkPullsOf(compileOptionsFromEnv({ ...FIXTURE_ENV, IMAGE_BUILDER: 'gcr.io/kaniko-project/executor:debug' }))?.images).toEqual([FIXTURE_ENV.AGENT_IMAGE_AMD64, FIXTURE_ENV.AGENT_IMAGE_ARM64]);
    const { ACCOUNT_ID: _a, PARTITION: _p, ...withoutAccount } = FIXTURE_ENV;
    expect(forkPullsOf(compileOptionsFromEnv(withoutAccount))).toBeUndefined();
  });

  it('only a fork\'s build carries the list', () => {
    const deployment = compileOptionsFromEnv(ENV);
    expect(buildCompileOptions(deployment, { repoSlug: 'acme/app', buildNumber: 1, fork: true }).forkPulls).toEqual(forkPullsOf(deployment));
    expect(buildCompileOptions(deployment, { repoSlug: 'acme/app', buildNumber: 1, fork: false }).forkPulls).toBeUndefined();
  });
});

describe('isPrivateToFork', () => {
  const PULLS: ForkPulls = { accountId: '123456789012', region: 'eu-west-1', repositories: ['slipway-quay/*', 'mirror/*', 'base/node'], images: [`${REGISTRY}/slipway-agent:1-amd64`] };

  it.each([
    `${REGISTRY}/team/private:1`,
    `${REGISTRY}/slipway-cache/acme/app:latest`,
    `${REGISTRY}/base/node-extra:20`,
    `${REGISTRY}/base/node/child:20`,
    `${REGISTRY}/mirrors/node:20`,
    '123456789012.DKR.ECR.EU-WEST-1.AMAZONAWS.COM/team/private:1',
    '123456789012.dkr-ecr.eu-west-1.on.aws/team/private:1',
    '123456789012.dkr.ecr-fips.eu-west-1.amazonaws.com:443/team/private:1',
    // The role's grants name this Region only.
    '123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror/node:20',
  ])('%s is private to a fork', (image) => {
    expect(isPrivateToFork(image, PULLS)).toBe(true);
  });

  it.each([
    `${REGISTRY}/slipway-agent:1-amd64`,
    `${REGISTRY}/slipway-quay/minio/minio:latest`,
    `${REGISTRY}/mirror/node:20`,
    `${REGISTRY}/mirror/deep/path@sha256:${'a'.repeat(64)}`,
    `${REGISTRY}/base/node`,
    // Another account's registry, another registry, an unparseable reference: not this check's business.
    '210987654321.dkr.ecr.eu-west-1.amazonaws.com/team/private:1',
    '123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example/team/private:1',
    'node:20',
    'ghcr.io/acme/tool:1',
    'UPPER/Case:1',
  ])('%s is not', (image) => {
    expect(isPrivateToFork(image, PULLS)).toBe(false);
  });

  it('reads `*` as any characters and nothing else as a pattern', () => {
    expect(isPrivateToFork(`${REGISTRY}/mirrorxnode:1`, { ...PULLS, repositories: ['mirror.node'] })).toBe(true);
    expect(isPrivateToFork(`${REGISTRY}/mirror.node:1`, { ...PULLS, repositories: ['mirror.node'] })).toBe(false);
  });
});

describe("forkPullRefusal: in the repository of the stack's own image, that image alone", () => {
  const PULLS: ForkPulls = {
    accountId: '123456789012',
    region: 'eu-west-1',
    // Even an operator's list that matches the asset repository does not open it.
    repositories: ['mirror/*', 'cdk-*', '*assets*'],
    images: [AGENT_ASSET, `${ASSETS}:${'2'.repeat(64)}`, '999999999999.dkr.ecr.us-east-1.amazonaws.com/tools/agent:7'],
  };
  const beside = (repository: string) => ({ kind: 'beside-own-image', repository });

  it.each([
    // Another CDK app's container asset in the same bootstrap repository.
    [`${ASSETS}:${'3'.repeat(64)}`, ASSETS.slice(REGISTRY.length + 1)],
    [`${ASSETS}:latest`, ASSETS.slice(REGISTRY.length + 1)],
    [ASSETS, ASSETS.slice(REGISTRY.length + 1)],
    // By digest, even after the agent's own tag: ECS pulls the digest.
    [`${ASSETS}@sha256:${'a'.repeat(64)}`, ASSETS.slice(REGISTRY.length + 1)],
    [`${AGENT_ASSET}@sha256:${'a'.repeat(64)}`, ASSETS.slice(REGISTRY.length + 1)],
    // Another host form of the same registry.
    [`123456789012.dkr-ecr.eu-west-1.on.aws/${ASSETS.slice(REGISTRY.length + 1)}:${'3'.repeat(64)}`, ASSETS.slice(REGISTRY.length + 1)],
    // An agent given by URI in another account's repository: its neighbours too.
    ['999999999999.dkr.ecr.us-east-1.amazonaws.com/tools/agent:6', 'tools/agent'],
    ['999999999999.dkr.ecr.us-east-1.amazonaws.com/tools/agent:7-debug', 'tools/agent'],
  ])('%s is refused', (image, repository) => {
    expect(forkPullRefusal(image, PULLS)).toEqual(beside(repository));
  });

  it.each([
    AGENT_ASSET,
    `${ASSETS}:${'2'.repeat(64)}`,
    `123456789012.dkr-ecr.eu-west-1.on.aws/${AGENT_ASSET.slice(REGISTRY.length + 1)}`,
    '999999999999.dkr.ecr.us-east-1.amazonaws.com/tools/agent:7',
    // Another repository of the account that the operator's list names.
    `${REGISTRY}/mirror/node:20`,
  ])('%s is not', (image) => {
    expect(forkPullRefusal(image, PULLS)).toBeUndefined();
  });

  it('another Region\'s asset repository of the account stays private (the role names this Region only)', () => {
    expect(forkPullRefusal(`123456789012.dkr.ecr.us-west-2.amazonaws.com/cdk-hnb659fds-container-assets-123456789012-us-west-2:${'1'.repeat(64)}`, PULLS)).toEqual({ kind: 'private' });
  });
});

describe("a fork's pipeline naming a private image of the deployment's registry", () => {
  const yaml = (image: string, where: 'steps' | 'services' = 'steps') =>
    where === 'steps'
      ? `kind: pipeline\ntype: docker\nname: p\nsteps:\n- name: build\n  image: node:20\n  commands: [true]\n- name: private\n  image: ${image}\n  commands: [true]\n`
      : `kind: pipeline\ntype: docker\nname: p\nservices:\n- name: db\n  image: ${image}\nsteps:\n- name: build\n  image: node:20\n  commands: [true]\n`;
  const compileFor = (image: string, fork: boolean, where: 'steps' | 'services' = 'steps', env: Record<string, string> = ENV) => {
    const options = buildCompileOptions(compileOptionsFromEnv(env), { repoSlug: 'acme/app', buildNumber: 7, fork });
    const ctx = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40), event: 'pull_request', action: 'opened', ...(fork ? { fork: true } : {}) });
    return compileManifest(loadManifest('.drone.yml', yaml(image, where)), ctx, options);
  };
  const imageOf = (result: ReturnType<typeof compileFor>, name: string) =>
    [...result.stages[0]!.taskDefinition.containerDefinitions].find((c) => c.name === name)?.image;

  it("is that pipeline's error at FILE:LINE:COLUMN, saying why and what to do", () => {
    const result = compileFor(`${REGISTRY}/team/private:1`, true);
    expect(result.stages).toHaveLength(0);
    expect(result.errors).toHaveLength(1);
    const [d] = result.errors[0]!.diagnostics;
    expect(d).toMatchObject({ file: '.drone.yml', line: 8, column: 3, severity: 'error' });
    expect(d!.message).toBe(
      `compile: pipeline "p": "private": image ${REGISTRY}/team/private:1 is in this deployment's private ECR registry; ` +
        "a pull request from a fork may not pull the deployment's private images (as Drone gives forks no pull secrets): " +
        'use a public image, or ask the operator to list its repository in the stack setting forkPullRepositories',
    );
  });

  it('a service too', () => {
    const [d] = compileFor(`${REGISTRY}/team/postgres:16`, true, 'services').errors[0]!.diagnostics;
    expect(d).toMatchObject({ line: 5, column: 3 });
    expect(d!.message).toMatch(/^compile: pipeline "p": "db": image .*team\/postgres:16 is in this deployment's private ECR registry/);
  });

  it('a credentialed cache repository keeps its own message, which names the upstream reference', () => {
    expect(compileFor(`${REGISTRY}/slipway-ghcr/acme/private:1`, true).errors[0]!.diagnostics[0]!.message).toMatch(/write the upstream reference ghcr.io\/acme\/private:1 instead/);
  });

  it("runs for the repository's own pull request, and for a fork where the role may pull it", () => {
    expect(imageOf(compileFor(`${REGISTRY}/team/private:1`, false), 'private')).toBe(`${REGISTRY}/team/private:1`);
    expect(imageOf(compileFor(`${REGISTRY}/mirror/node:20`, true), 'private')).toBe(`${REGISTRY}/mirror/node:20`);
    expect(imageOf(compileFor(`${REGISTRY}/slipway-quay/minio/minio:latest`, true), 'private')).toBe(`${REGISTRY}/slipway-quay/minio/minio:latest`);
    // A public image, pulled through the cache rule without credentials.
    expect(imageOf(compileFor('quay.io/minio/minio:latest', true), 'private')).toBe(`${REGISTRY}/slipway-quay/minio/minio:latest`);
  });

  it("a fork's image build runs the stack's builder from the account's registry, which its role may pull (docs/design/image-builds.md)", () => {
    const options = buildCompileOptions(compileOptionsFromEnv(ENV), { repoSlug: 'acme/app', buildNumber: 7, fork: true });
    const ctx = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40), event: 'pull_request', action: 'opened', fork: true });
    const build = `kind: pipeline\ntype: docker\nname: p\nsteps:\n- name: image\n  image: plugins/docker\n  settings:\n    repo: acme/app\n    dry_run: true\n`;
    const result = compileManifest(loadManifest('.drone.yml', build), ctx, options);
    expect(result.errors).toEqual([]);
    const images = result.stages[0]!.taskDefinition.containerDefinitions.map((c) => c.image);
    expect(images).toContain(ENV.IMAGE_BUILDER);
    for (const image of images) expect(isPrivateToFork(image, options.forkPulls!)).toBe(false);
  });

  it("another image of the agent's repository (CDK's asset repository) is that pipeline's error; the agent's own image is not", () => {
    const env = { ...ENV, AGENT_IMAGE_AMD64: AGENT_ASSET, FORK_PULL_REPOSITORIES: 'cdk-*' };
    const other = `${ASSETS}:${'9'.repeat(64)}`;
    const [d] = compileFor(other, true, 'steps', env).errors[0]!.diagnostics;
    expect(d).toMatchObject({ file: '.drone.yml', line: 8, column: 3, severity: 'error' });
    expect(d!.message).toBe(
      `compile: pipeline "p": "private": image ${other} is in ${ASSETS.slice(REGISTRY.length + 1)}, the repository of the agent or image builder this deployment runs, ` +
        "where a pull request from a fork may name only the deployment's own image (the repository may hold other private images, " +
        "CDK's asset repository every container image of the account's CDK apps): use a public image",
    );
    expect(compileFor(other, true, 'services', env).errors[0]!.diagnostics[0]!.message).toMatch(/^compile: pipeline "p": "db": image .* is in cdk-hnb659fds-container-assets-/);
    expect(imageOf(compileFor(AGENT_ASSET, true, 'steps', env), 'private')).toBe(AGENT_ASSET);
    // The repository's own builds may name it.
    expect(imageOf(compileFor(other, false, 'steps', env), 'private')).toBe(other);
  });

  it('is refused by default, with no forkPullRepositories', () => {
    const { FORK_PULL_REPOSITORIES: _, ...defaults } = ENV;
    expect(compileFor(`${REGISTRY}/mirror/node:20`, true, 'steps', defaults).errors[0]!.diagnostics[0]!.message).toMatch(/forkPullRepositories$/);
  });
});
