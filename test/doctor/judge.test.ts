// The doctor's decisions (core/doctor/judge.ts), as tables: what was observed → status, detail, fix.
import { describe, expect, it } from 'vitest';
import { agentImagesToCheck, ecrImageToCheck, observeManifest } from '../../core/doctor/agent-images.js';
import { ecrImageOf } from '../../core/images/ecr-image.js';
import { forkPullRepositoriesOf, observeForkPulls } from '../../core/doctor/fork-pulls.js';
import { observeDockerHubCache, START_P50_SECONDS } from '../../core/doctor/docker-hub-cache.js';
import { ENV } from '../../core/config/lambda-env.js';
import {
  formatReport,
  judgeAgentImages,
  judgeDockerHubCache,
  judgeFargateQuota,
  judgeForkPulls,
  judgeGitHost,
  judgeHelloBuild,
  judgeLambdaConcurrency,
  judgeRunTask,
  judgeWebhookPing,
} from '../../core/doctor/judge.js';
import { githubPing } from '../../core/doctor/ping.js';
import { isPlannerDoctorRequest } from '../../core/doctor/planner-probe.js';
import { skipped } from '../../core/doctor/types.js';
import { verifySignature } from '../../core/scm/verify-signature.js';
import { parseEvent } from '../../core/scm/parse-event.js';

const URL = 'https://hooks.example.com/hooks/github';

describe('the webhook ping', () => {
  it('is a GitHub ping of the repository, signed so that the webhook verifies it with that secret', () => {
    const ping = githubPing('acme/api', 's3cret', 'd-1');
    expect(verifySignature('github', ping.headers, ping.body, 's3cret')).toBe(true);
    expect(verifySignature('github', ping.headers, ping.body, 'other')).toBe(false);
    expect(parseEvent('github', ping.headers, ping.body)).toEqual({ kind: 'ping' });
    expect(JSON.parse(ping.body).repository.full_name).toBe('acme/api');
  });

  it.each([
    [{ status: 200, body: '{"ok":true,"ping":true}' }, 'ok', undefined],
    [{ status: 200, body: '{"ok":true,"ignored":"repository acme/api is not activated on github"}' }, 'fail', 'slipway repo add acme/api --host github'],
    [{ status: 401, body: '{"error":"webhook: missing or invalid github signature for acme/api"}' }, 'fail', 'slipway repo rotate-secret acme/api'],
    [{ status: 503, body: '{"error":"no secret"}' }, 'fail', 'slipway repo rotate-secret acme/api'],
    [{ status: 403, body: '{"error":"not in ALLOWED_REPOSITORIES"}' }, 'fail', 'allowedRepositories'],
    [{ status: 502, body: 'Bad gateway' }, 'fail', 'log group'],
    [{ error: 'fetch failed: ENOTFOUND' }, 'fail', 'WebhookUrlGitHub'],
  ])('%j → %s', (answer, status, fix) => {
    const r = judgeWebhookPing({ url: URL, repo: 'acme/api', answer });
    expect(r.status).toBe(status);
    if (fix) expect(r.fix).toContain(fix);
    else expect(r.fix).toBeUndefined();
  });
});

describe('the Git host, as the planner saw it', () => {
  const base = { host: 'github' as const, repo: 'acme/api', apiUrl: 'https://api.github.com' };
  it.each([
    [{ kind: 'answered' as const, ...base, status: 200, message: '' }, 'ok', /the planner's credentials can read it/],
    [{ kind: 'answered' as const, ...base, status: 401, message: 'Bad credentials' }, 'fail', /was refused/],
    [{ kind: 'answered' as const, ...base, status: 404, message: 'Not Found' }, 'fail', /install the GitHub App/],
    [{ kind: 'answered' as const, ...base, host: 'gitlab' as const, status: 404, message: '404 Project Not Found' }, 'fail', /Reporter/],
    [{ kind: 'answered' as const, ...base, status: 403, message: 'API rate limit exceeded' }, 'fail', /rate limit/],
    [{ kind: 'unreachable' as const, ...base, error: 'fetch failed: ETIMEDOUT' }, 'fail', /privateSubnets/],
    [{ kind: 'not-configured' as const, host: 'gitea' as const, repo: 'acme/api', reason: 'scm: no API URL for gitea' }, 'fail', /SCM credentials secret/],
    [{ kind: 'not-activated' as const, repo: 'acme/api', reason: 'repository acme/api is not activated' }, 'fail', /slipway repo add acme\/api/],
    [{ kind: 'invoke-failed' as const, error: 'AccessDeniedException' }, 'fail', /lambda:InvokeFunction/],
  ])('%j → %s', (observed, status, fix) => {
    const r = judgeGitHost(observed);
    expect(r.status).toBe(status);
    expect(status === 'ok' ? r.detail : r.fix).toMatch(fix);
  });
});

describe('RunTask, simulated', () => {
  const sim = (decision: string) => ({
    role: 'arn:aws:iam::1:role/auto',
    cluster: 'arn:aws:ecs:eu-west-1:1:cluster/c',
    decisions: [
      { action: 'ecs:RunTask', resource: 'arn:…:task-definition/slipway-doctor-0:1', decision: 'allowed' },
      { action: 'iam:PassRole', resource: 'arn:aws:iam::1:role/exec', decision },
    ],
  });
  it('is ok when every action is allowed', () => {
    expect(judgeRunTask(sim('allowed'))).toMatchObject({ status: 'ok', detail: 'arn:aws:iam::1:role/auto may ecs:RunTask, iam:PassRole for cluster arn:aws:ecs:eu-west-1:1:cluster/c' });
  });
  it.each(['explicitDeny', 'implicitDeny'])('fails on %s, naming the action and resource', (decision) => {
    const r = judgeRunTask(sim(decision));
    expect(r.status).toBe('fail');
    expect(r.detail).toBe(`arn:aws:iam::1:role/auto is refused iam:PassRole on arn:aws:iam::1:role/exec (${decision})`);
  });
  it('warns, never passes, when the simulation could not run', () => {
    expect(judgeRunTask({ error: 'AccessDenied: not allowed iam:SimulatePrincipalPolicy' })).toMatchObject({ status: 'warn', fix: expect.stringContaining('iam:SimulatePrincipalPolicy') });
    expect(judgeRunTask({ role: 'r', cluster: 'c', decisions: [] }).status).toBe('fail');
  });
});

describe('the Fargate vCPU quota', () => {
  const onDemand = (value?: number) => ({ code: 'L-3032A538', ...(value !== undefined ? { value } : { error: 'AccessDeniedException' }) });
  const spot = (value?: number) => ({ code: 'L-36FBB829', ...(value !== undefined ? { value } : { error: 'AccessDeniedException' }) });
  it.each([
    [{ onDemand: onDemand(6), spot: spot(6), vcpuQuota: 6, useSpot: false, defaultCpu: 1024 }, 'ok', 'Fargate On-Demand quota 6 vCPU, vcpuQuota 6'],
    [{ onDemand: onDemand(100), spot: spot(6), vcpuQuota: 6, useSpot: false, defaultCpu: 1024 }, 'ok', 'Fargate On-Demand quota 100 vCPU, vcpuQuota 6 (-c vcpuQuota=100 would use all of it)'],
    [{ onDemand: onDemand(4), spot: spot(6), vcpuQuota: 6, useSpot: false, defaultCpu: 1024 }, 'fail', "the stack's vcpuQuota (6) is above the account's Fargate On-Demand quota (4 vCPU): Fargate would refuse tasks the autoscaler starts"],
    [{ onDemand: onDemand(0.5), spot: spot(6), vcpuQuota: 1, useSpot: false, defaultCpu: 1024 }, 'fail', 'Fargate On-Demand quota is 0.5 vCPU, less than one default task (1 vCPU)'],
    [{ onDemand: onDemand(6), spot: spot(2), vcpuQuota: 6, useSpot: true, defaultCpu: 1024 }, 'fail', 'Fargate On-Demand quota 6 vCPU, vcpuQuota 6; the stack\'s vcpuQuota (6) is above the account\'s Fargate Spot quota (2 vCPU): Fargate would refuse tasks the autoscaler starts'],
    [{ onDemand: onDemand(undefined), spot: spot(6), vcpuQuota: 6, useSpot: false, defaultCpu: 1024 }, 'warn', 'Fargate On-Demand quota (L-3032A538) unread: AccessDeniedException'],
  ])('%#: %s', (observed, status, detail) => {
    const r = judgeFargateQuota(observed);
    expect({ status: r.status, detail: r.detail }).toEqual({ status, detail });
    if (status !== 'ok') expect(r.fix).toBeTruthy();
  });
  it('says which quota code to raise', () => {
    expect(judgeFargateQuota({ onDemand: onDemand(4), spot: spot(6), vcpuQuota: 6, useSpot: false, defaultCpu: 1024 }).fix).toBe('cdk deploy -c vcpuQuota=4, or request an increase of L-3032A538 in Service Quotas.');
  });
});

describe('Lambda concurrency', () => {
  it('warns for an account limit of 10, with what to do', () => {
    const r = judgeLambdaConcurrency({ concurrentExecutions: 10, unreservedConcurrentExecutions: 9 });
    expect(r.status).toBe('warn');
    expect(r.fix).toContain('autoscalerReservedConcurrency=false');
  });
  it('is ok at the usual 1,000', () => {
    expect(judgeLambdaConcurrency({ concurrentExecutions: 1000, unreservedConcurrentExecutions: 999 })).toMatchObject({ status: 'ok', detail: 'account limit 1000 concurrent executions, 999 unreserved' });
  });
  it('warns when the settings could not be read', () => {
    expect(judgeLambdaConcurrency({ error: 'AccessDeniedException: …' }).status).toBe('warn');
  });
});

describe('the agent images', () => {
  const amd = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/cdk-hnb659fds-container-assets-123456789012-eu-west-1:abc';
  const arm = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/cdk-hnb659fds-container-assets-123456789012-eu-west-1:def';
  const index = (arches: string[]) =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: arches.map((a, i) => ({ digest: `sha256:${String(i).repeat(64)}`, platform: { os: 'linux', architecture: a } })),
    });
  const image = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { digest: `sha256:${'c'.repeat(64)}` } });

  it('reads the ECR registry, region, repository and tag of an image', () => {
    const where = { accountId: '123456789012', region: 'eu-west-1', repository: 'cdk-hnb659fds-container-assets-123456789012-eu-west-1' };
    expect(ecrImageToCheck(amd)).toEqual({ ...where, tag: 'abc', uri: amd, imageId: { imageTag: 'abc' } });
    expect(ecrImageToCheck('ghcr.io/acme/agent:1')).toEqual({ notEcr: 'ghcr.io is not an Amazon ECR registry' });
    // No tag: `latest`, as a pull; a digest is what a pull takes, with or without a tag.
    const pinned = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent:1@sha256:${'d'.repeat(64)}`;
    expect(ecrImageToCheck('123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent')).toMatchObject({ imageId: { imageTag: 'latest' } });
    expect(ecrImageToCheck(pinned)).toMatchObject({ imageId: { imageDigest: `sha256:${'d'.repeat(64)}` } });
  });

  // One reading of an ECR reference (core/images/ecr-image.ts), the compiler's and the stack's:
  // an agent the stack lets forks pull (ecr-requests.html host forms) is one the doctor looks up.
  it("reads every host form of ECR's registry, as the compiler and the stack do: dual-stack, FIPS, any case, a port", () => {
    for (const host of ['123456789012.dkr-ecr.eu-west-1.on.aws', '123456789012.dkr-ecr-fips.us-east-1.on.aws', '123456789012.DKR.ECR.eu-west-1.AMAZONAWS.COM', '123456789012.dkr.ecr.eu-west-1.amazonaws.com:443']) {
      const uri = `${host}/slipway-agent:1`;
      expect(ecrImageOf(uri), uri).toBeDefined();
      expect(ecrImageToCheck(uri), uri).toMatchObject({ accountId: '123456789012', repository: 'slipway-agent', imageId: { imageTag: '1' } });
      expect(agentImagesToCheck({ AGENT_IMAGE: uri })[0]!.ecr, uri).not.toHaveProperty('notEcr');
      expect(forkPullRepositoriesOf({ AGENT_IMAGE: uri }), uri).toEqual([{ registryId: '123456789012', region: ecrImageOf(uri)!.region, repository: 'slipway-agent', ownTags: ['1'], ownDigests: [], cdkAssets: false }]);
    }
  });

  it('checks one image per architecture, or the one multi-arch image for both', () => {
    expect(agentImagesToCheck({ AGENT_IMAGE_AMD64: amd, AGENT_IMAGE_ARM64: arm }).map((i) => [i.arches, i.uri])).toEqual([[['amd64'], amd], [['arm64'], arm]]);
    expect(agentImagesToCheck({ AGENT_IMAGE: amd }).map((i) => i.arches)).toEqual([['amd64', 'arm64']]);
  });

  it('finds each architecture in a manifest list, and names the one that is missing', () => {
    const [multi] = agentImagesToCheck({ AGENT_IMAGE: amd });
    expect(observeManifest(multi!, { body: index(['amd64', 'arm64']) }).map((o) => o.state)).toEqual(['found', 'found']);
    const half = observeManifest(multi!, { body: index(['amd64']) });
    expect(half.map((o) => o.state)).toEqual(['found', 'missing']);
    expect(half[1]!.detail).toBe('no manifest for linux/arm64 (the image has linux/amd64)');
    expect(observeManifest(multi!, { body: image })[0]!.state).toBe('missing');
    const [single] = agentImagesToCheck({ AGENT_IMAGE_ARM64: arm });
    expect(observeManifest(single!, { body: image })).toEqual([{ arch: 'arm64', uri: arm, state: 'found' }]);
    expect(observeManifest(single!, null)).toEqual([{ arch: 'arm64', uri: arm, state: 'missing', detail: 'no such image in its repository' }]);
  });

  it('fails for a missing image, notes an architecture the deployment has no agent for', () => {
    const found = { arch: 'amd64' as const, uri: amd, state: 'found' as const };
    expect(judgeAgentImages({ images: [found] })).toMatchObject({ status: 'ok', detail: 'amd64: found; no arm64 agent: such pipelines are refused with a message (agentPlatforms)' });
    const r = judgeAgentImages({ images: [found, { arch: 'arm64', uri: arm, state: 'missing', detail: 'no such image in its repository' }] });
    expect(r.status).toBe('fail');
    expect(r.fix).toContain('linux/arm64');
    expect(judgeAgentImages({ images: [] }).status).toBe('fail');
  });
});

describe("what forks' execution role may pull beside the agent", () => {
  const ACCOUNT = '123456789012';
  const ASSETS = `cdk-hnb659fds-container-assets-${ACCOUNT}-eu-west-1`;
  const at = (repository: string, ref: string) => `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/${repository}${ref}`;
  const digest = (c: string) => `sha256:${c.repeat(64)}`;
  const env = { AGENT_IMAGE_AMD64: at(ASSETS, ':amd'), AGENT_IMAGE_ARM64: at(ASSETS, ':arm'), IMAGE_BUILDER: at('tools/kaniko', `@${digest('c')}`) };

  it("groups the agent images and the builder by repository, marking CDK's asset repository", () => {
    expect(forkPullRepositoriesOf(env)).toEqual([
      { registryId: ACCOUNT, region: 'eu-west-1', repository: ASSETS, ownTags: ['amd', 'arm'], ownDigests: [], cdkAssets: true },
      { registryId: ACCOUNT, region: 'eu-west-1', repository: 'tools/kaniko', ownTags: [], ownDigests: [digest('c')], cdkAssets: false },
    ]);
    // An agent outside ECR has no repository a Slipway role pulls.
    expect(forkPullRepositoriesOf({ AGENT_IMAGE: 'ghcr.io/acme/agent:1' })).toEqual([]);
  });

  it('counts the other tagged images once each, not the agent under another tag nor untagged manifests', () => {
    const [assets, builder] = forkPullRepositoriesOf(env);
    const listed = [
      { imageTag: 'amd', imageDigest: digest('1') },
      { imageTag: 'arm', imageDigest: digest('2') },
      // The agent again under another tag: the same image.
      { imageTag: 'amd-copy', imageDigest: digest('1') },
      // Another app's asset, under two tags: one image.
      { imageTag: 'f'.repeat(64), imageDigest: digest('3') },
      { imageTag: 'e'.repeat(64), imageDigest: digest('3') },
      { imageTag: 'private-tool', imageDigest: digest('4') },
      { imageDigest: digest('5') },
    ];
    expect(observeForkPulls(assets!, listed, false)).toEqual({ repository: assets, others: 2, sample: ['f'.repeat(64), 'private-tool'], truncated: false });
    expect(observeForkPulls(builder!, [{ imageTag: 'v1', imageDigest: digest('c') }], false).others).toBe(0);
  });

  it('warns while the repository holds other images, saying to give the agent a repository of its own', () => {
    const [assets, builder] = forkPullRepositoriesOf(env);
    const crowded = observeForkPulls(assets!, [{ imageTag: 'amd', imageDigest: digest('1') }, { imageTag: 'private-tool', imageDigest: digest('4') }], true);
    const r = judgeForkPulls({ repositories: [crowded, observeForkPulls(builder!, [], false)] });
    expect(r).toMatchObject({
      status: 'warn',
      detail: `${ASSETS} holds at least 1 other tagged image (private-tool), which the execution role of pull requests from forks may pull: ECR grants pulls per repository, not per image; the compiler refuses them in a fork's pipeline`,
    });
    expect(r.fix).toMatch(/^The agent built by the stack shares CDK's asset repository .* deploy with agentImageUri/);
    const own = judgeForkPulls({ repositories: [{ ...crowded, repository: { ...crowded.repository, repository: 'platform/agent', cdkAssets: false } }] });
    expect(own.fix).toMatch(/^Keep only the agent/);
  });

  it('is ok when the repositories hold only the stack\'s images, and says what it could not read', () => {
    const [assets] = forkPullRepositoriesOf(env);
    expect(judgeForkPulls({ repositories: [observeForkPulls(assets!, [{ imageTag: 'amd', imageDigest: digest('1') }], false)] })).toMatchObject({ status: 'ok', detail: `${ASSETS} holds only the images the stack runs` });
    expect(judgeForkPulls({ repositories: [] }).status).toBe('ok');
    expect(judgeForkPulls({ error: 'AccessDeniedException: no' })).toMatchObject({ status: 'warn', fix: expect.stringMatching(/ecr:ListImages/) });
  });
});

// ECR caches Docker Hub only with a credentials secret (pull-through-cache-creating-rule.html),
// so a deployment at its defaults has no Docker Hub rule (lib/pull-through-cache.ts).
describe('Docker Hub images through the cache', () => {
  const planner = (rules?: Record<string, string>) => (rules ? { [ENV.pullThroughCache]: JSON.stringify(rules) } : {});
  const DEFAULT_RULES = { 'public.ecr.aws': 'slipway-ecr-public', 'registry.k8s.io': 'slipway-k8s', 'quay.io': 'slipway-quay' };

  it('is ok when the planner has a Docker Hub rule', () => {
    expect(judgeDockerHubCache(observeDockerHubCache(planner({ ...DEFAULT_RULES, 'docker.io': 'slipway-docker-hub' })))).toEqual({
      id: 'docker-hub-cache',
      title: "Docker Hub images come through the account's pull-through cache",
      status: 'ok',
      detail: "Docker Hub images are pulled through the cache rule slipway-docker-hub/ in the stack's Region, with the stored Docker Hub credentials",
    });
  });

  it("warns (never fails) without it: Docker Hub's anonymous limit, the start figures, and how to give the secret", () => {
    const r = judgeDockerHubCache(observeDockerHubCache(planner(DEFAULT_RULES)));
    expect(r.status).toBe('warn');
    expect(r.detail).toMatch(/^no Docker Hub pull-through cache rule is deployed \(no dockerHubCredentialsSecretArn\): Docker Hub images .* are pulled as written, anonymously/);
    expect(r.detail).toContain('10 anonymous pulls per hour per IPv4 address (https://docs.docker.com/docker-hub/usage/)');
    expect(r.detail).toContain(`${START_P50_SECONDS.withoutDockerHubRule} s at p50 against ${START_P50_SECONDS.withDockerHubRule} s through the cache`);
    expect(r.fix).toMatch(/^Store a Docker Hub user and access token .* named ecr-pullthroughcache\/docker-hub .* then deploy with -c dockerHubCredentialsSecretArn=<its ARN> \(README: "Images through the cache"; https:\/\/docs\.aws\.amazon\.com\/AmazonECR\/latest\/userguide\/pull-through-cache-creating-rule\.html\)\.$/);
  });

  it('warns too when the deployment has no cache at all, and says to keep it on', () => {
    const r = judgeDockerHubCache(observeDockerHubCache(planner()));
    expect(r).toMatchObject({ status: 'warn', detail: expect.stringMatching(/^no pull-through cache rule is deployed \(pullThroughCache is false\)/) });
    expect(r.fix).toContain('and pullThroughCache left true');
  });

  it('a planner setting it cannot read is a warning that says so', () => {
    expect(judgeDockerHubCache(observeDockerHubCache({ [ENV.pullThroughCache]: '{"docker.io":' }))).toMatchObject({ status: 'warn', detail: expect.stringMatching(/is not JSON/) });
    expect(judgeDockerHubCache(observeDockerHubCache({ [ENV.pullThroughCache]: '["docker.io"]' }))).toMatchObject({ status: 'warn', detail: expect.stringMatching(/is not a map of registry domains/) });
  });
});

describe('the hello-world build', () => {
  const answer = { kind: 'planned' as const, buildId: 'slipway-doctor/hello#3', repo: 'slipway-doctor/hello', number: 3 };
  it.each([
    [{ kind: 'finished' as const, answer, status: 'success' as const, seconds: 41, messages: [], greeted: true }, 'ok', 'slipway-doctor/hello #3 succeeded in 41 s, its log says hello'],
    [{ kind: 'finished' as const, answer, status: 'success' as const, seconds: 41, messages: [], greeted: false }, 'fail', "slipway-doctor/hello #3 succeeded in 41 s, but its log lacks the greeting"],
    [{ kind: 'finished' as const, answer, status: 'error' as const, seconds: 12, messages: ['hello: cannot start: CannotPullContainerError'] }, 'fail', 'slipway-doctor/hello #3 ended error after 12 s: hello: cannot start: CannotPullContainerError'],
    [{ kind: 'finished' as const, answer, status: 'success' as const, seconds: 41, messages: ['its log could not be read: 503 throttled'] }, 'ok', 'slipway-doctor/hello #3 succeeded in 41 s: its log could not be read: 503 throttled'],
    [{ kind: 'timed-out' as const, answer, status: 'pending' as const, seconds: 600, messages: [] }, 'fail', 'slipway-doctor/hello #3 was still pending after 600 s'],
    [{ kind: 'not-planned' as const, reason: 'repository slipway-doctor/hello is not in ALLOWED_REPOSITORIES' }, 'fail', 'the planner planned no build: repository slipway-doctor/hello is not in ALLOWED_REPOSITORIES'],
  ])('%#: %s', (observed, status, detail) => {
    const r = judgeHelloBuild(observed);
    expect({ status: r.status, detail: r.detail }).toEqual({ status, detail });
    if (status !== 'ok') expect(r.fix).toBeTruthy();
  });
});

describe('the planner request and the report', () => {
  it('recognizes only the doctor\'s requests', () => {
    expect(isPlannerDoctorRequest({ slipwayDoctor: 'hello' })).toBe(true);
    expect(isPlannerDoctorRequest({ slipwayDoctor: 'git-host', repo: 'acme/api' })).toBe(true);
    expect(isPlannerDoctorRequest({ slipwayDoctor: 'git-host' })).toBe(false);
    expect(isPlannerDoctorRequest({ slipwayDoctor: 'git-host', repo: 'no-slash' })).toBe(false);
    expect(isPlannerDoctorRequest({ Records: [] })).toBe(false);
    expect(isPlannerDoctorRequest(null)).toBe(false);
  });

  it('prints each check with its status, what was seen and what to fix, then the counts', () => {
    const text = formatReport([
      judgeLambdaConcurrency({ concurrentExecutions: 1000, unreservedConcurrentExecutions: 999 }),
      judgeRunTask({ error: 'AccessDenied' }),
      skipped('agent-images', 'local tasks run the agent on this machine'),
    ]);
    expect(text.split('\n')).toEqual([
      "✓ ok      the account's Lambda concurrency",
      '          account limit 1000 concurrent executions, 999 unreserved',
      '! warn    the autoscaler may run tasks in the cluster',
      "          could not simulate the autoscaler's policy: AccessDenied",
      "          fix: The doctor needs iam:SimulatePrincipalPolicy and lambda:GetFunctionConfiguration; run it with an administrator's credentials.",
      '- skipped the agent image exists for each architecture',
      '          local tasks run the agent on this machine',
      '',
      '1 ok, 1 warning(s), 0 failed, 1 skipped',
    ]);
  });
});
