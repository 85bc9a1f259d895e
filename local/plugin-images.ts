// Plugin images local mode can run without their registry (no internet here): what the
// planner's lookup answers for them (their ENTRYPOINT, so that a plugin step that receives
// secrets is compiled to run masked) and which program of this project stands in for them
// (local/images.ts). Only images listed here; every other lookup goes to its registry.
//
//   plugins/manifest → /bin/drone-manifest (drone-plugins/drone-manifest, docker/Dockerfile.linux.amd64:
//                      `ENTRYPOINT ["/bin/drone-manifest"]`), run by local/manifest-plugin.sh
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseImageReference } from '../core/images/reference.js';
import type { ImageCommandLookup } from '../core/images/types.js';

export interface LocalPluginImage {
  /** Repository as Docker names it: `docker.io/plugins/manifest`. */
  repository: string;
  /** The real image's ENTRYPOINT. */
  entrypoint: string[];
  /** The program of this project that stands in for the entrypoint's first word. */
  program: string;
}

/** The project's root (images.ts's PROJECT_ROOT, which imports this module). */
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

export const LOCAL_PLUGIN_IMAGES: readonly LocalPluginImage[] = [{ repository: 'docker.io/plugins/manifest', entrypoint: ['/bin/drone-manifest'], program: join('local', 'manifest-plugin.sh') }];

/** The local stand-in of an image (any tag or digest), if it has one. */
export function localPluginImage(image: string): LocalPluginImage | undefined {
  const ref = parseImageReference(image);
  if (!ref.ok) return undefined;
  const repository = `${ref.ref.domain}/${ref.ref.repository}`;
  return LOCAL_PLUGIN_IMAGES.find((p) => p.repository === repository);
}

/**
 * The planner's lookup with local mode's answers first. The digest is the stand-in program's
 * content (what "the image" is here), so that the step is pinned to what runs and a changed
 * program is a changed image, as a new digest is on a registry.
 */
export function withLocalPluginImages(lookup: ImageCommandLookup, projectRoot: string = PROJECT_ROOT): ImageCommandLookup {
  return async (image, arch) => {
    const local = localPluginImage(image);
    if (!local) return lookup(image, arch);
    const digest = `sha256:${createHash('sha256').update(readFileSync(join(projectRoot, local.program))).digest('hex')}`;
    return { ok: true, entrypoint: local.entrypoint, cmd: null, digest };
  };
}
