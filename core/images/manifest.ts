// Reads the three kinds of document between an image tag and its command: an index
// (OCI image index / Docker manifest list) that points at one manifest per platform, an
// image manifest that points at the config blob, and the config blob that holds
// ENTRYPOINT and CMD. Pure: the client fetches, these functions decide.

import type { Arch, ImageCommand } from './types.js';

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

/** The `Accept` header of a manifest request: everything this module can read. */
export const MANIFEST_ACCEPT = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest].join(', ');

const SCHEMA1_TYPES = new Set(['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws']);
const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);
const IMAGE_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);

export interface PlatformEntry {
  digest: string;
  mediaType?: string;
  os: string;
  architecture: string;
  variant?: string;
}

export type ParsedManifest =
  | { ok: true; kind: 'index'; entries: PlatformEntry[] }
  | { ok: true; kind: 'image'; configDigest: string }
  | { ok: false; error: string };

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * `contentType` is the response's Content-Type; registries that send a generic one
 * (`application/json`, `text/plain`) are read by the document's own `mediaType` or shape.
 */
export function parseManifest(contentType: string | null, body: string): ParsedManifest {
  const json = parseJsonObject(body, 'manifest');
  if (!json.ok) return json;
  const doc = json.value;
  const headerType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : '';

  if (SCHEMA1_TYPES.has(headerType) || SCHEMA1_TYPES.has(declared) || doc.schemaVersion === 1) {
    return { ok: false, error: 'the registry serves a Docker schema 1 manifest, which is not supported; push the image again with a current Docker or buildx' };
  }
  const type = [headerType, declared].find((t) => INDEX_TYPES.has(t) || IMAGE_TYPES.has(t));
  const isIndex = type !== undefined ? INDEX_TYPES.has(type) : Array.isArray(doc.manifests);
  const isImage = type !== undefined ? IMAGE_TYPES.has(type) : isObject(doc.config);

  if (isIndex) {
    if (!Array.isArray(doc.manifests)) return { ok: false, error: 'malformed index: `manifests` should be an array' };
    const entries: PlatformEntry[] = [];
    for (const [i, m] of doc.manifests.entries()) {
      if (!isObject(m) || typeof m.digest !== 'string') return { ok: false, error: `malformed index: manifests[${i}] has no digest` };
      const p = isObject(m.platform) ? m.platform : {};
      entries.push({
        digest: m.digest,
        ...(typeof m.mediaType === 'string' ? { mediaType: m.mediaType } : {}),
        os: typeof p.os === 'string' ? p.os : 'unknown',
        architecture: typeof p.architecture === 'string' ? p.architecture : 'unknown',
        ...(typeof p.variant === 'string' ? { variant: p.variant } : {}),
      });
    }
    return { ok: true, kind: 'index', entries };
  }
  if (isImage) {
    const config = doc.config;
    if (!isObject(config) || typeof config.digest !== 'string') return { ok: false, error: 'malformed image manifest: `config.digest` is missing' };
    return { ok: true, kind: 'image', configDigest: config.digest };
  }
  return { ok: false, error: `unsupported manifest type "${headerType || declared || 'none'}"; expected one of ${MANIFEST_ACCEPT}` };
}

/**
 * The entry to run on linux/`arch`. Attestation entries (`unknown/unknown`) are not
 * platforms. For arm64, `v8` or no variant is what Fargate runs; another variant is
 * taken only when nothing better exists. For amd64, no variant (the baseline) first.
 */
export function selectPlatform(entries: readonly PlatformEntry[], arch: Arch): Parsed<PlatformEntry> {
  const platforms = entries.filter((e) => !(e.os === 'unknown' && e.architecture === 'unknown'));
  const candidates = platforms.filter((e) => e.os === 'linux' && e.architecture === arch);
  const baseline = arch === 'arm64' ? 'v8' : 'v1';
  const preferred = (e: PlatformEntry): boolean => e.variant === undefined || e.variant === baseline;
  const chosen = candidates.find(preferred) ?? candidates[0];
  if (chosen) return { ok: true, value: chosen };
  const available = platforms.map(platformName);
  return {
    ok: false,
    error: `no manifest for linux/${arch} (the image has ${available.length > 0 ? available.join(', ') : 'no platforms'})`,
  };
}

export function platformName(e: Pick<PlatformEntry, 'os' | 'architecture' | 'variant'>): string {
  return `${e.os}/${e.architecture}${e.variant ? `/${e.variant}` : ''}`;
}

/** The config blob's command and the platform it was built for (checked when no index chose it). */
export interface ImageConfig extends ImageCommand {
  os?: string;
  architecture?: string;
  variant?: string;
}

/** ENTRYPOINT and CMD from an image config blob (`config.Entrypoint`, `config.Cmd`). */
export function parseImageConfig(body: string): Parsed<ImageConfig> {
  const json = parseJsonObject(body, 'image config');
  if (!json.ok) return json;
  const doc = json.value;
  const platform = {
    ...(typeof doc.os === 'string' ? { os: doc.os } : {}),
    ...(typeof doc.architecture === 'string' ? { architecture: doc.architecture } : {}),
    ...(typeof doc.variant === 'string' ? { variant: doc.variant } : {}),
  };
  const config = doc.config;
  if (config === undefined || config === null) return { ok: true, value: { entrypoint: null, cmd: null, ...platform } };
  if (!isObject(config)) return { ok: false, error: 'malformed image config: `config` should be an object' };
  const entrypoint = stringArray(config.Entrypoint, 'Entrypoint');
  if (!entrypoint.ok) return entrypoint;
  const cmd = stringArray(config.Cmd, 'Cmd');
  if (!cmd.ok) return cmd;
  return { ok: true, value: { entrypoint: entrypoint.value, cmd: cmd.value, ...platform } };
}

function stringArray(value: unknown, field: string): Parsed<string[] | null> {
  if (value === undefined || value === null) return { ok: true, value: null };
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return { ok: true, value: value as string[] };
  return { ok: false, error: `malformed image config: \`config.${field}\` should be an array of strings` };
}

function parseJsonObject(body: string, what: string): Parsed<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    return { ok: false, error: `malformed ${what}: not JSON (${(err as Error).message})` };
  }
  if (!isObject(value)) return { ok: false, error: `malformed ${what}: expected a JSON object` };
  return { ok: true, value };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
