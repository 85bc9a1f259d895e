// The supervisor's decisions, as pure functions: what each step container is doing,
// which ones can never start, when the agent may stop waiting, and what to report.
// State in, decisions out; the polling loop in supervise.ts only feeds them.

import { AGENT_CONTAINER, EARLY_EXIT_CODE, SETUP_SKIPPED_EXIT_CODE, type AgentPlan, type AgentResult, type AgentStepPlan, type ContainerDependencyCondition, type StepReport } from '../core/pipeline/contract.js';
import type { ContainerView, ExitRecord } from './container-view.js';

export type StepState =
  /** Not started yet; it still may. */
  | { phase: 'waiting' }
  | { phase: 'running'; startedAt?: string }
  | { phase: 'exited'; exitCode: number | null; startedAt?: string; finishedAt?: string }
  /** Will never run: a dependency failed or ECS stopped it before it started. */
  | { phase: 'unreachable'; reason: string }
  /** Not run on purpose (a `when: status: failure` step while nothing failed); not a failure. */
  | { phase: 'skipped'; reason: string; started: boolean };

export type StepStates = Record<string, StepState>;

/** How the supervision ended, for the steps still open at that moment. */
export type Ending = 'complete' | 'failed-fast' | 'timed-out' | 'interrupted' | 'service-not-ready' | 'clone-failed' | 'error';

/** What one container looks like from the sources alone, before dependencies are considered. */
export const STATUS_GATE_SKIP = 'runs only when the build is failing, and no step failed';

/** A step's exit that does not fail it: 0, or Drone's early exit (78). */
export function exitPassed(exitCode: number | null): boolean {
  return exitCode === 0 || exitCode === EARLY_EXIT_CODE;
}

function earlyExitReason(dep: string): string {
  return `${dep} exited ${EARLY_EXIT_CODE}: the rest of the pipeline is skipped`;
}

/** What the step records say beyond exit codes (readStepRecords). */
export interface StepMarks {
  /** Why a `.skipped` marker skipped its step, when it says (the early-exit check does). */
  skipReasons?: Readonly<Record<string, string>>;
  /** `.started` markers of steps that wait in their wrapper (waitsInWrapper): their commands run (ISO time of the start). */
  started?: Readonly<Record<string, string>>;
}

/**
 * A step whose container starts before its commands may: one that runs on a status waits in
 * its wrapper for the steps before it, one with commands that runs while the build passes
 * (afterSetup) for the clone and the services (script.ts). Until its `.started` marker says
 * the wait is over it is pending, and its start is the marker's time, not its container's:
 * Drone's runner starts a step only once its dependencies are done (drone/runner-go
 * pipeline/runtime/execer.go: the dag runs a step's vertex after its dependencies', and
 * `state.Start` stamps its Started just before `engine.Run`). A plugin step has no wrapper: its gate container waits
 * instead (or ECS, for the agent's HEALTHY), and ECS starts the plugin after it.
 */
function waitsInWrapper(step: Pick<AgentStepPlan, 'whenStatus' | 'gate' | 'afterSetup'>): boolean {
  return step.gate === undefined && (step.whenStatus !== undefined || step.afterSetup === true);
}

/**
 * A plain step's wrapper that left without running its commands: SETUP_SKIPPED_EXIT_CODE beside
 * its `.skipped` marker and no `.started` one. After a failed setup, or once a step it comes
 * after could no longer let it run (script.ts, upstreamLines: it reads the records the agent
 * reads, with ECS's rules). Its verdict and reason are the agent's, as when ECS held such a step
 * back: the setup's failure, or its dependencies' states (propagate).
 */
function leftItsWait(step: AgentStepPlan, exit: ExitRecord | undefined, marks: StepMarks): boolean {
  return step.afterSetup === true && exit?.skipped === true && exit.exitCode === SETUP_SKIPPED_EXIT_CODE && marks.started?.[step.container] === undefined;
}

function observed(step: AgentStepPlan, view: ContainerView | undefined, exit: ExitRecord | undefined, marks: StepMarks): StepState | 'never-started' {
  if (leftItsWait(step, exit, marks)) return { phase: 'waiting' };
  // The wrapper's gate exits 0: dependents waiting for its success do start.
  if (exit?.skipped) return { phase: 'skipped', reason: marks.skipReasons?.[step.container] ?? STATUS_GATE_SKIP, started: true };
  // The wrapper's exit file is written just before the container ends: it can be ahead
  // of the endpoint, and it survives an endpoint that is briefly unavailable.
  if (exit !== undefined) {
    const state: StepState = { phase: 'exited', exitCode: exit.exitCode };
    // A step that waits in its wrapper started when its commands did (its marker), not its container.
    const startedAt = waitsInWrapper(step) ? marks.started?.[step.container] : view?.startedAt;
    if (startedAt !== undefined) state.startedAt = startedAt;
    // And ended when they did (its wrapper's exit record), not its container, which may stay up
    // after them for the steps that name it in an ECS START (core/pipeline/script.ts, lingerLines).
    const finishedAt = waitsInWrapper(step) ? (exit.at ?? view?.finishedAt) : (view?.finishedAt ?? exit.at);
    if (finishedAt !== undefined) state.finishedAt = finishedAt;
    return state;
  }
  // Its marker: its commands run (also when the endpoint does not answer, or is a poll behind).
  const marked = waitsInWrapper(step) ? marks.started?.[step.container] : undefined;
  if (view === undefined || view.phase === 'pending') return marked === undefined ? { phase: 'waiting' } : { phase: 'running', startedAt: marked };
  if (view.phase === 'running') {
    if (waitsInWrapper(step)) return marked === undefined ? { phase: 'waiting' } : { phase: 'running', startedAt: marked };
    return view.startedAt === undefined ? { phase: 'running' } : { phase: 'running', startedAt: view.startedAt };
  }
  // Stopped without ever starting: ECS blocked it (a SUCCESS dependency failed), or its image
  // could not be pulled. The endpoint omits `StartedAt` for a container that has not started
  // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-response.html).
  // Its `.unreachable` follows (recordsToWrite), which also lets the steps it named in an ECS
  // START exit (core/pipeline/script.ts, lingerLines): it will never write its `.up`.
  if (view.startedAt === undefined) return 'never-started';
  const state: StepState = { phase: 'exited', exitCode: view.exitCode };
  const startedAt = waitsInWrapper(step) ? marked : view.startedAt;
  if (startedAt !== undefined) state.startedAt = startedAt;
  if (view.finishedAt !== undefined) state.finishedAt = view.finishedAt;
  return state;
}

/**
 * The condition a step waits on `dep` with. The plan's own (`dependsOnConditions`, the task
 * definition's) when given; otherwise what the compiler gives in the cases an older plan
 * still shows: START (or HEALTHY) on a detached step, COMPLETE on a `failure: ignore` one.
 * Anything else is SUCCESS for a step that runs while the build passes but COMPLETE for one
 * that runs on failure, and such a plan does not say which: 'unknown'.
 */
type EdgeCondition = ContainerDependencyCondition | 'unknown';

function conditionOf(step: AgentStepPlan, dep: AgentStepPlan): EdgeCondition {
  const given = step.dependsOnConditions?.[dep.container];
  if (given !== undefined) return given;
  if (dep.detach) return 'START';
  if (dep.failure === 'ignore') return 'COMPLETE';
  return 'unknown';
}

function failedReason(dep: AgentStepPlan, exitCode: number | null): string {
  const code = exitCode === null ? 'without an exit code' : `with exit code ${exitCode}`;
  return `dependency ${dep.container} failed ${code}`;
}

/**
 * What becomes of a container waiting on `dep` with `condition`, or undefined while it
 * still may start. Only what ECS itself does: a dependency that never starts blocks every
 * condition (COMPLETE needs a known exit code, START a running container), and ECS may leave
 * such a dependent pending rather than stop it, so the agent must see it itself; a SUCCESS
 * dependency that exited non-zero blocks (ECS stops the dependent). A COMPLETE dependency that exited lets the step start. An 'unknown' condition on
 * a failed dependency is left to ECS: the step is waited for until ECS starts it or stops it
 * (seen as never started), never declared unreachable on a guess — ECS may still start it.
 */
function blockedBy(dep: AgentStepPlan, condition: EdgeCondition, state: StepState): StepState | undefined {
  if (state.phase === 'unreachable') return { phase: 'unreachable', reason: `dependency ${dep.container} did not run` };
  if (state.phase === 'skipped') {
    return state.started ? undefined : { phase: 'skipped', reason: `dependency ${dep.container} was skipped`, started: false };
  }
  if (state.phase !== 'exited' || condition !== 'SUCCESS' || state.exitCode === 0) return undefined;
  // ECS blocks a SUCCESS dependent of a step that exited 78, which Drone skips.
  if (state.exitCode === EARLY_EXIT_CODE) return { phase: 'skipped', reason: earlyExitReason(dep.container), started: false };
  return { phase: 'unreachable', reason: failedReason(dep, state.exitCode) };
}

/** Why ECS stopped a step before it started, from its dependencies when they explain it. */
function neverStartedReason(
  step: AgentStepPlan,
  byName: Map<string, AgentStepPlan>,
  states: StepStates,
  neverStarted: ReadonlySet<string>,
): string {
  for (const depName of step.dependsOn) {
    const dep = byName.get(depName);
    const state = states[depName];
    if (dep === undefined || state === undefined) continue;
    if (state.phase === 'unreachable' || neverStarted.has(depName)) return `dependency ${depName} did not run`;
    if (state.phase === 'exited' && state.exitCode !== 0 && conditionOf(step, dep) !== 'COMPLETE') return failedReason(dep, state.exitCode);
  }
  return 'stopped by ECS before it started';
}

/** A step ECS stopped unstarted behind a dependency that exited 78: skipped, as in Drone. */
function earlyExitBehind(step: AgentStepPlan, states: StepStates): string | undefined {
  for (const depName of step.dependsOn) {
    const state = states[depName];
    if (state?.phase === 'exited' && state.exitCode === EARLY_EXIT_CODE) return earlyExitReason(depName);
    if (state?.phase === 'skipped' && state.reason.endsWith(`exited ${EARLY_EXIT_CODE}: the rest of the pipeline is skipped`)) return state.reason;
  }
  return undefined;
}

/** A plugin step's gate container (not a step itself) decides whether the step runs. */
function gateVerdict(gate: ContainerView | undefined, skipReason: string): StepState | undefined {
  if (gate === undefined || gate.phase !== 'stopped') return undefined;
  if (gate.startedAt === undefined) return { phase: 'unreachable', reason: 'its status gate did not run' };
  if (gate.exitCode === 0) return undefined;
  if (gate.exitCode === 1) return { phase: 'skipped', reason: skipReason, started: false };
  return { phase: 'unreachable', reason: `its status gate failed with exit code ${gate.exitCode ?? 'unknown'}` };
}

export function decideStepStates(
  steps: readonly AgentStepPlan[],
  containers: Readonly<Record<string, ContainerView>>,
  exits: Readonly<Record<string, ExitRecord>>,
  /** `<container>.skipped` markers without an exit record (see step-records.ts). */
  skipMarks: ReadonlySet<string> = new Set(),
  /** The time of this decision (ms since the epoch): detached steps' readiness deadlines. */
  now: number = Date.now(),
  /**
   * Why the setup failed (the clone, or a service that was not ready), when it did: the agent
   * never turns healthy, so every step waiting for that (HEALTHY on the agent) is skipped
   * with this reason, as Drone skips the steps that run on success once a step of the stage
   * failed (runner-go pipeline/runtime/execer.go, RunOnSuccess && state.Failed()). Steps that
   * run on a status started with the agent and run.
   */
  setupFailed?: string,
  marks: StepMarks = {},
): StepStates {
  const byName = new Map(steps.map((step) => [step.container, step]));
  const states: StepStates = {};
  const neverStarted = new Set<string>();
  for (const step of steps) {
    let state = observed(step, containers[step.container], exits[step.container], marks);
    const skipReason = marks.skipReasons?.[step.container] ?? STATUS_GATE_SKIP;
    if (step.gate !== undefined && (state === 'never-started' || state.phase === 'waiting')) {
      // The gate container's marker: the only sign of its verdict without the endpoint.
      const marked: StepState | undefined = skipMarks.has(step.container) ? { phase: 'skipped', reason: skipReason, started: false } : undefined;
      state = gateVerdict(containers[step.gate], skipReason) ?? marked ?? state;
    }
    // The wrapper marked it skipped and exited 0, but its exit record is not readable yet
    // (being written) while the endpoint already reports it stopped: skipped all the same.
    if (state !== 'never-started' && state.phase === 'exited' && state.exitCode === 0 && skipMarks.has(step.container)) {
      state = { phase: 'skipped', reason: skipReason, started: true };
    }
    if (state === 'never-started') {
      neverStarted.add(step.container);
      states[step.container] = { phase: 'waiting' };
    } else {
      states[step.container] = state;
    }
  }
  if (setupFailed !== undefined) {
    for (const step of steps) {
      const state = states[step.container];
      // One whose container already runs waits in its wrapper, which skips it at its next look:
      // the agent waits for that (agent.ts), so that no container is stopped mid-wait.
      const waitingInside = step.afterSetup && containers[step.container]?.phase === 'running';
      if (state?.phase === 'waiting' && (waitsForHealthyAgent(step) || step.afterSetup) && !waitingInside) states[step.container] = { phase: 'skipped', reason: setupFailed, started: false };
      // A step that started with the task skipped itself in its wrapper (script.ts): for the
      // setup's reason. One still running is about to (its wrapper looks every second).
      if (state?.phase === 'skipped' && step.afterSetup) states[step.container] = { phase: 'skipped', reason: setupFailed, started: state.started };
    }
  }
  for (const step of steps) {
    if (states[step.container]?.phase !== 'waiting') continue;
    const late = notReadyInTime(step, byName, containers, now);
    if (late !== undefined) states[step.container] = { phase: 'unreachable', reason: late };
  }
  propagate(steps, byName, states);
  // Stopped by ECS before it started, for a reason the inferred conditions did not settle.
  const reasons = new Map<string, StepState>();
  for (const name of neverStarted) {
    if (states[name]?.phase !== 'waiting') continue;
    const early = earlyExitBehind(byName.get(name)!, states);
    reasons.set(name, early !== undefined ? { phase: 'skipped', reason: early, started: false } : { phase: 'unreachable', reason: neverStartedReason(byName.get(name)!, byName, states, neverStarted) });
  }
  for (const [name, state] of reasons) states[name] = state;
  propagate(steps, byName, states);
  // A wrapper that skipped its step reads the same records, so its dependencies explain it
  // above; should they not (never expected), it is skipped all the same rather than waited for.
  if (setupFailed === undefined) {
    for (const step of steps) {
      if (states[step.container]?.phase === 'waiting' && leftItsWait(step, exits[step.container], marks)) {
        states[step.container] = { phase: 'skipped', reason: 'skipped by its wrapper: a step it comes after did not pass', started: false };
      }
    }
  }
  return states;
}

/** The step starts once the agent is healthy (an older plan without conditions: every dependency on the agent is HEALTHY). */
function waitsForHealthyAgent(step: AgentStepPlan): boolean {
  if (!step.dependsOn.includes(AGENT_CONTAINER)) return false;
  return (step.dependsOnConditions?.[AGENT_CONTAINER] ?? 'HEALTHY') === 'HEALTHY';
}

/**
 * A step waiting (HEALTHY) for a detached step that has not become healthy within its
 * `ready.timeout` of its start. ECS would let it wait for ever — no startTimeout is set
 * (compile.ts) and an UNHEALTHY dependency is not final — so the agent ends the wait.
 * Without a health status from the endpoint nothing is judged here.
 */
function notReadyInTime(
  step: AgentStepPlan,
  byName: Map<string, AgentStepPlan>,
  containers: Readonly<Record<string, ContainerView>>,
  now: number,
): string | undefined {
  for (const depName of step.dependsOn) {
    const dep = byName.get(depName);
    if (dep?.readyTimeout === undefined || conditionOf(step, dep) !== 'HEALTHY') continue;
    const view = containers[depName];
    if (view?.startedAt === undefined || view.health === undefined || view.health === 'HEALTHY') continue;
    const started = Date.parse(view.startedAt);
    if (Number.isNaN(started) || now - started <= dep.readyTimeout * 1000) continue;
    const output = view.healthOutput ? `: ${view.healthOutput.trim()}` : '';
    const how = view.phase === 'stopped' ? `it exited${view.exitCode === null ? '' : ` with code ${view.exitCode}`}` : `its health check is ${view.health}${output}`;
    return `detached step ${depName} was not healthy ${dep.readyTimeout} s after it started (its ready.timeout): ${how}`;
  }
  return undefined;
}

/** Marks waiting steps that can never start, until nothing changes (the plan is a DAG). */
function propagate(steps: readonly AgentStepPlan[], byName: Map<string, AgentStepPlan>, states: StepStates): void {
  for (let pass = 0; pass <= steps.length; pass += 1) {
    let changed = false;
    for (const step of steps) {
      if (states[step.container]?.phase !== 'waiting') continue;
      for (const depName of step.dependsOn) {
        const dep = byName.get(depName);
        const depState = states[depName];
        // Dependencies on the agent or on services are not steps: ECS handles them.
        if (dep === undefined || depState === undefined) continue;
        const next = blockedBy(dep, conditionOf(step, dep), depState);
        if (next !== undefined) {
          states[step.container] = next;
          changed = true;
          break;
        }
      }
    }
    if (!changed) return;
  }
}

/**
 * The final records the agent owes: a step container it knows is over but that has no
 * record on disk. Steps that run on a status wait for every step before them to have one
 * (script.ts), so without these a plugin (no wrapper to write `.exit`) or a step that can
 * never start would make them wait until the pipeline times out. `recorded`: containers
 * that already have a record (readStepRecords).
 */
export function recordsToWrite(
  steps: readonly AgentStepPlan[],
  states: StepStates,
  recorded: ReadonlySet<string>,
): { container: string; kind: 'exit' | 'unreachable'; text: string }[] {
  const out: { container: string; kind: 'exit' | 'unreachable'; text: string }[] = [];
  for (const step of steps) {
    if (recorded.has(step.container)) continue;
    const state = states[step.container];
    if (state?.phase === 'exited') out.push({ container: step.container, kind: 'exit', text: state.exitCode === null ? 'unknown' : String(state.exitCode) });
    // A step skipped with a record has one already; without (behind a skipped dependency) it never starts.
    if (state?.phase === 'unreachable' || state?.phase === 'skipped') out.push({ container: step.container, kind: 'unreachable', text: state.reason });
  }
  return out;
}

export function isFinal(state: StepState | undefined): boolean {
  return state?.phase === 'exited' || state?.phase === 'unreachable' || state?.phase === 'skipped';
}

/** The agent may stop once every non-detached step has exited or can never run. */
export function supervisionDone(steps: readonly AgentStepPlan[], states: StepStates): boolean {
  return steps.every((step) => step.detach || isFinal(states[step.container]));
}

/**
 * The step with `failure: fast` (or `fast-fail`, `fail-fast`) that failed, if one did: Drone
 * then cancels the whole pipeline — the steps still running are stopped, the pending ones
 * skipped, and no other step starts, not even one that runs on failure (runner-go
 * pipeline/runtime/execer.go: `if step.GetErrPolicy() == ErrFailFast … if exit > 0 { cancel() }`,
 * and every later step returns at `<-ctx.Done()` before its run policy is read). A detached
 * step's exit is never read there, so it never cancels. Exit 78 passes the step: it skips
 * the rest (the early exit) but cancels nothing here (Drone cancels on it too, and then
 * reports the stage killed for a step that passed; Slipway keeps the early exit's meaning).
 */
export function failedFast(steps: readonly AgentStepPlan[], states: StepStates): AgentStepPlan | undefined {
  return steps.find((step) => {
    const state = states[step.container];
    return step.failure === 'fail-fast' && !step.detach && state?.phase === 'exited' && !exitPassed(state.exitCode);
  });
}

/** Steps whose end fails the build: a non-ignored failure, or a step that never ran. */
export function failedSteps(steps: readonly AgentStepPlan[], states: StepStates): string[] {
  const failed: string[] = [];
  for (const step of steps) {
    if (step.detach) continue;
    const state = states[step.container];
    if (state?.phase === 'unreachable') failed.push(`${step.container} did not run (${state.reason})`);
    if (state?.phase === 'exited' && !exitPassed(state.exitCode) && step.failure !== 'ignore') {
      failed.push(`${step.container} failed with exit code ${state.exitCode ?? 'unknown'}`);
    }
  }
  return failed;
}

const OPEN_REASON: Record<Ending, string> = {
  complete: 'the pipeline ended',
  'failed-fast': 'a step with failure: fast failed, which cancels the pipeline',
  'timed-out': 'the pipeline timed out',
  interrupted: 'the task was interrupted',
  'service-not-ready': 'a service was not ready',
  'clone-failed': 'the clone failed',
  error: 'the agent failed',
};

/** The report lines of one step container (one per step it runs). */
export function stepReports(step: AgentStepPlan, state: StepState | undefined, ending: Ending): StepReport[] {
  const base = { container: step.container };
  let record: Omit<StepReport, 'name'>;
  const current = state ?? { phase: 'waiting' };
  switch (current.phase) {
    case 'exited': {
      const passed = exitPassed(current.exitCode);
      record = { ...base, status: passed ? 'success' : 'failure', exitCode: current.exitCode };
      // A detached step's 78 skips nothing (script.ts, earlyExitFrom).
      if (current.exitCode === EARLY_EXIT_CODE && !step.detach) record.reason = `exited ${EARLY_EXIT_CODE}: passed, and the steps still pending were skipped (Drone's early exit)`;
      if (current.startedAt !== undefined) record.startedAt = current.startedAt;
      if (current.finishedAt !== undefined) record.finishedAt = current.finishedAt;
      if (!passed && step.failure === 'ignore') record.reason = 'failed; ignored (failure: ignore)';
      if (!passed && step.detach) record.reason = 'detached step failed; it does not fail the build';
      break;
    }
    case 'unreachable':
    case 'skipped':
      record = { ...base, status: 'skipped', exitCode: null, reason: current.reason };
      break;
    case 'running':
      // A detached step still running at the pipeline's end is stopped with the task: its
      // normal end, which Drone records as a pass with exit code 0 (runner-go execer.go never
      // reads a detached step's exit; state.go finishAll finishes a running step with 0). A
      // cancel (failure: fast, a timeout, a stop) kills it as any running step (state.go killall).
      record =
        step.detach && ending === 'complete'
          ? { ...base, status: 'success', exitCode: 0, reason: 'detached step stopped with the task at the end of the pipeline' }
          : { ...base, status: 'killed', exitCode: null, reason: `stopped: ${OPEN_REASON[ending]}` };
      if (current.startedAt !== undefined) record.startedAt = current.startedAt;
      break;
    case 'waiting':
      record = { ...base, status: 'skipped', exitCode: null, reason: `not started: ${OPEN_REASON[ending]}` };
      break;
  }
  if (step.steps.length > 1 && record.status === 'failure') {
    record.reason = `${record.reason ? `${record.reason}; ` : ''}packed with ${step.steps.join(', ')}: the container's exit code`;
  }
  return step.steps.map((name) => ({ name, ...record }));
}

/**
 * What the result line says of the steps (AgentResult.stopped and .skipped): the containers
 * the task's stop ends — the control plane records them killed; detached steps and services
 * only when the pipeline is cancelled (failure: fast), as Drone's cancel kills every step
 * still running (runner-go pipeline/state.go killall), else their end with the task is their
 * normal end — the step containers reported skipped, with why, one entry per container, and
 * when the commands of the steps that wait in their wrapper started.
 */
export function stepsOfResult(plan: Pick<AgentPlan, 'steps' | 'services'>, states: StepStates, ending: Ending): Required<Pick<AgentResult, 'stopped' | 'skipped' | 'started' | 'ended'>> {
  const cancelled = ending === 'failed-fast';
  const stopped = [
    ...plan.steps.filter((step) => (!step.detach || cancelled) && states[step.container]?.phase === 'running').map((step) => step.container),
    ...(cancelled ? plan.services.map((service) => service.container) : []),
  ];
  const skipped: { container: string; reason: string }[] = [];
  for (const step of plan.steps) {
    const report = stepReports(step, states[step.container], ending)[0];
    if (report?.status === 'skipped') skipped.push({ container: step.container, reason: report.reason ?? 'skipped' });
  }
  // When the commands of the steps that wait in their wrapper started (their `.started` marker):
  // those that run on a status and those with commands that start with the task (afterSetup).
  const started: { container: string; at: string }[] = [];
  // And when they ended (their exit record): their containers may have stayed up after them.
  const ended: { container: string; at: string }[] = [];
  for (const step of plan.steps) {
    const state = states[step.container];
    if (waitsInWrapper(step) && (state?.phase === 'running' || state?.phase === 'exited') && state.startedAt !== undefined) started.push({ container: step.container, at: state.startedAt });
    if (waitsInWrapper(step) && state?.phase === 'exited' && state.finishedAt !== undefined) ended.push({ container: step.container, at: state.finishedAt });
  }
  return { stopped, skipped, started, ended };
}

