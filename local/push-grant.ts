// Local mode's stand-in for a build task role's push rights (docs/design/image-builds.md: on
// AWS a repository listed in `imagePushRepositories` builds under a role that may push to its
// ECR repositories, and kaniko's credential helper takes the role's credentials). Here the
// role of such a repository carries the local registry's login and the repository names it
// may push to; the ECS stand-in writes them into the private directory of the task's image
// builder and manifest containers only (never into an environment, a task definition or a
// log), where local/image-builder.sh and local/manifest-plugin.sh find them through
// SLIPWAY_PUSH_GRANT (local/images.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RegistryPushGrant {
  /** The registry as image names spell it, each way a task may name it (`127.0.0.1:5000`, `host.slipway.internal:5000`). */
  registries: string[];
  username: string;
  password: string;
  /** Repositories of that registry (`team/app`) the task may push to. */
  repositories: string[];
}

/** The grant's directory inside a container's private directory. */
export const PUSH_GRANT_DIR = 'push-grant';

/**
 * Writes the grant where the container finds it: `auth.json` (a Docker config, as buildah's
 * --authfile reads it), `registries` and `repositories` (one per line, for the scripts' checks).
 */
export function writePushGrant(containerDataDir: string, grant: RegistryPushGrant): void {
  const dir = join(containerDataDir, PUSH_GRANT_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const auth = Buffer.from(`${grant.username}:${grant.password}`).toString('base64');
  const auths = Object.fromEntries(grant.registries.map((registry) => [registry, { auth }]));
  writeFileSync(join(dir, 'auth.json'), `${JSON.stringify({ auths })}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'registries'), grant.registries.map((r) => `${r}\n`).join(''), { mode: 0o600 });
  writeFileSync(join(dir, 'repositories'), grant.repositories.map((r) => `${r}\n`).join(''), { mode: 0o600 });
}
