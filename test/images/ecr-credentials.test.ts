import { ECRClient } from '@aws-sdk/client-ecr';
import { afterEach, describe, expect, it } from 'vitest';
import { lookupImageCommand, type ImageLookupOptions } from '../../adapters/registry/registry-client.js';
import { ecrCredentialsSource, ecrRegion, withMintedCredentials, type EcrCredentialsOptions } from '../../lambdas/shared/ecr-credentials.js';
import { startEcrStandIn, type EcrStandIn, type EcrStandInOptions } from '../support/ecr-stand-in.js';
import { startRegistryStandIn, type RegistryStandIn } from '../support/registry-stand-in.js';
import { HANG_GUARD_MS } from '../support/wait.js';

const FAST: ImageLookupOptions = { timeoutMs: HANG_GUARD_MS, deadlineMs: HANG_GUARD_MS, backoffMs: 10, retries: 0 };
const IMAGE = { name: 'team/deploy', tag: '2', platforms: { amd64: { entrypoint: ['/bin/deploy'], cmd: null } } };

describe('ecrRegion', () => {
  it('recognises ECR registry hosts, China partition included', () => {
    expect(ecrRegion('123456789012.dkr.ecr.eu-west-1.amazonaws.com')).toBe('eu-west-1');
    expect(ecrRegion('123456789012.dkr.ecr.us-gov-west-1.amazonaws.com')).toBe('us-gov-west-1');
    expect(ecrRegion('210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn')).toBe('cn-north-1');
    expect(ecrRegion('123456789012.DKR.ECR.ap-southeast-2.AMAZONAWS.COM')).toBe('ap-southeast-2');
  });

  it('leaves everything else alone', () => {
    for (const host of [
      'public.ecr.aws',
      'docker.io',
      '12345.dkr.ecr.eu-west-1.amazonaws.com',
      '123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example',
      '123456789012.dkr.ecr.eu-west-1.amazonaws.com:443',
      'evil.example/123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      '127.0.0.1:5000',
    ]) {
      expect(ecrRegion(host)).toBeUndefined();
    }
  });
});

describe('private ECR images through GetAuthorizationToken', () => {
  let registry: RegistryStandIn | undefined;
  let ecr: EcrStandIn | undefined;
  const clients: ECRClient[] = [];
  afterEach(async () => {
    await registry?.stop();
    await ecr?.stop();
    for (const c of clients.splice(0)) c.destroy();
    registry = ecr = undefined;
  });

  /** A registry in `basic` mode that accepts ECR's user `AWS`, and ECR; the registry's host counts as an ECR host of eu-west-1. */
  async function setUp(ecrOptions: EcrStandInOptions = {}, source: EcrCredentialsOptions = {}) {
    registry = await startRegistryStandIn({ auth: 'basic', credentials: { username: 'AWS', password: ecrOptions.password ?? 'ecr-password' } });
    registry.publish(IMAGE);
    ecr = await startEcrStandIn(ecrOptions);
    const endpoint = ecr.url;
    const host = registry.host;
    const minted = ecrCredentialsSource({
      clientFor: (region) => {
        const client = new ECRClient({ region, endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
        clients.push(client);
        return client;
      },
      regionOf: (name) => (name === host ? 'eu-west-1' : undefined),
      ...source,
    });
    return { registry, ecr, minted, image: `${host}/team/deploy:2` };
  }

  it('logs in with the token ECR gives in the registry\'s region', async () => {
    const { registry, ecr, minted, image } = await setUp({ password: 'minted-pw' });
    const result = await lookupImageCommand(image, 'amd64', { ...FAST, credentials: withMintedCredentials(async () => ({}), minted) });
    expect(result).toMatchObject({ ok: true, entrypoint: ['/bin/deploy'] });
    expect(ecr.calls).toEqual([{ action: 'GetAuthorizationToken', region: 'eu-west-1' }]);
    const basic = `Basic ${Buffer.from('AWS:minted-pw').toString('base64')}`;
    expect(registry.requests.filter((q) => q.authorization === basic).length).toBeGreaterThan(0);
  });

  it('keeps the token until shortly before it expires', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const expiresAt = now + 12 * 3_600_000;
    const { ecr, minted, registry } = await setUp({ expiresAt: () => expiresAt }, { now: () => now, refreshMarginMs: 60_000 });
    expect(await minted(registry.host)).toEqual({ username: 'AWS', password: 'ecr-password' });
    now = expiresAt - 60_001;
    expect(await minted(registry.host)).toEqual({ username: 'AWS', password: 'ecr-password' });
    expect(ecr.calls).toHaveLength(1);
    now = expiresAt - 60_000;
    await minted(registry.host);
    expect(ecr.calls).toHaveLength(2);
  });

  it('shares one request between concurrent callers, and asks nothing for other registries', async () => {
    const { ecr, minted, registry } = await setUp();
    const held = ecr.hold();
    const both = Promise.all([minted(registry.host), minted(registry.host)]);
    // Both callers are waiting on the one request the stand-in holds.
    await expect.poll(() => ecr.calls.length).toBe(1);
    held.release();
    expect(await both).toEqual([
      { username: 'AWS', password: 'ecr-password' },
      { username: 'AWS', password: 'ecr-password' },
    ]);
    expect(await minted('ghcr.io')).toBeUndefined();
    expect(ecr.calls).toHaveLength(1);
  });

  it('lets an explicit `registries` entry win', async () => {
    const { ecr, minted, image, registry } = await setUp();
    const explicit = async () => ({ [registry.host]: { username: 'AWS', password: 'ecr-password' } });
    expect(await lookupImageCommand(image, 'amd64', { ...FAST, credentials: withMintedCredentials(explicit, minted) })).toMatchObject({ ok: true });
    expect(ecr.calls).toEqual([]);
  });

  it('fails the lookup as transient when ECR refuses, and asks again next time', async () => {
    const { ecr, minted, image } = await setUp();
    ecr.failNext(1, 'AccessDeniedException', 'not authorized to perform: ecr:GetAuthorizationToken');
    const credentials = withMintedCredentials(async () => ({}), minted);
    expect(await lookupImageCommand(image, 'amd64', { ...FAST, credentials })).toEqual({
      ok: false,
      error: `image "${image}": could not read the registry credentials for ${registry!.host} (Error: ecr: GetAuthorizationToken in eu-west-1 failed (AccessDeniedException: not authorized to perform: ecr:GetAuthorizationToken); the planner's role needs ecr:GetAuthorizationToken); try again later`,
      transient: true,
    });
    expect(await lookupImageCommand(image, 'amd64', { ...FAST, credentials })).toMatchObject({ ok: true });
    expect(ecr.calls).toHaveLength(2);
  });
});
