// Image references through the ECR pull-through cache (core/pipeline/pull-through-cache.ts),
// as ECR names the cached repositories (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-working.html:
// Docker Hub's official images keep `library/`).
import { describe, expect, it } from 'vitest';
import { cachedImage, ecrRegistry, refusedCacheImage, withoutCredentialedRules, type PullThroughCache } from '../../core/pipeline/pull-through-cache.js';
import { cliContext } from '../../cli/commands/compile.js';
import { compileManifest } from '../../core/pipeline/compile.js';
import { loadManifest } from '../../core/pipeline/load.js';
import { buildCompileOptions, compileOptionsFromEnv } from '../../lambdas/planner/compile-options.js';
import { compiledContainers } from '../../bench/lib/start-ladder.js';
import { FIXTURE_ENV } from '../compiler/support.js';

const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
// Every rule the stack can create (lib/pull-through-cache.ts), as the planner receives them.
const CACHE: PullThroughCache = {
  registry: REGISTRY,
  prefixes: {
    'public.ecr.aws': 'slipway-ecr-public',
    'registry.k8s.io': 'slipway-k8s',
    'quay.io': 'slipway-quay',
    'docker.io': 'slipway-docker-hub',
    'ghcr.io': 'slipway-ghcr',
    'registry.gitlab.com': 'slipway-gitlab',
  },
};
const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('cachedImage', () => {
  it.each([
    ['node:20', `${REGISTRY}/slipway-docker-hub/library/node:20`],
    ['postgres', `${REGISTRY}/slipway-docker-hub/library/postgres:latest`],
    ['bitnami/redis:7.2', `${REGISTRY}/slipway-docker-hub/bitnami/redis:7.2`],
    ['docker.io/library/alpine:3.20', `${REGISTRY}/slipway-docker-hub/library/alpine:3.20`],
    ['index.docker.io/plugins/s3', `${REGISTRY}/slipway-docker-hub/plugins/s3:latest`],
    [`golang@${DIGEST}`, `${REGISTRY}/slipway-docker-hub/library/golang@${DIGEST}`],
    [`golang:1.22@${DIGEST}`, `${REGISTRY}/slipway-docker-hub/library/golang:1.22@${DIGEST}`],
    ['public.ecr.aws/docker/library/redis:7', `${REGISTRY}/slipway-ecr-public/docker/library/redis:7`],
    ['quay.io/minio/minio:latest', `${REGISTRY}/slipway-quay/minio/minio:latest`],
    ['registry.k8s.io/pause:3.9', `${REGISTRY}/slipway-k8s/pause:3.9`],
    ['registry.k8s.io/kube-apiserver:v1.31.0', `${REGISTRY}/slipway-k8s/kube-apiserver:v1.31.0`],
    ['ghcr.io/acme/tool:1', `${REGISTRY}/slipway-ghcr/acme/tool:1`],
    [`ghcr.io/acme/tool@${DIGEST}`, `${REGISTRY}/slipway-ghcr/acme/tool@${DIGEST}`],
    ['GHCR.IO/acme/tool:1', `${REGISTRY}/slipway-ghcr/acme/tool:1`],
    ['registry.gitlab.com/group/subgroup/project/image:2', `${REGISTRY}/slipway-gitlab/group/subgroup/project/image:2`],
  ])('%s → %s', (image, cached) => {
    expect(cachedImage(image, CACHE)).toBe(cached);
  });

  it.each(['mcr.microsoft.com/dotnet/sdk:8.0', 'gcr.io/distroless/base', 'k8s.gcr.io/pause:3.2', 'gitlab.example.com:5050/group/app', `${REGISTRY}/team/app:1`, 'localhost:5000/x', 'Not A Reference'])(
    'leaves %s as written (no rule covers it, or it does not parse)',
    (image) => {
      expect(cachedImage(image, CACHE)).toBe(image);
    },
  );

  it.each([
    ['ghcr.io/acme/my__tool:1', 'a double separator Docker takes and ECR refuses'],
    ['registry.gitlab.com/group/my--app:1', 'a double dash'],
    [`registry.gitlab.com/${'deep/'.repeat(48)}image:1`, 'a name over ECR\'s 256 characters'],
  ])('leaves %s as written: %s (its cached repository could not exist)', (image) => {
    expect(cachedImage(image, CACHE)).toBe(image);
  });

  it('without a rule for a registry (its secret not given), that registry is pulled as written', () => {
    const { 'ghcr.io': _, ...withoutGhcr } = CACHE.prefixes;
    expect(cachedImage('ghcr.io/acme/tool:1', { ...CACHE, prefixes: withoutGhcr })).toBe('ghcr.io/acme/tool:1');
  });

  it('without the rules that pull with stored credentials, Docker Hub, ghcr.io and registry.gitlab.com are pulled as written; the others still go through the cache', () => {
    const anonymous = withoutCredentialedRules(CACHE);
    expect(anonymous.prefixes).toEqual({ 'public.ecr.aws': 'slipway-ecr-public', 'registry.k8s.io': 'slipway-k8s', 'quay.io': 'slipway-quay' });
    for (const image of ['node:20', 'acme/private:1', 'ghcr.io/acme/private:1', 'registry.gitlab.com/acme/app/private:1']) expect(cachedImage(image, anonymous)).toBe(image);
    expect(cachedImage('quay.io/minio/minio', anonymous)).toBe(`${REGISTRY}/slipway-quay/minio/minio:latest`);
    // The rule set itself is what decides, whatever case the planner's map names a host in.
    expect(withoutCredentialedRules({ ...CACHE, prefixes: { 'GHCR.io': 'slipway-ghcr' } }).prefixes).toEqual({});
  });

  it('names the China partition registry', () => {
    expect(ecrRegistry('123456789012', 'cn-north-1', 'aws-cn')).toBe('123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn');
  });
});

describe('the planner compiles through the cache, unless the repository opted out', () => {
  const env = { PULL_THROUGH_CACHE: JSON.stringify(CACHE.prefixes), PULL_THROUGH_CACHE_OPT_OUT: 'acme/legacy' };
  const yaml = 'kind: pipeline\ntype: docker\nname: p\nservices:\n- name: db\n  image: postgres:16\nsteps:\n- name: test\n  image: node:20\n  commands: [npm test]\n';

  it('rewrites service and step images, never the agent (already in ECR)', () => {
    const images = Object.fromEntries(compiledContainers(yaml, env).map((c) => [c.name, c.image]));
    expect(images).toEqual({
      'slipway-agent': `${REGISTRY}/slipway-agent:1-amd64`,
      db: `${REGISTRY}/slipway-docker-hub/library/postgres:16`,
      test: `${REGISTRY}/slipway-docker-hub/library/node:20`,
    });
  });

  it('an opted-out repository keeps the images of every registry the cache covers', () => {
    const everyRegistry =
      'kind: pipeline\ntype: docker\nname: p\nservices:\n- name: db\n  image: postgres:16\n- name: s3\n  image: quay.io/minio/minio\nsteps:\n' +
      ['public.ecr.aws/docker/library/node:20', 'registry.k8s.io/kubectl:v1.31.0', 'ghcr.io/acme/tool:1', 'registry.gitlab.com/acme/app/ci:2']
        .map((image, i) => `- name: step${i}\n  image: ${image}\n  commands: [true]\n`)
        .join('');
    const all = { PULL_THROUGH_CACHE: JSON.stringify(CACHE.prefixes), PULL_THROUGH_CACHE_OPT_OUT: 'acme/legacy' };
    const compiled = (repo: string) => {
      const options = buildCompileOptions(compileOptionsFromEnv({ ...FIXTURE_ENV, ...all }), { repoSlug: repo, buildNumber: 1, fork: false });
      return compiledContainers(everyRegistry, {}, { pullThroughCache: options.pullThroughCache }).filter((c) => c.name !== 'slipway-agent');
    };
    const cached = compiled('acme/app');
    expect(cached).toHaveLength(6);
    for (const c of cached) expect(c.image, c.name).toMatch(new RegExp(`^${REGISTRY}/slipway-`));
    const optedOut = compiled('acme/legacy');
    expect(optedOut.map((c) => c.image)).toEqual(['postgres:16', 'quay.io/minio/minio', 'public.ecr.aws/docker/library/node:20', 'registry.k8s.io/kubectl:v1.31.0', 'ghcr.io/acme/tool:1', 'registry.gitlab.com/acme/app/ci:2']);
  });

  it('keeps the images of an opted-out repository, and of a container with its own pull credentials', () => {
    const deployment = compileOptionsFromEnv({ AWS_REGION: 'eu-west-1', ACCOUNT_ID: '123456789012', PARTITION: 'aws', ...env });
    expect(buildCompileOptions(deployment, { repoSlug: 'acme/legacy', buildNumber: 1, fork: false }).pullThroughCache).toBeUndefined();
    expect(buildCompileOptions(deployment, { repoSlug: 'acme/app', buildNumber: 1, fork: false }).pullThroughCache).toEqual(CACHE);
    const privateImage = `${yaml}image_pull_secrets: [registry]\n---\nkind: secret\nname: registry\nget:\n  path: /slipway/acme/app/registry\n`;
    const images = Object.fromEntries(compiledContainers(privateImage, env).map((c) => [c.name, [c.image, c.repositoryCredentials !== undefined]]));
    expect(images['test']).toEqual(['node:20', true]);
  });

  it("a fork's pull request goes through no rule that pulls with the deployment's credentials (its file would choose what ECR fetches with them)", () => {
    const deployment = compileOptionsFromEnv({ AWS_REGION: 'eu-west-1', ACCOUNT_ID: '123456789012', PARTITION: 'aws', ...env });
    const fork = buildCompileOptions(deployment, { repoSlug: 'acme/app', buildNumber: 1, fork: true });
    expect(fork.pullThroughCache).toEqual(withoutCredentialedRules(CACHE));
    const images = Object.fromEntries(compiledContainers(yaml, {}, { pullThroughCache: fork.pullThroughCache }).map((c) => [c.name, c.image]));
    expect(images).toMatchObject({ db: 'postgres:16', test: 'node:20' });
    // Only credentialed rules configured: no rule for the fork, only what it may not name.
    const dockerHubOnly = compileOptionsFromEnv({ AWS_REGION: 'eu-west-1', ACCOUNT_ID: '123456789012', PARTITION: 'aws', PULL_THROUGH_CACHE: JSON.stringify({ 'docker.io': 'slipway-docker-hub' }) });
    expect(buildCompileOptions(dockerHubOnly, { repoSlug: 'acme/app', buildNumber: 1, fork: true }).pullThroughCache?.prefixes).toEqual({});
    expect(buildCompileOptions(dockerHubOnly, { repoSlug: 'acme/app', buildNumber: 1, fork: false }).pullThroughCache?.prefixes).toEqual({ 'docker.io': 'slipway-docker-hub' });
  });

  it("opts a repository out by its own setting (Repository.pullThroughCache false) as by the deployment's list; absent or true, through the cache", () => {
    const deployment = compileOptionsFromEnv({ AWS_REGION: 'eu-west-1', ACCOUNT_ID: '123456789012', PARTITION: 'aws', ...env });
    const cacheOf = (repoSlug: string, repository: { pullThroughCache?: boolean }, fork = false) =>
      buildCompileOptions(deployment, { repoSlug, buildNumber: 1, fork, repository }).pullThroughCache;
    const imagesOf = (repository: { pullThroughCache?: boolean }) => {
      const cache = cacheOf('acme/app', repository);
      return compiledContainers(yaml, {}, cache ? { pullThroughCache: cache } : {}).filter((c) => c.name !== 'slipway-agent').map((c) => c.image);
    };
    expect(cacheOf('acme/app', { pullThroughCache: false })).toBeUndefined();
    expect(imagesOf({ pullThroughCache: false })).toEqual(['postgres:16', 'node:20']);
    expect(imagesOf({ pullThroughCache: true })).toEqual([`${REGISTRY}/slipway-docker-hub/library/postgres:16`, `${REGISTRY}/slipway-docker-hub/library/node:20`]);
    // A record from before the setting (absent) and one turned back on both go through the cache.
    expect(cacheOf('acme/app', {})).toEqual(CACHE);
    expect(cacheOf('acme/app', { pullThroughCache: true })).toEqual(CACHE);
    // Either opts out: the deployment's list wins over a repository's setting that is on.
    expect(cacheOf('acme/legacy', { pullThroughCache: true })).toBeUndefined();
    // A fork's pull request follows its base repository: no rule at all, the refused ones still refused.
    const fork = cacheOf('acme/app', { pullThroughCache: false }, true);
    expect(fork?.prefixes).toEqual({});
    expect(fork?.refused).toEqual(withoutCredentialedRules(CACHE).refused);
    expect(cacheOf('acme/app', {}, true)).toEqual(withoutCredentialedRules(CACHE));
  });

  it('refuses a cache setting that is not a map of registries to prefixes', () => {
    expect(() => compileOptionsFromEnv({ PULL_THROUGH_CACHE: '["docker-hub"]' })).toThrow(/PULL_THROUGH_CACHE must map registry domains/);
  });
});

// A fork's file that names the cache repository itself (not the upstream image) would have ECR
// fetch, with the deployment's token, whatever it chose: the compiler refuses it, and the fork's
// execution role is refused those repositories too (test/cdk/fork-execution-role.test.ts).
describe("a fork's image that names a credentialed rule's cache repository directly", () => {
  const FORK_CACHE = withoutCredentialedRules(CACHE);

  it('the fork\'s cache refuses every credentialed rule, also one the deployment does not have yet', () => {
    const { 'ghcr.io': _, ...withoutGhcr } = CACHE.prefixes;
    expect(withoutCredentialedRules({ ...CACHE, prefixes: withoutGhcr }).refused).toEqual({ 'docker.io': 'slipway-docker-hub', 'ghcr.io': 'slipway-ghcr', 'registry.gitlab.com': 'slipway-gitlab' });
    // A deployment whose map names another prefix for a credentialed domain: that prefix is refused too.
    expect(withoutCredentialedRules({ ...CACHE, prefixes: { 'GHCR.io': 'team-ghcr' } }).refused).toMatchObject({ 'ghcr.io': 'team-ghcr' });
  });

  it.each([
    ['123456789012.dkr.ecr.eu-west-1.amazonaws.com/slipway-ghcr/acme/private:1', 'ghcr.io', 'ghcr.io/acme/private:1'],
    ['123456789012.DKR.ECR.EU-WEST-1.AMAZONAWS.COM/slipway-ghcr/acme/private:1', 'ghcr.io', 'ghcr.io/acme/private:1'],
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com/slipway-ghcr/acme/private:1', 'ghcr.io', 'ghcr.io/acme/private:1'],
    ['123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/slipway-gitlab/group/app/ci:2', 'registry.gitlab.com', 'registry.gitlab.com/group/app/ci:2'],
    ['123456789012.dkr-ecr.eu-west-1.on.aws/slipway-docker-hub/acme/private:3', 'docker.io', 'acme/private:3'],
    ['123456789012.dkr.ecr-fips.us-east-1.amazonaws.com:443/slipway-docker-hub/library/node', 'docker.io', 'node:latest'],
    [`123456789012.dkr.ecr.eu-west-1.amazonaws.com/slipway-ghcr/acme/private@${DIGEST}`, 'ghcr.io', `ghcr.io/acme/private@${DIGEST}`],
    // The SOCI-enabled copy of a cached image (core/images/soci.ts) holds the same layers.
    [`123456789012.dkr.ecr.eu-west-1.amazonaws.com/slipway-soci/slipway-ghcr/acme/private@${DIGEST}`, 'ghcr.io', `ghcr.io/acme/private@${DIGEST}`],
  ])('%s is refused: %s, write %s', (image, domain, upstream) => {
    expect(refusedCacheImage(image, FORK_CACHE)).toEqual({ domain, upstream });
  });

  it.each([
    `${REGISTRY}/slipway-quay/minio/minio:latest`,
    `${REGISTRY}/team/app:1`,
    `${REGISTRY}/slipway-ghcr-mirror/acme/app:1`,
    '210987654321.dkr.ecr.eu-west-1.amazonaws.com/slipway-ghcr/acme/private:1',
    '123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example/slipway-ghcr/acme/private:1',
    'ghcr.io/acme/private:1',
    'node:20',
  ])('%s is not refused (an anonymous rule, another repository, another account, not ECR)', (image) => {
    expect(refusedCacheImage(image, FORK_CACHE)).toBeUndefined();
    // A trusted build's cache refuses nothing.
    expect(refusedCacheImage(`${REGISTRY}/slipway-ghcr/acme/private:1`, CACHE)).toBeUndefined();
  });

  const yaml = (image: string) => `kind: pipeline\ntype: docker\nname: p\nsteps:\n- name: build\n  image: node:20\n  commands: [true]\n- name: leak\n  image: ${image}\n  commands: [cat /secret]\n`;
  const compileFor = (image: string, fork: boolean, repoSlug = 'acme/app') => {
    const deployment = compileOptionsFromEnv({ ...FIXTURE_ENV, PULL_THROUGH_CACHE: JSON.stringify(CACHE.prefixes), PULL_THROUGH_CACHE_OPT_OUT: 'acme/legacy' });
    const options = buildCompileOptions(deployment, { repoSlug, buildNumber: 7, fork });
    const ctx = cliContext({ repo: repoSlug, commit: 'a'.repeat(40), event: 'pull_request', action: 'opened', ...(fork ? { fork: true } : {}) });
    return compileManifest(loadManifest('.drone.yml', yaml(image)), ctx, options);
  };

  it("is that pipeline's error for a fork's pull request, at FILE:LINE:COLUMN, saying what to write instead", () => {
    const result = compileFor('123456789012.dkr.ecr.eu-west-1.amazonaws.com/slipway-ghcr/acme/private:1', true);
    expect(result.stages).toHaveLength(0);
    expect(result.errors).toHaveLength(1);
    const [d] = result.errors[0]!.diagnostics;
    expect(d).toMatchObject({ file: '.drone.yml', line: 8, column: 3, severity: 'error' });
    expect(d!.message).toBe(
      'compile: pipeline "p": "leak": image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/slipway-ghcr/acme/private:1 is this deployment\'s pull-through cache of ghcr.io, ' +
        "which fetches with the deployment's registry credentials; a pull request from a fork may not use it: write the upstream reference ghcr.io/acme/private:1 instead, which is pulled anonymously",
    );
  });

  it('is refused for a fork of a repository opted out of the cache too', () => {
    expect(compileFor('123456789012.dkr-ecr.eu-west-1.on.aws/slipway-docker-hub/acme/private:1', true, 'acme/legacy').errors[0]?.diagnostics[0]?.message).toMatch(/write the upstream reference acme\/private:1 instead/);
  });

  it('runs as written for a pull request from the repository itself, and the upstream reference runs for a fork', () => {
    const own = compileFor('123456789012.dkr.ecr.eu-west-1.amazonaws.com/slipway-ghcr/acme/private:1', false);
    expect(own.errors).toEqual([]);
    expect(own.stages[0]!.taskDefinition.containerDefinitions.find((c) => c.name === 'leak')?.image).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com/slipway-ghcr/acme/private:1');
    const upstream = compileFor('ghcr.io/acme/private:1', true);
    expect(upstream.errors).toEqual([]);
    expect(upstream.stages[0]!.taskDefinition.containerDefinitions.find((c) => c.name === 'leak')?.image).toBe('ghcr.io/acme/private:1');
  });
});
