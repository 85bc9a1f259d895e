// The Repositories page end to end in headless Chromium, against local mode's server (the
// API Lambda's router, DynamoDB Local behind its eventual-consistency proxy): activate,
// rotate and remove; activate with each setting and change them from a row, reading the
// repository back through the API each time; the API's refusals shown in its own words.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { REPO_SETTING_DEFAULTS, repoSettingsOf, type RepoListResponse } from '../../core/builds/api.js';
import type { Repository } from '../../core/builds/types.js';
import { startLocalSlipway, type LocalSlipway } from '../../local/up.js';
import { trustQuestion } from '../../web/src/views/repos.js';
import { skipWithout } from '../support/required-tool.js';
import { HANG_GUARD_MS, waitFor } from '../support/wait.js';
import { chromiumMissing, launchChromium } from './browser.js';

const missing = chromiumMissing();
// A hang guard, not a speed goal (see dashboard.test.ts).
const WAIT = HANG_GUARD_MS;

describe.skipIf(skipWithout('Chromium', missing))('Repositories page in headless Chromium', () => {
  let local: LocalSlipway;
  let home: string;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  const errors: string[] = [];

  beforeAll(async () => {
    // The handlers' JSON log lines (CloudWatch's format) would drown the test report.
    vi.spyOn(console, 'log').mockImplementation(() => {});
    // Activation writes each repository's webhook secret under SLIPWAY_HOME: a home of the test's own.
    home = mkdtempSync(join(tmpdir(), 'slipway-dashboard-repos-'));
    local = await startLocalSlipway({ port: 0, env: { ...process.env, SLIPWAY_HOME: home }, onError: (where, err) => errors.push(`${where}: ${(err as Error).message}`) });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await local?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /** The repository as GET /api/repos lists it, once `ready` says the (eventually consistent) list has the write awaited. */
  async function listed(slug: string, ready: (repo: Repository) => boolean = () => true): Promise<Repository> {
    return waitFor(`GET /api/repos to list ${slug} as awaited`, async () => {
      const response = await fetch(`${local.url}/api/repos`, { headers: { accept: 'application/json', 'x-slipway-request': '1' } });
      const repo = ((await response.json()) as RepoListResponse).repos.find((r) => r.slug === slug);
      return repo && ready(repo) ? repo : undefined;
    });
  }

  /** The Repositories page, with every dialog's message kept and answered by `answer` (accept unless it says no). */
  async function openRepos(answer: { accept: boolean } = { accept: true }) {
    const page = await browser.context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => void (dialogs.push(dialog.message()), answer.accept ? dialog.accept() : dialog.dismiss()));
    const sent: string[] = [];
    page.on('request', (request) => void (request.method() === 'POST' && sent.push(new URL(request.url()).pathname)));
    await page.goto(`${local.url}/#/repos`);
    await page.locator('#repos').waitFor({ timeout: WAIT });
    return { page, pageErrors, dialogs, sent };
  }

  /** The values the inputs of `slug`'s row hold. */
  function rowSettings(page: Page, slug: string) {
    const row = page.locator(`#repos tbody tr[data-repo="${slug}"]`);
    return row.evaluate((tr) =>
      Object.fromEntries(
        [...tr.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[data-setting]')].map((input) => [
          input.dataset.setting,
          input instanceof HTMLInputElement ? input.checked : input.value,
        ]),
      ),
    );
  }

  it('adds, lists, rotates and removes a repository, and shows every name as text', async () => {
    // A name no host allows, written past activation's checks, as a hostile record would be.
    const hostile = 'evil/<img src=x onerror="window.__owned=1">';
    await local.store.ensureRepository({ slug: hostile, scm: 'github', httpUrl: 'https://git.example/evil.git', link: 'https://git.example/evil', defaultBranch: 'main', private: false });
    // The list is a Query of a global secondary index, which is eventually consistent on AWS
    // (and in local mode, 500 ms behind): the page lists the record once the index has it, and
    // a page loaded before that would never show it (the list is read once per visit).
    await waitFor('the repository list to hold the hostile record', async () => (await local.store.listRepositories()).items.some((r) => r.slug === hostile));
    const { page, pageErrors, dialogs } = await openRepos();

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
    expect((await row.locator('td').allTextContents()).slice(0, 3)).toEqual(['acme/site', 'gitea', 'active']);
    expect((await rowSettings(page, 'acme/site')).visibility).toBe('public');
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
    expect(await page.locator('#repos tbody tr', { hasText: 'acme/site' }).locator('td').nth(2).textContent()).toBe('removed');
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
    await page.close();
  });

  it('activates with each setting (asking before trust) and with the defaults, as the API then lists them', async () => {
    const answer = { accept: true };
    const { page, pageErrors, dialogs, sent } = await openRepos(answer);

    // Every setting away from its default.
    await page.fill('#r-slug', 'acme/all');
    await page.selectOption('#r-host', 'gitlab');
    await page.check('#r-trusted');
    await page.selectOption('#r-capacity', 'warm');
    await page.selectOption('#r-visibility', 'internal');
    await page.uncheck('#r-pullThroughCache');
    await page.click('#repo-add button');
    await page.locator('#repo-notice .secret-notice h3', { hasText: 'Webhook of acme/all on gitlab' }).waitFor({ timeout: WAIT });
    expect(dialogs).toEqual([trustQuestion('acme/all')]);
    const all = await listed('acme/all');
    expect(all).toMatchObject({ scm: 'gitlab', active: true, trusted: true, capacity: 'warm', visibility: 'internal', pullThroughCache: false });
    expect(all.trustSetAt).toEqual(expect.any(Number));
    expect(await rowSettings(page, 'acme/all')).toEqual({ trusted: true, capacity: 'warm', visibility: 'internal', pullThroughCache: false });

    // The form as it comes: the API's defaults, and no question (nothing is trusted).
    await page.fill('#r-slug', 'acme/plain');
    await page.click('#repo-add button');
    await page.locator('#repo-notice .secret-notice h3', { hasText: 'Webhook of acme/plain on github' }).waitFor({ timeout: WAIT });
    const plain = await listed('acme/plain');
    expect(repoSettingsOf(plain)).toEqual(REPO_SETTING_DEFAULTS);
    expect(plain).toMatchObject({ scm: 'github', trusted: false, visibility: 'private', pullThroughCache: true });
    expect(plain.capacity).toBeUndefined();
    expect(dialogs).toHaveLength(1);

    // Trust declined: nothing is sent.
    answer.accept = false;
    const before = sent.length;
    await page.fill('#r-slug', 'acme/declined');
    await page.check('#r-trusted');
    await page.click('#repo-add button');
    await waitFor('the trust question', async () => dialogs.length === 2);
    expect(dialogs[1]).toBe(trustQuestion('acme/declined'));
    expect(sent.slice(before)).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it("changes a row's settings through the update route and shows the API's refusal in its words", async () => {
    const answer = { accept: true };
    const { page, pageErrors, dialogs, sent } = await openRepos(answer);
    const before = await listed('acme/plain');
    const row = page.locator('#repos tbody tr[data-repo="acme/plain"]');
    const save = row.locator('button[data-action="save"]');
    await row.waitFor({ timeout: WAIT });
    expect(await save.isDisabled()).toBe(true);

    // Every setting changed at once: one request, one question (trust), each change noted.
    await row.locator('[data-setting="trusted"]').check();
    await row.locator('[data-setting="capacity"]').selectOption('warm');
    await row.locator('[data-setting="visibility"]').selectOption('public');
    await row.locator('[data-setting="pullThroughCache"]').uncheck();
    expect(await save.isDisabled()).toBe(false);
    await save.click();
    const notice = page.locator('#repo-notice .settings-notice');
    await notice.waitFor({ timeout: WAIT });
    expect(dialogs).toEqual([trustQuestion('acme/plain')]);
    expect(sent.filter((p) => p === '/api/repos/update')).toHaveLength(1);
    expect(await notice.locator('li').allTextContents()).toEqual(['Trusted: no → yes', 'Capacity: fargate → warm', 'Visibility: private → public', 'Pull-through cache: on → off']);
    const changed = await listed('acme/plain', (r) => r.trusted === true);
    expect(changed).toMatchObject({ trusted: true, capacity: 'warm', visibility: 'public', pullThroughCache: false, activatedAt: before.activatedAt, counter: before.counter });
    expect(await rowSettings(page, 'acme/plain')).toEqual({ trusted: true, capacity: 'warm', visibility: 'public', pullThroughCache: false });

    // Taking trust away asks nothing and changes nothing else.
    await page.locator('#repos tbody tr[data-repo="acme/plain"] [data-setting="trusted"]').uncheck();
    await page.locator('#repos tbody tr[data-repo="acme/plain"] button[data-action="save"]').click();
    await page.locator('#repo-notice .settings-notice li', { hasText: 'Trusted: yes → no' }).waitFor({ timeout: WAIT });
    expect(dialogs).toHaveLength(1);
    expect(await listed('acme/plain', (r) => r.trusted === false)).toMatchObject({ trusted: false, capacity: 'warm', visibility: 'public', pullThroughCache: false });

    // Trust declined: nothing is sent.
    answer.accept = false;
    const updates = sent.length;
    await page.locator('#repos tbody tr[data-repo="acme/plain"] [data-setting="trusted"]').check();
    await page.locator('#repos tbody tr[data-repo="acme/plain"] button[data-action="save"]').click();
    await waitFor('the trust question', async () => dialogs.length === 2);
    expect(sent.slice(updates)).toEqual([]);

    // Removed meanwhile (by another admin, the CLI): the API refuses, and the page says what it said.
    await local.store.deactivateRepository('acme/plain');
    await listed('acme/plain', (r) => !r.active);
    answer.accept = true;
    await page.locator('#repos tbody tr[data-repo="acme/plain"] [data-setting="capacity"]').selectOption('fargate');
    await page.locator('#repos tbody tr[data-repo="acme/plain"] button[data-action="save"]').click();
    const banner = page.locator('#repo-notice .error-banner');
    await banner.waitFor({ timeout: WAIT });
    expect(await banner.textContent()).toBe('api: repository acme/plain is not activated; activate it with: slipway repo add acme/plain --host HOST');
    expect(pageErrors).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
