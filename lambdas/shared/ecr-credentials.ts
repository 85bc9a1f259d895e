// Registry logins for private Amazon ECR images, minted by ECR itself: the planner's role
// calls ecr:GetAuthorizationToken, whose token (base64 `AWS:<password>`) is Basic
// credentials for every ECR registry of that region the role may read (other accounts'
// repositories grant by policy). A static `registries` entry cannot do this: the token
// lasts 12 hours.

import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import type { RegistryCredentials, RegistryCredentialsByRegistry } from '../../core/images/types.js';

/** `<account>.dkr.ecr.<region>.amazonaws.com` and the China partition's `….amazonaws.com.cn`. */
const ECR_HOST = /^\d{12}\.dkr\.ecr\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$/;

/** The region of an ECR registry host, or undefined when the registry is not ECR. */
export function ecrRegion(registry: string): string | undefined {
  return ECR_HOST.exec(registry.toLowerCase())?.[1];
}

/** Credentials for one registry, or undefined when this source has none for it. */
export type RegistryCredentialSource = (registry: string) => Promise<RegistryCredentials | undefined>;

export interface EcrCredentialsOptions {
  /** The client that asks ECR in a region; default one `ECRClient` per region. */
  clientFor?: (region: string) => ECRClient;
  /** Which registries are ECR, and in which region; default `ecrRegion` (injected by tests, whose registry is on loopback). */
  regionOf?: (registry: string) => string | undefined;
  /** Renewed this long before ECR says it expires; default 15 minutes. */
  refreshMarginMs?: number;
  now?: () => number;
}

/**
 * Credentials for ECR registries, one token per region, kept until shortly before it
 * expires; concurrent callers share one request. A failed request is not remembered and
 * throws (prefix `ecr:`), so the lookup fails as transient and is tried again.
 */
export function ecrCredentialsSource(options: EcrCredentialsOptions = {}): RegistryCredentialSource {
  const clients = new Map<string, ECRClient>();
  const clientFor = options.clientFor ?? ((region) => clients.get(region) ?? clients.set(region, new ECRClient({ region })).get(region)!);
  const regionOf = options.regionOf ?? ecrRegion;
  const margin = options.refreshMarginMs ?? 15 * 60_000;
  const now = options.now ?? Date.now;
  const tokens = new Map<string, { credentials: RegistryCredentials; renewAt: number }>();
  const pending = new Map<string, Promise<RegistryCredentials>>();

  const fetchToken = async (region: string): Promise<RegistryCredentials> => {
    let answer;
    try {
      answer = await clientFor(region).send(new GetAuthorizationTokenCommand({}));
    } catch (err) {
      const e = err as Error;
      throw new Error(`ecr: GetAuthorizationToken in ${region} failed (${e.name}: ${e.message}); the planner's role needs ecr:GetAuthorizationToken`);
    }
    const data = answer.authorizationData?.[0];
    const decoded = Buffer.from(data?.authorizationToken ?? '', 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0 || colon === decoded.length - 1) {
      throw new Error(`ecr: GetAuthorizationToken in ${region} answered without a usable token; expected base64 of "AWS:<password>"`);
    }
    const credentials = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    // Without an expiry the token is used for this lookup only.
    if (data?.expiresAt) tokens.set(region, { credentials, renewAt: data.expiresAt.getTime() - margin });
    return credentials;
  };

  return async (registry) => {
    const region = regionOf(registry);
    if (region === undefined) return undefined;
    const kept = tokens.get(region);
    if (kept && now() < kept.renewAt) return kept.credentials;
    const inFlight = pending.get(region) ?? fetchToken(region).finally(() => pending.delete(region));
    pending.set(region, inFlight);
    return inFlight;
  };
}

/**
 * The lookup's credentials for a registry: an explicit `registries` entry wins; otherwise
 * what `minted` has for it (ECR). The explicit ones are read first, as before.
 */
export function withMintedCredentials(
  explicit: () => Promise<RegistryCredentialsByRegistry>,
  minted: RegistryCredentialSource,
): (registry: string) => Promise<RegistryCredentialsByRegistry> {
  return async (registry) => {
    const given = await explicit();
    if (given[registry]) return given;
    const credentials = await minted(registry);
    return credentials ? { ...given, [registry]: credentials } : given;
  };
}
