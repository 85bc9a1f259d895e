// Headless Chromium (Debian's /usr/bin/chromium) through playwright-core, with a fresh
// profile: for the dashboard test and the dashboard benchmark.

import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Why the browser cannot run here, or undefined when it can. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is not installed (apt-get install chromium, or run scripts/setup.sh)`;
}

export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'slipway-chromium-'));
  // launchPersistentContext is playwright's way to pass --user-data-dir (a fresh one here).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 800 },
  });
  // Playwright's 30 s default is a deadline a loaded 2-core machine can miss; the test
  // runner's own limit is the hang guard.
  context.setDefaultTimeout(150_000);
  context.setDefaultNavigationTimeout(150_000);
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export const DESKTOP = { width: 1280, height: 800 };
// An iPhone 12–15's CSS viewport.
export const PHONE = { width: 390, height: 844 };

/** A page of the dashboard at `baseUrl/hash`, at that width, with the errors it throws collected. */
export async function openPage(context: BrowserContext, baseUrl: string, hash: string, viewport = DESKTOP): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.setViewportSize(viewport);
  await page.goto(`${baseUrl}/${hash}`);
  return { page, pageErrors };
}

const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots', import.meta.url));

/** docs/screenshots/NAME.png, only when UPDATE_SCREENSHOT=1 (the committed ones are reviewed by hand). */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.UPDATE_SCREENSHOT !== '1') return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
