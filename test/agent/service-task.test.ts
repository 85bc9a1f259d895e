// The real agent as a split pipeline's service task (AgentPlan.role `services`) and as a
// segment whose services run there (AgentPlan.remoteServices): the segment's agent asks the
// service task's agent on its readiness port, reports ready only once the services are,
// writes the service task's address for the wrappers, and fails with the service task's own
// words when a service never came up. The service task stays up until it is stopped.

import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { AGENT_CONTAINER, AGENT_EXIT, type AgentServicePlan } from '../../core/pipeline/contract.js';
import { servicePort } from '../../local/ports.js';
import { parseAnswer } from '../../task-runner/services-ready.js';
import { FakeTask } from './fake-task.js';
import { byName, plan, startAgent, tempDirsPerTest } from './run-agent.js';

const dirs = tempDirsPerTest();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * A free port on loopback for an agent that binds it later: outside the ephemeral range, so
 * no server on port 0 and no outgoing connection of another test is given it meanwhile.
 */
const freePort = (): Promise<number> => servicePort();

function listen(port: number): Promise<Server> {
  const server = createServer((socket) => socket.end());
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

function service(name: string, port: number, timeout = 30): AgentServicePlan {
  return { name, container: name, ports: [port], healthCommand: false, timeout };
}

/** Waits for `text` in what the run printed so far (no wall-clock deadline: the test's own timeout is the guard). */
async function printed(out: () => string, text: string): Promise<void> {
  while (!out().includes(text)) await new Promise((resolve) => setTimeout(resolve, 20));
}

function startServiceAgent(services: AgentServicePlan[], readyPort: number) {
  const d = dirs();
  const run = startAgent({ plan: plan({ role: 'services', services }), stateDir: d.stateDir, workspace: d.workspace, env: { SLIPWAY_SERVICES_READY_PORT: String(readyPort) }, killAfterMs: 60_000 });
  let stdout = '';
  run.child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  cleanups.push(() => {
    run.child.kill('SIGKILL');
  });
  return { ...run, stdout: () => stdout };
}

describe('agent: the service task of a split pipeline and the segments that use it', () => {
  it('a segment waits for the service task to say its services are ready, writes its address, and its step runs; the service task stays up until stopped', async () => {
    const readyPort = await freePort();
    const dbPort = await freePort();
    const services = [service('db', dbPort)];
    const svc = startServiceAgent(services, readyPort);
    await printed(svc.stdout, 'waiting for service "db"');

    // The segment starts while the service is still down: it waits, and says for what.
    const d = dirs();
    const task = new FakeTask([{ name: 'seed', dependsOn: [{ container: AGENT_CONTAINER, condition: 'HEALTHY' }], runMs: 50, exitCode: 0 }], d.stateDir);
    const uri = await task.start();
    cleanups.push(() => task.stop());
    const segment = startAgent({
      plan: plan({ remoteServices: true, services, steps: [{ container: 'seed', steps: ['seed'], detach: false, failure: 'always', dependsOn: [AGENT_CONTAINER] }] }),
      stateDir: d.stateDir,
      workspace: d.workspace,
      metadataUri: uri,
      env: { SLIPWAY_SERVICES_HOST: '127.0.0.1', SLIPWAY_SERVICES_READY_PORT: String(readyPort) },
      killAfterMs: 60_000,
    });
    let segmentOut = '';
    segment.child.stdout!.on('data', (chunk: Buffer) => (segmentOut += chunk.toString()));
    await printed(() => segmentOut, 'gate: waiting for the service task at 127.0.0.1: its agent is waiting for the services');
    expect(existsSync(join(d.stateDir, 'agent', 'ready'))).toBe(false);

    const db = await listen(dbPort);
    cleanups.push(() => new Promise<void>((resolve) => db.close(() => resolve())));
    const run = await segment.done;
    expect(run.code, run.stdout).toBe(AGENT_EXIT.success);
    expect(run.stdout).toMatch(/gate: services "db" ready in the service task at 127\.0\.0\.1 after/);
    expect(byName(run.steps)['seed']).toMatchObject({ status: 'success' });
    expect(readFileSync(join(d.stateDir, 'agent', 'services-host'), 'utf8')).toBe('127.0.0.1\n');

    // Still up after the segment ended: the control plane stops it after the last segment.
    expect(svc.child.exitCode).toBeNull();
    expect(svc.stdout()).toContain(`ready: the services answer the segments on port ${readyPort} until the task is stopped`);
    svc.child.kill('SIGTERM');
    const ended = await svc.done;
    expect(ended.code).toBe(AGENT_EXIT.interrupted);
    expect(ended.result?.message).toMatch(/^interrupted by SIGTERM while keeping the services up/);
  });

  it("a service that never comes up: the segment ends service-not-ready with the service task's own words, and runs no step", async () => {
    const readyPort = await freePort();
    const services = [service('cache', await freePort(), 1)];
    const svc = startServiceAgent(services, readyPort);
    const d = dirs();
    const task = new FakeTask([{ name: 'use', dependsOn: [{ container: AGENT_CONTAINER, condition: 'HEALTHY' }], runMs: 50, exitCode: 0 }], d.stateDir);
    const uri = await task.start();
    cleanups.push(() => task.stop());
    const run = await startAgent({
      plan: plan({ remoteServices: true, services, steps: [{ container: 'use', steps: ['use'], detach: false, failure: 'always', dependsOn: [AGENT_CONTAINER] }] }),
      stateDir: d.stateDir,
      workspace: d.workspace,
      metadataUri: uri,
      env: { SLIPWAY_SERVICES_HOST: '127.0.0.1', SLIPWAY_SERVICES_READY_PORT: String(readyPort) },
      killAfterMs: 60_000,
    }).done;
    expect(run.code, run.stdout).toBe(AGENT_EXIT.serviceNotReady);
    expect(run.result?.message).toMatch(/^the service task at 127\.0\.0\.1: service "cache" \(port \d+\) not ready after 1 s: port \d+ not accepting connections on localhost$/);
    expect(run.result?.service).toMatchObject({ name: 'cache', check: 'port' });
    expect(existsSync(join(d.stateDir, 'agent', 'ready'))).toBe(false);
    expect(svc.child.exitCode).toBeNull();
  });

  it('a segment whose services run elsewhere needs their address: a configuration error naming the variable', async () => {
    const d = dirs();
    const run = await startAgent({ plan: plan({ remoteServices: true, services: [service('db', 5432)] }), stateDir: d.stateDir, workspace: d.workspace }).done;
    expect(run.code).toBe(AGENT_EXIT.internalError);
    expect(run.result?.message).toMatch(/^agent: neither SLIPWAY_SERVICES_HOST nor SLIPWAY_SERVICES_ADDRESS_IN is set/);
    const bad = await startAgent({ plan: plan({ remoteServices: true, services: [service('db', 5432)] }), stateDir: d.stateDir, workspace: d.workspace, env: { SLIPWAY_SERVICES_HOST: 'db; rm -rf /' } }).done;
    expect(bad.result?.message).toMatch(/^agent: SLIPWAY_SERVICES_HOST: expected the service task's private IP address/);
  });

  it('reads only answers of its own shape', () => {
    expect(parseAnswer('{"ready":true}\n')).toEqual({ kind: 'answer', readiness: { ready: true } });
    expect(parseAnswer('{"ready":false,"waiting":"x"}')).toEqual({ kind: 'answer', readiness: { ready: false, waiting: 'x' } });
    expect(parseAnswer('{"ready":false,"failed":{"message":"m","service":{"name":1}}}')).toEqual({ kind: 'answer', readiness: { ready: false, failed: { message: 'm' } } });
    expect(parseAnswer('HTTP/1.1 400 Bad Request')).toEqual({ kind: 'none', why: 'an answer that is not JSON' });
    expect(parseAnswer('{"ready":"yes"}')).toEqual({ kind: 'none', why: 'an answer of another shape' });
  });
});
