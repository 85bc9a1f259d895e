// The dashboard's pages in headless Chromium, at desktop and at phone width, on builds that
// ran through local mode: a passing pipeline with skipped steps, a failing one, and one the
// planner rejected (invalid config). One more build is written through the store in the
// shape a skipped `when: status` step takes (its container started to run the gate that
// skipped it, so it has a start time). UPDATE_SCREENSHOT=1 saves each page at both widths
// under docs/screenshots/.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CliIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import type { BuildDetailResponse, MetricsResponse } from '../../core/builds/api.js';
import type { BuildDetail } from '../../core/builds/types.js';
import { snapshotDirectory, type Snapshot } from '../../local/snapshot.js';
import { startLocalSlipway, type LocalSlipway } from '../../local/up.js';
import { seedBuild } from '../api/seed.js';
import { skipWithout } from '../support/required-tool.js';
import { HANG_GUARD_MS, waitFor } from '../support/wait.js';
import { chromiumMissing, DESKTOP, launchChromium, openPage, PHONE, screenshot } from './browser.js';

const missing = chromiumMissing();
const GATED_QUEUED_BECAUSE = 'waiting: no Fargate capacity or quota (RunTask on FARGATE: Capacity is unavailable at this time); retrying with back-off';
// A hang guard, not a speed goal (see dashboard.test.ts).
const WAIT = HANG_GUARD_MS;

const PIPELINES = {
  // Passes; one step is left out by `when: branch`, one runs only on failure.
  pass: `kind: pipeline
type: docker
name: test
steps:
  - name: build
    image: alpine:3.20
    commands:
      - echo "compiled with 0 errors, 0 failures"
      - echo "error handling tests passed"
  - name: release-only
    image: alpine:3.20
    commands: [echo never]
    when:
      branch: [release]
`,
  // Fails at its second step, with the exit code of its test runner.
  fail: `kind: pipeline
type: docker
name: test
steps:
  - name: build
    image: alpine:3.20
    commands:
      - echo compiled
  - name: unit
    image: alpine:3.20
    commands:
      - echo "running 4 tests"
      - 'echo "sum: expected 3, got 4"'
      - exit 3
`,
  // Rejected by the planner: a command that YAML reads as a map.
  invalid: `kind: pipeline
type: docker
name: test
steps:
  - name: build
    image: alpine:3.20
    commands:
      - echo ok: now
`,
} as const;

describe.skipIf(skipWithout('Chromium', missing))('dashboard pages in headless Chromium', () => {
  let local: LocalSlipway;
  let work: string;
  const snapshots: Snapshot[] = [];
  const builds: Record<keyof typeof PIPELINES, BuildDetail> = {} as Record<keyof typeof PIPELINES, BuildDetail>;
  const errors: string[] = [];
  let browser: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    vi.spyOn(console, 'log').mockImplementation(() => {});
    local = await startLocalSlipway({ port: 0, scheduleMs: 500, onError: (where, err) => errors.push(`${where}: ${(err as Error).message}`) });
    work = mkdtempSync(join(tmpdir(), 'slipway-dashboard-pages-'));
    // Pushed one after the other, built side by side (as three repositories' pushes are): one
    // hang guard covers them all.
    const submitted: [keyof typeof PIPELINES, string][] = [];
    for (const [name, yaml] of Object.entries(PIPELINES) as [keyof typeof PIPELINES, string][]) {
      mkdirSync(join(work, name));
      writeFileSync(join(work, name, '.drone.yml'), yaml);
      const snapshot = snapshotDirectory(join(work, name), { message: `${name}: a change`, author: 'demo' });
      snapshots.push(snapshot);
      const result = await local.buildSnapshot(snapshot, { slug: `demo/${name}` });
      if (typeof result !== 'object' || !('buildId' in result)) throw new Error(`demo/${name} built nothing: ${JSON.stringify(result)}`);
      submitted.push([name, result.buildId]);
    }
    await Promise.all(submitted.map(async ([name, id]) => void (builds[name] = await local.waitForBuild(id, undefined, HANG_GUARD_MS))));
    // A passed build whose last step is a skipped `when: status: [failure]` step: its
    // container ran the gate that skipped it (task-runner/decide-steps.ts, STATUS_GATE_SKIP).
    // It waited for capacity before its task ran: its timeline keeps why (StageTimeline.queuedBecause).
    const gatedAt = Date.now() - 61_000;
    await seedBuild(local.store, {
      repo: 'demo/gated',
      number: 1,
      status: 'success',
      createdAt: gatedAt,
      receivedAt: gatedAt - 800,
      stages: [{
        name: 'test',
        timeline: { queuedBecause: GATED_QUEUED_BECAUSE, taskCreatedAt: gatedAt + 1500, pullStartedAt: gatedAt + 1600, pullStoppedAt: gatedAt + 2500, agentStartedAt: gatedAt + 2600, clonedAt: gatedAt + 2800, readyAt: gatedAt + 2900, stoppingAt: gatedAt + 59_000, stoppedAt: gatedAt + 60_000 },
        steps: [{ name: 'clone', kind: 'clone' }, { name: 'build' }, { name: 'notify', status: 'skipped' }],
      }],
    });
    await local.store.updateStep('demo/gated#1', 1, 3, { reason: 'runs only when the build is failing, and no step failed' });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await local?.stop();
    for (const s of snapshots) s.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const open = (hash: string, viewport = DESKTOP) => openPage(browser.context, local.url, hash, viewport);

  it('the builds ran through the control plane as the pages below expect', () => {
    expect(errors).toEqual([]);
    expect(builds.pass.status).toBe('success');
    expect(builds.fail.status).toBe('failure');
    expect(builds.invalid.status).toBe('error');
    expect(builds.invalid.stages.flatMap((s) => s.steps)).toEqual([]);
  });

  it('opens a passed build on the last step that ran, not on a skipped step that started', async () => {
    const { page, pageErrors } = await open('#/builds/demo/gated/1');
    await page.locator('#log-head').waitFor({ timeout: WAIT });
    expect(await page.locator('.step.selected').getAttribute('data-step')).toBe('2');
    expect(await page.locator('#log-head .log-step').textContent()).toBe('build');
    // The skipped step says why it did not run, in the list.
    expect(await page.locator('.step[data-step="3"] .step-reason').textContent()).toBe('runs only when the build is failing, and no step failed');
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it('opens a failed build on its failed step; the log header says step, status, exit code and duration', async () => {
    const { page, pageErrors } = await open('#/builds/demo/fail/1');
    await page.locator('#log').getByText('sum: expected 3, got 4', { exact: true }).waitFor({ timeout: WAIT });
    expect(await page.locator('.step.selected').getAttribute('data-status')).toBe('failure');
    const head = page.locator('#log-head');
    expect(await head.locator('.log-step').textContent()).toBe('unit');
    expect(await head.locator('.status').textContent()).toBe('failure');
    expect(await head.locator('.exit-code').textContent()).toBe('exit code 3');
    expect(await head.locator('.duration').textContent()).toMatch(/^\d+(h|m|s)/);
    // Opened at its end, where `set -e` stopped it: the last line is in view.
    const lastInView = await page.$eval('#log', (el) => {
      const log = el as HTMLElement;
      const last = log.lastElementChild as HTMLElement;
      return last.offsetTop - log.offsetTop + last.offsetHeight <= log.scrollTop + log.clientHeight + 1;
    });
    expect(lastInView).toBe(true);
    expect(pageErrors).toEqual([]);
    await screenshot(page, 'build-failed-desktop');
    await page.setViewportSize(PHONE);
    await screenshot(page, 'build-failed-phone');
    await page.close();
  });

  it("a finished build's page draws where its stage's time went, from the push, as the API gives it; the queued phase says why it waited", async () => {
    const { page, pageErrors } = await open('#/builds/demo/pass/1');
    const timeline = page.locator('.stage .timeline');
    await timeline.waitFor({ timeout: WAIT });
    const api = (await (await fetch(`${local.url}/api/builds/1?repo=demo/pass`)).json()) as BuildDetailResponse;
    const phases = api.stages[0]!.phases ?? [];
    // The push's own phase first (webhook → planner → queued), then the stage's own, as the API gives them.
    expect(phases.map((p) => p.name).slice(0, 2)).toEqual(['control plane', 'queued']);
    expect(phases.map((p) => p.name)).toEqual(expect.arrayContaining(['provisioning', 'clone', 'first step', 'steps', 'teardown']));
    expect(await timeline.locator('.name').allTextContents()).toEqual(phases.map((p) => p.name));
    expect(await timeline.locator('.bar').count()).toBe(phases.length);
    expect(pageErrors).toEqual([]);
    await page.close();

    const gated = await open('#/builds/demo/gated/1');
    const note = gated.page.locator('.stage .timeline .phase-note');
    await note.waitFor({ timeout: WAIT });
    expect(await note.textContent()).toBe(GATED_QUEUED_BECAUSE);
    expect((await gated.page.locator('.stage .timeline .name').allTextContents()).slice(0, 2)).toEqual(['control plane', 'queued']);
    expect(gated.pageErrors).toEqual([]);
    await gated.page.close();
  });

  it('shades no log line by the words in it ("0 errors", "error handling tests passed")', async () => {
    const { page, pageErrors } = await open('#/builds/demo/pass/1');
    await page.locator('#log').getByText('error handling tests passed').first().waitFor({ timeout: WAIT });
    expect(await page.locator('#log-head .log-step').textContent()).toBe('build');
    const backgrounds = await page.$$eval('#log .line', (lines) => lines.map((l) => getComputedStyle(l).backgroundColor));
    expect(backgrounds.length).toBeGreaterThan(1);
    expect(new Set(backgrounds)).toEqual(new Set(['rgba(0, 0, 0, 0)']));
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it("shows why a step was skipped, beneath its name and above its log", async () => {
    const { page, pageErrors } = await open('#/builds/demo/pass/1');
    const skipped = page.locator('.step[data-status="skipped"]');
    await skipped.waitFor({ timeout: WAIT });
    const reason = builds.pass.stages[0]!.steps.find((s) => s.name === 'release-only')!.reason;
    expect(reason).toMatch(/branch/);
    expect(await skipped.locator('.step-reason').textContent()).toBe(reason);
    await skipped.click();
    await page.locator('#log-head .log-step', { hasText: 'release-only' }).waitFor({ timeout: WAIT });
    expect(await page.locator('.log-reason').textContent()).toBe(reason);
    expect(await page.locator('#log-head .status').textContent()).toBe('skipped');
    await page.locator('#log', { hasText: '(did not run)' }).waitFor({ timeout: WAIT });
    expect(pageErrors).toEqual([]);
    await screenshot(page, 'build-skipped-step-desktop');
    await page.setViewportSize(PHONE);
    await screenshot(page, 'build-skipped-step-phone');
    await page.close();
  });

  it('a build the planner rejected shows its error and its pipeline, and no empty box', async () => {
    const { page, pageErrors } = await open('#/builds/demo/invalid/1');
    await page.locator('.stage').waitFor({ timeout: WAIT });
    const message = builds.invalid.stages[0]!.message ?? '';
    expect(message).toMatch(/^\.drone\.yml:\d+:\d+: /);
    expect(await page.locator('.stage .stage-message').textContent()).toBe(message);
    expect(await page.locator('#log').count()).toBe(0);
    const emptyBoxes = await page.$$eval('.card, .log, .error-banner', (els) => els.filter((e) => (e.textContent ?? '').trim() === '').length);
    expect(emptyBoxes).toBe(0);
    expect(await page.locator('.build-head').textContent()).toContain('did not run');
    expect(pageErrors).toEqual([]);
    await screenshot(page, 'build-error-desktop');
    await page.setViewportSize(PHONE);
    await screenshot(page, 'build-error-phone');
    await page.close();
  });

  it('the metrics charts have a legend and named axes with their ranges', async () => {
    // The metrics are read from an index (eventually consistent) once per visit: the page is
    // opened once the API counts every build, so that it and this test read the same figures.
    const metrics = await waitFor('the metrics to count the four builds', async () => {
      const answer = (await (await fetch(`${local.url}/api/metrics?days=30`)).json()) as MetricsResponse;
      return answer.perDay.reduce((sum, d) => sum + d.total, 0) === 4 ? answer : undefined;
    });
    const { page, pageErrors } = await open('#/metrics');
    const perDay = page.locator('.chart.per-day');
    await perDay.waitFor({ timeout: WAIT });
    expect(await perDay.locator('.legend li').allTextContents()).toEqual(['success', 'failure or error', 'other (cancelled, running, pending)']);
    expect(await perDay.locator('.y-title').textContent()).toBe('builds');
    expect(await perDay.locator('.x-title').textContent()).toBe('day (UTC)');
    // The y axis runs from 0 to the busiest day.
    const busiest = Math.max(...metrics.perDay.map((d) => d.total));
    expect(busiest).toBeGreaterThanOrEqual(1);
    const ticks = await perDay.locator('.y-axis span').allTextContents();
    expect([ticks[0], ticks[ticks.length - 1]]).toEqual([String(busiest), '0']);
    const bars = page.locator('.chart.repo-bars');
    // Push → first step: the builds that ran a step recorded their push (local mode's submission) and their first step.
    expect(metrics.repos.filter((r) => r.pushToFirstStep).map((r) => r.repo).sort()).toEqual(['demo/fail', 'demo/pass']);
    expect(await bars.count()).toBe(3);
    for (const [i, axis] of [['0', 'queued → task running, per stage'], ['1', 'webhook received → first step, per build'], ['2', 'build start → end']] as const) {
      const chart = bars.nth(Number(i));
      expect(await chart.locator('.legend li').allTextContents()).toEqual(['p50 (half are faster)', 'p95 (1 in 20 is slower)']);
      expect(await chart.locator('.x-axis .x-title').textContent()).toBe(axis);
      expect(await chart.locator('.x-axis span').first().textContent()).toBe('0');
    }
    expect(pageErrors).toEqual([]);
    await screenshot(page, 'metrics-desktop');
    await page.setViewportSize(PHONE);
    await screenshot(page, 'metrics-phone');
    await page.close();
  });

  it('slipway build shows the clone step\'s own time, its other phases beside it (read from the agent\'s log over the API)', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIO = { out: (t) => out.push(t), err: (t) => err.push(t), cwd: work, env: { ...process.env, SLIPWAY_SERVER: local.url, SLIPWAY_HOME: join(work, 'home') } };
    expect(await main(['build', '1', '--repo', 'demo/pass'], io)).toBe(0);
    expect(err).toEqual([]);
    const row = out.join('\n').split('\n').find((l) => /^1\.1 +clone /.test(l));
    // Steps with commands start with the task and wait in their wrapper: "steps start" runs to their commands' start.
    expect(row).toMatch(/^1\.1 +clone +success +[\d.]+s +agent start [\d.]+s, services ready [\d.]+s, steps start [\d.]+s$/);
  });

  it('an API that does not answer is named on the page, with what to check, not an empty box', async () => {
    const page = await browser.context.newPage();
    await page.route((url) => url.pathname === '/api/builds', (route) => route.abort('connectionrefused'));
    await page.goto(`${local.url}/#/`);
    const banner = page.locator('.error-banner');
    await banner.waitFor({ timeout: WAIT });
    expect(await banner.textContent()).toMatch(/^The Slipway API did not answer GET \/api\/builds \(.+\): is the server \(slipway up, or the deployed API\) running and reachable\?$/);
    expect(await page.locator('#builds').count()).toBe(0);
    await page.close();
  });

  it('at phone width no page is wider than the screen, and a build shows its steps above its log', async () => {
    const pages: [string, string, string][] = [
      ['#/', '#builds tbody tr', 'builds'],
      ['#/builds/demo/fail/1', '#log .line', ''],
      ['#/builds/demo/pass/1', '#log .line', ''],
      ['#/builds/demo/invalid/1', '.stage', ''],
      ['#/metrics', '.chart', ''],
      ['#/repos', '#repos tbody tr', 'repos'],
    ];
    for (const [hash, ready, shot] of pages) {
      const { page, pageErrors } = await open(hash, PHONE);
      await page.locator(ready).first().waitFor({ timeout: WAIT });
      const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, screen: window.innerWidth }));
      expect(widths.page, hash).toBeLessThanOrEqual(widths.screen);
      if (hash.startsWith('#/builds/') && (await page.locator('#log').count())) {
        const stages = await page.locator('#stages').boundingBox();
        const log = await page.locator('.log-panel').boundingBox();
        expect(log!.y, hash).toBeGreaterThanOrEqual(stages!.y + stages!.height);
        expect(log!.width, hash).toBeGreaterThan(PHONE.width * 0.8);
      }
      expect(pageErrors, hash).toEqual([]);
      if (shot) {
        await screenshot(page, `${shot}-phone`);
        await page.setViewportSize(DESKTOP);
        await screenshot(page, `${shot}-desktop`);
      }
      await page.close();
    }
  });
});
