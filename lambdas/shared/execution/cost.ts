// Usage and cost of builds as the execution Lambdas see them: each stopped task's usage goes
// on its stage (once), and a finished build is priced from its stages' usage (core/cost). On
// ports only; the prices come through CostDeps (wiring.ts).

import { isStageDone } from '../../../core/builds/status.js';
import type { TaskStateChangeDetail } from '../../../core/builds/task-event.js';
import type { Build, Stage, StepRecord } from '../../../core/builds/types.js';
import { buildCost } from '../../../core/cost/build-cost.js';
import { pricesFor } from '../../../core/cost/price-table.js';
import { taskUsage } from '../../../core/cost/task-usage.js';
import type { BuildCost } from '../../../core/cost/types.js';
import { segmentJob } from '../../../core/scaling/job.js';
import type { ExecutionDeps } from './deps.js';

type CostingDeps = Pick<ExecutionDeps, 'cost' | 'log'>;

/** The cost of a build from its stages' recorded usage; undefined (and a log line) when it cannot be priced. */
export async function costOfBuild(deps: CostingDeps, buildId: string, stages: Stage[], steps: StepRecord[]): Promise<BuildCost | undefined> {
  if (!deps.cost) return undefined;
  const tasks = stages.flatMap((s) => Object.values(s.usage ?? {}));
  let table: Awaited<ReturnType<NonNullable<ExecutionDeps['cost']>['prices']>>;
  try {
    table = await deps.cost.prices();
  } catch (err) {
    // Finishing the build matters more than its price: it ends without a cost, and says why.
    deps.log('build not priced: the price table could not be read', { buildId, error: (err as Error).message });
    return undefined;
  }
  const prices = pricesFor(table, deps.cost.region);
  if (!prices) {
    deps.log(`build not priced: the price table has no prices for ${deps.cost.region} (set the stack's prices setting)`, { buildId });
    return undefined;
  }
  return buildCost({ tasks, stages: stages.length, steps: steps.length }, { region: deps.cost.region, prices, asOf: table.asOf, source: table.source });
}

/**
 * A task stopped: what it used goes on its stage, once. When the build had already finished
 * (cancelled, or its stage ended before the task did), its cost is computed again with it.
 */
export async function recordStoppedTask(deps: ExecutionDeps, buildId: string, stage: Stage, detail: TaskStateChangeDetail): Promise<void> {
  if (!deps.cost || detail.lastStatus !== 'STOPPED') return;
  const stored = await deps.stages.getStageJob(buildId, stage.number);
  const shape = stored ? segmentJob(stored, stage.segment ?? 1) : null;
  const usage = taskUsage(detail, { shape, ...(stage.capacity ? { capacity: stage.capacity } : {}), publicIpv4: deps.cost.publicIpv4 });
  const recorded = await deps.stages.recordTaskUsage(buildId, stage.number, usage);
  if (!recorded) return;
  const build = await deps.store.getBuild(buildId);
  if (build && isStageDone(build.status)) await repriceBuild(deps, build);
}

async function repriceBuild(deps: ExecutionDeps, build: Build): Promise<void> {
  const { stages, steps } = await deps.store.listStagesAndSteps(build.id);
  const cost = await costOfBuild(deps, build.id, stages, steps);
  if (cost) await deps.store.updateBuild(build.id, { cost });
}
