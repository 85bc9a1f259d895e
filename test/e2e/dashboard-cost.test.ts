// What a build cost, end to end in local mode: a pipeline runs through the control plane, its
// task's stop event records what it used and the finished build carries its cost (priced with
// us-east-1's table, the stand-ins' Region); the build page and the metrics page show it in
// headless Chromium, at desktop and phone width; `slipway builds` and `slipway build` print it.
// UPDATE_SCREENSHOT=1 saves the pages under docs/screenshots/ (build-cost-*, metrics-cost-*).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CliIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import type { MetricsResponse } from '../../core/builds/api.js';
import type { BuildDetail } from '../../core/builds/types.js';
import { formatUsd } from '../../core/cost/build-cost.js';
import { DEFAULT_PRICES } from '../../core/cost/price-table.js';
import { snapshotDirectory, type Snapshot } from '../../local/snapshot.js';
import { startLocalSlipway, type LocalSlipway } from '../../local/up.js';
import { skipWithout } from '../support/required-tool.js';
import { HANG_GUARD_MS, waitFor } from '../support/wait.js';
import { chromiumMissing, DESKTOP, launchChromium, openPage, PHONE, screenshot } from './browser.js';

const missing = chromiumMissing();
// A hang guard, not a speed goal (see dashboard.test.ts).
const WAIT = HANG_GUARD_MS;

const PIPELINE = `kind: pipeline
type: docker
name: test
resources: { cpu: 512, memory: 1024, storage: 30 }
steps:
  - name: build
    image: alpine:3.20
    commands:
      - echo built
`;

describe.skipIf(skipWithout('Chromium', missing))('the cost of a build, recorded and shown', () => {
  let local: LocalSlipway;
  let work: string;
  let snapshot: Snapshot | undefined;
  let build: BuildDetail;
  const errors: string[] = [];
  let browser: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    vi.spyOn(console, 'log').mockImplementation(() => {});
    local = await startLocalSlipway({ port: 0, scheduleMs: 500, onError: (where, err) => errors.push(`${where}: ${(err as Error).message}`) });
    work = mkdtempSync(join(tmpdir(), 'slipway-dashboard-cost-'));
    writeFileSync(join(work, '.drone.yml'), PIPELINE);
    snapshot = snapshotDirectory(work, { message: 'cost: a change', author: 'demo' });
    const submitted = await local.buildSnapshot(snapshot, { slug: 'demo/cost' });
    if (typeof submitted !== 'object' || !('buildId' in submitted)) throw new Error(`demo/cost built nothing: ${JSON.stringify(submitted)}`);
    await local.waitForBuild(submitted.buildId, undefined, HANG_GUARD_MS);
    // The cost is written with the build's end; read it back through the API as clients do.
    build = (await (await fetch(`${local.url}/api/builds/1?repo=demo/cost`)).json()) as BuildDetail;
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await local?.stop();
    snapshot?.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const open = (hash: string, viewport = DESKTOP) => openPage(browser.context, local.url, hash, viewport);

  it("records the task's usage from its stop event and prices the build with it", () => {
    expect(errors).toEqual([]);
    expect(build.status).toBe('success');
    const usage = Object.values(build.stages[0]!.usage ?? {});
    expect(usage).toHaveLength(1);
    expect(usage[0]).toMatchObject({ cpu: 512, memory: 1024, storageGiB: 30, architecture: 'X86_64', capacity: 'FARGATE', publicIpv4: false });
    expect(usage[0]!.billedTo).toBeGreaterThan(usage[0]!.billedFrom);
    const cost = build.cost!;
    expect(cost).toMatchObject({ currency: 'USD', region: 'us-east-1', pricesAsOf: DEFAULT_PRICES.asOf });
    // A short task bills Fargate's one-minute minimum: 0.5 vCPU and 1 GB for at least 60 s, 10 GB of storage over the free 20.
    const rates = DEFAULT_PRICES.regions['us-east-1']!;
    const minutes = Math.max(60, Math.ceil((usage[0]!.billedTo - usage[0]!.billedFrom) / 1000)) / 3600;
    expect(cost.fargate).toBeCloseTo(minutes * (0.5 * rates.fargate.X86_64.onDemand.vcpuHour + 1 * rates.fargate.X86_64.onDemand.gbHour), 7);
    expect(cost.storage).toBeCloseTo(minutes * 10 * rates.ephemeralStorageGbHour, 7);
    expect(cost.publicIpv4).toBe(0);
    expect(cost.estimates.length).toBeGreaterThan(0);
  });

  it('the build page shows the total, and opened, each line and what was estimated', async () => {
    const { page, pageErrors } = await open('#/builds/demo/cost/1');
    const card = page.locator('#build-cost');
    await card.waitFor({ timeout: WAIT });
    expect(await card.locator('.cost-total').textContent()).toBe(`Cost ${formatUsd(build.cost!.total)}`);
    expect(await card.locator('summary').textContent()).toContain(`us-east-1, prices of ${DEFAULT_PRICES.asOf}`);
    await card.locator('summary').click();
    const items = await card.locator('tbody td:first-child').allTextContents();
    expect(items).toEqual(expect.arrayContaining(['Fargate vCPU (x86_64, on-demand)', 'Fargate memory (x86_64, on-demand)', 'Fargate ephemeral storage over 20 GB', 'Lambda requests *']));
    expect(await card.textContent()).toContain('* estimated: logs:');
    // Opened, it stays open while the page refreshes a live build.
    expect(await card.getAttribute('open')).not.toBeNull();
    // At phone width the table scrolls inside its card: the page never scrolls sideways.
    await page.setViewportSize(PHONE);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    expect(pageErrors).toEqual([]);
    await page.setViewportSize(DESKTOP);
    await screenshot(page, 'build-cost-desktop');
    await page.setViewportSize(PHONE);
    await screenshot(page, 'build-cost-phone');
    await page.close();
  });

  it('the metrics page totals cost per day and per repository, with a legend and named axes', async () => {
    // The metrics are read from an index (eventually consistent) once per visit: the page is
    // opened once the API has the build's cost, so that it and this test read the same figures.
    const metrics = await waitFor('the metrics to price the build', async () => {
      const answer = (await (await fetch(`${local.url}/api/metrics?days=30`)).json()) as MetricsResponse;
      return answer.repos.find((r) => r.repo === 'demo/cost')?.pricedBuilds === 1 ? answer : undefined;
    });
    expect(metrics.costUsd).toBeCloseTo(build.cost!.total, 8);
    expect(metrics.repos.find((r) => r.repo === 'demo/cost')).toMatchObject({ pricedBuilds: 1 });
    const { page, pageErrors } = await open('#/metrics');
    const chart = page.locator('.chart.cost-per-day');
    await chart.waitFor({ timeout: WAIT });
    expect(await page.locator('#cost-total').textContent()).toBe(`Builds in this period cost ${formatUsd(metrics.costUsd!)}`);
    expect(await chart.locator('.legend li').allTextContents()).toEqual(['cost of the builds created that day (USD)']);
    expect(await chart.locator('.y-title').textContent()).toBe('USD');
    expect(await chart.locator('.x-title').textContent()).toBe('day (UTC)');
    const ticks = await chart.locator('.y-axis span').allTextContents();
    expect([ticks[0], ticks[ticks.length - 1]]).toEqual([formatUsd(Math.max(...metrics.perDay.map((d) => d.costUsd ?? 0))), '$0']);
    expect(await chart.locator('rect.cost').count()).toBe(1);
    const row = page.locator('table.cost-by-repo tbody tr', { hasText: 'demo/cost' });
    expect(await row.locator('td').allTextContents()).toEqual(['demo/cost', formatUsd(build.cost!.total), '1 of 1', formatUsd(build.cost!.total)]);
    await page.setViewportSize(PHONE);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    expect(pageErrors).toEqual([]);
    await page.setViewportSize(DESKTOP);
    await screenshot(page, 'metrics-cost-desktop');
    await page.setViewportSize(PHONE);
    await screenshot(page, 'metrics-cost-phone');
    await page.close();
  });

  it('slipway builds has a COST column and slipway build prints the lines', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIO = { out: (t) => out.push(t), err: (t) => err.push(t), cwd: work, env: { ...process.env, SLIPWAY_SERVER: local.url, SLIPWAY_HOME: join(work, 'home') } };
    expect(await main(['builds', '--repo', 'demo/cost'], io)).toBe(0);
    const [head, first] = out.join('\n').split('\n');
    expect(first!.slice(head!.indexOf('COST')).split(/\s+/)[0]).toBe(formatUsd(build.cost!.total));
    out.length = 0;
    expect(await main(['build', '1', '--repo', 'demo/cost'], io)).toBe(0);
    expect(err).toEqual([]);
    expect(out.join('\n')).toContain(`cost: ${formatUsd(build.cost!.total)} in us-east-1`);
  });
});
