// ECS's hard limits that shape a compiled stage, measured the way ECS measures them.

/** Containers per task definition (not adjustable). */
export const MAX_CONTAINERS = 10;
/** Bytes of a RegisterTaskDefinition request's JSON. */
export const MAX_DEFINITION_BYTES = 64 * 1024;
/** Characters of a RunTask request's `overrides`. */
export const MAX_OVERRIDE_CHARS = 8192;
/** `clientToken` of RunTask. */
export const MAX_CLIENT_TOKEN = 64;
/**
 * A task's ephemeral storage, GiB: Fargate gives 20 without `ephemeralStorage`; ECS accepts
 * 21 to 200 (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_EphemeralStorage.html).
 */
export const EPHEMERAL_STORAGE = { default: 20, min: 21, max: 200 } as const;
/** Health check bounds, seconds. */
export const HEALTH = {
  interval: { min: 5, max: 300 },
  timeout: { min: 2, max: 60 },
  retries: { min: 1, max: 10 },
  startPeriod: { min: 0, max: 300 },
} as const;

export function clamp(value: number, bounds: { min: number; max: number }): number {
  return Math.min(bounds.max, Math.max(bounds.min, Math.round(value)));
}

export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

export function jsonChars(value: unknown): number {
  return JSON.stringify(value).length;
}
