// The local image registry that image-build end-to-end tests push to (local/image-registry.ts),
// with one login, reachable from the build's tasks: by HOST_ALIAS from a task in its own network
// namespace (the ECS stand-in relays the registry's loopback port there: give `hostPorts` to
// startE2e), at 127.0.0.1 when tasks share the host's network.
import { namespaceSupport } from '../../local/ecs/netns.js';
import { HOST_ALIAS } from '../../local/ecs/sandbox.js';
import { imageRegistryBinary, startImageRegistry, type ImageRegistry } from '../../local/image-registry.js';
import { findBinary } from '../../local/require-binary.js';

export const REGISTRY_USER = 'slipway';
export const REGISTRY_PASSWORD = 'e2e-registry-pa55word';
// bcrypt of REGISTRY_PASSWORD (docker-registry's htpasswd accepts bcrypt only), made once with Python's crypt.
const HTPASSWD = `${REGISTRY_USER}:$2b$05$erJ/WlhHm0Lw5lCNwNN8lOLDOU9O8C5mOGGyOSpaDm0Ah7reCq2Qq`;

/** Why image builds cannot run here (a tool to install), or undefined. */
export const imageBuildToolsMissing = !findBinary('buildah', ['/usr/bin']) ? 'buildah is not installed' : !imageRegistryBinary() ? 'docker-registry is not installed' : undefined;

/** The registry, its address as the build's steps name it, and the ports the ECS stand-in must relay to tasks. */
export async function startTaskRegistry(dir: string): Promise<{ registry: ImageRegistry; pushTo: string; hostPorts: number[] }> {
  const isolated = (await namespaceSupport()) === undefined;
  const registry = await startImageRegistry({ dir, htpasswd: HTPASSWD });
  return { registry, pushTo: isolated ? `${HOST_ALIAS}:${registry.port}` : registry.host, hostPorts: [registry.port] };
}
