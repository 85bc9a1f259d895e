// What the execution Lambdas (autoscaler, task-events) need from the world: ports (core/),
// injected so that tests run the same code on the in-memory stores or, with the adapters
// (wiring.ts), against the local stand-ins.

import type { BuildStore, StageStore } from '../../../core/builds/ports.js';
import type { Build } from '../../../core/builds/types.js';
import type { JobQueue } from '../../../core/scaling/job-queue.js';
import type { AgentResult } from '../../../core/pipeline/contract.js';
import type { Log } from '../observability/logger.js';
import type { SlipwayMetrics } from '../observability/metrics.js';
import type { PriceTable } from '../../../core/cost/price-table.js';

/** What pricing a build needs (core/cost). */
export interface CostDeps {
  /** The AWS Region the builds run in: its prices apply. */
  region: string;
  /** Build tasks get a public IPv4 address (assignPublicIp ENABLED), billed per hour. */
  publicIpv4: boolean;
  /** The price table in force (core/cost/ports.ts effectivePrices). */
  prices: () => Promise<PriceTable>;
}

export type AgentResultRead = { result: AgentResult } | { missing: string };

/** Reads the agent's result of a stopped task. Never throws: `missing` says why not (lambdas/task-events/agent-result.ts). */
export type AgentResultSource = (taskArn: string) => Promise<AgentResultRead>;

export interface ExecutionDeps {
  store: BuildStore;
  stages: StageStore;
  /** Where ready stages are announced (deployed: the jobs queue on SQS). */
  jobs: JobQueue;
  /**
   * Hands the build's final commit status to the retried, dead-lettered path to its Git
   * host (deployed: a build-finished message on the events queue, see commit-status.ts).
   * Throws when the hand-off failed: the caller's retry repeats it.
   */
  postBuildStatus: (build: Build) => Promise<void>;
  /** Asks the autoscaler for a pass now (capacity was freed or work was queued). */
  nudge: () => Promise<void>;
  now: () => number;
  log: Log;
  /** Builds finished, queue waits, RunTask failures (lambdas/shared/observability/metrics.ts); absent: nothing is counted. */
  metrics?: SlipwayMetrics;
  /**
   * Reads the agent's result line of a stopped task, for a stage message in its words.
   * Absent (the autoscaler's reconciliation, which may not read logs): the generic text.
   */
  agentResults?: AgentResultSource;
  /** Records each stopped task's usage and prices finished builds; absent: nothing is priced. */
  cost?: CostDeps;
}
