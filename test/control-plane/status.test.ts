import { describe, expect, it } from 'vitest';
import {
  acceptTaskEvent,
  agentResultWanted,
  buildFailureSummary,
  startAttempt,
  buildStatusOf,
  commitState,
  movesForward,
  readyStages,
  resolveDependents,
  stageOutcome,
  stagePhase,
  stepChanges,
  stepsNeedAgentResult,
  taskPhase,
} from '../../core/builds/status.js';
import { AGENT_CONTAINER, AGENT_EXIT, REPORT_PREFIX, SETUP_SKIPPED_EXIT_CODE, type AgentResult } from '../../core/pipeline/contract.js';
import { agentMessageForRecord, lastAgentResult, parseAgentResultLine } from '../../core/builds/agent-result.js';
import type { TaskStateChangeContainer, TaskStateChangeDetail } from '../../core/builds/task-event.js';
import type { Stage, StageStatus, StepRecord } from '../../core/builds/types.js';

function detail(extra: Partial<TaskStateChangeDetail> = {}): TaskStateChangeDetail {
  return {
    clusterArn: 'arn:aws:ecs:us-east-1:1:cluster/c',
    taskArn: 'arn:task/1',
    taskDefinitionArn: 'arn:td/f:1',
    startedBy: 'tok-0',
    lastStatus: 'STOPPED',
    desiredStatus: 'STOPPED',
    version: 5,
    containers: [],
    ...extra,
  };
}
const agent = (exitCode?: number, extra: Partial<TaskStateChangeContainer> = {}): TaskStateChangeContainer => ({
  name: AGENT_CONTAINER,
  lastStatus: 'STOPPED',
  ...(exitCode === undefined ? {} : { exitCode }),
  ...extra,
});
function stage(extra: Partial<Stage> = {}): Stage {
  return { buildId: 'o/r#1', repo: 'o/r', buildNumber: 1, number: 1, name: 'test', status: 'running', dependsOn: [], attempts: 1, taskArn: 'arn:task/1', ...extra };
}

describe('stageOutcome (table)', () => {
  const rows: [string, Partial<TaskStateChangeDetail>, Partial<Stage>, string, string, boolean?][] = [
    ['agent 0', { stopCode: 'EssentialContainerExited', containers: [agent(0)] }, {}, 'success', 'steps-passed'],
    ['agent 1', { stopCode: 'EssentialContainerExited', containers: [agent(1)] }, {}, 'failure', 'step-failed'],
    ['agent 2', { stopCode: 'EssentialContainerExited', containers: [agent(2)] }, {}, 'failure', 'service-not-ready'],
    ['agent 3', { stopCode: 'EssentialContainerExited', containers: [agent(3)] }, {}, 'failure', 'timed-out'],
    ['agent 4', { stopCode: 'EssentialContainerExited', containers: [agent(4)] }, {}, 'killed', 'cancelled'],
    ['agent 5', { stopCode: 'EssentialContainerExited', containers: [agent(5)] }, {}, 'failure', 'clone-failed'],
    ['agent 6', { stopCode: 'EssentialContainerExited', containers: [agent(6)] }, {}, 'error', 'agent-error'],
    ['agent OOM 137', { stopCode: 'EssentialContainerExited', containers: [agent(137, { reason: 'OutOfMemoryError' })] }, {}, 'error', 'agent-error'],
    ['no agent exit code', { stopCode: 'EssentialContainerExited', containers: [agent()] }, {}, 'error', 'task-lost'],
    ['failed to start', { stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError: no such image', containers: [agent()] }, {}, 'error', 'could-not-start'],
    ['user stop', { stopCode: 'UserInitiated', stoppedReason: 'cancelled by alice', containers: [agent(4)] }, {}, 'killed', 'cancelled'],
    ['user stop after timeout', { stopCode: 'UserInitiated', containers: [agent(3)] }, {}, 'failure', 'timed-out'],
    ['spot, first attempt: requeue', { stopCode: 'SpotInterruption', containers: [agent(4)] }, { capacity: 'FARGATE_SPOT', attempts: 1 }, 'pending', 'spot-interrupted', true],
    ['termination notice, first attempt: requeue', { stopCode: 'TerminationNotice', containers: [agent(4)] }, { capacity: 'FARGATE_SPOT', attempts: 1 }, 'pending', 'spot-interrupted', true],
    ['spot, second attempt: error', { stopCode: 'SpotInterruption', containers: [agent(4)] }, { capacity: 'FARGATE_SPOT', attempts: 2 }, 'error', 'spot-interrupted'],
    ['interruption on on-demand: error', { stopCode: 'TerminationNotice', containers: [agent(4)] }, { capacity: 'FARGATE', attempts: 1 }, 'error', 'spot-interrupted'],
    // EC2 capacity (issue 19): an instance that goes away takes the agent with it.
    ['EC2 instance gone, first attempt: requeue', { stoppedReason: 'Host EC2 (instance i-0abc) terminated.', containers: [agent()] }, { capacity: 'EC2', attempts: 1 }, 'pending', 'spot-interrupted', true],
    ['EC2 instance gone, second attempt: error', { stoppedReason: 'Host EC2 (instance i-0abc) terminated.', containers: [agent()] }, { capacity: 'EC2', attempts: 2 }, 'error', 'spot-interrupted'],
    ['EC2 Spot reclaim with its stop code: requeue', { stopCode: 'SpotInterruption', containers: [agent()] }, { capacity: 'EC2', attempts: 1 }, 'pending', 'spot-interrupted', true],
    ['EC2, user stop before the agent ran: cancelled, not requeued', { stopCode: 'UserInitiated', containers: [agent()] }, { capacity: 'EC2', attempts: 1 }, 'killed', 'cancelled'],
    ['EC2, the agent exited: its own outcome', { stopCode: 'EssentialContainerExited', containers: [agent(1)] }, { capacity: 'EC2', attempts: 1 }, 'failure', 'step-failed'],
  ];
  for (const [name, d, s, status, reason, requeue] of rows) {
    it(name, () => {
      const outcome = stageOutcome(detail(d), stage(s));
      expect(outcome.status).toBe(status);
      expect(outcome.reason).toBe(reason);
      expect(outcome.requeueOnDemand ?? false).toBe(requeue ?? false);
      expect(outcome.message.length).toBeGreaterThan(5);
    });
  }
  it('carries the stop reason into the message', () => {
    expect(stageOutcome(detail({ stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError: x' }), stage()).message).toContain('CannotPullContainerError');
  });
});

// ECS keeps a task PENDING until its last container has started (aws/amazon-ecs-agent
// agent/api/task/task.go, updateTaskKnownStatus); events carry no health (ecs_task_events.html).
describe('stagePhase (table): a container that ran makes the stage run, whatever the task says', () => {
  const rows: [string, string, TaskStateChangeContainer[], string][] = [
    ['provisioning', 'PROVISIONING', [], 'pending'],
    ['pending, nothing started', 'PENDING', [agent(undefined, { lastStatus: 'PENDING' })], 'pending'],
    ['pending, the agent runs', 'PENDING', [agent(undefined, { lastStatus: 'RUNNING' })], 'running'],
    ['pending, a step ran and exited', 'PENDING', [agent(undefined, { lastStatus: 'RUNNING' }), { name: 's', lastStatus: 'STOPPED', exitCode: 0 }], 'running'],
    ['pending, a container that never started', 'PENDING', [{ name: 's', lastStatus: 'STOPPED', reason: 'CannotStartContainerError: dependency' }], 'pending'],
    ['running', 'RUNNING', [], 'running'],
    ['stopping', 'STOPPING', [], 'running'],
    ['stopped', 'STOPPED', [agent(0)], 'stopped'],
  ];
  for (const [name, lastStatus, containers, phase] of rows) {
    it(name, () => expect(stagePhase({ lastStatus, containers })).toBe(phase));
  }
});

describe('stepChanges (table)', () => {
  const step = (number: number, container: string, extra: Partial<StepRecord> = {}): StepRecord => ({
    buildId: 'o/r#1', stageNumber: 1, number, name: container, container, status: 'pending', detached: false, kind: 'step', ...extra,
  });
  const steps = [
    step(1, AGENT_CONTAINER, { kind: 'clone', name: 'clone' }),
    step(2, 'db', { kind: 'service' }),
    step(3, 'build'),
    step(4, 'test'),
    step(5, 'notify'),
  ];
  const c = (name: string, lastStatus: string, exitCode?: number, reason?: string): TaskStateChangeContainer => ({
    name, lastStatus, ...(exitCode === undefined ? {} : { exitCode }), ...(reason ? { reason } : {}),
  });

  it('events carry no health: the clone passed once a step ran (every step waits for the agent HEALTHY)', () => {
    const cloning = detail({ lastStatus: 'PENDING', desiredStatus: 'RUNNING', containers: [c(AGENT_CONTAINER, 'RUNNING'), c('db', 'RUNNING'), c('build', 'PENDING')] });
    expect(stepChanges(cloning, steps)).toEqual([{ number: 1, status: 'running' }, { number: 2, status: 'running' }]);
    const stepping = detail({ lastStatus: 'PENDING', desiredStatus: 'RUNNING', containers: [c(AGENT_CONTAINER, 'RUNNING'), c('db', 'RUNNING'), c('build', 'RUNNING'), c('test', 'PENDING')] });
    expect(stepChanges(stepping, steps)).toEqual([{ number: 1, status: 'success' }, { number: 2, status: 'running' }, { number: 3, status: 'running' }]);
  });

  // A task that fails to start (a secret ECS cannot fetch, an image it cannot pull) goes through
  // DEPROVISIONING with every container STOPPED before it is STOPPED itself.
  it('a task that could not start: its clone never passed, at no event (its agent never ran)', () => {
    const never = 'Task stopped before the container started';
    const failed = { desiredStatus: 'STOPPED', stopCode: 'TaskFailedToStart', stoppedReason: 'ResourceInitializationError: unable to pull secrets', containers: [c(AGENT_CONTAINER, 'STOPPED', undefined, never), c('db', 'STOPPED', undefined, never), c('build', 'STOPPED', undefined, never)] } as const;
    const deprovisioning = detail({ ...failed, lastStatus: 'DEPROVISIONING', containers: [...failed.containers] });
    expect(stepChanges(deprovisioning, steps).find((x) => x.number === 1)).toBeUndefined();
    const stopped = detail({ ...failed, lastStatus: 'STOPPED', containers: [...failed.containers] });
    expect(stepChanges(stopped, steps, stageOutcome(stopped, stage())).find((x) => x.number === 1)).toEqual({ number: 1, status: 'error', reason: 'the task could not start: ResourceInitializationError: unable to pull secrets' });
    // Stopped (a cancel) before its agent started: nothing was cloned, so the clone is skipped.
    const cancelled = detail({ lastStatus: 'STOPPED', stopCode: 'UserInitiated', stoppedReason: 'cancelled', containers: [c(AGENT_CONTAINER, 'STOPPED', undefined, never)] });
    expect(stepChanges(cancelled, steps.slice(0, 1), stageOutcome(cancelled, stage()))).toEqual([{ number: 1, status: 'skipped', reason: expect.any(String) }]);
  });

  // drone/runner-go pipeline/state.go, finish: exit codes 0 and 78 both pass the step.
  it('a step that exited 78 (Drone\'s early exit) passed', () => {
    const d = detail({ lastStatus: 'RUNNING', containers: [c(AGENT_CONTAINER, 'RUNNING'), c('db', 'RUNNING'), c('build', 'STOPPED', 78)] });
    expect(stepChanges(d, steps).find((ch) => ch.number === 3)).toEqual({ number: 3, status: 'success', exitCode: 78 });
  });

  it('running task: agent healthy = clone done; running containers run', () => {
    const d = detail({ lastStatus: 'RUNNING', containers: [c(AGENT_CONTAINER, 'RUNNING'), c('db', 'RUNNING'), c('build', 'RUNNING'), c('test', 'PENDING')] });
    d.containers[0]!.healthStatus = 'HEALTHY';
    expect(stepChanges(d, steps)).toEqual([
      { number: 1, status: 'success' },
      { number: 2, status: 'running' },
      { number: 3, status: 'running' },
    ]);
  });

  it('stopped after a failing step: dependents never started are skipped, service stopped by the end is success', () => {
    const d = detail({
      stopCode: 'EssentialContainerExited',
      containers: [c(AGENT_CONTAINER, 'STOPPED', 1), c('db', 'STOPPED', 143), c('build', 'STOPPED', 0), c('test', 'STOPPED', 2), c('notify', 'STOPPED', undefined, 'CannotStartContainerError: dependency')],
    });
    const changes = stepChanges(d, steps, stageOutcome(d, stage()));
    expect(changes).toEqual([
      { number: 1, status: 'success' },
      // runner-go state.go finishAll: a service (a detached step in Drone) still running at the end passes with 0.
      { number: 2, status: 'success', exitCode: 0, reason: 'stopped with the task at the end of the pipeline' },
      { number: 3, status: 'success', exitCode: 0 },
      { number: 4, status: 'failure', exitCode: 2 },
      { number: 5, status: 'skipped', reason: 'the task ended before it ran' },
    ]);
  });

  it('dependency-blocked container reported with 143 is skipped, not failed', () => {
    const d = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', 1), c('notify', 'STOPPED', 143, 'CannotStartContainerError: dependency test did not succeed')] });
    expect(stepChanges(d, [steps[4]!], stageOutcome(d, stage()))[0]?.status).toBe('skipped');
  });

  it("a step ECS could not start itself (its image, its command) is an error with ECS's reason, on the step and in the stage's message (issue 17)", () => {
    const why = "CannotStartContainerError: image ghcr.io/acme/tool:1 cannot run locally: it has no entryPoint or command and the local image catalogue has no default for it (see local/README.md)";
    const d = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', 1), c('db', 'STOPPED', 143), c('build', 'STOPPED', 0), c('test', 'STOPPED', undefined, why), c('notify', 'STOPPED', 143, 'CannotStartContainerError: dependency test did not succeed')] });
    const result: AgentResult = { outcome: 'failure', exitCode: AGENT_EXIT.stepFailed, message: 'build failed: test did not run (stopped by ECS before it started)', finishedAt: new Date().toISOString() };
    const outcome = stageOutcome(d, stage(), result);
    expect(outcome.message).toBe(`build failed: test could not start: ${why}`);
    const changes = stepChanges(d, steps, outcome);
    expect(changes.find((x) => x.number === 4)).toEqual({ number: 4, status: 'error', reason: why });
    // A step blocked by that one is still skipped: the cause is its dependency.
    expect(changes.find((x) => x.number === 5)?.status).toBe('skipped');
    // An agent message that does not name the step gets the reason added, never lost.
    expect(stageOutcome(d, stage(), { ...result, message: 'build failed: 1 step did not pass' }).message).toBe(`build failed: 1 step did not pass; test could not start: ${why}`);
    // A "$&" in ECS's text is text, not a replacement pattern.
    const dollar = detail({ ...d, containers: [c(AGENT_CONTAINER, 'STOPPED', 1), c('test', 'STOPPED', undefined, 'CannotPullContainerError: ref $& not found')] });
    expect(stageOutcome(dollar, stage(), result).message).toBe('build failed: test could not start: CannotPullContainerError: ref $& not found');
  });

  it('a cancelled task: running steps are killed, unstarted ones skipped', () => {
    const d = detail({ stopCode: 'UserInitiated', containers: [c(AGENT_CONTAINER, 'STOPPED', 4), c('build', 'STOPPED', 143), c('test', 'STOPPED')] });
    const changes = stepChanges(d, steps.slice(2, 4), stageOutcome(d, stage()));
    expect(changes.map((x) => x.status)).toEqual(['killed', 'skipped']);
  });

  it('clone failure and could-not-start', () => {
    const failed = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', 5)] });
    expect(stepChanges(failed, [steps[0]!], stageOutcome(failed, stage()))[0]?.status).toBe('failure');
    // git's exit code, from the agent's line, as Drone's clone container records it; decided with the outcome.
    const withGit = stageOutcome(failed, stage(), { outcome: 'clone-failed', exitCode: 5, message: 'clone: fetch of x failed (git exit code 128): denied', finishedAt: 't', cloneExitCode: 128 });
    expect(stepChanges(failed, [steps[0]!], withGit)[0]).toEqual({ number: 1, status: 'failure', exitCode: 128, reason: 'clone: fetch of x failed (git exit code 128): denied' });
    expect(stepChanges({ ...failed, lastStatus: 'DEACTIVATING' }, [steps[0]!])).toEqual([]);
    const noStart = detail({ stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError', containers: [c(AGENT_CONTAINER, 'STOPPED'), c('build', 'STOPPED')] });
    expect(stepChanges(noStart, steps.slice(0, 3), stageOutcome(noStart, stage())).map((x) => x.status)).toEqual(['error', 'skipped', 'error']);
  });

  // A plain step with commands starts with the task and waits for the setup in its wrapper
  // (AgentStepPlan.afterSetup): running proves nothing; passing proves the clone passed.
  describe('a step that starts with the task (afterSetup)', () => {
    const early = [steps[0]!, step(3, 'build', { afterSetup: true })];
    it('its container running neither passes the clone nor starts the step (its commands wait for the setup); exiting 0 does both, its start still unknown', () => {
      const waiting = detail({ lastStatus: 'PENDING', desiredStatus: 'RUNNING', containers: [c(AGENT_CONTAINER, 'RUNNING'), c('build', 'RUNNING')] });
      expect(stepChanges(waiting, early)).toEqual([{ number: 1, status: 'running' }]);
      const passed = detail({ lastStatus: 'RUNNING', containers: [c(AGENT_CONTAINER, 'RUNNING'), c('build', 'STOPPED', 0)] });
      expect(stepChanges(passed, early)).toEqual([{ number: 1, status: 'success' }, { number: 3, status: 'success', exitCode: 0, startUnknown: true }]);
    });
    it("its start is its commands' (the agent's result); one still waiting when a cancel ended the stage was skipped, with no times", () => {
      const cancelled = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', AGENT_EXIT.stepFailed), c('lint', 'STOPPED', 1), c('build', 'STOPPED', 143)] });
      const steps2 = [step(2, 'lint', { afterSetup: true }), step(3, 'build', { afterSetup: true })];
      const result = { outcome: 'failure' as const, exitCode: AGENT_EXIT.stepFailed, message: 'build failed: lint failed with exit code 1; lint has failure: fast, so the steps still running were stopped and the others skipped', finishedAt: 't',
        skipped: [{ container: 'build', reason: 'not started: a step with failure: fast failed, which cancels the pipeline' }], started: [{ container: 'lint', at: '2024-01-01T00:00:07.000Z' }] };
      const changes = stepChanges(cancelled, steps2, stageOutcome(cancelled, stage(), result));
      expect(changes).toEqual([
        { number: 2, status: 'failure', exitCode: 1, startedAt: Date.parse('2024-01-01T00:00:07.000Z') },
        { number: 3, status: 'skipped', reason: 'not started: a step with failure: fast failed, which cancels the pipeline' },
      ]);
      // Without the agent's result its start stays unknown: killed or failed with no duration, never its container's start.
      expect(stepChanges(cancelled, steps2, stageOutcome(cancelled, stage())).find((x) => x.number === 2)).toMatchObject({ status: 'failure', startUnknown: true });
    });
    it('its skip code (79) waits for the outcome, and a failed clone makes it skipped', () => {
      const skipping = detail({ lastStatus: 'RUNNING', containers: [c(AGENT_CONTAINER, 'RUNNING'), c('build', 'STOPPED', SETUP_SKIPPED_EXIT_CODE)] });
      expect(stepChanges(skipping, early)).toEqual([{ number: 1, status: 'running' }]);
      const failed = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', 5), c('build', 'STOPPED', SETUP_SKIPPED_EXIT_CODE)] });
      const outcome = stageOutcome(failed, stage());
      expect(stepChanges(failed, early, outcome).find((x) => x.number === 3)).toEqual({ number: 3, status: 'skipped', reason: outcome.message });
    });
    it('stopped mid-wait by the end of a failed setup: skipped, not failed', () => {
      const failed = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', 5), c('build', 'STOPPED', 143)] });
      expect(stepChanges(failed, early, stageOutcome(failed, stage())).find((x) => x.number === 3)?.status).toBe('skipped');
    });
    it('a detached step that never left its wait (skipped itself behind a failed step, or stopped with the task) is skipped, as the agent says', () => {
      const server = step(3, 'server', { afterSetup: true, detached: true });
      const result = { outcome: 'failure' as const, exitCode: AGENT_EXIT.stepFailed, message: 'build failed: lint failed with exit code 1', finishedAt: 't', skipped: [{ container: 'server', reason: 'dependency lint failed with exit code 1' }] };
      for (const code of [SETUP_SKIPPED_EXIT_CODE, 143]) {
        const d = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', AGENT_EXIT.stepFailed), c('lint', 'STOPPED', 1), c('server', 'STOPPED', code)] });
        expect(stepChanges(d, [step(2, 'lint', { afterSetup: true }), server], stageOutcome(d, stage(), result)).find((x) => x.number === 3), String(code)).toEqual({ number: 3, status: 'skipped', reason: 'dependency lint failed with exit code 1' });
      }
      // One the agent does not name ran: stopped with the task at the end, as before.
      const ran = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', AGENT_EXIT.success), c('server', 'STOPPED', 143)] });
      expect(stepChanges(ran, [server], stageOutcome(ran, stage(), { outcome: 'success', exitCode: AGENT_EXIT.success, message: 'all steps passed', finishedAt: 't' }))[0]).toMatchObject({ status: 'success', exitCode: 0 });
    });
    it('after a passed setup its exit code is its own: 79 from its commands is a failure', () => {
      const d = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', 1), c('build', 'STOPPED', SETUP_SKIPPED_EXIT_CODE)] });
      expect(stepChanges(d, early, stageOutcome(d, stage())).find((x) => x.number === 3)).toMatchObject({ status: 'failure', exitCode: SETUP_SKIPPED_EXIT_CODE });
    });
  });

  it('never moves a finished step', () => {
    const d = detail({ lastStatus: 'RUNNING', containers: [c('build', 'RUNNING')] });
    expect(stepChanges(d, [step(3, 'build', { status: 'success' })])).toEqual([]);
  });
});

// What Drone records for the steps whose containers' exit codes do not tell (runner-go
// pipeline/runtime/execer.go and pipeline/state.go), and the agent's word that settles them.
describe("stepChanges: what ECS's exit codes cannot tell", () => {
  const step = (number: number, container: string, extra: Partial<StepRecord> = {}): StepRecord => ({
    buildId: 'o/r#1', stageNumber: 1, number, name: container, container, status: 'running', detached: false, kind: 'step', ...extra,
  });
  const c = (name: string, lastStatus: string, exitCode?: number, reason?: string): TaskStateChangeContainer => ({ name, lastStatus, ...(exitCode === undefined ? {} : { exitCode }), ...(reason ? { reason } : {}) });
  const result = (exitCode: AgentResult['exitCode'], extra: Partial<AgentResult> = {}): AgentResult => ({ outcome: 'success', exitCode, message: 'm', finishedAt: 't', ...extra });

  // state.go finishAll: a step still running at the end is finished with code 0.
  it('a detached step stopped with the task at the end passed, exit code 0; a cancel kills it', () => {
    const server = step(2, 'server', { detached: true });
    const ending = detail({ lastStatus: 'DEACTIVATING', desiredStatus: 'STOPPED', containers: [c(AGENT_CONTAINER, 'STOPPED', 0), c('server', 'STOPPED', 143)] });
    expect(stepChanges(ending, [server])).toEqual([{ number: 2, status: 'success', exitCode: 0, reason: 'stopped with the task at the end of the pipeline' }]);
    // The agent ended the stage with a failure: decided with the outcome (a failed step: still the normal end).
    const failing = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', 1), c('server', 'STOPPED', 143)] });
    expect(stepChanges({ ...failing, lastStatus: 'DEACTIVATING' }, [server])).toEqual([]);
    expect(stepChanges(failing, [server], stageOutcome(failing, stage()))[0]).toMatchObject({ status: 'success', exitCode: 0 });
    // state.go Cancel → killall: a stop, a timeout or failure: fast kills it.
    const cancelled = detail({ stopCode: 'UserInitiated', containers: [c(AGENT_CONTAINER, 'STOPPED', 4), c('server', 'STOPPED', 143)] });
    expect(stepChanges(cancelled, [server], stageOutcome(cancelled, stage()))[0]).toMatchObject({ status: 'killed', exitCode: 143 });
    const fast = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', 1), c('server', 'STOPPED', 143)] });
    const outcome = stageOutcome(fast, stage(), result(AGENT_EXIT.stepFailed, { outcome: 'failure', stopped: ['server'] }));
    expect(stepChanges(fast, [server], outcome)[0]).toMatchObject({ status: 'killed', exitCode: 143 });
    // Ended on its own while the pipeline ran: its exit code stands.
    const crashed = detail({ lastStatus: 'RUNNING', desiredStatus: 'RUNNING', containers: [c(AGENT_CONTAINER, 'RUNNING'), c('server', 'STOPPED', 3)] });
    expect(stepChanges(crashed, [server])[0]).toMatchObject({ status: 'failure', exitCode: 3 });
  });

  // execer.go: exit 78 → state.SkipAll (pending steps skipped); the early-exit check skips one ECS started (exit 0).
  it('after an exit 78, a step that exited 0 waits for the agent: skipped when it says so, with its reason', () => {
    const steps = [step(2, 'check', { status: 'success', exitCode: 78 }), step(3, 'after'), step(4, 'lint')];
    const running = detail({ lastStatus: 'RUNNING', desiredStatus: 'RUNNING', containers: [c(AGENT_CONTAINER, 'RUNNING'), c('check', 'STOPPED', 78), c('after', 'STOPPED', 0)] });
    expect(stepChanges(running, steps)).toEqual([]);
    const ended = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', 0), c('check', 'STOPPED', 78), c('after', 'STOPPED', 0), c('lint', 'STOPPED', 0)] });
    expect(stepsNeedAgentResult(ended, steps)).toBe(true);
    const outcome = stageOutcome(ended, stage(), result(AGENT_EXIT.success, { skipped: [{ container: 'after', reason: 'check exited 78: the rest of the pipeline is skipped' }] }));
    expect(stepChanges(ended, steps, outcome)).toEqual([
      { number: 3, status: 'skipped', reason: 'check exited 78: the rest of the pipeline is skipped' },
      { number: 4, status: 'success', exitCode: 0 },
    ]);
    // The agent's line could not be read: ECS's word stands.
    expect(stepChanges(ended, steps, stageOutcome(ended, stage()))[0]).toEqual({ number: 3, status: 'success', exitCode: 0 });
    // Without a 78 nothing waits, and the agent's line is not needed.
    const plain = detail({ lastStatus: 'RUNNING', desiredStatus: 'RUNNING', containers: [c(AGENT_CONTAINER, 'RUNNING'), c('after', 'STOPPED', 0)] });
    expect(stepChanges(plain, steps.slice(1))).toEqual([{ number: 3, status: 'success', exitCode: 0 }]);
    expect(stepsNeedAgentResult({ containers: [c('after', 'STOPPED', 0)] }, steps.slice(1))).toBe(false);
  });

  // execer.go: exit 78 → state.SkipAll; ECS blocks the next step (SUCCESS dependency), so only the agent says why.
  it('after an exit 78, a step ECS never started is skipped with the reason the agent gives, not "the task ended"', () => {
    const steps = [step(2, 'check', { status: 'success', exitCode: 78 }), step(3, 'after')];
    // While the task runs, ECS's word on it (blocked) waits for the agent's.
    const running = detail({ lastStatus: 'RUNNING', desiredStatus: 'RUNNING', containers: [c(AGENT_CONTAINER, 'RUNNING'), c('check', 'STOPPED', 78), c('after', 'STOPPED', 143, 'CannotStartContainerError: dependency check did not succeed')] });
    expect(stepChanges(running, steps)).toEqual([]);
    // ECS reports a container its dependency blocked as stopped with 143 (reference/ecs-fargate.md).
    const ended = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', 0), c('check', 'STOPPED', 78), c('after', 'STOPPED', 143, 'CannotStartContainerError: dependency check did not succeed')] });
    expect(stepsNeedAgentResult(ended, steps)).toBe(true);
    const outcome = stageOutcome(ended, stage(), result(AGENT_EXIT.success, { skipped: [{ container: 'after', reason: 'check exited 78: the rest of the pipeline is skipped' }] }));
    expect(stepChanges(ended, steps, outcome)).toEqual([{ number: 3, status: 'skipped', reason: 'check exited 78: the rest of the pipeline is skipped' }]);
    // The agent's line could not be read: skipped all the same, with ECS's word.
    expect(stepChanges(ended, steps, stageOutcome(ended, stage()))).toEqual([{ number: 3, status: 'skipped', reason: 'the task ended before it ran' }]);
    // A step blocked behind a failure (no 78) needs no agent's word: ECS's events tell.
    const failed = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', 1), c('check', 'STOPPED', 2), c('after', 'STOPPED', undefined, 'CannotStartContainerError: dependency check did not succeed')] });
    expect(stepsNeedAgentResult(failed, [step(2, 'check', { status: 'failure', exitCode: 2 }), step(3, 'after')])).toBe(false);
    // A step with commands started with the task and ended its wait without running them (it skipped
    // itself behind the failure: 79; the task's stop ended its wait: 143): only the agent tells,
    // also when the agent's own ending would not be read (a segment that passes its failure on).
    for (const code of [SETUP_SKIPPED_EXIT_CODE, 143]) {
      const waited = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', 0), c('check', 'STOPPED', 2), c('after', 'STOPPED', code)] });
      for (const detached of [false, true]) {
        expect(stepsNeedAgentResult(waited, [step(2, 'check', { status: 'failure', exitCode: 2 }), step(3, 'after', { afterSetup: true, detached })]), `${code} ${detached}`).toBe(true);
      }
      // Its own failure (its commands ran): ECS's exit code tells.
      expect(stepsNeedAgentResult(detail({ containers: [c('after', 'STOPPED', 1)] }), [step(3, 'after', { afterSetup: true })])).toBe(false);
    }
  });

  // execer.go: RunOnFailure && !state.Failed() → state.Skip, whatever fails later.
  it('a failure step that skipped itself while the stage passed stays skipped when the stage fails later', () => {
    const notify = step(3, 'notify', { whenStatus: 'failure' });
    const d = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', 1), c('late', 'STOPPED', 1), c('notify', 'STOPPED', 0)] });
    expect(stepsNeedAgentResult(d, [notify])).toBe(true);
    const skipped = stageOutcome(d, stage(), result(AGENT_EXIT.stepFailed, { outcome: 'failure', skipped: [{ container: 'notify', reason: 'runs only when the build is failing, and no step failed' }] }));
    expect(stepChanges(d, [notify], skipped)).toEqual([{ number: 3, status: 'skipped', reason: 'runs only when the build is failing, and no step failed' }]);
    // It ran: the agent does not list it.
    const ran = stageOutcome(d, stage(), result(AGENT_EXIT.stepFailed, { outcome: 'failure' }));
    expect(stepChanges(d, [notify], ran)).toEqual([{ number: 3, status: 'success', exitCode: 0 }]);
  });

  // execer.go: a step is Started (running) only when its turn comes; until then it is pending.
  it('a step that waits in its container stays pending while the stage runs; its start is when its commands started', () => {
    const notify = step(3, 'notify', { status: 'pending', whenStatus: 'always', waitsInContainer: true });
    const running = detail({ lastStatus: 'RUNNING', desiredStatus: 'RUNNING', containers: [c(AGENT_CONTAINER, 'RUNNING'), c('notify', 'RUNNING')] });
    expect(stepChanges(running, [notify])).toEqual([]);
    const ranEarly = detail({ lastStatus: 'RUNNING', desiredStatus: 'RUNNING', containers: [c(AGENT_CONTAINER, 'RUNNING'), c('notify', 'STOPPED', 0)] });
    expect(stepChanges(ranEarly, [notify])).toEqual([]);
    const ended = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', 0), c('notify', 'STOPPED', 0)] });
    const at = '2030-06-01T10:00:42.000Z';
    const outcome = stageOutcome(ended, stage(), result(AGENT_EXIT.success, { started: [{ container: 'notify', at }] }));
    expect(stepChanges(ended, [notify], outcome)).toEqual([{ number: 3, status: 'success', exitCode: 0, startedAt: Date.parse(at) }]);
    // A plugin step's container starts only once its gate let it: running means running.
    const plugin = step(4, 'slack', { status: 'pending', whenStatus: 'always' });
    expect(stepChanges(detail({ lastStatus: 'RUNNING', desiredStatus: 'RUNNING', containers: [c('slack', 'RUNNING')] }), [plugin])).toEqual([{ number: 4, status: 'running' }]);
  });

  it("a step whose container stayed up after its commands (a later step's START, script.ts lingerLines) ends when they did, as the agent's result says", () => {
    const build = step(2, 'build', { status: 'running', afterSetup: true });
    const ended = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', 0), c('build', 'STOPPED', 0)] });
    const [start, end] = ['2030-06-01T10:00:40.000Z', '2030-06-01T10:00:41.000Z'];
    const outcome = stageOutcome(ended, stage(), result(AGENT_EXIT.success, { started: [{ container: 'build', at: start }], ended: [{ container: 'build', at: end }] }));
    expect(stepChanges(ended, [build], outcome)).toEqual([{ number: 2, status: 'success', exitCode: 0, startedAt: Date.parse(start), finishedAt: Date.parse(end) }]);
    // An end before the start is not this run's: the event's time stands.
    const odd = stageOutcome(ended, stage(), result(AGENT_EXIT.success, { started: [{ container: 'build', at: end }], ended: [{ container: 'build', at: start }] }));
    expect(stepChanges(ended, [build], odd)[0]).not.toHaveProperty('finishedAt');
    expect(parseAgentResultLine(`${REPORT_PREFIX.result}${JSON.stringify({ ...result(AGENT_EXIT.success), ended: [{ container: 'build', at: end }, { container: 'x', at: 'later' }] })}`)?.ended).toEqual([{ container: 'build', at: end }]);
  });

  // state.go Cancel: skipall (pending → skipped) before killall (running → killed).
  it('a status step still waiting in its wrapper when the stage is cancelled is skipped, not killed', () => {
    const report = step(4, 'report', { whenStatus: 'failure' });
    const slow = step(2, 'slow');
    const d = detail({ stopCode: 'EssentialContainerExited', containers: [c(AGENT_CONTAINER, 'STOPPED', 1), c('slow', 'STOPPED', 143), c('report', 'STOPPED', 143)] });
    const outcome = stageOutcome(d, stage(), result(AGENT_EXIT.stepFailed, { outcome: 'failure', stopped: ['slow'], skipped: [{ container: 'report', reason: 'not started: a step with failure: fast failed, which cancels the pipeline' }] }));
    expect(stepChanges(d, [slow, report], outcome)).toEqual([
      { number: 2, status: 'killed', exitCode: 143, reason: 'm' },
      { number: 4, status: 'skipped', reason: 'not started: a step with failure: fast failed, which cancels the pipeline' },
    ]);
    // The agent's view is one poll old: a plain step ECS saw end by the stop stays killed whatever it says.
    const stale = stageOutcome(d, stage(), result(AGENT_EXIT.stepFailed, { outcome: 'failure', skipped: [{ container: 'slow', reason: 'not started' }] }));
    expect(stepChanges(d, [slow], stale)[0]?.status).not.toBe('skipped');
  });
});

describe('acceptTaskEvent: order and duplicates', () => {
  it('accepts a newer version of the current task', () => {
    expect(acceptTaskEvent(stage({ eventVersion: 3 }), detail({ version: 4 }), 'tok-0')).toEqual({ apply: true });
  });
  it('ignores an equal (duplicate) or older version', () => {
    expect(acceptTaskEvent(stage({ eventVersion: 4 }), detail({ version: 4 }), 'tok-0').apply).toBe(false);
    expect(acceptTaskEvent(stage({ eventVersion: 4 }), detail({ version: 2 }), 'tok-0').apply).toBe(false);
  });
  it('ignores events of another task and of finished stages', () => {
    expect(acceptTaskEvent(stage({ taskArn: 'arn:task/2' }), detail(), 'tok-0').apply).toBe(false);
    expect(acceptTaskEvent(stage({ status: 'success' }), detail({ version: 99 }), 'tok-0').apply).toBe(false);
  });
  it('a pending stage accepts its current attempt before the autoscaler recorded the task, not an earlier one', () => {
    const pending = stage({ status: 'pending', taskArn: undefined, attempts: 0 });
    expect(acceptTaskEvent(pending, detail({ startedBy: 'tok-0' }), 'tok-0').apply).toBe(true);
    // A Spot requeue forgets the interrupted task: its late events carry the old startedBy.
    const requeued = stage({ status: 'pending', taskArn: undefined, attempts: 1 });
    expect(acceptTaskEvent(requeued, detail({ startedBy: 'tok-0', version: 9 }), 'tok-1').apply).toBe(false);
  });
  it('a pending stage claimed by its task\'s first event takes that task\'s later events (the claim counted the attempt)', () => {
    const claimed = stage({ status: 'pending', taskArn: 'arn:task/1', attempts: 1, eventVersion: 1 });
    expect(acceptTaskEvent(claimed, detail({ startedBy: 'tok-0', version: 2 }), 'tok-1')).toEqual({ apply: true });
    expect(acceptTaskEvent(claimed, detail({ taskArn: 'arn:task/2', startedBy: 'tok-1', version: 2 }), 'tok-1').apply).toBe(false);
  });
  it('startAttempt: one attempt number per RunTask, none once the task is known', () => {
    expect(startAttempt(stage({ status: 'pending', taskArn: undefined, attempts: 0 }))).toBe(0);
    expect(startAttempt(stage({ status: 'pending', taskArn: 'arn:task/1', attempts: 1 }))).toBeNull();
    expect(startAttempt(stage({ status: 'pending', taskArn: undefined, attempts: 1 }))).toBe(1);
    expect(startAttempt(stage({ status: 'running' }))).toBeNull();
  });
});

describe('status order and builds', () => {
  it('never backwards', () => {
    const table: [StageStatus, StageStatus, boolean][] = [
      ['pending', 'running', true], ['running', 'running', true], ['running', 'pending', false], ['running', 'success', true],
      ['success', 'failure', false], ['failure', 'running', false], ['pending', 'skipped', true], ['pending', 'pending', true],
    ];
    for (const [from, to, ok] of table) expect([from, to, movesForward(from, to)]).toEqual([from, to, ok]);
  });
  it('task phases', () => {
    expect(['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING', 'DEACTIVATING', 'STOPPED'].map(taskPhase)).toEqual(['pending', 'pending', 'pending', 'running', 'running', 'stopped']);
  });
  it('build status from stages', () => {
    const b = (...statuses: StageStatus[]) => buildStatusOf(statuses.map((status) => ({ status })));
    expect(b('pending', 'pending')).toBe('pending');
    expect(b('success', 'pending')).toBe('running');
    expect(b('running', 'pending')).toBe('running');
    expect(b('success', 'success')).toBe('success');
    expect(b('success', 'skipped')).toBe('success');
    expect(b('failure', 'skipped')).toBe('failure');
    expect(b('error', 'success')).toBe('error');
    expect(b('failure', 'error')).toBe('failure');
    expect(b('killed', 'failure')).toBe('killed');
    expect(commitState('running')).toBe('pending');
    expect(commitState('killed')).toBe('error');
  });
});

describe('resolveDependents (Drone depends_on + trigger status)', () => {
  const s = (name: string, status: StageStatus, dependsOn: string[] = [], extra: Partial<Stage> = {}): Stage =>
    stage({ name, status, dependsOn, taskArn: undefined, ...(status === 'pending' && dependsOn.length ? {} : { queuedAt: 1 }), ...extra });
  const names = (d: ReturnType<typeof resolveDependents>) => ({ enqueue: d.enqueue.map((x) => x.name), skip: d.skip.map((x) => x.stage.name) });

  it('waits until every dependency is done', () => {
    expect(names(resolveDependents([s('a', 'success'), s('b', 'running'), s('c', 'pending', ['a', 'b'])]))).toEqual({ enqueue: [], skip: [] });
  });
  it('runs when all passed (skipped counts as passed)', () => {
    expect(names(resolveDependents([s('a', 'success'), s('b', 'skipped'), s('c', 'pending', ['a', 'b'])]))).toEqual({ enqueue: ['c'], skip: [] });
  });
  it('skips on a failed dependency and cascades', () => {
    const d = resolveDependents([s('a', 'failure'), s('b', 'pending', ['a']), s('c', 'pending', ['b']), s('d', 'pending', ['c'], { onFailure: true, onSuccess: true })]);
    expect(names(d)).toEqual({ enqueue: ['d'], skip: ['b', 'c'] });
    expect(d.skip[0]?.message).toContain('a (failure)');
    expect(d.skip[0]?.reason).toBe('dependency-failed');
  });
  it('trigger status failure: runs only after a failure', () => {
    expect(names(resolveDependents([s('a', 'failure'), s('n', 'pending', ['a'], { onFailure: true, onSuccess: false })]))).toEqual({ enqueue: ['n'], skip: [] });
    expect(names(resolveDependents([s('a', 'success'), s('n', 'pending', ['a'], { onFailure: true, onSuccess: false })]))).toEqual({ enqueue: [], skip: ['n'] });
  });
  // drone/drone operator/manager/teardown.go, cancelDownstream: "failed" is any stage of the
  // build (IsFailed: failing, killed, error), not only a dependency.
  it('trigger status follows the build so far: any failed stage, not only a dependency', () => {
    const build = [s('a', 'failure'), s('b', 'success')];
    expect(names(resolveDependents([...build, s('n', 'pending', ['b'], { onFailure: true, onSuccess: false })]))).toEqual({ enqueue: ['n'], skip: [] });
    const d = resolveDependents([...build, s('c', 'pending', ['b'])]);
    expect(names(d)).toEqual({ enqueue: [], skip: ['c'] });
    expect(d.skip[0]?.message).toBe('the build is failing (a did not pass) and it runs only while the build passes (trigger status)');
    expect(names(resolveDependents([...build, s('e', 'pending', ['b'], { onFailure: true, onSuccess: true })]))).toEqual({ enqueue: ['e'], skip: [] });
    // An errored stage fails the build too; a skipped one does not.
    expect(names(resolveDependents([s('a', 'error'), s('b', 'success'), s('n', 'pending', ['b'], { onFailure: true, onSuccess: false })]))).toEqual({ enqueue: ['n'], skip: [] });
    expect(names(resolveDependents([s('a', 'skipped'), s('b', 'success'), s('n', 'pending', ['b'], { onFailure: true, onSuccess: false })]))).toEqual({ enqueue: [], skip: ['n'] });
  });
  it('a stored cascade skip still counts as failed later', () => {
    const d = resolveDependents([s('a', 'failure'), s('b', 'skipped', ['a'], { reason: 'dependency-failed' }), s('x', 'success'), s('c', 'pending', ['b', 'x'])]);
    expect(names(d)).toEqual({ enqueue: [], skip: ['c'] });
  });
  it('a cancelled build runs nothing more', () => {
    expect(names(resolveDependents([s('a', 'success'), s('b', 'pending', ['a'])], true))).toEqual({ enqueue: [], skip: ['b'] });
  });
  // drone/drone trigger/dag/dag.go dependencies() skips a name with no vertex, and
  // operator/manager/util.go areDepsComplete() looks only at stages that exist.
  it('a dependency no stage of the build has is ignored, as in Drone (dag.go, areDepsComplete)', () => {
    expect(names(resolveDependents([s('b', 'pending', ['nope'])]))).toEqual({ enqueue: ['b'], skip: [] });
    expect(names(resolveDependents([s('a', 'running'), s('b', 'pending', ['a', 'nope'])]))).toEqual({ enqueue: [], skip: [] });
    expect(names(resolveDependents([s('a', 'failure'), s('b', 'pending', ['a', 'nope'])]))).toEqual({ enqueue: [], skip: ['b'] });
  });
  it('ignores stages already queued or without dependencies', () => {
    expect(names(resolveDependents([s('a', 'success'), s('b', 'pending', ['a'], { queuedAt: 5 }), s('c', 'pending')]))).toEqual({ enqueue: [], skip: [] });
  });
});

describe('readyStages: the planner and the stage end decide by the one rule', () => {
  const s = (name: string, status: StageStatus, dependsOn: string[] = [], extra: Partial<Stage> = {}): Stage =>
    stage({ name, status, dependsOn, taskArn: undefined, ...extra });
  const ready = (stages: Stage[]) => readyStages(stages).map((x) => x.name);

  it('stages without dependencies, and those whose dependencies passed', () => {
    expect(ready([s('a', 'pending'), s('b', 'pending', ['a'])])).toEqual(['a']);
    expect(ready([s('a', 'success'), s('c', 'skipped'), s('b', 'pending', ['a', 'c'])])).toEqual(['b']);
  });
  it('a dependency no stage has is ignored; a failed one keeps the stage from running', () => {
    expect(ready([s('b', 'pending', ['nope'])])).toEqual(['b']);
    expect(ready([s('a', 'failure'), s('b', 'pending', ['a'])])).toEqual([]);
    expect(ready([s('a', 'failure'), s('b', 'pending', ['a'], { onFailure: true })])).toEqual(['b']);
  });
  it('trigger status failure only: not ready when every dependency passed (resolveDependents skips it)', () => {
    const stages = [s('a', 'success'), s('n', 'pending', ['a'], { onFailure: true, onSuccess: false })];
    expect(ready(stages)).toEqual([]);
    expect(resolveDependents(stages).skip.map((x) => x.stage.name)).toEqual(['n']);
  });
  it('a skip after a failure counts as failed for its dependents', () => {
    expect(ready([s('a', 'failure'), s('b', 'skipped', ['a'], { reason: 'dependency-failed' }), s('c', 'pending', ['b'])])).toEqual([]);
  });
  // drone/drone trigger/trigger.go: a stage with no dependencies left (none written, or every
  // one skipped at creation and dropped by the compiler) is pending at once; its trigger status
  // is never consulted (teardown.go cancelDownstream judges only waiting stages).
  it('a stage with nothing to wait for is ready, unless it runs only on failure (nothing before it can fail)', () => {
    expect(ready([s('n', 'pending', [], { onFailure: true, onSuccess: true })])).toEqual(['n']);
    expect(ready([s('n', 'pending', ['nope'], { onFailure: false, onSuccess: true })])).toEqual(['n']);
    expect(ready([s('n', 'pending', [], { onFailure: true, onSuccess: false })])).toEqual([]);
    expect(ready([s('a', 'running'), s('n', 'pending', ['nope'], { onFailure: true, onSuccess: false })])).toEqual([]);
  });
});

describe('stageOutcome with the agent\'s result line', () => {
  const result = (exitCode: AgentResult['exitCode'], message: string, extra: Partial<AgentResult> = {}): AgentResult =>
    ({ outcome: 'failure', exitCode, message, finishedAt: '2024-01-01T00:00:00Z', ...extra });
  const ended = (code: number, d: Partial<TaskStateChangeDetail> = {}) => detail({ stopCode: 'EssentialContainerExited', containers: [agent(code)], ...d });
  const service = { name: 'cache', container: 'cache-svc', ports: [6379], check: 'port' as const };

  const rows: [string, TaskStateChangeDetail, AgentResult, string, string | undefined][] = [
    ['service not ready: the agent\'s message and the failed service', ended(2), result(2, 'service "cache" (port 6379) not ready after 30 s: port 6379 not accepting connections on localhost', { service }), 'service "cache" (port 6379) not ready after 30 s: port 6379 not accepting connections on localhost', 'cache-svc'],
    ['health check', ended(2), result(2, 'service "db" (port 5432) not ready after 30 s: health check is UNHEALTHY: no response', { service: { ...service, check: 'health' } }), 'service "db" (port 5432) not ready after 30 s: health check is UNHEALTHY: no response', 'cache-svc'],
    ['clone failed: git\'s reason', ended(5), result(5, 'clone: fetch failed (git exit code 128): fatal: not found'), 'clone: fetch failed (git exit code 128): fatal: not found', undefined],
    ['timed out: what it was doing', ended(3), result(3, 'timed out after 5 minutes while supervising steps'), 'timed out after 5 minutes while supervising steps', undefined],
    ['timed out, stopped by the control plane', ended(3, { stopCode: 'UserInitiated' }), result(3, 'timed out after 5 minutes while waiting for services'), 'timed out after 5 minutes while waiting for services', undefined],
    ['step failed: which step', ended(1), result(1, 'build failed: test failed with exit code 2'), 'build failed: test failed with exit code 2', undefined],
    ['agent error: first line only', ended(6), result(6, 'agent: unexpected error: boom\n    at x (a.ts:1:1)'), 'agent: unexpected error: boom', undefined],
    ['exit code mismatch: generic text', ended(2), result(1, 'build failed: x'), 'a service did not become ready in time', undefined],
    ['OOM-killed agent (137): generic text', ended(137), result(6, 'agent: unexpected error'), 'the agent exited with 137 (killed by a signal; out of memory?)', undefined],
    ['empty message: generic text', ended(5), result(5, '  '), 'the clone failed', undefined],
    ['success: never replaced', ended(0), result(0, 'all steps passed'), 'every step passed', undefined],
    ['cancelled: the control plane\'s words', ended(4, { stopCode: 'UserInitiated', stoppedReason: 'cancelled' }), result(4, 'interrupted by SIGTERM while supervising steps'), 'the task was stopped: cancelled', undefined],
  ];
  it.each(rows)('%s', (_name, d, r, message, failedService) => {
    const outcome = stageOutcome(d, stage(), r);
    expect(outcome.message).toBe(message);
    expect(outcome.failedService).toBe(failedService);
    // The status and reason come from the exit code alone.
    const generic = stageOutcome(d, stage());
    expect([outcome.status, outcome.reason, outcome.exitCode]).toEqual([generic.status, generic.reason, generic.exitCode]);
  });

  it('asks for the line only for endings the agent words', () => {
    const wanted = (code: number, d: Partial<TaskStateChangeDetail> = {}) => agentResultWanted(stageOutcome(ended(code, d), stage()));
    expect([0, 1, 2, 3, 4, 5, 6, 137].map((c) => wanted(c))).toEqual([false, true, true, true, false, true, true, false]);
    expect(wanted(4, { stopCode: 'SpotInterruption' })).toBe(false);
    expect(agentResultWanted(stageOutcome(detail({ stopCode: 'TaskFailedToStart', containers: [agent()] }), stage()))).toBe(false);
  });

  it('fails the service that failed the gate with the same reason, however its container ended', () => {
    const svc = (name: string): StepRecord => ({ buildId: 'o/r#1', stageNumber: 1, number: 2, name, container: name, status: 'running', detached: false, kind: 'service' });
    const d = ended(2, { containers: [agent(2), { name: 'cache-svc', lastStatus: 'STOPPED', exitCode: 143 }, { name: 'other', lastStatus: 'STOPPED', exitCode: 0 }] });
    const outcome = stageOutcome(d, stage(), result(2, 'service "cache" (port 6379) not ready after 30 s: port 6379 not accepting connections on localhost', { service }));
    expect(stepChanges(d, [svc('cache-svc'), svc('other')], outcome)).toEqual([
      { number: 2, status: 'failure', exitCode: 143, reason: outcome.message },
      { number: 2, status: 'success', exitCode: 0 },
    ]);
    // Without the agent's word the service that was stopped ended normally.
    expect(stepChanges(d, [svc('cache-svc')], stageOutcome(d, stage()))).toEqual([{ number: 2, status: 'success', exitCode: 0, reason: 'stopped with the task at the end of the pipeline' }]);
    // While the task is still stopping after the agent gave up on a service, services wait for the outcome.
    const stopping = { ...d, lastStatus: 'STOPPING' };
    expect(stepChanges(stopping, [svc('cache-svc')])).toEqual([]);
    // …but not when the agent is still running (a service that ends then has ended).
    expect(stepChanges({ ...stopping, containers: [{ name: AGENT_CONTAINER, lastStatus: 'RUNNING' }, { name: 'cache-svc', lastStatus: 'STOPPED', exitCode: 0 }] }, [svc('cache-svc')])).toEqual([
      { number: 2, status: 'success', exitCode: 0 },
    ]);
  });

  it('gives the clone record git\'s reason', () => {
    const d = ended(5);
    const clone: StepRecord = { buildId: 'o/r#1', stageNumber: 1, number: 1, name: 'clone', container: AGENT_CONTAINER, status: 'running', detached: false, kind: 'clone' };
    const outcome = stageOutcome(d, stage(), result(5, 'clone: commit abc not found in the fetch of http://git/x'));
    expect(stepChanges(d, [clone], outcome)).toEqual([{ number: 1, status: 'failure', exitCode: 5, reason: 'clone: commit abc not found in the fetch of http://git/x' }]);
    expect(stepChanges(d, [clone], stageOutcome(d, stage()))[0]!.reason).toBe('the clone failed');
  });

  it('a failure-only step that exited 0 in a stage that passed skipped itself; in a failed stage it ran; before the end it waits', () => {
    const notify: StepRecord = { buildId: 'o/r#1', stageNumber: 1, number: 3, name: 'notify', container: 'notify', status: 'running', detached: false, kind: 'step', whenStatus: 'failure' };
    const passed = ended(0, { containers: [agent(0), { name: 'notify', lastStatus: 'STOPPED', exitCode: 0 }] });
    expect(stepChanges(passed, [notify], stageOutcome(passed, stage()))).toEqual([{ number: 3, status: 'skipped', reason: 'it runs only when the stage is failing, and no step failed' }]);
    const failed = ended(1, { containers: [agent(1), { name: 'notify', lastStatus: 'STOPPED', exitCode: 0 }] });
    expect(stepChanges(failed, [notify], stageOutcome(failed, stage()))).toEqual([{ number: 3, status: 'success', exitCode: 0 }]);
    const running = detail({ lastStatus: 'RUNNING', desiredStatus: 'RUNNING', containers: [{ name: AGENT_CONTAINER, lastStatus: 'RUNNING' }, { name: 'notify', lastStatus: 'STOPPED', exitCode: 0 }] });
    expect(stepChanges(running, [notify])).toEqual([]);
  });

  // runner-go pipeline/state.go, Cancel → killall: a step running when the pipeline is cancelled is killed.
  it('a step the agent left running (failure: fast cancelled it) is killed, not failed; before the outcome it waits', () => {
    const slow: StepRecord = { buildId: 'o/r#1', stageNumber: 1, number: 3, name: 'slow', container: 'slow', status: 'running', detached: false, kind: 'step' };
    const d = ended(1, { containers: [agent(1), { name: 'slow', lastStatus: 'STOPPED', exitCode: 143 }] });
    const message = 'build failed: quick failed with exit code 2; quick has failure: fast, so the steps still running were stopped and the others skipped';
    const outcome = stageOutcome(d, stage(), { ...result(1, message), stopped: ['slow'] });
    expect(outcome.stoppedSteps).toEqual(['slow']);
    expect(stepChanges(d, [slow], outcome)).toEqual([{ number: 3, status: 'killed', exitCode: 143, reason: message }]);
    // The task still stopping after the agent's exit: undecided until the STOPPED event brings the agent's word.
    expect(stepChanges({ ...d, lastStatus: 'STOPPING' }, [slow])).toEqual([]);
    // A step the agent does not name failed by itself.
    expect(stepChanges(d, [slow], stageOutcome(d, stage(), result(1, message)))).toEqual([{ number: 3, status: 'failure', exitCode: 143 }]);
    expect(parseAgentResultLine(`${REPORT_PREFIX.result}${JSON.stringify({ ...result(1, message), stopped: ['slow'] })}`)?.stopped).toEqual(['slow']);
  });
});

describe('the agent\'s result line', () => {
  const good = { outcome: 'service-not-ready', exitCode: AGENT_EXIT.serviceNotReady, message: 'm', finishedAt: 't', service: { name: 'cache', container: 'c', ports: [1], check: 'port' } };
  it('parses what the agent writes', () => {
    expect(parseAgentResultLine(`${REPORT_PREFIX.result}${JSON.stringify(good)}`)).toEqual(good);
    expect(parseAgentResultLine(`${REPORT_PREFIX.result}${JSON.stringify({ ...good, service: undefined })}\n`)).toEqual({ ...good, service: undefined });
  });
  it('refuses what does not have its shape (a build can print anything)', () => {
    for (const line of [
      'SLIPWAY_RESULT {not json',
      'SLIPWAY_RESULT null',
      'SLIPWAY_RESULT "text"',
      `SLIPWAY_RESULT ${JSON.stringify({ ...good, exitCode: 42 })}`,
      `SLIPWAY_RESULT ${JSON.stringify({ ...good, message: 7 })}`,
      `  ${REPORT_PREFIX.result}${JSON.stringify(good)}`,
      'echo SLIPWAY_RESULT',
    ]) {
      expect(parseAgentResultLine(line), line).toBeUndefined();
    }
    // A malformed `service` is dropped, the rest kept.
    expect(parseAgentResultLine(`${REPORT_PREFIX.result}${JSON.stringify({ ...good, service: { name: 'x', check: 'smell' } })}`)?.service).toBeUndefined();
  });
  it('keeps the well-formed skipped steps, each reason one line of at most 400 characters', () => {
    const skipped = [{ container: 'after', reason: 'check exited 78\nmore' }, { container: 7, reason: 'x' }, 'notify', { container: 'long', reason: 'y'.repeat(900) }];
    const parsed = parseAgentResultLine(`${REPORT_PREFIX.result}${JSON.stringify({ ...good, skipped })}`);
    expect(parsed?.skipped?.map((s) => [s.container, s.reason.length])).toEqual([['after', 15], ['long', 400]]);
    expect(parseAgentResultLine(`${REPORT_PREFIX.result}${JSON.stringify({ ...good, skipped: 'all' })}`)?.skipped).toBeUndefined();
  });
  it('keeps the well-formed start times of the steps that wait in their container', () => {
    const started = [{ container: 'notify', at: '2030-06-01T10:00:42.000Z' }, { container: 'x', at: 'yesterday' }, { container: 3, at: '2030-06-01T10:00:42.000Z' }];
    expect(parseAgentResultLine(`${REPORT_PREFIX.result}${JSON.stringify({ ...good, started })}`)?.started).toEqual([started[0]]);
  });
  it("keeps git's exit code of a failed clone only when it is one", () => {
    const line = (cloneExitCode: unknown) => parseAgentResultLine(`${REPORT_PREFIX.result}${JSON.stringify({ ...good, cloneExitCode })}`)?.cloneExitCode;
    expect([line(128), line(-1), line(300), line('128'), line(1.5)]).toEqual([128, undefined, undefined, undefined, undefined]);
  });
  it('takes the last result among lines', () => {
    const line = (message: string) => `${REPORT_PREFIX.result}${JSON.stringify({ ...good, message })}`;
    expect(lastAgentResult(['x', line('first'), 'y', line('second'), 'SLIPWAY_RESULT {bad'])?.message).toBe('second');
    expect(lastAgentResult(['x'])).toBeUndefined();
  });
  it('keeps one line of at most 400 characters for a record', () => {
    expect(agentMessageForRecord('a\nb')).toBe('a');
    expect(agentMessageForRecord('x'.repeat(1000))).toHaveLength(400);
  });
});

describe('buildFailureSummary (the commit status line)', () => {
  it('names the first stage that ended as the build did; its name when there are several', () => {
    const one = [{ name: 'test', status: 'failure' as const, message: 'service "cache" (port 6379) not ready' }];
    expect(buildFailureSummary('failure', one)).toBe('service "cache" (port 6379) not ready');
    const several = [{ name: 'lint', status: 'success' as const, message: 'every step passed' }, { name: 'test', status: 'failure' as const, message: 'a step failed' }, { name: 'deploy', status: 'skipped' as const, message: 'depends on test' }];
    expect(buildFailureSummary('failure', several)).toBe('test: a step failed');
    expect(buildFailureSummary('success', several)).toBeUndefined();
    expect(buildFailureSummary('error', several)).toBeUndefined();
  });
});
