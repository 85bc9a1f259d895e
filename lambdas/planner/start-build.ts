// What follows a build's creation (and a retried message's resume): its ready stages on the
// jobs queue, the autoscaler nudged, and the "pending" commit status — beside them, not
// before them. The path from the webhook to RunTask waits for no Git host call but the one
// that cannot move: reading the pipeline file at the commit, without which there is nothing
// to plan (which pipelines run, their task definitions). The status says only that a build
// exists, and no step of the path reads its answer.
//
// A pending status sent beside the queue can reach the host after the build's final status:
// a stage that cannot start ends the build within a second, and the final status is posted
// by another invocation (build-finished.ts). A late "pending" can then leave the commit
// pending for good: GitHub shows the most recent status of each context as the commit's
// (REST "Get the combined status for a specific reference": "The most recent status for each
// context is returned", https://docs.github.com/rest/commits/statuses), and so does Gitea
// (models/git/commit_status.go, GetLatestCommitStatus: the highest index per context); GitLab
// adds each post to the commit's latest pipeline as an external job
// (https://docs.gitlab.com/ci/ci_cd_for_external_repos/external_commit_statuses), and which
// of a name's it shows is not checked here. The rule below holds whatever a host keeps: every
// final status is posted only once the build is finished in the table (build-finished.ts
// reads it so), and after its pending status is answered the planner reads the build again
// (consistently); if it is finished by then, its final status is posted once more. Either the
// final post began after that read, and so after the pending one was answered, or the read
// sees the build finished: the last status the host receives is the final one, under
// duplicates and any reordering.

import { readyStages } from '../../core/builds/status.js';
import type { Build, Stage } from '../../core/builds/types.js';
import type { StageJob } from '../../core/scaling/job.js';
import { buildCommitStatus } from '../../core/scm/commit-state.js';
import { hostMayAnswerLater } from '../../core/scm/config-failure.js';
import { withRetry, type RetryOptions } from '../../core/util/retry.js';
import type { ScmRepo } from '../shared/scm.js';
import { postFinishedStatus } from './build-finished.js';
import type { PlannerDeps } from './plan-event.js';

/** A host that did not answer or failed gets two more tries; the path to RunTask does not wait for them. */
export const PENDING_STATUS_RETRY = { attempts: 3, baseMs: 500, maxMs: 4000 } as const satisfies Pick<RetryOptions, 'attempts' | 'baseMs' | 'maxMs'>;

export type StartBuildDeps = Pick<PlannerDeps, 'scm' | 'jobs' | 'nudge' | 'publicUrl' | 'log' | 'statusRetry' | 'now'> & {
  store: Pick<PlannerDeps['store'], 'getBuild' | 'listStages' | 'getRepository'>;
  stages: Pick<PlannerDeps['stages'], 'getStageJob'>;
};

/**
 * Queues the build's ready stages and nudges the autoscaler while its pending status is
 * posted (`repo` undefined: a host Slipway cannot post to). Resolves once all three are done,
 * with the stage numbers queued. `known`: the jobs just written (a fresh build), not read back.
 */
export async function startBuild(repo: ScmRepo | undefined, build: Build, stages: readonly Stage[], deps: StartBuildDeps, known: readonly StageJob[] = []): Promise<number[]> {
  const pending = repo ? announcePending(repo, build, deps) : Promise.resolve();
  try {
    const enqueued = await enqueueReady(build, stages, deps, known);
    await nudge(deps);
    return enqueued;
  } finally {
    // Its own failures are logged inside; what is left (the final status could not be posted
    // again) fails the message, whose next delivery posts the final status (plan-event.ts resume).
    await pending;
  }
}

/** Posts the build's pending status, then makes sure the host's last status of it is not older than the build. */
export async function announcePending(repo: ScmRepo, build: Build, deps: StartBuildDeps): Promise<void> {
  try {
    await withRetry(() => deps.scm.postStatus(repo, build.commit, buildCommitStatus(build, deps.publicUrl)), {
      ...PENDING_STATUS_RETRY,
      retryable: (err) => hostMayAnswerLater(err),
      onRetry: (err, _info, attempt, delayMs) => deps.log('commit status retried', { buildId: build.id, attempt, delayMs, error: (err as Error).message }),
      ...deps.statusRetry,
    });
  } catch (err) {
    // Commit statuses are for people: a host that refuses one must not stop the build.
    deps.log('commit status not posted', { buildId: build.id, status: build.status, error: (err as Error).message });
    return;
  }
  // A build finished at its creation (every pipeline in error) had its final status in that post.
  if (build.status !== 'pending' && build.status !== 'running') return;
  const now = await deps.store.getBuild(build.id);
  if (!now || now.status === 'pending' || now.status === 'running') return;
  deps.log('build finished while its pending status was sent: its final status is posted again', { buildId: build.id, status: now.status });
  await postFinishedStatus({ version: 1, kind: 'build-finished', buildId: build.id, sentAt: deps.now() }, deps);
}

async function enqueueReady(build: Build, stages: readonly Stage[], deps: StartBuildDeps, known: readonly StageJob[]): Promise<number[]> {
  const ready = readyStages(stages);
  for (const stage of ready) {
    const job = known.find((j) => j.stageNumber === stage.number) ?? (await deps.stages.getStageJob(build.id, stage.number));
    if (!job) throw new Error(`planner: stage ${stage.number} of ${build.id} has no stored job`);
    await deps.jobs.enqueue(job);
  }
  return ready.map((s) => s.number);
}

async function nudge(deps: Pick<PlannerDeps, 'nudge' | 'log'>): Promise<void> {
  try {
    await deps.nudge();
  } catch (err) {
    // The scheduled pass starts the stages a minute later at the latest.
    deps.log('autoscaler nudge failed', { error: (err as Error).message });
  }
}
