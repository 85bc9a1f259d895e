// What one autoscaler pass works with and what it reports.

import type { ECSClient } from '@aws-sdk/client-ecs';
import type { Stage } from '../../core/builds/types.js';
import type { StageJob } from '../../core/scaling/job.js';
import type { JobQueue, JobQueueReader } from '../../core/scaling/job-queue.js';
import type { ExecutionDeps } from '../shared/execution/deps.js';
import type { ExecutionConfig } from './config.js';
import type { ReconcileReport } from './reconcile.js';
import type { CloneTokenMinter } from '../shared/clone-tokens.js';
import type { SnapshotUrls } from '../../core/builds/segment-run.js';
import type { Ec2Fleet } from '../../core/scaling/ec2-fleet.js';
import type { PrepullDeps } from './prepull.js';
import type { IndexImageDeps } from './index-image.js';

export interface AutoscalerDeps extends ExecutionDeps {
  /** The jobs queue, read as well as written: new announcements are sampled each pass. */
  jobs: JobQueue & JobQueueReader;
  ecs: ECSClient;
  config: ExecutionConfig;
  /**
   * Writes a GitHub App clone token where the job's task definition reads it, just before
   * RunTask (lambdas/shared/clone-tokens.ts); nothing for a job that reads none.
   */
  cloneTokens?: CloneTokenMinter;
  /** Presigned URLs of the snapshot bucket, for split stages (core/builds/segment-run.ts); absent: such a stage cannot start. */
  snapshotUrls?: SnapshotUrls;
  /** The EC2 capacity's instances (adapters/ec2/fleet.ts); absent: ECS places EC2 stages itself (local mode). */
  fleet?: Ec2Fleet;
  /** The lists of images EC2 instances pull ahead at boot (prepull.ts); absent: not kept (local mode, Bottlerocket, turned off). */
  prepull?: PrepullDeps;
  /** SOCI-enabled copies (index-image.ts): the store and ECR's sizes; with config.soci, index-image jobs are taken. */
  soci?: Pick<IndexImageDeps, 'store' | 'describe'>;
}

export interface PassReport {
  /** Job messages read (and deleted) this pass. */
  sampled: number;
  /** Stages waiting in the table this pass (what the decision saw). */
  waiting: number;
  started: { stageKey: string; taskArn: string; capacity: string; webhookToRunTaskMs?: number; queueWaitMs: number }[];
  deferred: { stageKey: string; reason: string }[];
  failed: { stageKey: string; message: string }[];
  /** Starts that failed and will be tried again (capacity refusals, errors worth a retry). */
  runTaskFailures: { stageKey: string; reason: string; kind: 'capacity' | 'retry' | 'ec2-wait' }[];
  reconcile?: ReconcileReport;
  /**
   * Fargate CPU units of the vCPU quota in use after the pass's starts: running tasks, service
   * tasks of split stages and SOCI converter tasks, the latter two also counted apart
   * (`serviceTaskUnits`, `converterUnits`; core/scaling/decide-scale.ts). The pass's log line has it.
   */
  vcpu?: { usedUnits: number; serviceTaskUnits: number; converterUnits: number; quotaUnits: number };
  /** Service tasks of split stages stopped because their stage was done. */
  serviceTasksStopped?: string[];
  /** Split stages whose service task was gone: their segment stopped, the stage ended `error`. */
  segmentsWithoutServices?: string[];
  /** What the pass did to the EC2 capacity: each group's desired capacity and the instances it terminated. */
  ec2?: { desired: Partial<Record<string, number>>; terminated: string[] };
  /** The prepull lists refreshed before a scale-out (prepull.ts), when they were. */
  prepull?: { arch: string; images: number; result: 'written' | 'unchanged' }[];
  /** The index-image jobs taken (index-image.ts): what each came to, by source digest. */
  indexImages?: { digest: string; outcome: string }[];
}

/** A stage the pass may start, with its job. */
export interface Waiting {
  job: StageJob;
  stage: Stage;
}

/** Queued (its dependencies are done) and not yet claimed by a task. */
export function isWaiting(stage: Stage): boolean {
  return stage.status === 'pending' && stage.queuedAt !== undefined && stage.taskArn === undefined;
}

/** Every active stage of a status, through the active-stages index (all pages). */
export async function listAll(deps: AutoscalerDeps, status: 'pending' | 'running'): Promise<Stage[]> {
  const out: Stage[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.store.listActiveStages(status, { limit: 100, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  return out;
}
