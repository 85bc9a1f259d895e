// The readiness gate's pace (task-runner/gate.ts): how soon after a service turns ready the
// agent sees it. A service with a health command turns HEALTHY only at an ECS health check,
// 5 s or more apart: the gate looks again after GATE_BACKOFF's delays (0.1 s doubling to 0.5 s),
// not PROBE_BACKOFF's (to 2 s), so the first step is never held up to 2 s for nothing.
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATE_BACKOFF, PROBE_BACKOFF, backoffDelay } from '../../task-runner/backoff.js';
import type { ContainerView } from '../../task-runner/container-view.js';
import { waitForServices } from '../../task-runner/gate.js';

let server: Server;
let port: number;
beforeAll(async () => {
  server = createServer((socket) => socket.on('error', () => undefined).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The gate over a service whose port is open and whose health check passes at the `healthyAt`-th look; the delays it slept. */
async function delaysUntilHealthy(healthyAt: number): Promise<number[]> {
  const delays: number[] = [];
  let looks = 0;
  const result = await waitForServices({
    services: [{ name: 'db', container: 'db', ports: [port], healthCommand: true, timeout: 600 }],
    containers: async (): Promise<Record<string, ContainerView>> => {
      looks += 1;
      return { db: { phase: 'running', exitCode: null, health: looks >= healthyAt ? 'HEALTHY' : 'UNKNOWN' } };
    },
    log: () => undefined,
    signal: new AbortController().signal,
    hosts: ['127.0.0.1'],
    sleep: async (ms) => void delays.push(ms),
  });
  expect(result).toEqual({ ok: true });
  return delays;
}

describe("the gate's looks at a service with a health command", () => {
  it('back off from 0.1 s to at most 0.5 s between looks (GATE_BACKOFF)', async () => {
    expect(await delaysUntilHealthy(10)).toEqual([100, 200, 400, 500, 500, 500, 500, 500, 500]);
  });

  it('see a health check that passes 3–15 s after the gate began within 0.5 s (PROBE_BACKOFF: up to 2 s)', async () => {
    // The worst lag of each pace: the first look at or after the check passes, less that time.
    const worstLag = (backoff: typeof GATE_BACKOFF) => {
      let worst = 0;
      for (let passes = 3000; passes <= 15_000; passes += 10) {
        let at = 0;
        for (let attempt = 0; at < passes; attempt += 1) at += backoffDelay(attempt, backoff);
        worst = Math.max(worst, at - passes);
      }
      return worst;
    };
    expect(worstLag(GATE_BACKOFF)).toBeLessThanOrEqual(500);
    expect(worstLag(PROBE_BACKOFF)).toBeGreaterThan(1500);
    // …and the gate sleeps exactly that pace.
    const delays = await delaysUntilHealthy(20);
    expect(delays).toEqual(delays.map((_, attempt) => backoffDelay(attempt, GATE_BACKOFF)));
  });
});
