// The readiness gate: every service's ports accept a TCP connection on localhost and,
// for services with a health command, ECS reports the container HEALTHY. Verdicts come
// from readiness.ts; this loop probes with back-off and always ends (ready or failed).

import { connect } from 'node:net';

import type { AgentServicePlan } from '../core/pipeline/contract.js';
import { GATE_BACKOFF, backoffDelay, sleep } from './backoff.js';
import type { ContainerView } from './container-view.js';
import { judgeService, type ServiceFailure } from './readiness.js';

export type GateResult = { ok: true } | { ok: false; message: string; service: ServiceFailure } | { ok: false; aborted: true };

export interface GateOptions {
  services: readonly AgentServicePlan[];
  /** Latest container views from the metadata endpoint; undefined when it is unavailable. */
  containers: () => Promise<Record<string, ContainerView> | undefined>;
  log: (line: string) => void;
  signal: AbortSignal;
  /** Hosts tried for each port; the default covers IPv4 and IPv6 loopback. */
  hosts?: readonly string[];
  /** The wait between two looks (default: the abortable sleep of backoff.ts); tests record the pace. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const PROBE_TIMEOUT_MS = 1000;

/** True when something accepts a TCP connection at host:port within the probe timeout. */
export function probePort(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (open: boolean): void => {
      socket.removeAllListeners();
      socket.on('error', () => undefined); // a late reset after destroy must not crash the agent
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

async function portOpen(port: number, hosts: readonly string[]): Promise<boolean> {
  for (const host of hosts) {
    if (await probePort(host, port)) return true;
  }
  return false;
}

export async function waitForServices(options: GateOptions): Promise<GateResult> {
  const { services, log, signal } = options;
  const hosts = options.hosts ?? ['127.0.0.1', '::1'];
  if (services.length === 0) return { ok: true };
  const started = Date.now();
  const pending = new Map(services.map((service) => [service.name, service]));
  const lastWaitingFor = new Map<string, string>();

  for (let attempt = 0; ; attempt += 1) {
    if (signal.aborted) return { ok: false, aborted: true };
    const needHealth = [...pending.values()].some((service) => service.healthCommand);
    const containers = needHealth || attempt % 5 === 0 ? await options.containers() : undefined;
    const elapsedMs = Date.now() - started;
    for (const service of [...pending.values()]) {
      const portsOpen: Record<number, boolean> = {};
      for (const port of service.ports) portsOpen[port] = await portOpen(port, hosts);
      const container = containers?.[service.container];
      const verdict = judgeService(service, container ? { portsOpen, container, elapsedMs } : { portsOpen, elapsedMs });
      if (verdict.kind === 'failed') return { ok: false, message: verdict.message, service: verdict.service };
      if (verdict.kind === 'ready') {
        if (verdict.note) log(`gate: ${verdict.note}`);
        log(`gate: service "${service.name}" ready after ${(elapsedMs / 1000).toFixed(1)} s`);
        pending.delete(service.name);
      } else if (lastWaitingFor.get(service.name) !== verdict.waitingFor) {
        log(`gate: waiting for service "${service.name}": ${verdict.waitingFor}`);
        lastWaitingFor.set(service.name, verdict.waitingFor);
      }
    }
    if (pending.size === 0) return { ok: true };
    // Never sleep past the earliest service timeout: the failure must come on time.
    const nextDeadline = Math.min(...[...pending.values()].map((s) => started + s.timeout * 1000));
    const delay = Math.max(10, Math.min(backoffDelay(attempt, GATE_BACKOFF), nextDeadline - Date.now()));
    await (options.sleep ?? sleep)(delay, signal);
  }
}
