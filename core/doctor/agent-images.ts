// Which agent images the doctor looks up, read from the planner's environment (the images
// the compiler writes into task definitions), and what an image's manifest says about them.

import { ENV } from '../config/lambda-env.js';
import { ecrImageOf, type EcrImage } from '../images/ecr-image.js';
import { parseManifest, platformName, selectPlatform } from '../images/manifest.js';
import { parseImageReference } from '../images/reference.js';
import type { Arch } from '../pipeline/types.js';
import type { AgentImageObservation } from './judge.js';

/**
 * An image the doctor looks up in Amazon ECR: where it is, as every part of Slipway reads an ECR
 * reference (core/images/ecr-image.ts: each host form, any case, with or without a port), and the
 * image id to ask for: its digest when named (what a pull takes), else its tag (`latest` when none).
 */
export type EcrImageToCheck = EcrImage & { uri: string; imageId: { imageDigest: string } | { imageTag: string } };

export type ImageToCheck = { arches: Arch[]; uri: string; ecr: EcrImageToCheck | { notEcr: string } };

/** The ECR image `uri` names, or why it is not one. */
export function ecrImageToCheck(uri: string): EcrImageToCheck | { notEcr: string } {
  const parsed = parseImageReference(uri);
  if (!parsed.ok) return { notEcr: parsed.error };
  const ecr = ecrImageOf(uri);
  if (!ecr) return { notEcr: `${parsed.ref.domain} is not an Amazon ECR registry` };
  return { ...ecr, uri, imageId: ecr.digest !== undefined ? { imageDigest: ecr.digest } : { imageTag: ecr.tag ?? 'latest' } };
}

/** One image per architecture (AGENT_IMAGE_AMD64/ARM64), or one multi-arch image for both (AGENT_IMAGE). */
export function agentImagesToCheck(env: Record<string, string | undefined>): ImageToCheck[] {
  const any = env[ENV.agentImage];
  if (any) return [{ arches: ['amd64', 'arm64'], uri: any, ecr: ecrImageToCheck(any) }];
  const out: ImageToCheck[] = [];
  for (const [arch, name] of [['amd64', ENV.agentImageAmd64], ['arm64', ENV.agentImageArm64]] as const) {
    const uri = env[name];
    if (uri) out.push({ arches: [arch], uri, ecr: ecrImageToCheck(uri) });
  }
  return out;
}

/**
 * What one image's manifest says for each architecture it must serve: a single-platform
 * image serves its one architecture (the stack builds it with `--platform`); an index must
 * hold a linux entry for each.
 */
export function observeManifest(image: ImageToCheck, manifest: { mediaType?: string; body: string } | null): AgentImageObservation[] {
  if (manifest === null) return image.arches.map((arch) => ({ arch, uri: image.uri, state: 'missing', detail: 'no such image in its repository' }));
  const parsed = parseManifest(manifest.mediaType ?? null, manifest.body);
  if (!parsed.ok) return image.arches.map((arch) => ({ arch, uri: image.uri, state: 'error', detail: parsed.error }));
  if (parsed.kind === 'image') {
    if (image.arches.length === 1) return [{ arch: image.arches[0]!, uri: image.uri, state: 'found' }];
    return image.arches.map((arch) => ({
      arch,
      uri: image.uri,
      state: 'missing',
      detail: 'a single-platform image where a manifest list of linux/amd64 and linux/arm64 is needed',
    }));
  }
  return image.arches.map((arch) => {
    const chosen = selectPlatform(parsed.entries, arch);
    return chosen.ok
      ? { arch, uri: image.uri, state: 'found', detail: `${platformName(chosen.value)} in the manifest list` }
      : { arch, uri: image.uri, state: 'missing', detail: chosen.error };
  });
}
