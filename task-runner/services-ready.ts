// The readiness of a split pipeline's services across tasks (docs/design/split-pipelines.md).
// The service task's agent answers on SERVICES_READY_PORT with one JSON line
// (ServicesReadiness) and closes; the agent of each segment asks it until the services are
// ready or have failed, since it cannot see the other task's health checks or containers.
// Every answer is read with a size limit and a timeout: the address comes from the control
// plane, but what answers there is only trusted to say ready or not.

import { connect, createServer, type Server } from 'node:net';

import type { AgentServicePlan, ServicesReadiness } from '../core/pipeline/contract.js';
import { PROBE_BACKOFF, backoffDelay, sleep } from './backoff.js';
import type { GateResult } from './gate.js';

/** An answer longer than this is no answer of ours. */
const MAX_ANSWER_BYTES = 64 * 1024;
const ASK_TIMEOUT_MS = 2000;

/** Serves `state()` to every connection, then closes it. Resolves once listening on all IPv4 addresses. */
export function serveReadiness(port: number, state: () => ServicesReadiness): Promise<Server> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined); // a client that goes away mid-answer is no concern of ours
    socket.end(`${JSON.stringify(state())}\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export type Answer = { kind: 'answer'; readiness: ServicesReadiness } | { kind: 'none'; why: string };

/** One question to the service task's agent. */
export function askReadiness(host: string, port: number, timeoutMs = ASK_TIMEOUT_MS): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let text = '';
    const done = (answer: Answer): void => {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done({ kind: 'none', why: `no answer within ${timeoutMs} ms` }));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > MAX_ANSWER_BYTES) done({ kind: 'none', why: 'an answer over 64 KiB' });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => done({ kind: 'none', why: error.code ?? error.message }));
    socket.once('end', () => done(parseAnswer(text)));
  });
}

export function parseAnswer(text: string): Answer {
  let value: unknown;
  try {
    value = JSON.parse(text.trim());
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    return { kind: 'none', why: 'an answer that is not JSON' };
  }
  const v = value as Record<string, unknown> | null;
  if (v?.ready === true) return { kind: 'answer', readiness: { ready: true } };
  if (v?.ready === false && typeof v.waiting === 'string') return { kind: 'answer', readiness: { ready: false, waiting: v.waiting.slice(0, 500) } };
  const failed = v?.failed as Record<string, unknown> | undefined;
  if (v?.ready === false && typeof failed?.message === 'string') {
    const service = failed.service as NonNullable<Extract<ServicesReadiness, { failed: unknown }>['failed']['service']> | undefined;
    const known = service && typeof service.name === 'string' && typeof service.container === 'string' && Array.isArray(service.ports) && ['port', 'health', 'exited'].includes(service.check);
    return { kind: 'answer', readiness: { ready: false, failed: { message: failed.message.slice(0, 2000), ...(known ? { service } : {}) } } };
  }
  return { kind: 'none', why: 'an answer of another shape' };
}

export interface RemoteGateOptions {
  host: string;
  port: number;
  services: readonly AgentServicePlan[];
  log: (line: string) => void;
  signal: AbortSignal;
  /**
   * How long to wait for an answer that says ready or failed. The service task's agent
   * enforces each service's own timeout and answers `failed`; this only ends a wait for an
   * agent that never answers.
   */
  timeoutMs: number;
}

/** Waits until the service task's agent says its services are ready (or failed, or never answers). */
export async function waitForRemoteServices(options: RemoteGateOptions): Promise<GateResult> {
  const { host, port, services, log, signal } = options;
  const names = services.map((s) => `"${s.name}"`).join(', ');
  const started = Date.now();
  let last = '';
  for (let attempt = 0; ; attempt += 1) {
    if (signal.aborted) return { ok: false, aborted: true };
    const answer = await askReadiness(host, port);
    if (answer.kind === 'answer' && answer.readiness.ready) {
      log(`gate: services ${names} ready in the service task at ${host} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return { ok: true };
    }
    if (answer.kind === 'answer' && 'failed' in answer.readiness) {
      const { message, service } = answer.readiness.failed;
      const first = services[0];
      return {
        ok: false,
        message: `the service task at ${host}: ${message}`,
        service: service ?? { name: first?.name ?? 'services', container: first?.container ?? 'services', ports: first?.ports ?? [], check: 'health' },
      };
    }
    const waitingFor =
      answer.kind === 'none' ? `its agent does not answer on port ${port} (${answer.why})` : 'waiting' in answer.readiness ? answer.readiness.waiting : 'no answer';
    if (waitingFor !== last) log(`gate: waiting for the service task at ${host}: ${waitingFor}`);
    last = waitingFor;
    const left = started + options.timeoutMs - Date.now();
    if (left <= 0) {
      const first = services[0];
      return {
        ok: false,
        message: `services ${names} not ready after ${Math.round(options.timeoutMs / 1000)} s: the service task at ${host}: ${waitingFor}`,
        service: { name: first?.name ?? 'services', container: first?.container ?? 'services', ports: first?.ports ?? [], check: answer.kind === 'none' ? 'port' : 'health' },
      };
    }
    await sleep(Math.min(backoffDelay(attempt, PROBE_BACKOFF), left), signal);
  }
}
