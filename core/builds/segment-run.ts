// The control plane's decisions for a stage split into consecutive tasks (segments,
// docs/design/split-pipelines.md), as pure functions for the task-events handler and the
// autoscaler: whether a segment's end starts the next one, how long the next one may run,
// and the RunTask idempotency key of each segment.

import type { StageOutcomeReason } from './types.js';

export { segmentRunKey } from '../pipeline/segments.js';

/** What the segments after this one hold (from the compiled segments' step kinds). */
export interface LaterSegments {
  /** A step that runs when the build is failing (`when: status: [failure]`, or both). */
  runOnFailure: boolean;
  /** A step that runs on success and failure alike: it runs after Drone's early exit (78) too. */
  runAlways: boolean;
}

export type AfterSegment =
  /** Start segment `number` (enqueue its job). */
  | { kind: 'next'; number: number }
  /** The stage ends with this segment's outcome; `skipRest` when later segments' steps are reported skipped. */
  | { kind: 'end'; skipRest: boolean; why: string };

/**
 * After segment `number` of `count` ended with `reason`. The next segment runs when the
 * steps passed; after a failure, only when a later step runs on failure (its plain steps
 * then skip themselves, segment-script.ts); after an early exit (a step exited 78, Drone's
 * "skip the rest"), only when a later step runs always. Any other end (timeout, cancel,
 * service not ready, the agent's error, a lost task) ends the stage: nothing later runs.
 */
export function afterSegment(input: { number: number; count: number; reason: StageOutcomeReason; earlyExit: boolean; later: LaterSegments }): AfterSegment {
  const { number, count, reason, earlyExit, later } = input;
  if (number >= count) return { kind: 'end', skipRest: false, why: 'the last segment ended' };
  if (reason !== 'steps-passed' && reason !== 'step-failed') return { kind: 'end', skipRest: true, why: `segment ${number} ended the stage (${reason})` };
  const next = { kind: 'next' as const, number: number + 1 };
  if (reason === 'step-failed') return later.runOnFailure || later.runAlways ? next : { kind: 'end', skipRest: true, why: 'a step failed and no later step runs on failure' };
  if (earlyExit) return later.runAlways ? next : { kind: 'end', skipRest: true, why: 'a step exited 78: the rest of the pipeline is skipped' };
  return next;
}

/**
 * Seconds the next segment may run: the pipeline's timeout counts across segments (from
 * the first segment's start), each gets what is left. Undefined when nothing is left: the
 * stage has timed out between segments.
 */
export function segmentTimeoutSeconds(timeoutMinutes: number, firstStartedAt: number, now: number): number | undefined {
  const left = Math.floor((timeoutMinutes * 60_000 - Math.max(0, now - firstStartedAt)) / 1000);
  return left >= 1 ? left : undefined;
}



/** What the segments after `number` hold, from their step containers' kinds (core/pipeline/segments.ts). */
export function laterSegments(segments: readonly { number: number; containers: readonly { kind: 'plain' | 'always' | 'failure-only' }[] }[], number: number): LaterSegments {
  const kinds = segments.filter((s) => s.number > number).flatMap((s) => s.containers.map((c) => c.kind));
  return { runOnFailure: kinds.includes('failure-only') || kinds.includes('always'), runAlways: kinds.includes('always') };
}

/**
 * Presigned URLs of the snapshot bucket (S3 when deployed: adapters/s3/snapshot-urls.ts;
 * local mode's stand-in: local/snapshot-bucket.ts). A PUT URL is signed with
 * `If-None-Match: *`, which its user must send: a snapshot is written once.
 */
export interface SnapshotUrls {
  url(key: string, method: 'GET' | 'PUT', expiresInSeconds: number): Promise<string>;
}

/**
 * A snapshot URL that cannot be signed as the segment needs it (credentials that expire
 * before the URL must work, a URL longer than RunTask's overrides keep for it): a
 * deployment's configuration, not a passing fault, so the segment does not start.
 */
export class SnapshotUrlError extends Error {
  override readonly name = 'SnapshotUrlError';
}
