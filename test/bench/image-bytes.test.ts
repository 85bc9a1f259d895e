// The figures of `npm run bench -- image-bytes`: the agent image's size follows what
// task-runner/Dockerfile puts in its final stage (bench/lib/agent-image.ts), and the corpus
// count follows the pull-through cache's rules (bench/lib/corpus-images.ts).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PULL_THROUGH_CACHE_RULES } from '../../core/pipeline/pull-through-cache.js';
import { agentImageSize, APK_PACKAGES, BASE_IMAGES, COPIED_FILES, finalStage } from '../../bench/lib/agent-image.js';
import { corpusImages, pipelineImages } from '../../bench/lib/corpus-images.js';
import { IMAGE_MEGABYTES } from '../../bench/lib/start-measurements.js';

const DOCKERFILE = readFileSync(new URL('../../task-runner/Dockerfile', import.meta.url), 'utf8');
const BUNDLE = 30_000;

describe('agent image size', () => {
  it('reads only the final stage, continuation lines joined', () => {
    const stage = finalStage('FROM a AS one\nRUN x\nFROM b\n# note\nRUN apk add --no-cache \\\n  git tini\n');
    expect(stage).toEqual(['FROM b', 'RUN apk add --no-cache    git tini']);
  });

  it('sums the base image, each apk package and each copied file of the final stage, per architecture', () => {
    const dockerfile = 'FROM alpine:3.22\nRUN apk add --no-cache git tini\nCOPY --from=node /usr/local/bin/node /usr/local/bin/node\nCOPY --from=bundle /out/agent.mjs /opt/slipway/agent.mjs\n';
    for (const arch of ['amd64', 'arm64'] as const) {
      const size = agentImageSize(dockerfile, arch, BUNDLE);
      const expected = BASE_IMAGES['alpine:3.22']![0]!.bytes[arch] + APK_PACKAGES.git!.bytes[arch] + APK_PACKAGES.tini!.bytes[arch] + COPIED_FILES['/usr/local/bin/node']!.bytes[arch] + BUNDLE;
      expect(size.total).toBe(expected);
      expect(size.estimated).toBe(APK_PACKAGES.tini!.bytes[arch]);
      expect(size.parts.map((p) => p.name)).toEqual(['alpine:3.22 layer 1', 'apk git', 'apk tini', '/usr/local/bin/node from node', 'agent bundle']);
    }
  });

  it('refuses a base image, package or copied file it has no size for, naming it', () => {
    expect(() => agentImageSize('FROM debian:12\n', 'amd64', BUNDLE)).toThrow(/no size for base image debian:12/);
    expect(() => agentImageSize('FROM alpine:3.22\nRUN apk add --no-cache curl\n', 'amd64', BUNDLE)).toThrow(/no size for apk package curl/);
    expect(() => agentImageSize('FROM alpine:3.22\nCOPY --from=x /usr/bin/python3 /usr/bin/python3\n', 'amd64', BUNDLE)).toThrow(/no size for \/usr\/bin\/python3/);
  });

  it("task-runner/Dockerfile's image is sized from known parts for both architectures, mostly cited or measured", () => {
    for (const arch of ['amd64', 'arm64'] as const) {
      const size = agentImageSize(DOCKERFILE, arch, BUNDLE);
      expect(size.total).toBeGreaterThan(30_000_000);
      expect(size.estimated / size.total).toBeLessThan(0.1);
      expect(size.parts.some((p) => p.name === 'agent bundle')).toBe(true);
    }
  });

  it("the start model pulls the agent image at this size (start-measurements.ts IMAGE_MEGABYTES['slipway-agent'])", () => {
    const amd64 = agentImageSize(DOCKERFILE, 'amd64', BUNDLE).total / 1_000_000;
    expect(Math.abs(IMAGE_MEGABYTES['slipway-agent']!.mb - amd64)).toBeLessThan(1);
  });
});

describe('corpus images by registry', () => {
  const file = (name: string, text: string) => ({ name, text });
  const prefixes = Object.fromEntries(PULL_THROUGH_CACHE_RULES.map((r) => [r.domain, r.prefix]));
  const cache = { registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com', prefixes };

  it('takes the images of steps and services of docker pipelines only', () => {
    const text = 'kind: pipeline\nname: a\nsteps:\n- name: s\n  image: node:20\nservices:\n- name: db\n  image: postgres\n---\nkind: pipeline\ntype: exec\nname: b\nsteps:\n- name: s\n  commands: [x]\n---\nkind: secret\nname: x\n';
    expect(pipelineImages(text)).toEqual(['node:20', 'postgres']);
  });

  it('skips a document YAML cannot read (an alias with no anchor, as in a corpus file) and counts the others', () => {
    const unreadable = 'kind: pipeline\nname: a\nsteps:\n- name: s\n  image: archlinux\n  settings:\n    files: *.tar.zst\n';
    const readable = 'kind: pipeline\nname: b\nsteps:\n- name: s\n  image: node:20\n';
    expect(pipelineImages(`${unreadable}---\n${readable}`)).toEqual(['node:20']);
    expect(pipelineImages('kind: pipeline\nsteps: [\n')).toEqual([]);
  });

  it('counts images and files per registry, and those each rule pulls through the cache', () => {
    const figure = corpusImages(
      [
        file('a.yml', 'kind: pipeline\nname: a\nsteps:\n- name: s\n  image: node:20\n- name: t\n  image: ghcr.io/acme/tool:1\n- name: u\n  image: mcr.microsoft.com/dotnet/sdk\n'),
        file('b.yml', 'kind: pipeline\nname: b\nsteps:\n- name: s\n  image: golang\n- name: t\n  image: ghcr.io/acme/my__tool:1\n'),
      ],
      cache,
    );
    expect(figure).toEqual({
      images: 5,
      cached: 3,
      registries: [
        { registry: 'docker.io', images: 2, files: 2, cached: 2 },
        { registry: 'ghcr.io', images: 2, files: 2, cached: 1 },
        { registry: 'mcr.microsoft.com', images: 1, files: 1, cached: 0 },
      ],
    });
  });
});
