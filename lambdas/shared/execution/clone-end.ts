// A build as read while its stages run, with each running stage's clone as its agent's log
// shows it (core/builds/clone-end.ts): the API's build route and local mode's follow of a
// build use it, so that the clone shows passed (or failed) when it ended, not when a step
// that started with the task first passes.
//
// A clone seen passed is recorded so (forward only: from pending or running), so the log is
// read only until then. A failed one is shown and left to the stage's end to record, which
// adds git's exit code from the agent's result (core/builds/status.ts stepChanges).

import type { BuildStore } from '../../../core/builds/ports.js';
import { cloneEndFromAgentLog, withCloneEnd } from '../../../core/builds/clone-end.js';
import { isStepDone } from '../../../core/builds/status.js';
import { stepLogTask, type BuildDetail } from '../../../core/builds/types.js';
import { headPosition, type LogReader } from '../../../core/logs/log-reader.js';
import { logStreamName } from '../../../core/pipeline/log-configuration.js';

/** The agent's lines read from the head of its stream: the clone ends within its first ones, git's progress lines included. */
const AGENT_HEAD_LINES = 200;
/**
 * Stages whose agent's log one read of a build reads at most: the dashboard reads a running
 * build every second, and CloudWatch Logs' GetLogEvents quota is the account's, per Region, and
 * low (https://docs.aws.amazon.com/general/latest/gr/cwl_region.html; lambdas/shared/clients.ts):
 * the step logs read beside it share it. A pass found is recorded, so the next reads turn to the others.
 */
const MAX_AGENT_READS = 4;

export interface CloneEndDeps {
  store: Pick<BuildStore, 'updateStep'>;
  logs: LogReader;
  log(message: string, fields?: Record<string, unknown>): void;
}

export async function withCloneEnds<T extends BuildDetail>(deps: CloneEndDeps, detail: T): Promise<T> {
  const toRead = new Set(detail.stages.filter(cloneUnknown).slice(0, MAX_AGENT_READS));
  const stages = await Promise.all(
    detail.stages.map(async (stage) => {
      const clone = stage.steps.find((s) => s.kind === 'clone');
      const taskArn = clone && stepLogTask(stage, clone);
      if (!toRead.has(stage) || !clone || taskArn === undefined) return stage;
      let lines: { time: number; text: string }[];
      try {
        const page = await deps.logs.read(logStreamName(clone.container, taskArn), headPosition(0), AGENT_HEAD_LINES);
        lines = page.events.map((e) => ({ time: e.timestamp, text: e.message }));
      } catch (err) {
        // The build is still worth showing: its records stand until a later read.
        deps.log("clone: its agent's log could not be read; its record is shown as stored", { buildId: detail.id, stage: stage.number, taskArn, error: (err as Error).message });
        return stage;
      }
      const shown = withCloneEnd(clone, cloneEndFromAgentLog(lines), lines[0]?.time);
      if (shown === clone) return stage;
      if (shown.status === 'success') {
        await deps.store.updateStep(detail.id, stage.number, clone.number, { status: 'success', startedAt: shown.startedAt, finishedAt: shown.finishedAt, taskArn }, { fromStatuses: ['pending', 'running'] });
      }
      return { ...stage, steps: stage.steps.map((s) => (s === clone ? shown : s)) };
    }),
  );
  return { ...detail, stages };
}

/** A running stage whose clone's record is not final yet, and whose agent's log may say more. */
function cloneUnknown(stage: BuildDetail['stages'][number]): boolean {
  const clone = stage.steps.find((s) => s.kind === 'clone');
  // A later segment of a split stage starts from the first one's workspace: its clone is that one's.
  return stage.status === 'running' && clone !== undefined && !isStepDone(clone.status) && (stage.segment ?? 1) === 1 && stepLogTask(stage, clone) !== undefined;
}
