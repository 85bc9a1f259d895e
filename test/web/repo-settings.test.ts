// The Repositories page's settings (trusted, capacity, visibility, pull-through cache), rendered
// without a browser: the activation form with the API's defaults, each row's inputs holding the
// record's values, the queries the page sends, and the notice of a change.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  changedSettings,
  REPO_SETTING_DEFAULTS,
  REPO_SETTINGS,
  repoActivationQuery,
  repoSettingsOf,
  repoUpdateQuery,
  type RepoSetting,
} from '../../core/builds/api.js';
import type { Repository } from '../../core/builds/types.js';
import { capacityPreference } from '../../core/pipeline/capacity.js';
import { activate } from '../../lambdas/api/activation.js';
import { buildDashboard } from '../../web/build.js';
import { activationForm, repoRow, repoTableHead, SETTING_HINTS, settingText, trustQuestion, updatedNotice } from '../../web/src/views/repos.js';

const record = (extra: Partial<Repository> = {}): Repository => ({
  slug: 'acme/web', scm: 'github', httpUrl: '', link: '', defaultBranch: 'main', configPath: '.drone.yml', private: true, counter: 2, active: true, visibility: 'private', activatedAt: 1,
  ...extra,
});

/** The value an input of `html` holds for `setting`: a checkbox's state or a select's chosen option; undefined when there is none. */
function inputValue(html: string, setting: RepoSetting): boolean | string | undefined {
  const checkbox = new RegExp(`<input type="checkbox" data-setting="${setting}"[^>]*>`).exec(html);
  if (checkbox) return / checked>$/.test(checkbox[0]);
  const select = new RegExp(`<select data-setting="${setting}"[^>]*>(.*?)</select>`).exec(html);
  if (!select) return undefined;
  const chosen = [...select[1]!.matchAll(/<option value="([^"]*)"( selected)?>/g)].filter((m) => m[2]);
  expect(chosen.length, `${setting}: one option selected`).toBe(1);
  return chosen[0]![1];
}

describe('the activation form', () => {
  it("preselects each setting as the API's activation defaults it, and says what each does", () => {
    const form = activationForm();
    expect(Object.fromEntries(REPO_SETTINGS.map((s) => [s, inputValue(form, s)]))).toEqual({ trusted: false, capacity: 'fargate', visibility: 'private', pullThroughCache: true });
    for (const setting of REPO_SETTINGS) expect(form).toContain(`<span class="meta hint">${SETTING_HINTS[setting]}</span>`.replace(/'/g, '&#39;'));
    // The capacity and visibility offered are the API's, not a list of the page's own.
    expect(form).toMatch(/<select data-setting="capacity"[^>]*><option value="warm">warm<\/option><option value="fargate" selected>fargate<\/option><\/select>/);
    expect(form).toMatch(/<select data-setting="visibility"[^>]*><option value="private" selected>private<\/option><option value="internal">internal<\/option><option value="public">public<\/option><\/select>/);
    expect(form).toContain('<select id="r-host" aria-label="Git host"><option>github</option><option>gitea</option><option>gitlab</option></select>');
  });

  it('its defaults are what the API stores when the query names no setting, and the capacity the planner then uses', async () => {
    let stored: Repository | undefined;
    const deps = {
      store: {
        getRepository: async () => undefined,
        activateRepository: async (a: Partial<Repository>) => (stored = { ...record(), ...a } as Repository),
      },
      secrets: { put: async () => {}, remove: async () => {} },
      now: () => 5,
    } as unknown as Parameters<typeof activate>[0];
    await activate(deps, repoActivationQuery('acme/new', 'github', REPO_SETTING_DEFAULTS));
    expect(stored).toMatchObject({ slug: 'acme/new', visibility: 'private', trusted: false, pullThroughCache: true });
    expect(stored?.capacity).toBeUndefined();
    expect(repoSettingsOf(stored!)).toEqual(REPO_SETTING_DEFAULTS);
    const pipeline = { node: {} } as Parameters<typeof capacityPreference>[0];
    expect(capacityPreference(pipeline, { capacityProviders: {}, trusted: false })).toBe(REPO_SETTING_DEFAULTS.capacity);
  });

  it('asks before trusting, saying what a trusted repository may do, as the README does', () => {
    const question = trustQuestion('acme/web');
    expect(question).toMatch(/^Trust acme\/web\? /);
    for (const words of ["EC2 capacity", 'privileged steps', "the host's Docker socket", 'docker:dind', 'root on its instance', "what the instance's role allows", 'Never for pull requests from forks']) {
      expect(question).toContain(words);
    }
  });
});

describe('a repository row', () => {
  it("holds the record's settings in inputs an admin can change, with Save offered only after a change", () => {
    const plain = repoRow(record());
    expect(Object.fromEntries(REPO_SETTINGS.map((s) => [s, inputValue(plain, s)]))).toEqual({ trusted: false, capacity: 'fargate', visibility: 'private', pullThroughCache: true });
    expect(plain).toContain('<button data-action="save" data-repo="acme/web" disabled>Save settings</button>');
    expect(plain).toContain('aria-label="Trusted of acme/web"');

    const set = repoRow(record({ trusted: true, capacity: 'warm', visibility: 'internal', pullThroughCache: false }));
    expect(Object.fromEntries(REPO_SETTINGS.map((s) => [s, inputValue(set, s)]))).toEqual({ trusted: true, capacity: 'warm', visibility: 'internal', pullThroughCache: false });
  });

  it('reads a record from before the settings existed as the planner does: not trusted, fargate, through the cache, visibility from its private flag', () => {
    const old = repoRow(record({ visibility: undefined, private: false }));
    expect(Object.fromEntries(REPO_SETTINGS.map((s) => [s, inputValue(old, s)]))).toEqual({ trusted: false, capacity: 'fargate', visibility: 'public', pullThroughCache: true });
  });

  it('shows a removed repository and a local directory (which the API refuses to change) as text, with nothing to change', () => {
    for (const repo of [record({ active: false, trusted: true, capacity: 'warm', pullThroughCache: false }), record({ scm: 'local', trusted: true, capacity: 'warm', pullThroughCache: false })]) {
      const row = repoRow(repo);
      expect(row).not.toMatch(/<input|<select|data-action/);
      expect(row).toContain('<td>yes</td><td>warm</td><td>private</td><td>off</td>');
    }
  });

  it('has a column per setting, after the builds, each saying what it does', () => {
    const head = repoTableHead();
    expect(head).toMatch(/<th>Builds<\/th><th title="[^"]+">Trusted<\/th><th title="[^"]+">Capacity<\/th><th title="[^"]+">Visibility<\/th><th title="[^"]+">Pull-through cache<\/th><th><\/th>/);
    // Each row has as many cells as the head has columns.
    const count = (html: string, tag: string) => html.match(new RegExp(`<${tag}[ >]`, 'g'))?.length ?? 0;
    expect(count(repoRow(record()), 'td')).toBe(count(head, 'th'));
    expect(count(repoRow(record({ active: false })), 'td')).toBe(count(head, 'th'));
  });
});

describe('what the page sends', () => {
  it('activation names only the settings that differ from the defaults, as slipway repo add does', () => {
    expect(repoActivationQuery('acme/web', 'github', REPO_SETTING_DEFAULTS).toString()).toBe('repo=acme%2Fweb&host=github');
    expect(repoActivationQuery('acme/web', 'gitea', { trusted: true, capacity: 'warm', visibility: 'public', pullThroughCache: false }).toString()).toBe(
      'repo=acme%2Fweb&host=gitea&trusted=true&capacity=warm&visibility=public&pullThroughCache=false',
    );
  });

  it('an update names exactly the settings changed in the row', () => {
    const current = repoSettingsOf(record());
    expect(changedSettings(current, current)).toEqual({});
    const patch = changedSettings(current, { ...current, trusted: true, pullThroughCache: false });
    expect(patch).toEqual({ trusted: true, pullThroughCache: false });
    expect(repoUpdateQuery('group/sub/app', patch).toString()).toBe('repo=group%2Fsub%2Fapp&trusted=true&pullThroughCache=false');
  });
});

describe('the notice of a change', () => {
  it("lists each setting before and after as the API answered it, an absent one as the default it stood for", () => {
    const html = updatedNotice({
      repo: record({ trusted: true, capacity: 'warm' }),
      changes: [
        { setting: 'trusted', to: true },
        { setting: 'capacity', to: 'warm' },
        { setting: 'pullThroughCache', from: true, to: true },
      ],
    });
    expect(html).toContain('<h3>Settings of acme/web</h3>');
    expect(html).toContain('<li>Trusted: no → yes</li><li>Capacity: fargate → warm</li><li>Pull-through cache: on (unchanged)</li>');
    expect(html).toContain('Builds planned from now on use these settings (a restart too); builds already planned keep theirs.');
  });

  it('says each setting in words', () => {
    expect([settingText('trusted', true), settingText('trusted', undefined), settingText('pullThroughCache', false), settingText('capacity', undefined), settingText('visibility', 'internal')]).toEqual([
      'yes',
      'no',
      'off',
      'fargate',
      'internal',
    ]);
  });
});

describe('the bundle', () => {
  it('builds for the browser: the allowed values come from core modules that pull in no Node built-in', () => {
    const out = mkdtempSync(join(tmpdir(), 'slipway-web-'));
    try {
      buildDashboard(out);
      expect(statSync(join(out, 'app.js')).size).toBeGreaterThan(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
