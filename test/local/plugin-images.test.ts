// Local mode's answers for plugin images the planner cannot read from their registry here.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ImageCommandResult } from '../../core/images/types.js';
import { PROJECT_ROOT } from '../../local/images.js';
import { localPluginImage, withLocalPluginImages } from '../../local/plugin-images.js';

describe('local plugin images', () => {
  it('knows plugins/manifest under every spelling Docker gives it, and nothing else', () => {
    for (const image of ['plugins/manifest', 'plugins/manifest:1', 'docker.io/plugins/manifest:latest', 'index.docker.io/plugins/manifest', `plugins/manifest@sha256:${'b'.repeat(64)}`]) {
      expect(localPluginImage(image)?.entrypoint, image).toEqual(['/bin/drone-manifest']);
    }
    for (const image of ['plugins/docker', 'ghcr.io/plugins/manifest', 'acme/manifest', 'not an image']) expect(localPluginImage(image), image).toBeUndefined();
  });

  it("answers plugins/manifest with the image's entrypoint and the stand-in's digest, and asks the registry for every other image", async () => {
    const asked: string[] = [];
    const registry = async (image: string, arch: string): Promise<ImageCommandResult> => {
      asked.push(`${arch} ${image}`);
      return { ok: false, error: `image "${image}": offline`, transient: true };
    };
    const lookup = withLocalPluginImages(registry);
    const digest = `sha256:${createHash('sha256').update(readFileSync(`${PROJECT_ROOT}local/manifest-plugin.sh`)).digest('hex')}`;
    expect(await lookup('plugins/manifest:1', 'arm64')).toEqual({ ok: true, entrypoint: ['/bin/drone-manifest'], cmd: null, digest });
    expect(await lookup('plugins/slack', 'amd64')).toEqual({ ok: false, error: 'image "plugins/slack": offline', transient: true });
    expect(asked).toEqual(['amd64 plugins/slack']);
  });
});
