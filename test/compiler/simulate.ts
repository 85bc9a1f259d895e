// A small model of one task at run time, so tests can check what runs after a failure:
// ECS starting containers from their `dependsOn` (START, COMPLETE, SUCCESS, HEALTHY), each
// step's real generated script running under a real shell, and the real agent's decisions
// (task-runner/decide-steps.ts) reading the state files, writing the final records it owes
// and ending the task once every step is over.
//
// ECS as its agent behaves: a container that never started (a SUCCESS dependency failed)
// satisfies no condition — COMPLETE needs a known exit code, START a running container — so
// its dependents stay pending until the task stops. A SUCCESS dependency that exited non-zero
// stops its dependent unstarted. Services run until the task stops; plugin steps (no
// script) run at once and exit with `pluginExit` (default 0), writing no record.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import type { CompiledStage } from '../../core/pipeline/compile.js';
import type { StepReport, UpstreamState } from '../../core/pipeline/contract.js';
import { StatusWriter } from '../../task-runner/status-file.js';
import type { ContainerView } from '../../task-runner/container-view.js';
import { decideStepStates, failedSteps, recordsToWrite, stepReports, supervisionDone } from '../../task-runner/decide-steps.js';
import { readStepRecords, writeFinalRecord } from '../../task-runner/step-records.js';
import { HANG_GUARD_MS } from '../support/wait.js';

export interface SimulateOptions {
  /** Environment of every script; must set SLIPWAY_STATE_DIR. */
  env: Record<string, string>;
  /** The shell that runs the scripts (default /bin/sh). */
  shell?: string[];
  /** Exit codes of plugin steps, by container. */
  pluginExit?: Record<string, number>;
  /** Gives up (and fails) after this long: a hang guard (default HANG_GUARD_MS). */
  timeoutMs?: number;
  /** The agent's status file (task-runner/status-file.ts), written as the agent does; none without. */
  status?: { upstream: UpstreamState; stageStarted: number };
  /**
   * The agent's setup record (contract.ts SETUP_RECORD): 0 (the default) when the clone and
   * the services are ready; another code (5: the clone failed) leaves the agent unhealthy
   * for good, as the real agent then is, and its HEALTHY dependents never start.
   */
  setup?: number;
}

export interface Outcome {
  /** Containers that ran, in the order they ended, with their exit code. */
  ran: { name: string; exit: number; stdout: string }[];
  /** Containers that never started (stopped unstarted, or still pending when the task stopped). */
  blocked: string[];
  /** What the agent reports for each step, and the failures that fail the build. */
  reports: Record<string, StepReport>;
  failed: string[];
}

interface Box {
  phase: 'pending' | 'running' | 'stopped';
  started: boolean;
  exit?: number;
  startedAt?: string;
  finishedAt?: string;
  process?: ChildProcess;
}

const TICK_MS = 15;

export async function simulate(stage: CompiledStage, options: SimulateOptions): Promise<Outcome> {
  const defs = stage.taskDefinition.containerDefinitions!;
  const stateDir = options.env['SLIPWAY_STATE_DIR']!;
  const stepsDir = join(stateDir, 'steps');
  mkdirSync(stepsDir, { recursive: true });
  mkdirSync(join(stateDir, 'agent'), { recursive: true });
  const setup = options.setup ?? 0;
  if (setup === 0) writeFileSync(join(stateDir, 'agent', 'ready'), 'now\n'); // the agent cloned and is healthy
  const shell = options.shell ?? ['/bin/sh'];
  const services = new Set(stage.plan.services.map((s) => s.container));
  const boxes = new Map<string, Box>(defs.map((d) => [d.name!, { phase: 'pending', started: false }]));
  const essential = defs.find((d) => d.essential)!.name!;
  Object.assign(boxes.get(essential)!, { phase: 'running', started: true });
  const ran: Outcome['ran'] = [];
  const deadline = Date.now() + (options.timeoutMs ?? HANG_GUARD_MS);

  const start = (def: ContainerDefinition, box: Box) => {
    Object.assign(box, { phase: 'running', started: true, startedAt: new Date().toISOString() });
    const name = def.name!;
    if (services.has(name)) return;
    const end = (exit: number, stdout: string) => {
      Object.assign(box, { phase: 'stopped', exit, finishedAt: new Date().toISOString() });
      ran.push({ name, exit, stdout });
    };
    if (!def.command || def.entryPoint?.[1] !== '-c') return end(options.pluginExit?.[name] ?? 0, '');
    const [bin, ...args] = shell;
    const child = spawn(bin!, [...args, '-c', def.command[0]!], {
      env: { PATH: process.env.PATH, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: stopping the container stops every process in it, as ECS does.
      detached: true,
    });
    box.process = child;
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.resume();
    child.on('close', (code, signal) => end(code ?? (signal ? 143 : -1), stdout));
  };

  const setupFailed = setup === 0 ? undefined : `the setup failed with exit code ${setup}`;
  let states = decideStepStates(stage.plan.steps, {}, {}, new Set(), Date.now(), setupFailed);
  const statusWriter = options.status ? new StatusWriter(join(stateDir, 'agent', 'status')) : undefined;
  const writeStatus = () =>
    statusWriter?.write({
      steps: stage.plan.steps,
      states,
      upstream: options.status!.upstream,
      stageStarted: options.status!.stageStarted,
      now: Math.floor(Date.now() / 1000),
      setupFailed: setup === 0 ? [] : ['clone'],
    });
  await writeStatus(); // before the first step, as the agent does before it reports ready
  writeFileSync(join(stateDir, 'agent', 'setup.exit'), `${setup}\n`);
  for (;;) {
    // ECS: start what may start, stop unstarted what never can.
    for (const def of defs) {
      const box = boxes.get(def.name!)!;
      if (box.phase !== 'pending') continue;
      const verdict = resolve(def, boxes, essential, setup === 0);
      if (verdict === 'blocked') box.phase = 'stopped';
      if (verdict === 'go') start(def, box);
    }
    // The agent: decide, write the records it owes, end the task when every step is over.
    // The view first, then the records, as the agent polls (supervise.ts): the records are
    // never older than the view, so a container seen stopped has its records read.
    const views: Record<string, ContainerView> = {};
    for (const [name, box] of boxes) {
      const view: ContainerView = { phase: box.phase, exitCode: box.exit ?? null };
      if (box.startedAt) view.startedAt = box.startedAt;
      if (box.finishedAt) view.finishedAt = box.finishedAt;
      views[name] = view;
    }
    const records = await readStepRecords(stepsDir);
    // The markers too, as the agent's supervise.ts passes them: a step that waits in its wrapper runs from its `.started`.
    states = decideStepStates(stage.plan.steps, views, records.exits, records.skipMarks, Date.now(), setupFailed, { skipReasons: records.skipReasons, started: records.started });
    for (const r of recordsToWrite(stage.plan.steps, states, records.recorded)) await writeFinalRecord(stepsDir, r.container, r.kind, r.text);
    await writeStatus();
    if (supervisionDone(stage.plan.steps, states)) break;
    if (Date.now() > deadline) {
      for (const box of boxes.values()) if (box.phase === 'running' && box.process?.pid) process.kill(-box.process.pid, 'SIGKILL');
      throw new Error(`simulate: the task did not end; steps: ${JSON.stringify(states)}`);
    }
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  // The agent exits: ECS stops the task, and with it whatever still runs (detached steps, services).
  await Promise.all(
    [...boxes.values()].filter((b) => b.process && b.phase === 'running').map((b) => new Promise<void>((resolveKill) => {
      b.process!.on('close', () => resolveKill());
      process.kill(-b.process!.pid!, 'SIGTERM');
    })),
  );
  const blocked = defs.map((d) => d.name!).filter((n) => n !== essential && !services.has(n) && !boxes.get(n)!.started);
  const reports: Record<string, StepReport> = {};
  for (const step of stage.plan.steps) for (const report of stepReports(step, states[step.container], 'complete')) reports[report.name] = report;
  return { ran, blocked, reports, failed: failedSteps(stage.plan.steps, states) };
}

function resolve(def: ContainerDefinition, boxes: Map<string, Box>, essential: string, agentHealthy: boolean): 'go' | 'wait' | 'blocked' {
  let verdict: 'go' | 'wait' = 'go';
  for (const dep of def.dependsOn ?? []) {
    const name = dep.containerName!;
    if (name === essential) {
      if (dep.condition !== 'HEALTHY' && dep.condition !== 'START') throw new Error(`simulate: ${def.name} depends on the essential agent with ${dep.condition}, which ECS refuses`);
      // An unhealthy container is not final for ECS: its HEALTHY dependents stay pending.
      if (dep.condition === 'HEALTHY' && !agentHealthy) verdict = 'wait';
      continue;
    }
    const target = boxes.get(name)!;
    // Never started: satisfies nothing, decides nothing; the dependent stays pending.
    if (!target.started) {
      verdict = 'wait';
      continue;
    }
    switch (dep.condition) {
      case 'START':
      case 'HEALTHY':
        break;
      case 'COMPLETE':
        if (target.phase !== 'stopped') verdict = 'wait';
        break;
      case 'SUCCESS':
        if (target.phase !== 'stopped') verdict = 'wait';
        else if (target.exit !== 0) return 'blocked';
        break;
    }
  }
  return verdict;
}
