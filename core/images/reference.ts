// Splits an image reference the way Docker does (distribution/reference): optional
// registry, repository path, tag, digest. Pure; an invalid reference is a value, not a throw.

import type { ImageRef } from './types.js';

export type ParsedReference = { ok: true; ref: ImageRef } | { ok: false; error: string };

const DOCKER_HUB_DOMAIN = 'docker.io';
const DOCKER_HUB_HOST = 'registry-1.docker.io';
/** Spellings of Docker Hub that Docker itself rewrites to `docker.io`. */
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
const MAX_NAME_LENGTH = 255;

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
/** The algorithms we can verify with node:crypto, each with its exact hex length. */
const DIGEST = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** A digest this module can verify; anything else from a registry is refused, never put in a URL. */
export function isDigest(text: string): boolean {
  return DIGEST.test(text);
}

export function parseImageReference(text: string): ParsedReference {
  const fail = (expected: string): ParsedReference => ({ ok: false, error: `image "${text}": invalid reference: ${expected}` });
  if (text.length === 0) return fail('expected an image name such as `alpine` or `ghcr.io/owner/name:tag`');
  if (/\s/.test(text)) return fail('whitespace is not allowed');

  const at = text.split('@');
  if (at.length > 2) return fail('expected at most one `@` (name@sha256:<64 hex>)');
  const [nameAndTag = '', digest] = at;
  if (digest !== undefined && !DIGEST.test(digest)) {
    return fail(`digest "${digest}" should be sha256:<64 lower-case hex> (or sha512:<128 hex>)`);
  }

  // A `:` after the last `/` starts the tag; one before it belongs to a registry port.
  const colon = nameAndTag.lastIndexOf(':');
  const hasTag = colon > nameAndTag.lastIndexOf('/');
  const name = hasTag ? nameAndTag.slice(0, colon) : nameAndTag;
  const tag = hasTag ? nameAndTag.slice(colon + 1) : undefined;
  if (tag !== undefined && !TAG.test(tag)) {
    return fail(`tag "${tag}" should be 1–128 of letters, digits, \`_\`, \`.\`, \`-\`, not starting with \`.\` or \`-\``);
  }
  if (name.length === 0) return fail('the repository name is empty');

  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  const isRegistry = slash !== -1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let domain = isRegistry ? first : DOCKER_HUB_DOMAIN;
  let repository = isRegistry ? name.slice(slash + 1) : name;

  if (isRegistry && !DOMAIN.test(domain)) return fail(`registry "${domain}" should be a host name or IP address with an optional :port`);
  if (DOCKER_HUB_ALIASES.has(domain.toLowerCase())) domain = DOCKER_HUB_DOMAIN;
  if (domain === DOCKER_HUB_DOMAIN && !repository.includes('/')) repository = `library/${repository}`;

  for (const component of repository.split('/')) {
    if (PATH_COMPONENT.test(component)) continue;
    if (component.length === 0) return fail(`repository "${repository}" has an empty path component`);
    if (PATH_COMPONENT.test(component.toLowerCase())) return fail(`repository "${repository}" must be lower case`);
    return fail(
      `repository component "${component}" should be lower-case letters and digits, separated by \`.\`, \`_\`, \`__\` or \`-\``,
    );
  }
  if (domain.length + 1 + repository.length > MAX_NAME_LENGTH) return fail(`the name is longer than ${MAX_NAME_LENGTH} characters`);

  const effectiveTag = tag ?? (digest === undefined ? 'latest' : undefined);
  const ref: ImageRef = {
    original: text,
    domain,
    host: domain === DOCKER_HUB_DOMAIN ? DOCKER_HUB_HOST : domain,
    scheme: isInsecureByDefault(domain) ? 'http' : 'https',
    repository,
    ...(effectiveTag !== undefined ? { tag: effectiveTag } : {}),
    ...(digest !== undefined ? { digest } : {}),
    reference: digest ?? effectiveTag ?? 'latest',
    canonical: `${domain}/${repository}${digest !== undefined ? `@${digest}` : `:${effectiveTag}`}`,
  };
  return { ok: true, ref };
}

/** Docker talks plain HTTP only to loopback registries unless told otherwise. */
function isInsecureByDefault(domain: string): boolean {
  const hostname = domain.startsWith('[') ? domain.slice(0, domain.indexOf(']') + 1) : domain.replace(/:\d+$/, '');
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}
