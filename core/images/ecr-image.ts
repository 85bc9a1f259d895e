// Which private ECR registry and repository an image reference names. Pure.
//
// The registry host, in every form a pull may name it: `<account>.dkr.ecr.<region>.amazonaws.com`,
// its China (`.amazonaws.com.cn`) and FIPS (`dkr.ecr-fips`) forms, and the dual-stack
// `<account>.dkr-ecr.<region>.on.aws` (https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-requests.html),
// with or without a port. Host names are case-insensitive.

import { parseImageReference } from './reference.js';

const ECR_HOST = /^(\d{12})\.(?:dkr\.ecr(?:-fips)?|dkr-ecr(?:-fips)?)\.([a-z0-9-]+)\.(?:amazonaws\.com(?:\.cn)?|on\.aws)(?::\d+)?$/;

/** An image of a private ECR registry. */
export interface EcrImage {
  accountId: string;
  region: string;
  /** The repository name (`team/app`), as an ECR repository ARN ends. */
  repository: string;
  /** The tag the reference names, if any (none: `latest` to a pull, unless a digest is named). */
  tag?: string;
  /** The digest the reference names, if any (what a pull takes when both are named). */
  digest?: string;
}

/** The account and Region of an ECR registry host, or undefined when the host is not one. */
export function ecrRegistryOf(domain: string): { accountId: string; region: string } | undefined {
  const match = ECR_HOST.exec(domain.toLowerCase());
  return match ? { accountId: match[1]!, region: match[2]! } : undefined;
}

/** The ECR registry, repository, tag and digest `image` names; undefined for another registry or a reference that does not parse. */
export function ecrImageOf(image: string): EcrImage | undefined {
  const parsed = parseImageReference(image);
  if (!parsed.ok) return undefined;
  const registry = ecrRegistryOf(parsed.ref.domain);
  if (!registry) return undefined;
  const { repository, tag, digest } = parsed.ref;
  return { ...registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}
