// Watches the step containers until every non-detached step has ended or can never
// start. Each round: the metadata endpoint (tolerating failures with back-off), the exit
// records, the pure decisions of decide-steps.ts, then the final records it owes (steps
// that run on a status wait for them), before it may decide it is done.

import { AGENT_LINE, type AgentStepPlan } from '../core/pipeline/contract.js';
import { METADATA_ERROR_BACKOFF, backoffDelay, sleep } from './backoff.js';
import type { ContainerView } from './container-view.js';
import { decideStepStates, failedFast, isFinal, recordsToWrite, stepReports, supervisionDone, type StepStates } from './decide-steps.js';
import { fetchTaskMetadata } from './metadata.js';
import type { Reporter } from './report.js';
import { readStepRecords, replaceEmptyExitRecord, writeFinalRecord } from './step-records.js';

export interface SuperviseOptions {
  steps: readonly AgentStepPlan[];
  metadataUri: string | undefined;
  stepsDir: string;
  pollMs: number;
  signal: AbortSignal;
  reporter: Reporter;
  /** Why the setup failed, when it did: the steps that wait for the agent to be healthy are skipped (decideStepStates). */
  setupFailed?: string;
  /** Called each round once the states are decided and the owed records written (the status file). */
  onStates?: (states: StepStates) => Promise<void>;
}

export interface Supervision {
  /** The last decided states (also when stopped by the signal). */
  states: StepStates;
  done: boolean;
  /** The step with `failure: fast` that failed and ended the supervision early (failedFast). */
  failedFast?: string;
}

export async function supervise(options: SuperviseOptions): Promise<Supervision> {
  const { steps, reporter, signal } = options;
  let containers: Record<string, ContainerView> = {};
  let states: StepStates = {};
  let errorStreak = 0;

  for (;;) {
    if (options.metadataUri !== undefined) {
      const result = await fetchTaskMetadata(options.metadataUri);
      if (result.ok) {
        if (errorStreak > 0) reporter.progress(`metadata endpoint answers again after ${errorStreak} failed polls`);
        errorStreak = 0;
        containers = result.task.containers;
      } else {
        // Keep the last known view: a transient failure must not look like a change.
        if (errorStreak === 0) reporter.progress(`${result.error} (retrying)`);
        errorStreak += 1;
      }
    }
    const records = await readStepRecords(options.stepsDir);
    const next = decide(records);
    announce(steps, states, next, reporter);
    states = next;
    for (const record of recordsToWrite(steps, states, records.recorded)) {
      await writeFinalRecord(options.stepsDir, record.container, record.kind, record.text);
    }
    if (options.onStates) await options.onStates(states);
    // An empty exit record is no record yet; once ECS reports its container stopped, the
    // wrapper was stopped while writing it, and it would stay empty: ECS's exit code goes there.
    for (const container of records.emptyExits) {
      const state = states[container];
      if (state?.phase !== 'exited') continue;
      const code = state.exitCode === null ? 'unknown' : String(state.exitCode);
      if (await replaceEmptyExitRecord(options.stepsDir, container, code)) {
        reporter.progress(`step ${container}: its exit record was empty (the step was stopped while writing it): recorded the exit code ECS reports, ${code}`);
      }
    }
    for (const step of steps) {
      if (isFinal(states[step.container])) {
        for (const report of stepReports(step, states[step.container], 'complete')) reporter.step(report);
      }
    }
    const fast = failedFast(steps, states);
    if (fast !== undefined) return { states, done: true, failedFast: fast.container };
    if (supervisionDone(steps, states)) return { states, done: true };
    if (signal.aborted) return { states, done: false };
    const delay = errorStreak > 0 ? Math.max(options.pollMs, backoffDelay(errorStreak - 1, METADATA_ERROR_BACKOFF)) : options.pollMs;
    await sleep(delay, signal);
    if (signal.aborted) {
      // The records once more: a step whose commands started since the last round (its
      // `.started` marker) is reported killed with its start, not skipped as still waiting.
      states = decide(await readStepRecords(options.stepsDir));
      return { states, done: false };
    }
  }

  function decide(records: Awaited<ReturnType<typeof readStepRecords>>): StepStates {
    return decideStepStates(steps, containers, records.exits, records.skipMarks, Date.now(), options.setupFailed, { skipReasons: records.skipReasons, started: records.started });
  }
}

/** Progress lines for people: a step started, ended, or can no longer start. */
function announce(steps: readonly AgentStepPlan[], before: StepStates, after: StepStates, reporter: Reporter): void {
  for (const step of steps) {
    const was = before[step.container]?.phase ?? 'waiting';
    const now = after[step.container];
    if (now === undefined || now.phase === was) continue;
    // With its start: a step that waits in its wrapper started when its commands did, which
    // the control plane reads here while the stage runs (core/builds/step-starts.ts).
    // A step whose commands started and ended within one poll jumps from waiting to exited:
    // its start is said first all the same, else the control plane could not read it before the stage ends.
    const startedNow = now.phase === 'running' || (now.phase === 'exited' && was === 'waiting' && now.startedAt !== undefined);
    if (startedNow) {
      const at = now.startedAt === undefined ? AGENT_LINE.stepStarted : `${AGENT_LINE.stepStartedAt}${now.startedAt}`;
      reporter.progress(`${AGENT_LINE.step}${step.container}${at}${step.detach ? ' (detached)' : ''}`);
    }
    // With its end: the control plane reads it while the stage runs (core/builds/step-ends.ts),
    // since a container that stays up for a later step's START has not stopped for ECS's events.
    if (now.phase === 'exited') {
      const at = now.finishedAt === undefined ? '' : `${AGENT_LINE.stepEndedAt}${now.finishedAt}`;
      reporter.progress(`${AGENT_LINE.step}${step.container}${AGENT_LINE.stepExited}${now.exitCode ?? 'unknown'}${at}`);
    }
    if (now.phase === 'unreachable') reporter.progress(`step ${step.container} will not run: ${now.reason}`);
    if (now.phase === 'skipped') reporter.progress(`step ${step.container} skipped: ${now.reason}`);
  }
}
