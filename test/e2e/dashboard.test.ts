// End to end in a real browser: local mode (stand-ins, control plane, local server) runs
// the demo build of examples/postgres; headless Chromium opens the dashboard, goes to the
// build and checks the steps, their statuses and a log line. UPDATE_SCREENSHOT=1 also
// saves docs/build-page.png.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BuildDetail } from '../../core/builds/types.js';
import { snapshotDirectory, type Snapshot } from '../../local/snapshot.js';
import { startLocalSlipway, type LocalSlipway } from '../../local/up.js';
import { chromiumMissing, launchChromium } from './browser.js';
import { skipWithout } from '../support/required-tool.js';
import { HANG_GUARD_MS, waitFor } from '../support/wait.js';
import { seedBuild } from '../api/seed.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const missing = chromiumMissing();
// A hang guard, not a speed goal: on a loaded 2-core machine a page update has taken over
// 10 s, so no wait in the browser may be shorter than what the runner allows a test.
const WAIT = HANG_GUARD_MS;

describe.skipIf(skipWithout('Chromium', missing))('dashboard in headless Chromium', () => {
  let local: LocalSlipway;
  let snapshot: Snapshot;
  let build: BuildDetail;
  const errors: string[] = [];

  beforeAll(async () => {
    // The handlers' JSON log lines (CloudWatch's format) would drown the test report.
    vi.spyOn(console, 'log').mockImplementation(() => {});
    local = await startLocalSlipway({ port: 0, scheduleMs: 500, onError: (where, err) => errors.push(`${where}: ${(err as Error).message}`) });
    snapshot = snapshotDirectory(join(ROOT, 'examples/postgres'), { message: 'Demo: a test suite against PostgreSQL', author: 'demo' });
    const submitted = await local.buildSnapshot(snapshot, { slug: 'demo/postgres' });
    if (typeof submitted !== 'object' || !('buildId' in submitted)) throw new Error(`the demo built nothing: ${JSON.stringify(submitted)}`);
    build = await local.waitForBuild(submitted.buildId, undefined, HANG_GUARD_MS);
  }, 180_000);

  afterAll(async () => {
    await local?.stop();
    snapshot?.remove();
  });

  it('the demo build succeeds through the control plane', () => {
    expect(errors).toEqual([]);
    expect(build.status).toBe('success');
    expect(build.stages[0]!.steps.map((s) => [s.name, s.status])).toEqual([
      ['clone', 'success'],
      ['db', 'success'],
      ['migrate', 'success'],
      ['query', 'success'],
    ]);
  });

  it('shows the build list, then the build with its steps, statuses and log', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (err) => pageErrors.push(err.message));

      // The list of every repository's builds is an index read (eventually consistent) done
      // once per visit: the page is opened once the index has the build.
      await waitFor('the recent builds to list the demo build', async () => (await local.store.listRecentBuilds()).items.some((b) => b.id === build.id));
      await page.goto(`${local.url}/`);
      const row = page.locator('a[href="#/builds/demo/postgres/1"]').first();
      await row.waitFor({ timeout: WAIT });
      await row.click();

      await page.waitForSelector('.step[data-status="success"]', { timeout: WAIT });
      expect(await page.textContent('#build-status')).toBe('success');
      const steps = await page.$$eval('.step', (els) =>
        els.map((e) => ({ name: e.querySelector('span')?.textContent?.trim(), status: (e as HTMLElement).dataset.status, duration: e.querySelector('.meta')?.textContent ?? '' })),
      );
      expect(steps.map((s) => [s.name, s.status])).toEqual([
        ['clone', 'success'],
        ['db (service)', 'success'],
        ['migrate', 'success'],
        ['query', 'success'],
      ]);
      // Each step shows its duration (e.g. "0s", "1s", "1m 02s").
      for (const step of steps) expect(step.duration).toMatch(/^\d+(h|m|s)/);

      // The last step that ran is open: its log has the command echoed and its output.
      await page.waitForSelector('#log .line', { timeout: WAIT });
      await page.locator('#log').getByText('SELECT name FROM items ORDER BY id').first().waitFor({ timeout: WAIT });
      const log = await page.textContent('#log');
      expect(log).toContain('second');

      // Opening another step shows its log.
      await page.click('.step[data-step="3"]');
      await page.locator('#log').getByText('INSERT INTO items').first().waitFor({ timeout: WAIT });
      await page.click('.step[data-step="4"]');
      await page.locator('#log').getByText('SELECT name FROM items ORDER BY id').first().waitFor({ timeout: WAIT });

      expect(pageErrors).toEqual([]);
      if (process.env.UPDATE_SCREENSHOT === '1') {
        mkdirSync(join(ROOT, 'docs'), { recursive: true });
        await page.screenshot({ path: join(ROOT, 'docs/build-page.png'), fullPage: true });
      }
    } finally {
      await browser.close();
    }
  });

  it("drops a log poll answered after another step was opened: it never writes into that step's panel", async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (err) => pageErrors.push(err.message));
      // Which answers the page has read through: a macrotask queued once response.json()
      // resolved runs after the microtasks that consumed it (the view's drop or write).
      await page.addInitScript(() => {
        const json = Response.prototype.json;
        const read: string[] = [];
        (window as unknown as { __read: string[] }).__read = read;
        Response.prototype.json = async function (this: Response) {
          try {
            return await json.call(this);
          } finally {
            setTimeout(() => read.push(this.url), 0);
          }
        };
      });
      await page.goto(`${local.url}/#/builds/demo/postgres/1`);
      await page.locator('#log').getByText('SELECT name FROM items ORDER BY id').first().waitFor({ timeout: WAIT });

      // The log of step 3 (migrate) answers late: once step 4 (query) has been opened (its log
      // asked for), and step 4's own log only once the page has read step 3's. Each answer is
      // held until the event it must follow, never for a time a loaded machine could outrun.
      let releaseStale!: () => void;
      const staleReleased = new Promise<void>((resolve) => (releaseStale = resolve));
      let releaseCurrent!: () => void;
      const currentReleased = new Promise<void>((resolve) => (releaseCurrent = resolve));
      await page.route((url) => url.pathname.endsWith('/logs/1/3'), (route) => void staleReleased.then(() => route.continue()));
      await page.route(
        (url) => url.pathname.endsWith('/logs/1/4'),
        (route) => {
          releaseStale();
          void currentReleased.then(() => route.continue());
        },
      );
      await page.click('.step[data-step="3"]');
      await page.click('.step[data-step="4"]');
      await page.waitForFunction(() => (window as unknown as { __read: string[] }).__read.some((u) => u.includes('/logs/1/3?')), undefined, { timeout: WAIT });
      releaseCurrent();
      await page.locator('#log').getByText('SELECT name FROM items ORDER BY id').first().waitFor({ timeout: WAIT });

      const log = await page.textContent('#log');
      expect(log).not.toContain('INSERT INTO items');
      // Numbered from 1: the late answer for step 3 did not count its lines into this panel.
      expect(await page.locator('#log .line .n').first().textContent()).toBe('1');
      expect(pageErrors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('restarts the build from its page (a new build, parent 1) and cancels the restart while it runs', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      await page.goto(`${local.url}/#/builds/demo/postgres/1`);
      await page.click('#restart');
      await page.waitForURL(/#\/builds\/demo\/postgres\/2$/, { timeout: WAIT });
      const restarted = await local.store.getBuild('demo/postgres#2');
      expect(restarted).toMatchObject({ parent: 1, commit: build.commit, branch: 'main' });

      // Cancel once a task runs, so the stop goes through StopTask and the task events.
      await waitFor('the restarted build to run', async () => (await local.store.getStage('demo/postgres#2', 1))?.status === 'running');
      await page.click('#cancel', { timeout: WAIT });
      const cancelled = await local.waitForBuild('demo/postgres#2', undefined, HANG_GUARD_MS);
      expect(cancelled.status).toBe('killed');
      expect(cancelled.stages[0]).toMatchObject({ status: 'killed', reason: 'cancelled' });
      await page.waitForSelector('#build-status:text("killed")', { timeout: WAIT });
    } finally {
      await browser.close();
    }
  });

  it('the build list shows a build pushed while it is open, and its new status, without a reload', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (err) => pageErrors.push(err.message));
      await page.goto(`${local.url}/`);
      await page.locator('#builds tbody tr').first().waitFor({ timeout: WAIT });
      const navigations: string[] = [];
      page.on('framenavigated', (frame) => void navigations.push(frame.url()));

      // Written after the page read the list (an index read that lags writes, as on AWS). Its
      // stage waits for capacity: a running stage would name a task ECS does not know, which
      // the local stack's reconciler ends as lost (task-lost) at its next pass, racing the page.
      const later = await seedBuild(local.store, { repo: 'demo/later', number: 1, status: 'running', createdAt: Date.now(), stages: [{ name: 'test', status: 'pending', steps: [{ name: 'unit', status: 'pending' }] }] });
      const row = page.locator('tr.build-row', { has: page.locator('a[href="#/builds/demo/later/1"]') });
      await row.locator('.status.running').waitFor({ timeout: WAIT });
      await local.store.updateBuild(later.id, { status: 'success', finishedAt: Date.now() });
      await row.locator('.status.success').waitFor({ timeout: WAIT });
      expect(navigations).toEqual([]);
      expect(pageErrors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('Repositories page: adds, lists, rotates and removes a repository, and shows every name as text', async () => {
    // A name no host allows, written past activation's checks, as a hostile record would be.
    const hostile = 'evil/<img src=x onerror="window.__owned=1">';
    await local.store.ensureRepository({ slug: hostile, scm: 'github', httpUrl: 'https://git.example/evil.git', link: 'https://git.example/evil', defaultBranch: 'main', private: false });
    // The list is a Query of a global secondary index, which is eventually consistent on AWS
    // (and in local mode, 500 ms behind): the page lists the record once the index has it, and
    // a page loaded before that would never show it (the list is read once per visit).
    await waitFor('the repository list to hold the hostile record', async () => (await local.store.listRepositories()).items.some((r) => r.slug === hostile));
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (err) => pageErrors.push(err.message));
      const dialogs: string[] = [];
      page.on('dialog', (dialog) => void (dialogs.push(dialog.message()), dialog.accept()));
      await page.goto(`${local.url}/#/repos`);
      await page.locator('#repos').waitFor({ timeout: WAIT });

      // Listed as text: the markup in the name is neither an element nor run.
      const hostileRow = page.locator('#repos tbody tr', { hasText: 'evil/' });
      await hostileRow.waitFor({ timeout: WAIT });
      expect(await hostileRow.locator('td').first().textContent()).toBe(hostile);
      expect(await page.locator('#repos img').count()).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __owned?: number }).__owned)).toBeUndefined();

      // Add: the webhook URL and the repository's own secret, shown once.
      await page.fill('#r-slug', 'acme/site');
      await page.selectOption('#r-host', 'gitea');
      await page.selectOption('#r-visibility', 'public');
      await page.click('#repo-add button');
      const notice = page.locator('#repo-notice .secret-notice');
      await notice.waitFor({ timeout: WAIT });
      expect(await notice.locator('h3').textContent()).toBe('Webhook of acme/site on gitea');
      const firstSecret = (await notice.locator('code.secret').textContent()) ?? '';
      expect(firstSecret).toMatch(/^[0-9a-f]{64}$/);
      const row = page.locator('#repos tbody tr', { hasText: 'acme/site' });
      expect((await row.locator('td').allTextContents()).slice(0, 4)).toEqual(['acme/site', 'gitea', 'public', 'active']);
      expect(await local.store.getRepository('acme/site')).toMatchObject({ scm: 'gitea', visibility: 'public', active: true });

      // Rotate: asks first, then shows a new secret.
      await row.locator('button[data-action="rotate"]').click();
      await page.waitForFunction((old) => document.querySelector('#repo-notice code.secret')?.textContent !== old, firstSecret, { timeout: WAIT });
      const rotated = (await page.locator('#repo-notice code.secret').textContent()) ?? '';
      expect(rotated).toMatch(/^[0-9a-f]{64}$/);
      expect(rotated).not.toBe(firstSecret);

      // Remove: asks first; the row stays, marked removed, and its webhooks run nothing.
      await page.locator('#repos tbody tr', { hasText: 'acme/site' }).locator('button[data-action="remove"]').click();
      await page.locator('#repo-notice', { hasText: 'acme/site removed' }).waitFor({ timeout: WAIT });
      expect(await page.locator('#repos tbody tr', { hasText: 'acme/site' }).locator('td').nth(3).textContent()).toBe('removed');
      expect(await local.store.getRepository('acme/site')).toMatchObject({ active: false });
      expect(dialogs).toEqual([
        'Replace the webhook secret of acme/site? Its webhook fails until you paste the new one.',
        'Stop building acme/site? Its builds stay; its webhook secret is deleted.',
      ]);

      // A refused activation shows the API's reason, as text too.
      await page.fill('#r-slug', 'acme/<b>bold</b>');
      await page.click('#repo-add button');
      const banner = page.locator('#repo-notice .error-banner');
      await banner.waitFor({ timeout: WAIT });
      expect(await banner.textContent()).toContain('acme/<b>bold</b>');
      expect(await page.locator('#repo-notice b').count()).toBe(0);
      expect(pageErrors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
