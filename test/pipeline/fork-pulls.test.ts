// A pull request from a fork pulls no private image of the deployment's registry beyond what its
// execution role may pull (lib/build-cluster.ts shareWithForks): Drone gives a fork's pull request
// no pull secrets (drone/drone plugin/registry/static.go skips a pull secret for a pull_request
// build unless the secret allows pull requests). The compiler says so at the image's place, before
// a task fails at its pull.
import { describe, expect, it } from 'vitest';
import { cliContext } from '../../cli/commands/compile.js';
import { compileManifest } from '../../core/pipeline/compile.js';
import { isPrivateToFork, type ForkPulls } from '../../core/pipeline/fork-pulls.js';
import { loadManifest } from '../../core/pipeline/load.js';
import { buildCompileOptions, compileOptionsFromEnv, forkPullsOf } from '../../lambdas/planner/compile-options.js';
import { FIXTURE_ENV } from '../compiler/support.js';

const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const CACHE_RULES = { 'docker.io': 'slipway-docker-hub', 'ghcr.io': 'slipway-ghcr', 'public.ecr.aws': 'slipway-ecr-public', 'quay.io': 'slipway-quay', 'registry.k8s.io': 'slipway-k8s' };
const ENV = {
  ...FIXTURE_ENV,
  PULL_THROUGH_CACHE: JSON.stringify(CACHE_RULES),
  IMAGE_BUILDER: `${REGISTRY}/tools/kaniko:v1-debug`,
  FORK_PULL_REPOSITORIES: 'mirror/*, base/node',
};

describe('what a fork may pull from the deployment\'s registry, as the stack grants it', () => {
  it('the agent\'s and the builder\'s repositories, the rules without credentials and their SOCI copies, the operator\'s list', () => {
    expect(forkPullsOf(compileOptionsFromEnv(ENV))).toEqual({
      accountId: '123456789012',
      region: 'eu-west-1',
      repositories: [
        'slipway-agent',
        'tools/kaniko',
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
    expect(forkPullsOf(compileOptionsFromEnv(FIXTURE_ENV))?.repositories).toEqual(['slipway-agent']);
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
  const PULLS: ForkPulls = { accountId: '123456789012', region: 'eu-west-1', repositories: ['slipway-agent', 'slipway-quay/*', 'mirror/*', 'base/node'] };

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

  it('is refused by default, with no forkPullRepositories', () => {
    const { FORK_PULL_REPOSITORIES: _, ...defaults } = ENV;
    expect(compileFor(`${REGISTRY}/mirror/node:20`, true, 'steps', defaults).errors[0]!.diagnostics[0]!.message).toMatch(/forkPullRepositories$/);
  });
});
