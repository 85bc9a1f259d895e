// One run of the agent, in order: clone, build environment, service gate, READY_FILE,
// supervision, report. Returns the exit code; main.ts owns the process (signals, exit).

import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { AGENT_EXIT, AGENT_LINE, IMAGE_BUILD_SCRIPT_FILE, SERVICES_READY_PORT, type AgentExitCode, type AgentOutcome, type AgentResult, type AgentSetupTimes, type ServicesReadiness } from '../core/pipeline/contract.js';
import { IMAGE_BUILD_SCRIPT } from '../core/pipeline/image-build-script.js';
import { CloneError, cloneRepository } from './clone.js';
import type { AgentConfig } from './config.js';
import type { ContainerView } from './container-view.js';
import { failedSteps, stepReports, stepsOfResult, type Ending, type StepStates } from './decide-steps.js';
import { envFileContent, writeEnvFile } from './env-file.js';
import { waitForServices } from './gate.js';
import { installBusybox } from './busybox.js';
import { fetchTaskMetadata } from './metadata.js';
import type { Reporter } from './report.js';
import type { StopSwitch } from './signals.js';
import { StatusWriter } from './status-file.js';
import { supervise } from './supervise.js';
import { openRecordDirs } from './step-records.js';
import { serveReadiness, waitForRemoteServices } from './services-ready.js';
import { publishServicesAddress, readServicesAddress } from './services-address.js';
import { SnapshotError, carriedStates, carriedSteps, readSnapshot, seedRecords, writeSnapshot, type CarriedStep } from './snapshot.js';

/** Past the longest service timeout, how long a segment waits for a service task's agent that does not answer. */
const REMOTE_GRACE_SECONDS = 300;
/**
 * How long a first segment started together with its service task waits for that task's
 * address (its provisioning and image pulls: minutes for large images). A service task that
 * stops ends the segment sooner: the control plane stops it (lambdas/autoscaler/service-task.ts).
 */
export const SERVICES_ADDRESS_WAIT_SECONDS = 900;

function untilStopped(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

type Phase = 'keeping the services up' | 'cloning' | 'restoring the workspace' | 'leaving the workspace for the next segment' | 'writing the build environment' | 'waiting for services' | 'supervising steps';

export async function runAgent(config: AgentConfig, reporter: Reporter, stop: StopSwitch): Promise<AgentExitCode> {
  // The service task of a split pipeline answers the segments' agents while it runs.
  let readiness: ServicesReadiness = { ready: false, waiting: 'its agent is starting' };
  const server = config.plan.role === 'services' ? await serveReadiness(config.readyPort ?? SERVICES_READY_PORT, () => readiness) : undefined;
  // Its address for a first segment started with it, as soon as the task has one, beside the
  // clone and the services' start (never holding them up).
  const ended = new AbortController();
  const published = config.servicesAddressOut !== undefined ? publishAddress(config, reporter, AbortSignal.any([stop.signal, ended.signal])) : undefined;
  try {
    return await run(config, reporter, stop, (r) => {
      readiness = r;
    });
  } finally {
    server?.close();
    ended.abort();
    await published;
  }
}

async function publishAddress(config: AgentConfig, reporter: Reporter, signal: AbortSignal): Promise<void> {
  const result = await publishServicesAddress({
    url: config.servicesAddressOut!,
    metadataUri: config.metadataUri,
    signal,
    log: (line) => reporter.progress(line),
    timeoutMs: SERVICES_ADDRESS_WAIT_SECONDS * 1000,
  });
  // The segment waiting for it says so and ends; this task answers nothing else of it.
  if (!result.ok && 'message' in result) reporter.progress(`${result.message} (the first segment will end waiting for it)`);
}

async function run(config: AgentConfig, reporter: Reporter, stop: StopSwitch, setReadiness: (r: ServicesReadiness) => void): Promise<AgentExitCode> {
  const { plan, paths } = config;
  let phase: Phase = 'cloning';
  const seconds = (): number => Math.floor(Date.now() / 1000);
  // The stage starts with its agent (Drone: when the runner begins the stage).
  const stageStarted = seconds();
  // The agent's phases, for the stage's timeline (AgentResult.setup).
  const setup: AgentSetupTimes = { startedAt: new Date().toISOString() };
  const status = new StatusWriter(paths.status);
  // The names of the setup's failed steps (`clone`, or the service that was not ready).
  let setupFailedSteps: string[] = [];
  // A later segment of a split pipeline: the steps of the earlier ones, as they ended.
  let carried: CarriedStep[] = [];
  const withCarried = (states: StepStates) => {
    const before = carriedStates(carried);
    return { steps: [...before.steps, ...plan.steps], states: { ...before.states, ...states } };
  };
  const writeStatus = (states: StepStates): Promise<void> =>
    status.write({ ...withCarried(states), upstream: config.upstream, stageStarted, now: seconds(), setupFailed: setupFailedSteps });

  // `detail`: structured fields of the result beside the message (the failed service).
  const finish = (outcome: AgentOutcome, exitCode: AgentExitCode, message: string, states: StepStates, ending: Ending, detail: Pick<AgentResult, 'service' | 'cloneExitCode'> = {}): AgentExitCode => {
    for (const step of plan.steps) {
      for (const report of stepReports(step, states[step.container], ending)) reporter.step(report);
    }
    const { stopped, skipped, started, ended } = stepsOfResult(plan, states, ending);
    reporter.progress(message);
    reporter.result({
      outcome,
      exitCode,
      message,
      finishedAt: new Date().toISOString(),
      ...detail,
      ...(stopped.length > 0 ? { stopped } : {}),
      ...(skipped.length > 0 ? { skipped } : {}),
      setup,
      ...(started.length > 0 ? { started } : {}),
      ...(ended.length > 0 ? { ended } : {}),
    });
    return exitCode;
  };
  const stopped = (states: StepStates): AgentExitCode | undefined => {
    const reason = stop.reason;
    if (reason === undefined) return undefined;
    if (reason.kind === 'timed-out') {
      return finish('timed-out', AGENT_EXIT.timedOut, `timed out after ${config.timeoutLabel} while ${phase}`, states, 'timed-out');
    }
    const message = `interrupted by ${reason.signal} while ${phase}: the task was stopped (Spot interruption, StopTask or a stop from the control plane)`;
    return finish('interrupted', AGENT_EXIT.interrupted, message, states, 'interrupted');
  };

  reporter.progress(
    `pipeline "${plan.pipeline}"${config.stageId ? ` (stage ${config.stageId})` : ''}: ${plan.steps.length} step containers, ` +
      `${plan.services.length} services, timeout ${config.timeoutLabel}`,
  );
  await mkdir(paths.steps, { recursive: true });
  await openRecordDirs(paths.steps, plan.steps.map((s) => s.container));

  // What of the setup failed, when it did: the stage fails, but the steps that run on a
  // status still run (they start with the agent and wait for its setup record), as Drone
  // runs them after its clone step failed; the steps that run on success are skipped.
  let setupFailure: { outcome: AgentOutcome; exitCode: AgentExitCode; message: string; step: string; detail?: Pick<AgentResult, 'service' | 'cloneExitCode'> } | undefined;
  const snapshot = config.snapshot;
  if (snapshot?.inUrl !== undefined) {
    // A later segment: the previous segment's workspace, instead of a clone.
    phase = 'restoring the workspace';
    const segment = plan.segment!.number - 1;
    try {
      const manifest = await readSnapshot(
        { base: snapshot.base, url: snapshot.inUrl, signal: stop.signal, log: (line) => reporter.progress(line) },
        { segment, stageId: config.stageId },
      );
      carried = manifest.steps;
      await seedRecords(paths.steps, carried);
    } catch (error) {
      if (!(error instanceof SnapshotError)) throw error;
      return stopped({}) ?? finish('error', AGENT_EXIT.internalError, error.message, {}, 'error');
    }
  } else if (plan.clone.disable) {
    reporter.progress(AGENT_LINE.cloneDisabled);
  } else if (plan.role === 'services' && plan.steps.length === 0) {
    // Its services do not read the workspace (the compiler refuses those that name it).
    reporter.progress('clone: none in the service task (no detached step needs the workspace)');
  } else {
    try {
      await cloneRepository({
        ctx: config.ctx,
        clone: plan.clone,
        workspace: config.workspace,
        env: config.env,
        log: (line) => reporter.progress(line),
        signal: stop.signal,
      });
    } catch (error) {
      if (!(error instanceof CloneError)) throw error;
      const interrupted = stopped({});
      if (interrupted !== undefined) return interrupted;
      const detail = error.gitExitCode !== undefined ? { cloneExitCode: error.gitExitCode } : {};
      setupFailure = { outcome: 'clone-failed', exitCode: AGENT_EXIT.cloneFailed, message: error.message, step: 'clone', detail };
    }
  }
  const afterClone = stopped({});
  if (afterClone !== undefined) return afterClone;
  if (setupFailure === undefined) setup.clonedAt = new Date().toISOString();

  phase = 'writing the build environment';
  await writeEnvFile(paths.env, envFileContent(plan, config.ctx, config.stageId));
  reporter.progress(`build environment written to ${paths.env}`);
  if (plan.imageBuildScript) {
    const script = join(paths.agent, basename(IMAGE_BUILD_SCRIPT_FILE));
    await writeFile(script, IMAGE_BUILD_SCRIPT, { mode: 0o644 });
    reporter.progress(`image build script written to ${script}`);
  }
  if (plan.installBusybox) {
    const busybox = await installBusybox(paths.agent, config.env);
    if (!busybox.ok) return finish('error', AGENT_EXIT.internalError, busybox.message, {}, 'error');
    reporter.progress(`busybox: ${busybox.source} installed at ${busybox.target} (secret masks and masked plugin steps use it)`);
  }

  let metadataWarned = false;
  const containers = async (): Promise<Record<string, ContainerView> | undefined> => {
    if (config.metadataUri === undefined) return undefined;
    const result = await fetchTaskMetadata(config.metadataUri);
    if (result.ok) return result.task.containers;
    if (!metadataWarned) reporter.progress(`${result.error} (health status unknown until it answers)`);
    metadataWarned = true;
    return undefined;
  };
  // A segment whose services run in the service task: its address, given or read once known.
  let servicesHost = config.servicesHost;
  if (setupFailure === undefined && plan.remoteServices && servicesHost === undefined && config.servicesAddressIn !== undefined) {
    phase = 'waiting for services';
    const read = await readServicesAddress({ url: config.servicesAddressIn, signal: stop.signal, log: (line) => reporter.progress(line), timeoutMs: SERVICES_ADDRESS_WAIT_SECONDS * 1000 });
    if (read.ok) servicesHost = read.address;
    else if ('aborted' in read) return stopped({}) ?? finish('error', AGENT_EXIT.internalError, 'gate: stopped without a reason', {}, 'error');
    else {
      const first = plan.services[0];
      const service = { name: first?.name ?? 'services', container: first?.container ?? 'services', ports: first?.ports ?? [], check: 'port' as const };
      setupFailure = { outcome: 'service-not-ready', exitCode: AGENT_EXIT.serviceNotReady, message: read.message, step: service.name, detail: { service } };
    }
  }
  if (setupFailure === undefined) {
    phase = 'waiting for services';
    setReadiness({ ready: false, waiting: 'its agent is waiting for the services' });
    const gate =
      plan.remoteServices && servicesHost !== undefined
        ? await waitForRemoteServices({
            host: servicesHost,
            port: config.readyPort ?? SERVICES_READY_PORT,
            services: plan.services,
            log: (line) => reporter.progress(line),
            signal: stop.signal,
            // The service task's agent times each service itself; this only ends a wait for an agent that never answers.
            timeoutMs: (Math.max(0, ...plan.services.map((s) => s.timeout)) + REMOTE_GRACE_SECONDS) * 1000,
          })
        : await waitForServices({
            services: plan.services,
            containers,
            log: (line) => reporter.progress(line),
            signal: stop.signal,
          });
    if (!gate.ok) {
      if ('aborted' in gate) return stopped({}) ?? finish('error', AGENT_EXIT.internalError, 'gate: stopped without a reason', {}, 'error');
      setupFailure = { outcome: 'service-not-ready', exitCode: AGENT_EXIT.serviceNotReady, message: gate.message, step: gate.service.name, detail: { service: gate.service } };
    }
  }
  const afterGate = stopped({});
  if (afterGate !== undefined) return afterGate;

  if (setupFailure !== undefined) setupFailedSteps = [setupFailure.step];
  setReadiness(setupFailure === undefined ? { ready: true } : { ready: false, failed: { message: setupFailure.message, ...(setupFailure.detail ?? {}) } });
  if (plan.remoteServices && servicesHost !== undefined) {
    // Before the ready file: the wrappers map the services' names to it (script.ts, hostsLines).
    await writeFile(paths.servicesHost, `${servicesHost}\n`);
  }
  if (plan.role === 'services') {
    // Up until the control plane stops the task after the stage's last segment (or the
    // pipeline's timeout): a failure is answered to the segments, which end the stage with it.
    // Its detached steps wait for its readiness: the task would never run, so it ends, and
    // the control plane ends the stage with it.
    if (setupFailure !== undefined && plan.steps.length > 0) {
      return finish(setupFailure.outcome, setupFailure.exitCode, setupFailure.message, {}, setupFailure.outcome === 'clone-failed' ? 'clone-failed' : 'service-not-ready', setupFailure.detail);
    }
    phase = 'keeping the services up';
    reporter.progress(setupFailure === undefined ? `ready: the services answer the segments on port ${config.readyPort ?? SERVICES_READY_PORT} until the task is stopped` : `${setupFailure.message}: answered to the segments`);
    await untilStopped(stop.signal);
    return stopped({}) ?? finish('error', AGENT_EXIT.internalError, 'service task: stopped without a reason', {}, 'error');
  }
  await writeStatus({});
  // The status file first: a step that waits for the setup record reads it next.
  await writeEnvFile(paths.setup, `${setupFailure?.exitCode ?? 0}\n`);
  if (setupFailure === undefined) {
    setup.readyAt = new Date().toISOString();
    await mkdir(dirname(paths.ready), { recursive: true });
    await writeFile(paths.ready, `${new Date().toISOString()}\n`);
    reporter.progress('ready: the first steps may start');
  } else if (plan.steps.some((step) => step.whenStatus !== undefined || step.afterSetup)) {
    // Steps that started with the task skip themselves (their wrappers read the setup record):
    // the agent waits for that, so that none is stopped mid-wait by the task's end.
    reporter.progress(`${setupFailure.message}${AGENT_LINE.setupFailedStepsGoOn}`);
  } else {
    return finish(setupFailure.outcome, setupFailure.exitCode, setupFailure.message, {}, setupFailure.outcome === 'clone-failed' ? 'clone-failed' : 'service-not-ready', setupFailure.detail);
  }

  phase = 'supervising steps';
  if (config.metadataUri === undefined) {
    reporter.progress('ECS_CONTAINER_METADATA_URI_V4 is not set: following the steps through their exit records only');
  }
  const supervision = await supervise({
    steps: plan.steps,
    metadataUri: config.metadataUri,
    stepsDir: paths.steps,
    pollMs: config.pollMs,
    signal: stop.signal,
    reporter,
    ...(setupFailure !== undefined ? { setupFailed: setupFailure.message } : {}),
    onStates: writeStatus,
  });
  if (!supervision.done) {
    return stopped(supervision.states) ?? finish('error', AGENT_EXIT.internalError, 'supervision ended early', supervision.states, 'error');
  }
  if (setupFailure !== undefined) {
    return finish(setupFailure.outcome, setupFailure.exitCode, setupFailure.message, supervision.states, 'complete', setupFailure.detail);
  }
  if (snapshot?.outUrl !== undefined) {
    // Every step of this segment is over: nothing changes the workspace any more.
    phase = 'leaving the workspace for the next segment';
    const manifest = { version: 1 as const, segment: plan.segment!.number, stageId: config.stageId, steps: carriedSteps(carried, plan.steps, supervision.states) };
    try {
      await writeSnapshot({ base: snapshot.base, url: snapshot.outUrl, signal: stop.signal, log: (line) => reporter.progress(line) }, manifest);
    } catch (error) {
      if (!(error instanceof SnapshotError)) throw error;
      return stopped(supervision.states) ?? finish('error', AGENT_EXIT.internalError, error.message, supervision.states, 'complete');
    }
  }
  // The stage's failures so far: earlier segments' too.
  const all = withCarried(supervision.states);
  const failed = failedSteps(all.steps, all.states);
  if (supervision.failedFast !== undefined) {
    // The agent's exit stops the task, and with it every step still running (Drone's cancel).
    const message = `build failed: ${failed.join('; ')}; ${supervision.failedFast} has failure: fast, so the steps still running were stopped and the others skipped`;
    return finish('failure', AGENT_EXIT.stepFailed, message, supervision.states, 'failed-fast');
  }
  if (failed.length > 0) {
    return finish('failure', AGENT_EXIT.stepFailed, `build failed: ${failed.join('; ')}`, supervision.states, 'complete');
  }
  return finish('success', AGENT_EXIT.success, 'all steps passed', supervision.states, 'complete');
}
