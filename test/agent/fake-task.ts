// A fake ECS task for the agent's tests: a real HTTP server on loopback answering the
// task metadata endpoint v4 (`/v4/<id>/task`, `/v4/<id>`) in the documented shape, and a
// small scheduler that plays ECS's part over time: containers start when their
// dependsOn conditions hold (the agent's HEALTHY = its READY_FILE exists), run for a
// scripted time, exit with a scripted code (writing the wrapper's exit record), and are
// stopped without starting when a SUCCESS dependency failed — as Fargate does.
// A dependency that never started satisfies no condition. What becomes of its dependents
// is `blockedDependents`: left pending until the task stops (the default: the ECS agent
// fails fast only on a SUCCESS dependency with a known non-zero exit code; COMPLETE needs a
// known exit code and START a running container, which a container that never started
// lacks), or stopped at once (the cascade the ECS reference describes).
// A container with `waitFor` plays the wrapper of a step that runs on a status: once
// started it waits until each listed container has a final record (`.exit`, `.skipped`,
// `.unreachable`), then decides its status gate and only then runs for `runMs`.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { AGENT_CONTAINER } from '../../core/pipeline/contract.js';

export type Condition = 'START' | 'COMPLETE' | 'SUCCESS' | 'HEALTHY';

export interface FakeContainer {
  name: string;
  dependsOn?: { container: string; condition: Condition }[];
  /** How long it runs; absent: until the task stops. */
  runMs?: number;
  exitCode?: number;
  /** Step containers write `<name>.exit` as their wrapper would (default true). */
  writesExitRecord?: boolean;
  /** The wrapper is killed between creating `<name>.exit` and writing the code: the file stays empty. */
  emptyExitRecord?: boolean;
  /** Reports Health: UNKNOWN, then HEALTHY after this many ms of running. */
  healthyAfterMs?: number;
  /**
   * A status gate, decided when the container starts, as script.ts writes it: the build is
   * failing when a watched container wrote a non-zero exit record. Not failing: a step's own
   * wrapper writes `<name>.skipped` and exits 0; a plugin's gate container (`gateOf`) writes
   * `<gateOf>.skipped` and exits 1. Failing: the step runs as scripted, a gate exits 0.
   */
  statusGate?: { watch: string[]; gateOf?: string };
  /** ECS's latency: starts this many ms after its conditions hold (default 0). */
  startDelayMs?: number;
  /** The wrapper's wait (script.ts): containers that must have a final record first. */
  waitFor?: string[];
}

interface ContainerState {
  spec: FakeContainer;
  status: 'NONE' | 'PULLED' | 'RUNNING' | 'STOPPED';
  startedAt?: number;
  finishedAt?: number;
  exitCode?: number;
  /** The exit code decided at start (the status gate), else the spec's. */
  plannedExit?: number;
  /** When its dependency conditions first all held. */
  readySince?: number;
  /** When its wait was over and its commands began. */
  beganAt?: number;
}

const TASK_ID = 'cd189a933e5849daa93386466019ab50';
const ARN = `arn:aws:ecs:us-west-2:111122223333:task/slipway/${TASK_ID}`;

export class FakeTask {
  readonly requests: string[] = [];
  private readonly states = new Map<string, ContainerState>();
  private server: Server | undefined;
  private ticker: NodeJS.Timeout | undefined;
  /** While true, the endpoint answers 500 (a transient failure). */
  failing = false;
  /** Dependents of a container that never started: stopped unstarted, or left pending. */
  blockedDependents: 'stopped' | 'pending' = 'pending';

  constructor(
    containers: FakeContainer[],
    private readonly stateDir: string,
  ) {
    this.states.set(AGENT_CONTAINER, { spec: { name: AGENT_CONTAINER }, status: 'RUNNING', startedAt: Date.now() });
    for (const spec of containers) this.states.set(spec.name, { spec, status: 'PULLED' });
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.requests.push(req.url ?? '');
      this.tick();
      if (this.failing) {
        res.writeHead(500).end('internal error');
        return;
      }
      if (req.url === `/v4/${TASK_ID}/task`) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.taskBody()));
      } else if (req.url === `/v4/${TASK_ID}`) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.containerBody(AGENT_CONTAINER)));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.ticker = setInterval(() => this.tick(), 10);
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/v4/${TASK_ID}`;
  }

  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  status(name: string): string | undefined {
    return this.states.get(name)?.status;
  }

  private agentHealthy(): boolean {
    return existsSync(join(this.stateDir, 'agent', 'ready'));
  }

  private healthOf(state: ContainerState): string | undefined {
    if (state.spec.name === AGENT_CONTAINER) return this.agentHealthy() ? 'HEALTHY' : 'UNKNOWN';
    if (state.spec.healthyAfterMs === undefined) return undefined;
    if (state.status === 'RUNNING' && Date.now() - (state.startedAt ?? 0) >= state.spec.healthyAfterMs) return 'HEALTHY';
    return 'UNKNOWN';
  }

  /** 'yes' when met, 'no' when it never can be, 'wait' otherwise. */
  private conditionMet(dep: { container: string; condition: Condition }): 'yes' | 'no' | 'wait' {
    const target = this.states.get(dep.container);
    if (!target) return 'no';
    const neverRan = target.status === 'STOPPED' && target.startedAt === undefined;
    if (neverRan) return this.blockedDependents === 'stopped' ? 'no' : 'wait';
    switch (dep.condition) {
      case 'START':
        return target.status === 'RUNNING' || (target.status === 'STOPPED' && !neverRan) ? 'yes' : neverRan ? 'no' : 'wait';
      case 'COMPLETE':
        return neverRan ? 'no' : target.status === 'STOPPED' ? 'yes' : 'wait';
      case 'SUCCESS':
        if (target.status !== 'STOPPED') return 'wait';
        return !neverRan && target.exitCode === 0 ? 'yes' : 'no';
      case 'HEALTHY':
        return this.healthOf(target) === 'HEALTHY' ? 'yes' : target.status === 'STOPPED' ? 'no' : 'wait';
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const state of this.states.values()) {
      const spec = state.spec;
      if (state.status === 'PULLED') {
        const verdicts = (spec.dependsOn ?? []).map((dep) => this.conditionMet(dep));
        if (verdicts.includes('no')) {
          state.status = 'STOPPED'; // never started: no StartedAt, no ExitCode
        } else if (verdicts.every((v) => v === 'yes')) {
          state.readySince ??= now;
          if (now - state.readySince < (spec.startDelayMs ?? 0)) continue;
          state.status = 'RUNNING';
          state.startedAt = now;
        }
      }
      if (state.status === 'RUNNING' && state.beganAt === undefined && spec.name !== AGENT_CONTAINER) {
        if (!(spec.waitFor ?? []).every((c) => this.hasFinalRecord(c))) continue;
        state.beganAt = now;
        if (spec.statusGate) state.plannedExit = this.passGate(spec.name, spec.statusGate);
      }
      if (state.status === 'RUNNING' && spec.runMs !== undefined && state.beganAt !== undefined && now - state.beganAt >= spec.runMs) {
        const exitCode = state.plannedExit ?? spec.exitCode ?? 0;
        if (spec.writesExitRecord !== false) {
          mkdirSync(join(this.stateDir, 'steps', spec.name), { recursive: true });
          writeFileSync(join(this.stateDir, 'steps', spec.name, `${spec.name}.exit`), spec.emptyExitRecord ? '' : `${exitCode}\n`);
        }
        state.status = 'STOPPED';
        state.exitCode = exitCode;
        state.finishedAt = now;
      }
    }
  }

  private hasFinalRecord(container: string): boolean {
    const own = join(this.stateDir, 'steps', container);
    const exit = join(own, `${container}.exit`);
    if (existsSync(exit) && readFileSync(exit, 'utf8').length > 0) return true;
    return existsSync(join(own, `${container}.skipped`)) || existsSync(join(own, `${container}.unreachable`));
  }

  /** Ends a running container now, as its scripted run would: for one the test ends (no `runMs`). */
  finish(name: string): void {
    const state = this.states.get(name);
    if (state?.status !== 'RUNNING') throw new Error(`fake task: ${name} is not running (it is ${state?.status ?? 'unknown'})`);
    state.spec = { ...state.spec, runMs: 0 };
    this.tick();
  }

  /** When the container ended (ms since the epoch), if it did. */
  finishedAt(name: string): number | undefined {
    return this.states.get(name)?.finishedAt;
  }

  /** When the container's commands began, after its wait (ms since the epoch), if they did. */
  beganAt(name: string): number | undefined {
    return this.states.get(name)?.beganAt;
  }

  private passGate(name: string, gate: { watch: string[]; gateOf?: string }): number | undefined {
    const steps = join(this.stateDir, 'steps');
    const failing = gate.watch.some((w) => {
      const file = join(steps, w, `${w}.exit`);
      // An empty record is no record yet (script.ts gateLines).
      const code = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
      return code !== '' && code !== '0';
    });
    if (failing) return gate.gateOf !== undefined ? 0 : undefined;
    const marked = gate.gateOf ?? name;
    mkdirSync(join(steps, marked), { recursive: true });
    writeFileSync(join(steps, marked, `${marked}.skipped`), '');
    return gate.gateOf !== undefined ? 1 : 0;
  }

  private containerBody(name: string): Record<string, unknown> {
    const state = this.states.get(name)!;
    const body: Record<string, unknown> = {
      DockerId: `${TASK_ID}-${Buffer.from(name).toString('hex').slice(0, 10)}`,
      Name: name,
      DockerName: name,
      Image: name === AGENT_CONTAINER ? 'slipway/task-runner:latest' : `${name}:latest`,
      ImageID: 'sha256:25f3695bedfb454a50f12d127839a68ad3caf91e451c1da073db34c542c4d2cb',
      Labels: {
        'com.amazonaws.ecs.cluster': 'arn:aws:ecs:us-west-2:111122223333:cluster/slipway',
        'com.amazonaws.ecs.container-name': name,
        'com.amazonaws.ecs.task-arn': ARN,
        'com.amazonaws.ecs.task-definition-family': 'slipway-test',
        'com.amazonaws.ecs.task-definition-version': '1',
      },
      DesiredStatus: state.status === 'STOPPED' ? 'STOPPED' : 'RUNNING',
      KnownStatus: state.status,
      Limits: { CPU: 0 },
      CreatedAt: new Date(0).toISOString(),
      Type: 'NORMAL',
      Networks: [{ NetworkMode: 'awsvpc', IPv4Addresses: ['192.0.2.3'] }],
      LogDriver: 'awslogs',
    };
    if (state.startedAt !== undefined) body['StartedAt'] = new Date(state.startedAt).toISOString();
    if (state.finishedAt !== undefined) body['FinishedAt'] = new Date(state.finishedAt).toISOString();
    if (state.exitCode !== undefined) body['ExitCode'] = state.exitCode;
    const health = this.healthOf(state);
    if (health !== undefined) body['Health'] = { status: health, statusSince: new Date().toISOString() };
    return body;
  }

  private taskBody(): Record<string, unknown> {
    return {
      Cluster: 'arn:aws:ecs:us-west-2:111122223333:cluster/slipway',
      TaskARN: ARN,
      Family: 'slipway-test',
      Revision: '1',
      DesiredStatus: 'RUNNING',
      KnownStatus: 'RUNNING',
      Limits: { CPU: 0.25, Memory: 512 },
      AvailabilityZone: 'us-west-2a',
      LaunchType: 'FARGATE',
      Containers: [...this.states.keys()].map((name) => this.containerBody(name)),
    };
  }
}
