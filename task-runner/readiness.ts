// Whether a service is ready, as a pure verdict over what the probes saw. The gate loop
// in gate.ts gathers the observations; every message names the service and its port.

import type { AgentResult, AgentServicePlan } from '../core/pipeline/contract.js';
import type { ContainerView } from './container-view.js';

export interface ServiceObservation {
  /** Port → accepted a TCP connection on localhost in the last probe. */
  portsOpen: Readonly<Record<number, boolean>>;
  /** The service container as the metadata endpoint shows it; absent when unknown. */
  container?: ContainerView;
  /** Milliseconds since the gate started. */
  elapsedMs: number;
}

/** Which service failed and which check, as the agent's result carries it. */
export type ServiceFailure = NonNullable<AgentResult['service']>;

export type ServiceVerdict =
  | { kind: 'ready'; note?: string }
  | { kind: 'waiting'; waitingFor: string }
  | { kind: 'failed'; message: string; service: ServiceFailure };

function describePorts(ports: readonly number[]): string {
  return ports.length === 1 ? `port ${ports[0]}` : `ports ${ports.join(', ')}`;
}

export function judgeService(service: AgentServicePlan, seen: ServiceObservation): ServiceVerdict {
  const closed = service.ports.filter((port) => seen.portsOpen[port] !== true);
  const where = service.ports.length > 0 ? ` (${describePorts(service.ports)})` : '';
  const container = seen.container;

  const failure = (check: ServiceFailure['check']): ServiceFailure => ({
    name: service.name,
    container: service.container,
    ports: check === 'port' ? closed : [...service.ports],
    check,
  });

  if (container?.phase === 'stopped') {
    const code = container.exitCode === null ? '' : ` with exit code ${container.exitCode}`;
    return { kind: 'failed', message: `service "${service.name}"${where} exited${code} before it was ready`, service: failure('exited') };
  }

  let waitingFor: string | undefined;
  let note: string | undefined;
  if (closed.length > 0) {
    waitingFor = `${describePorts(closed)} not accepting connections on localhost`;
  } else if (service.healthCommand) {
    if (container === undefined || container.health === undefined) {
      // Health is unconfirmed on Fargate's endpoint: without it, open ports are the best evidence.
      note = `service "${service.name}": the metadata endpoint reports no health status; relying on its ports`;
    } else if (container.health !== 'HEALTHY') {
      const output = container.healthOutput ? `: ${container.healthOutput.trim()}` : '';
      waitingFor = `health check is ${container.health}${output}`;
    }
  }

  if (waitingFor === undefined) return note === undefined ? { kind: 'ready' } : { kind: 'ready', note };
  if (seen.elapsedMs >= service.timeout * 1000) {
    return {
      kind: 'failed',
      message: `service "${service.name}"${where} not ready after ${service.timeout} s: ${waitingFor}`,
      service: failure(closed.length > 0 ? 'port' : 'health'),
    };
  }
  return { kind: 'waiting', waitingFor };
}
