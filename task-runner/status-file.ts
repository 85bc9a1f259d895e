// The stage's status as the next step to start should see it (Drone recomputes it before
// every step: runner-go pipeline/runtime/execer.go combines environ.Build, environ.Stage and
// environ.Step of the current state). The agent writes it to STATUS_FILE before the first
// step and again whenever a step ends; every step's wrapper sources it after the env file.

import { STATUS_ENDED_VAR, type AgentStepPlan, type UpstreamState } from '../core/pipeline/contract.js';
import { runEnvironment, shellExports } from '../core/pipeline/environment.js';
import { exitPassed, isFinal, type StepStates } from './decide-steps.js';
import { writeEnvFile } from './env-file.js';

export interface StatusInput {
  steps: readonly AgentStepPlan[];
  states: StepStates;
  upstream: UpstreamState;
  /** Unix seconds the agent started: the stage's start. */
  stageStarted: number;
  /** Unix seconds now. */
  now: number;
  /**
   * What of the setup failed, by the name its step record has: `clone` (Drone's clone step is
   * then a failed step of the stage), or the service that was not ready.
   */
  setupFailed?: readonly string[];
}

/**
 * Steps that failed so far, by step name, as runner-go environ.failedSteps counts them: a
 * failure that is not ignored. A detached step's end is not watched in Drone (it runs in
 * the background), a step that never ran is skipped there, and 78 passes.
 */
export function failedStepNames(steps: readonly AgentStepPlan[], states: StepStates): string[] {
  const out: string[] = [];
  for (const step of steps) {
    const state = states[step.container];
    if (step.detach || step.failure === 'ignore' || state?.phase !== 'exited' || exitPassed(state.exitCode)) continue;
    out.push(...step.steps);
  }
  return out;
}

/** The file's content: `export` lines, then the containers it accounts for. */
export function statusFileContent(input: StatusInput): string {
  const failedSteps = [...(input.setupFailed ?? []), ...failedStepNames(input.steps, input.states)];
  const env = runEnvironment(
    { failedStages: input.upstream.failedStages, failedSteps },
    { buildStarted: input.upstream.buildStarted ?? input.stageStarted, stageStarted: input.stageStarted, now: input.now },
  );
  const ended = input.steps.filter((step) => isFinal(input.states[step.container])).map((step) => step.container);
  return `${shellExports(env)}${STATUS_ENDED_VAR}=' ${ended.join(' ')} '\n`;
}

/**
 * Writes the file when its content changed, ignoring the clock (DRONE_*_FINISHED is "now":
 * a wrapper takes its own clock when it has `date`). Returns the content compared next time.
 */
export class StatusWriter {
  private last: string | undefined;
  constructor(private readonly path: string) {}

  async write(input: StatusInput): Promise<void> {
    const key = statusFileContent({ ...input, now: 0 });
    if (key === this.last) return;
    await writeEnvFile(this.path, statusFileContent(input));
    this.last = key;
  }
}
