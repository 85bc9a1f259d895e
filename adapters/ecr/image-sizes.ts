// The ImageSizes port (core/scaling/common-images.ts) on ECR's DescribeImages: the compressed
// size of each image of the account's registry (and its digest: what a tag points at now, for
// the SOCI-enabled copies of core/images/soci.ts), the largest platform's for a manifest list
// ("If the image is a manifest list, this will be the max size of all manifests in the list",
// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageDetail.html).
//
// One call per repository with all its tags and digests (at most 100 ids a call); DescribeImages
// fails the whole call when one id is missing (ImageNotFoundException), so such a repository is
// asked again one image at a time. A missing repository or image has no size: it is left out.

import { DescribeImagesCommand, type ECRClient, type ImageIdentifier } from '@aws-sdk/client-ecr';
import { parseImageReference } from '../../core/images/reference.js';
import type { ImageSizes } from '../../core/scaling/common-images.js';
import type { EcrImageDetail } from '../../core/images/soci.js';
import { classifyAwsError } from '../../core/util/aws-errors.js';

const IDS_PER_CALL = 100;
/** Repositories asked at once. */
const PARALLEL = 5;

export class EcrImageSizes implements ImageSizes {
  constructor(
    private readonly ecr: ECRClient,
    /** `<account>.dkr.ecr.<region>.amazonaws.com`: only its images are asked about. */
    private readonly registry: string,
  ) {}

  async sizes(images: readonly string[]): Promise<Map<string, number>> {
    return new Map([...(await this.details(images))].map(([image, detail]) => [image, detail.sizeBytes]));
  }

  /** Size and digest of each image of this registry that ECR describes; the others are left out. */
  async details(images: readonly string[]): Promise<Map<string, EcrImageDetail>> {
    const registryId = this.registry.split('.')[0]!;
    const byRepository = new Map<string, { image: string; id: ImageIdentifier }[]>();
    for (const image of new Set(images)) {
      const parsed = parseImageReference(image);
      if (!parsed.ok || parsed.ref.domain !== this.registry) continue;
      const id: ImageIdentifier = parsed.ref.digest !== undefined ? { imageDigest: parsed.ref.digest } : { imageTag: parsed.ref.tag ?? 'latest' };
      const list = byRepository.get(parsed.ref.repository) ?? [];
      list.push({ image, id });
      byRepository.set(parsed.ref.repository, list);
    }
    const out = new Map<string, EcrImageDetail>();
    const repositories = [...byRepository.entries()];
    for (let i = 0; i < repositories.length; i += PARALLEL) {
      await Promise.all(
        repositories.slice(i, i + PARALLEL).map(async ([repositoryName, wanted]) => {
          for (let j = 0; j < wanted.length; j += IDS_PER_CALL) {
            const chunk = wanted.slice(j, j + IDS_PER_CALL);
            const found = await this.describe(registryId, repositoryName, chunk);
            for (const [image, detail] of found) out.set(image, detail);
          }
        }),
      );
    }
    return out;
  }

  private async describe(registryId: string, repositoryName: string, wanted: { image: string; id: ImageIdentifier }[]): Promise<Map<string, EcrImageDetail>> {
    const out = new Map<string, EcrImageDetail>();
    try {
      const res = await this.ecr.send(new DescribeImagesCommand({ registryId, repositoryName, imageIds: wanted.map((w) => w.id) }));
      for (const detail of res.imageDetails ?? []) {
        if (detail.imageSizeInBytes === undefined || detail.imageDigest === undefined) continue;
        for (const w of wanted) {
          const match = w.id.imageDigest !== undefined ? detail.imageDigest === w.id.imageDigest : (detail.imageTags ?? []).includes(w.id.imageTag!);
          if (match) out.set(w.image, { sizeBytes: detail.imageSizeInBytes, digest: detail.imageDigest, ...(detail.imagePushedAt ? { pushedAt: detail.imagePushedAt.getTime() } : {}) });
        }
      }
      return out;
    } catch (err) {
      const info = classifyAwsError(err);
      if (info.kind !== 'not-found') throw err;
      // No repository: none of its images is there. One image missing fails the whole call.
      if (info.name === 'RepositoryNotFoundException') return out;
    }
    if (wanted.length === 1) return out;
    // One of them is missing: each alone.
    for (const w of wanted) for (const [image, detail] of await this.describe(registryId, repositoryName, [w])) out.set(image, detail);
    return out;
  }
}
