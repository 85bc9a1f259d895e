import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DEFAULT_COMMON_IMAGES_LIMITS,
  commonImages,
  imagesOfTaskDefinition,
  isPullableImage,
  prepullListText,
  sizeCandidates,
  type ImageUse,
  type PullableImages,
} from '../../core/scaling/common-images.js';

const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const PULLABLE: PullableImages = { registry: REGISTRY, repositoryPrefixes: ['slipway-docker-hub', 'slipway-quay'] };
const AGENT = `${REGISTRY}/cdk-assets:agent-amd64`;
const AGENT_ARM = `${REGISTRY}/cdk-assets:agent-arm64`;
const hub = (name: string) => `${REGISTRY}/slipway-docker-hub/library/${name}`;
const GIB = 1024 ** 3;

function use(repo: string, images: string[], at = 1, arch: ImageUse['arch'] = 'amd64'): ImageUse {
  return { repo, arch, images, at };
}

describe('common images: what an EC2 instance pulls ahead', () => {
  it('puts the agent image first, even with no recent build', () => {
    expect(commonImages({ uses: [], arches: ['amd64', 'arm64'], agentImages: { amd64: AGENT, arm64: AGENT_ARM }, pullable: PULLABLE })).toEqual({ amd64: [AGENT], arm64: [AGENT_ARM] });
  });

  it("orders a repository's images by how many stages used them", () => {
    const uses = [use('acme/api', [hub('node:20'), hub('postgres:16')]), use('acme/api', [hub('postgres:16')]), use('acme/api', [hub('postgres:16'), hub('redis:7')]), use('acme/api', [hub('redis:7')])];
    expect(commonImages({ uses, arches: ['amd64'], agentImages: { amd64: AGENT }, pullable: PULLABLE }).amd64).toEqual([AGENT, hub('postgres:16'), hub('redis:7'), hub('node:20')]);
  });

  it('keeps each architecture to the images of its own builds', () => {
    const uses = [use('acme/api', [hub('node:20')], 1, 'amd64'), use('acme/arm', [hub('golang:1.22')], 1, 'arm64')];
    expect(commonImages({ uses, arches: ['amd64', 'arm64'], agentImages: { amd64: AGENT, arm64: AGENT_ARM }, pullable: PULLABLE })).toEqual({
      amd64: [AGENT, hub('node:20')],
      arm64: [AGENT_ARM, hub('golang:1.22')],
    });
  });

  it('gives a repository that names a hundred images no more than its share: the others still get theirs', () => {
    const hostile = Array.from({ length: 100 }, (_, i) => use('evil/flood', [hub(`flood-${i}:latest`)], 100 + i));
    const uses = [...hostile, use('acme/api', [hub('postgres:16'), hub('node:20')]), use('acme/web', [hub('nginx:1.27')])];
    const list = commonImages({ uses, arches: ['amd64'], agentImages: { amd64: AGENT }, pullable: PULLABLE }).amd64!;
    // 12 places, 4 for the flood however many it names: the list stays short rather than fill with it.
    expect(list).toHaveLength(1 + DEFAULT_COMMON_IMAGES_LIMITS.maxPerRepo + 3);
    expect(list[0]).toBe(AGENT);
    expect(list).toEqual(expect.arrayContaining([hub('postgres:16'), hub('node:20'), hub('nginx:1.27')]));
    expect(list.filter((i) => i.includes('flood-')).length).toBe(DEFAULT_COMMON_IMAGES_LIMITS.maxPerRepo);
    // Fewer places than repositories want: each still gets a turn before the flood's second image.
    const tight = commonImages({ uses, arches: ['amd64'], agentImages: { amd64: AGENT }, pullable: PULLABLE, limits: { ...DEFAULT_COMMON_IMAGES_LIMITS, maxImages: 5 } }).amd64!;
    expect(tight.filter((i) => i.includes('flood-')).length).toBe(2);
    expect(tight).toEqual(expect.arrayContaining([hub('node:20'), hub('nginx:1.27')]));
  });

  it('bounds the list by count, per repository and in characters, whatever the uses (property)', () => {
    const image = fc.stringMatching(/^[a-z][a-z0-9]{0,30}$/).map((n) => hub(`${n}:1`));
    const arbUse = fc.record({ repo: fc.constantFrom('a/a', 'b/b', 'c/c', 'd/d'), arch: fc.constantFrom('amd64' as const, 'arm64' as const), images: fc.array(image, { maxLength: 12 }), at: fc.nat() });
    const arbLimits = fc.record({ maxImages: fc.integer({ min: 1, max: 20 }), maxPerRepo: fc.integer({ min: 1, max: 6 }), maxChars: fc.integer({ min: 60, max: 4096 }), maxImageBytes: fc.constant(GIB), maxBytes: fc.integer({ min: 0, max: 8 * GIB }) });
    const arbSizes = fc.dictionary(image, fc.integer({ min: 0, max: 2 * GIB }));
    fc.assert(
      fc.property(fc.array(arbUse, { maxLength: 60 }), arbLimits, arbSizes, (uses, limits, sizeRecord) => {
        const sizes = new Map(Object.entries(sizeRecord));
        const lists = commonImages({ uses, arches: ['amd64', 'arm64'], agentImages: { amd64: AGENT }, pullable: PULLABLE, limits, sizes });
        for (const [arch, list] of Object.entries(lists)) {
          expect(list.length).toBeLessThanOrEqual(limits.maxImages);
          expect(prepullListText(list).length).toBeLessThanOrEqual(limits.maxChars);
          expect(new Set(list).size).toBe(list.length);
          const others = list.filter((i) => i !== AGENT);
          for (const i of others) expect(sizes.get(i)).toBeLessThanOrEqual(limits.maxImageBytes);
          expect(others.reduce((n, i) => n + sizes.get(i)!, 0)).toBeLessThanOrEqual(limits.maxBytes);
          const own = new Set(uses.filter((u) => u.arch === arch).flatMap((u) => u.images));
          for (const i of list) if (i !== AGENT) expect(own.has(i)).toBe(true);
          for (const repo of ['a/a', 'b/b', 'c/c', 'd/d']) {
            const only = new Set(uses.filter((u) => u.arch === arch && u.repo === repo).flatMap((u) => u.images));
            const others = new Set(uses.filter((u) => u.arch === arch && u.repo !== repo).flatMap((u) => u.images));
            // Images no other repository used can only be there through this one's share.
            expect(list.filter((i) => only.has(i) && !others.has(i)).length).toBeLessThanOrEqual(limits.maxPerRepo);
          }
        }
      }),
    );
  });

  it("with ECR's sizes, leaves out an image too large, one whose size is unknown, and what would pass the total", () => {
    const uses = [
      use('evil/huge', [hub('huge:1')], 9),
      use('acme/api', [hub('postgres:16'), hub('node:20'), hub('uncached:1')], 5),
      use('acme/web', [hub('nginx:1.27'), hub('chrome:1')], 4),
    ];
    const sizes = new Map([
      [hub('huge:1'), 40 * GIB],
      [hub('postgres:16'), 150 * 1024 ** 2],
      [hub('node:20'), 400 * 1024 ** 2],
      [hub('nginx:1.27'), 70 * 1024 ** 2],
      [hub('chrome:1'), 1.9 * GIB],
    ]);
    const limits = { ...DEFAULT_COMMON_IMAGES_LIMITS, maxBytes: 1 * GIB };
    const list = commonImages({ uses, arches: ['amd64'], agentImages: { amd64: AGENT }, pullable: PULLABLE, limits, sizes }).amd64!;
    // huge: over maxImageBytes; uncached: no size; chrome: would pass the 1 GiB in all. The agent is never counted.
    expect(list).toEqual([AGENT, hub('node:20'), hub('nginx:1.27'), hub('postgres:16')]);
    expect(sizeCandidates({ uses, arches: ['amd64'], agentImages: { amd64: AGENT }, pullable: PULLABLE }).sort()).toEqual(
      [hub('chrome:1'), hub('huge:1'), hub('nginx:1.27'), hub('node:20'), hub('postgres:16'), hub('uncached:1')].sort(),
    );
  });

  it("asks ECR for the sizes of no more than twice each repository's share, and four lists' worth in all", () => {
    const flood = [use('evil/flood', Array.from({ length: 50 }, (_, i) => hub(`flood-${i}:1`)))];
    expect(sizeCandidates({ uses: flood, arches: ['amd64'], agentImages: { amd64: AGENT }, pullable: PULLABLE })).toHaveLength(2 * DEFAULT_COMMON_IMAGES_LIMITS.maxPerRepo);
    const many = Array.from({ length: 40 }, (_, r) => use(`org/r${r}`, Array.from({ length: 8 }, (_, i) => hub(`r${r}-${i}:1`)), r));
    const asked = sizeCandidates({ uses: many, arches: ['amd64'], agentImages: { amd64: AGENT }, pullable: PULLABLE });
    expect(asked).toHaveLength(4 * DEFAULT_COMMON_IMAGES_LIMITS.maxImages);
    // Turns: every repository's first image before any repository's second.
    expect(asked.slice(0, 40).every((i) => i.endsWith('-0:1'))).toBe(true);
  });

  it('lists only images the instance may pull: the cache repositories of its registry, well formed', () => {
    const uses = [
      use('acme/api', [
        'node:20', // not rewritten (opted out of the cache): Docker Hub, anonymously
        'ghcr.io/acme/tool:1',
        `${REGISTRY}/private/app:1`, // the account's own repository: not granted to instances
        `999999999999.dkr.ecr.eu-west-1.amazonaws.com/slipway-docker-hub/library/node:20`,
        `${REGISTRY}/slipway-docker-hubby/x:1`,
        `${REGISTRY}/slipway-docker-hub/library/alpine:3; rm -rf /`,
        `${REGISTRY}/slipway-docker-hub/library/alpine:3`,
        `${REGISTRY}/slipway-quay/prometheus/node-exporter:v1`,
      ]),
    ];
    expect(commonImages({ uses, arches: ['amd64'], agentImages: { amd64: AGENT }, pullable: PULLABLE }).amd64).toEqual([AGENT, hub('alpine:3'), `${REGISTRY}/slipway-quay/prometheus/node-exporter:v1`]);
    expect(isPullableImage(`-${hub('alpine:3')}`, PULLABLE)).toBe(false);
    expect(isPullableImage(`${hub('alpine:3')}\n${hub('redis:7')}`, PULLABLE)).toBe(false);
  });

  it('takes the images of a task definition except those pulled with their own credentials', () => {
    const td = {
      containerDefinitions: [
        { name: 'agent', image: AGENT },
        { name: 'db', image: hub('postgres:16') },
        { name: 'private', image: 'registry.example.com/app:1', repositoryCredentials: { credentialsParameter: 'arn:…' } },
      ],
    };
    expect(imagesOfTaskDefinition(td)).toEqual([AGENT, hub('postgres:16')]);
    expect(imagesOfTaskDefinition({})).toEqual([]);
  });

  it('fits the default list in an SSM standard parameter', () => {
    expect(DEFAULT_COMMON_IMAGES_LIMITS.maxChars).toBeLessThanOrEqual(4096);
  });
});
