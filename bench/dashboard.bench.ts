// The build page's render time with 1,000 builds in the table: DynamoDB Local (the local
// stand-in) seeded through the store, the local server (same API router as the Lambda),
// headless Chromium. Measures navigation → every step of the build visible, both for a
// full page load and for an in-app navigation from the build list. Goal: < 200 ms.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoBuildStore } from '../adapters/dynamodb/store.js';
import { percentile } from '../core/builds/metrics.js';
import { LogStore } from '../local/ecs/logs.js';
import { startLocalServer } from '../local/server.js';
import { logStreamName } from '../core/pipeline/log-configuration.js';
import { localLogReader } from '../local/log-reader.js';
import { buildDashboard } from '../web/build.js';
import { startDynamoLocal } from '../test/support/dynamodb-local.js';
import { seedBuild, seededApiDeps } from '../test/api/seed.js';
import { chromiumMissing, launchChromium } from '../test/e2e/browser.js';

const BUILDS = 1000;
const SAMPLES = 40;
const GROUP = '/slipway/builds';

const missing = chromiumMissing();
if (missing) {
  console.log(`dashboard bench skipped: ${missing}`);
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'slipway-dash-bench-'));
const db = await startDynamoLocal('slipway-dash-bench');
const store = new DynamoBuildStore(db.doc, db.tableName);
const repos = ['acme/api', 'acme/web', 'acme/worker', 'tools/cli'];
const logs = new LogStore(join(dir, 'logs'));
const t0 = Date.now() - BUILDS * 60_000;
const seedStart = performance.now();
for (const slug of repos) await store.ensureRepository({ slug, scm: 'github', httpUrl: `https://git.example/${slug}.git`, link: `https://git.example/${slug}`, defaultBranch: 'main', private: false });
for (let i = 0; i < BUILDS; i += 10) {
  await Promise.all(
    Array.from({ length: Math.min(10, BUILDS - i) }, (_, k) => {
      const n = i + k;
      const repo = repos[n % repos.length]!;
      const number = Math.floor(n / repos.length) + 1;
      const taskArn = `arn:aws:ecs:us-east-1:000000000000:task/slipway/t${n}`;
      return seedBuild(store, {
        repo, number, createdAt: t0 + n * 60_000, status: n % 7 === 0 ? 'failure' : 'success',
        stages: [
          { name: 'test', taskArn, steps: [{ name: 'clone', kind: 'clone' }, { name: 'db', kind: 'service' }, { name: 'deps' }, { name: 'lint' }, { name: 'unit' }, { name: 'integration' }] },
          { name: 'deploy', dependsOn: ['test'], taskArn: `${taskArn}d`, steps: [{ name: 'clone', kind: 'clone' }, { name: 'publish' }] },
        ],
      });
    }),
  );
}
const seedMs = performance.now() - seedStart;
// The measured builds have a 200-line log on the step the page opens.
for (const number of [1, 50, 100, 200, 250]) {
  const n = (number - 1) * repos.length;
  const w = logs.writer({ group: GROUP, stream: logStreamName('publish', `arn:aws:ecs:us-east-1:000000000000:task/slipway/t${n}d`), taskArn: 'x', container: 'publish' });
  for (let l = 0; l < 200; l++) w.line('stdout', `line ${l}: publishing artefact ${l} of 200`);
}

const server = await startLocalServer({
  port: 0,
  webDir: buildDashboard(join(dir, 'web')),
  api: seededApiDeps(store, db, localLogReader(join(dir, 'logs'), GROUP)),
  webhook: { repositories: store, secrets: { get: async () => 'bench' }, deliveries: store, enqueue: async () => {} },
});

const browser = await launchChromium();
const page = await browser.context.newPage();
const numbers = [1, 50, 100, 200, 250];
const full: number[] = [];
const inApp: number[] = [];
const STEPS = 8;
const stepsVisible = () => page.waitForFunction((n) => document.querySelectorAll('.step').length === n, STEPS, { polling: 'raf' });

// Warm-up: the first load compiles the bundle and fills caches.
await page.goto(`${server.url}/#/builds/acme/api/1`);
await stepsVisible();
for (let i = 0; i < SAMPLES; i++) {
  const number = numbers[i % numbers.length]!;
  // From a trivial page of the same origin: a full document load in the same renderer.
  await page.goto(`${server.url}/style.css`);
  const start = performance.now();
  await page.goto(`${server.url}/#/builds/acme/api/${number}`);
  await stepsVisible();
  full.push(performance.now() - start);

  await page.goto(`${server.url}/#/`);
  await page.waitForSelector('.build-row');
  const t = performance.now();
  await page.evaluate((n) => (location.hash = `#/builds/acme/api/${n}`), number);
  await stepsVisible();
  inApp.push(performance.now() - t);
}
await page.goto(`${server.url}/style.css`);
const listStart = performance.now();
await page.goto(`${server.url}/#/`);
await page.waitForSelector('.build-row');
const listMs = performance.now() - listStart;

const api: number[] = [];
for (let i = 0; i < SAMPLES; i++) {
  const t = performance.now();
  await (await fetch(`${server.url}/api/repos/acme/api/builds/${numbers[i % numbers.length]}`)).json();
  api.push(performance.now() - t);
}

await browser.close();
await server.stop();
await db.stop();
rmSync(dir, { recursive: true, force: true });

const fmt = (v: number) => `${v.toFixed(0)} ms`;
console.log(`builds in the table: ${BUILDS} (4 repositories, 2 stages / 8 steps each); seeded in ${(seedMs / 1000).toFixed(1)} s`);
console.log(`build page, full load → steps visible:    median ${fmt(percentile(full, 50))}, p95 ${fmt(percentile(full, 95))} (${SAMPLES} samples)`);
console.log(`build page, from the list → steps visible: median ${fmt(percentile(inApp, 50))}, p95 ${fmt(percentile(inApp, 95))}`);
console.log(`of which the API's build request (Node fetch): median ${fmt(percentile(api, 50))}, p95 ${fmt(percentile(api, 95))}`);
console.log(`build list, full load → rows visible: ${fmt(listMs)}`);
console.log(`goal < 200 ms: ${percentile(full, 95) < 200 ? 'met' : 'NOT met'} (p95 of full loads)`);
