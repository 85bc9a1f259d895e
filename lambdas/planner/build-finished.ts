// A finished build's final commit status: the API (a build cancelled before any task ran)
// and the execution Lambdas (task-events, the autoscaler's reconciliation), which hold no
// Git host credentials, queue a "build-finished" message and the planner, which does,
// posts the status here. A host that fails is retried with the message, then it is
// dead-lettered.

import { buildFailureSummary, isStageDone } from '../../core/builds/status.js';
import type { BuildFinishedMessage } from '../../core/scm/types.js';
import { postBuildStatus } from '../shared/scm.js';
import type { PlannerDeps } from './plan-event.js';

export type FinishedOutcome = { kind: 'posted'; buildId: string; status: string } | { kind: 'skipped'; reason: string };

export async function postFinishedStatus(
  message: BuildFinishedMessage,
  deps: Pick<PlannerDeps, 'scm' | 'publicUrl' | 'log'> & { store: Pick<PlannerDeps['store'], 'getBuild' | 'listStages' | 'getRepository'> },
): Promise<FinishedOutcome> {
  const build = await deps.store.getBuild(message.buildId);
  if (!build) return { kind: 'skipped', reason: `build ${message.buildId} does not exist` };
  if (!isStageDone(build.status)) return { kind: 'skipped', reason: `build ${build.id} is ${build.status}, not finished` };
  // A failed build says why in its status, from its stages (the message of the first stage
  // that ended the way the build did).
  const summary = build.error === undefined ? buildFailureSummary(build.status, await deps.store.listStages(build.id)) : undefined;
  try {
    await postBuildStatus(deps.scm, (slug) => deps.store.getRepository(slug), summary === undefined ? build : { ...build, error: summary }, deps.publicUrl);
  } catch (err) {
    const status = (err as { status?: number }).status;
    // A host that is down or throttling may answer later: the message is retried, then dead-lettered.
    if (status === undefined || status === 429 || status >= 500) throw err;
    deps.log('commit status not posted', { buildId: build.id, status: build.status, error: (err as Error).message });
    return { kind: 'skipped', reason: `the Git host refused the status: ${(err as Error).message}` };
  }
  deps.log('final commit status posted', { buildId: build.id, status: build.status });
  return { kind: 'posted', buildId: build.id, status: build.status };
}
