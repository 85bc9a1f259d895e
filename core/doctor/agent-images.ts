// Which agent images the doctor looks up, read from the planner's environment (the images
// the compiler writes into task definitions), and what an image's manifest says about them.

import { ENV } from '../config/lambda-env.js';
import { parseManifest, platformName, selectPlatform } from '../images/manifest.js';
import { parseImageReference } from '../images/reference.js';
import type { Arch } from '../pipeline/types.js';
import type { AgentImageObservation } from './judge.js';

/** An image in Amazon ECR: `<account>.dkr.ecr.<region>.amazonaws.com/<repository>(:tag|@digest)`. */
export interface EcrImage {
  uri: string;
  registryId: string;
  region: string;
  repository: string;
  /** The tag, or the digest when pinned. */
  imageTag?: string;
  imageDigest?: string;
}

export type ImageToCheck = { arches: Arch[]; uri: string; ecr: EcrImage | { notEcr: string } };

const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

export function ecrImageOf(uri: string): EcrImage | { notEcr: string } {
  const parsed = parseImageReference(uri);
  if (!parsed.ok) return { notEcr: parsed.error };
  const host = ECR_HOST.exec(parsed.ref.domain);
  if (!host) return { notEcr: `${parsed.ref.domain} is not an Amazon ECR registry` };
  return {
    uri,
    registryId: host[1]!,
    region: host[2]!,
    repository: parsed.ref.repository,
    ...(parsed.ref.digest ? { imageDigest: parsed.ref.digest } : { imageTag: parsed.ref.tag ?? 'latest' }),
  };
}

/** One image per architecture (AGENT_IMAGE_AMD64/ARM64), or one multi-arch image for both (AGENT_IMAGE). */
export function agentImagesToCheck(env: Record<string, string | undefined>): ImageToCheck[] {
  const any = env[ENV.agentImage];
  if (any) return [{ arches: ['amd64', 'arm64'], uri: any, ecr: ecrImageOf(any) }];
  const out: ImageToCheck[] = [];
  for (const [arch, name] of [['amd64', ENV.agentImageAmd64], ['arm64', ENV.agentImageArm64]] as const) {
    const uri = env[name];
    if (uri) out.push({ arches: [arch], uri, ecr: ecrImageOf(uri) });
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
