import { describe, expect, it } from 'vitest';

import type { AgentServicePlan } from '../../core/pipeline/contract.js';
import { backoffDelay, PROBE_BACKOFF } from '../../task-runner/backoff.js';
import { judgeService, type ServiceObservation } from '../../task-runner/readiness.js';

const db: AgentServicePlan = { name: 'database', container: 'database', ports: [5432], healthCommand: true, timeout: 30 };
const cache: AgentServicePlan = { name: 'cache', container: 'cache', ports: [6379, 6380], healthCommand: false, timeout: 10 };

const rows: { name: string; service: AgentServicePlan; seen: ServiceObservation; verdict: string; text?: string }[] = [
  { name: 'port closed, in time', service: cache, seen: { portsOpen: {}, elapsedMs: 100 }, verdict: 'waiting', text: 'ports 6379, 6380 not accepting' },
  { name: 'one port of two open', service: cache, seen: { portsOpen: { 6379: true }, elapsedMs: 100 }, verdict: 'waiting', text: 'port 6380 not accepting' },
  { name: 'all ports open, no health command', service: cache, seen: { portsOpen: { 6379: true, 6380: true }, elapsedMs: 1 }, verdict: 'ready' },
  {
    name: 'port closed after the timeout names service and port',
    service: cache,
    seen: { portsOpen: { 6379: true }, elapsedMs: 10_000 },
    verdict: 'failed',
    text: 'service "cache" (ports 6379, 6380) not ready after 10 s: port 6380 not accepting connections on localhost',
  },
  {
    name: 'port open, health UNKNOWN',
    service: db,
    seen: { portsOpen: { 5432: true }, container: { phase: 'running', exitCode: null, health: 'UNKNOWN' }, elapsedMs: 5 },
    verdict: 'waiting',
    text: 'health check is UNKNOWN',
  },
  {
    name: 'port open, HEALTHY',
    service: db,
    seen: { portsOpen: { 5432: true }, container: { phase: 'running', exitCode: null, health: 'HEALTHY' }, elapsedMs: 5 },
    verdict: 'ready',
  },
  {
    name: 'UNHEALTHY until the timeout, with the check output',
    service: db,
    seen: {
      portsOpen: { 5432: true },
      container: { phase: 'running', exitCode: null, health: 'UNHEALTHY', healthOutput: 'no response\n' },
      elapsedMs: 30_000,
    },
    verdict: 'failed',
    text: 'service "database" (port 5432) not ready after 30 s: health check is UNHEALTHY: no response',
  },
  {
    name: 'no health reported by the endpoint: ports decide, with a note',
    service: db,
    seen: { portsOpen: { 5432: true }, container: { phase: 'running', exitCode: null }, elapsedMs: 5 },
    verdict: 'ready',
    text: 'reports no health status',
  },
  {
    name: 'the service container stopped',
    service: db,
    seen: { portsOpen: {}, container: { phase: 'stopped', exitCode: 1, startedAt: 'x' }, elapsedMs: 5 },
    verdict: 'failed',
    text: 'service "database" (port 5432) exited with exit code 1 before it was ready',
  },
];

describe('judgeService', () => {
  it.each(rows)('$name', ({ service, seen, verdict, text }) => {
    const result = judgeService(service, seen);
    expect(result.kind).toBe(verdict);
    if (text !== undefined) expect(JSON.stringify(result)).toContain(text.replace(/"/g, '\\"'));
  });

  it('a failure says which service, which ports and which check, as data', () => {
    const port = judgeService(cache, { portsOpen: { 6379: true }, elapsedMs: 10_000 });
    expect(port).toMatchObject({ kind: 'failed', service: { name: 'cache', container: 'cache', ports: [6380], check: 'port' } });
    const health = judgeService(db, {
      portsOpen: { 5432: true },
      container: { phase: 'running', exitCode: null, health: 'UNHEALTHY' },
      elapsedMs: 30_000,
    });
    expect(health).toMatchObject({ kind: 'failed', service: { name: 'database', container: 'database', ports: [5432], check: 'health' } });
    const exited = judgeService(db, { portsOpen: {}, container: { phase: 'stopped', exitCode: 1 }, elapsedMs: 5 });
    expect(exited).toMatchObject({ kind: 'failed', service: { name: 'database', ports: [5432], check: 'exited' } });
  });

  it('a service with no ports and no command is ready at once', () => {
    expect(judgeService({ ...cache, ports: [] }, { portsOpen: {}, elapsedMs: 0 })).toEqual({ kind: 'ready' });
  });
});

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the ceiling', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => backoffDelay(n, PROBE_BACKOFF))).toEqual([100, 200, 400, 800, 1600, 2000, 2000]);
  });
});
