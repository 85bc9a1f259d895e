// ECR image sizes (adapters/ecr/image-sizes.ts) against the ECR stand-in (test/support/ecr-stand-in.ts:
// the real ECRClient, DescribeImages failing a whole call for one missing image, as ECR does).
import { ECRClient } from '@aws-sdk/client-ecr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EcrImageSizes } from '../../adapters/ecr/image-sizes.js';
import { startEcrStandIn, type EcrStandIn } from '../support/ecr-stand-in.js';

const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const DIGEST = `sha256:${'b'.repeat(64)}`;
let standIn: EcrStandIn;
let ecr: ECRClient;

beforeAll(async () => {
  standIn = await startEcrStandIn();
  ecr = new ECRClient({ endpoint: standIn.url, region: 'eu-west-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  standIn.repositories.set('slipway-docker-hub/library/postgres', [
    { digest: `sha256:${'a'.repeat(64)}`, tags: ['16', '16.4'], sizeInBytes: 150_000_000 },
    { digest: DIGEST, tags: ['15'], sizeInBytes: 140_000_000 },
  ]);
  standIn.repositories.set('slipway-docker-hub/library/node', [{ digest: `sha256:${'c'.repeat(64)}`, tags: ['20'], sizeInBytes: 400_000_000 }]);
});
afterAll(async () => {
  ecr.destroy();
  await standIn.stop();
});

describe('image sizes from ECR', () => {
  it('gives the compressed size of each cached image, by tag or digest, one call per repository', async () => {
    const images = [`${REGISTRY}/slipway-docker-hub/library/postgres:16`, `${REGISTRY}/slipway-docker-hub/library/postgres@${DIGEST}`, `${REGISTRY}/slipway-docker-hub/library/node:20`];
    const before = standIn.calls.length;
    const sizes = await new EcrImageSizes(ecr, REGISTRY).sizes(images);
    expect(Object.fromEntries(sizes)).toEqual({ [images[0]!]: 150_000_000, [images[1]!]: 140_000_000, [images[2]!]: 400_000_000 });
    expect(standIn.calls.slice(before).map((c) => c.action)).toEqual(['DescribeImages', 'DescribeImages']);
  });

  it("gives each image's digest and push time beside its size: what the tag points at now (the SOCI copies are keyed by it), and when ECR's lifecycle counts from", async () => {
    const images = [`${REGISTRY}/slipway-docker-hub/library/postgres:16`, `${REGISTRY}/slipway-docker-hub/library/node:20`];
    const details = await new EcrImageSizes(ecr, REGISTRY).details(images);
    // The stand-in's default imagePushedAt, November 2023 (epoch seconds on the wire, ms here).
    expect(Object.fromEntries(details)).toEqual({
      [images[0]!]: { sizeBytes: 150_000_000, digest: `sha256:${'a'.repeat(64)}`, pushedAt: 1_700_000_000_000 },
      [images[1]!]: { sizeBytes: 400_000_000, digest: `sha256:${'c'.repeat(64)}`, pushedAt: 1_700_000_000_000 },
    });
  });

  it('leaves out what ECR does not hold (a tag never pulled, a repository never created, another registry), keeping the rest', async () => {
    const images = [
      `${REGISTRY}/slipway-docker-hub/library/postgres:16`,
      `${REGISTRY}/slipway-docker-hub/library/postgres:99`,
      `${REGISTRY}/slipway-docker-hub/library/never:1`,
      'ghcr.io/acme/tool:1',
    ];
    const sizes = await new EcrImageSizes(ecr, REGISTRY).sizes(images);
    expect(Object.fromEntries(sizes)).toEqual({ [images[0]!]: 150_000_000 });
  });

  it('passes on what it cannot read (access denied), for the caller to log', async () => {
    standIn.failNext(1, 'AccessDeniedException', 'User is not authorized to perform: ecr:DescribeImages');
    await expect(new EcrImageSizes(ecr, REGISTRY).sizes([`${REGISTRY}/slipway-docker-hub/library/node:20`])).rejects.toThrow(/not authorized/);
  });
});
