// What `slipway doctor` asks the planner, and what the planner answers. The planner holds
// the Git host credentials, so it makes the Git host call itself and answers with the
// host's status and message only: no token, no key, no secret leaves the stack. Deployed,
// the doctor invokes the planner function directly (Lambda Invoke, with the operator's
// credentials); locally, `slipway up` answers the same Invoke request.

import type { HookHost } from '../scm/types.js';

/** The event that marks a direct invocation as the doctor's (the events queue never sends one). */
export type PlannerDoctorRequest = { slipwayDoctor: 'git-host'; repo: string } | { slipwayDoctor: 'hello' };

export type GitHostProbeAnswer =
  /** The host answered the repository's API resource: 200 is readable with the configured credentials. */
  | { kind: 'answered'; host: HookHost; repo: string; apiUrl: string; status: number; message: string }
  /** No answer at all (DNS, TLS, timeout, no route). */
  | { kind: 'unreachable'; host: HookHost; repo: string; apiUrl: string; error: string }
  /** The host's configuration cannot locate the repository or mint a token (no apiUrl, a bad App key). */
  | { kind: 'not-configured'; host: HookHost; repo: string; reason: string }
  | { kind: 'not-activated'; repo: string; reason: string }
  /** A repository of local mode, read from a directory on this machine. */
  | { kind: 'local'; repo: string; path: string };

export type HelloAnswer = { kind: 'planned'; buildId: string; repo: string; number: number } | { kind: 'not-planned'; reason: string };

export function isPlannerDoctorRequest(event: unknown): event is PlannerDoctorRequest {
  if (typeof event !== 'object' || event === null || !('slipwayDoctor' in event)) return false;
  const request = event as Record<string, unknown>;
  if (request.slipwayDoctor === 'hello') return true;
  return request.slipwayDoctor === 'git-host' && typeof request.repo === 'string' && /^[^/\s]+\/\S+$/.test(request.repo);
}
