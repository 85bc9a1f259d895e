// Every render site of the dashboard escapes what a push controls (repository and branch
// names, commit message and author, stage and step names, stage messages, build errors,
// log lines): one hostile value everywhere, and no markup of it may survive.
import { describe, expect, it } from 'vitest';
import type { BuildDetail, StepRecord } from '../../core/builds/types.js';
import { escapeHtml } from '../../web/src/format.js';
import { layoutStages, renderGraph } from '../../web/src/graph.js';
import { header, logHeader, logLine, stageBlock, stepItem } from '../../web/src/views/build.js';
import { buildRow, filterBar } from '../../web/src/views/builds.js';
import { perDayChart, repoBars, repoTableRows } from '../../web/src/views/metrics.js';
import { repoRow, secretNotice, updatedNotice } from '../../web/src/views/repos.js';
import type { RepoActivationResponse, RepoUpdateResponse } from '../../core/builds/api.js';
import type { Repository } from '../../core/builds/types.js';

const EVIL = '<img src=x onerror=alert(1)>"\'&';
const ESCAPED = escapeHtml(EVIL);

/** No tag or attribute of EVIL survives, and its text is there, escaped. */
function expectEscaped(html: string, where: string): void {
  expect(html, where).not.toContain('<img');
  expect(html, where).not.toMatch(/onerror=alert\(1\)>"/);
  expect(html, where).toContain(ESCAPED);
}

const step = (extra: Partial<StepRecord> = {}): StepRecord => ({
  buildId: 'o/r#1', stageNumber: 1, number: 1, name: EVIL, container: 'c', status: 'failure', detached: false, kind: 'step', exitCode: 1, ...extra,
});

const detail = (): BuildDetail =>
  ({
    id: `${EVIL}#1`, repo: `o/${EVIL}`, number: 1, status: 'failure', event: EVIL, action: '', ref: `refs/heads/${EVIL}`, branch: EVIL,
    commit: EVIL.padEnd(40, 'x'), message: `${EVIL}\nsecond line`, author: EVIL, link: '', deliveryId: 'd', fork: false,
    createdAt: 0, startedAt: 0, finishedAt: 1000, error: `.drone.yml:1:1: ${EVIL}`,
    stages: [
      { buildId: 'b', repo: 'o/r', buildNumber: 1, number: 1, name: EVIL, status: 'failure', dependsOn: [], attempts: 1, message: EVIL, notes: [EVIL], steps: [step()] },
      { buildId: 'b', repo: 'o/r', buildNumber: 1, number: 2, name: `${EVIL}2`, status: 'skipped', dependsOn: [EVIL], attempts: 1, steps: [] },
    ],
  }) as unknown as BuildDetail;

describe('dashboard render sites escape text from a push', () => {
  it('the build header: repository, event, branch, commit, author, message and error', () => {
    const html = header(detail(), 2000);
    expectEscaped(html, 'header');
    // Each field on its own: a missing escape at one site must show.
    for (const field of ['repo', 'event', 'branch', 'author', 'message', 'error'] as const) {
      const build = { ...detail(), repo: 'o/r', event: 'push', branch: 'main', author: 'a', message: 'm', error: '', [field]: field === 'repo' ? `o/${EVIL}` : EVIL } as BuildDetail;
      expectEscaped(header(build, 2000), `header.${field}`);
    }
  });

  it('a stage: its name, message, notes and step labels', () => {
    for (const field of ['name', 'message', 'notes', 'step'] as const) {
      const base = { ...detail().stages[0]!, name: 'test', message: 'ok', notes: ['n'], steps: [step({ name: 'unit' })] };
      const stage = field === 'notes' ? { ...base, notes: [EVIL] } : field === 'step' ? { ...base, steps: [step()] } : { ...base, [field]: EVIL };
      expectEscaped(stageBlock(stage, { stage: 1, step: 1 }, 2000), `stage.${field}`);
    }
  });

  it('a log line', () => {
    expectEscaped(logLine({ time: 0, text: EVIL } as Parameters<typeof logLine>[0], 0), 'log line');
  });

  it("a step's reason, in its list and above its log, and the step name above its log", () => {
    expectEscaped(stepItem(1, step({ name: 'unit', status: 'skipped', reason: EVIL }), false, 2000), 'step reason');
    expectEscaped(logHeader(step({ name: 'unit', reason: EVIL }), 2000), 'log header reason');
    expectEscaped(logHeader(step({ reason: 'r' }), 2000), 'log header step');
  });

  it('a row of the builds list: repository, event, branch, message, commit and the link', () => {
    for (const field of ['repo', 'event', 'branch', 'message', 'commit'] as const) {
      const build = { ...detail(), repo: 'o/r', event: 'push', branch: 'main', message: 'm', commit: 'c'.repeat(40), [field]: field === 'repo' ? `o/${EVIL}` : EVIL } as BuildDetail;
      const html = buildRow(build, 2000);
      if (field === 'commit') expect(html, 'row.commit').not.toContain('<img');
      else expectEscaped(html, `row.${field}`);
    }
  });

  it('the stage graph and the metrics charts', () => {
    expectEscaped(renderGraph(layoutStages(detail().stages), escapeHtml), 'graph');
    expectEscaped(perDayChart([{ day: EVIL, total: 1, success: 1, failure: 0, other: 0 }]), 'per-day chart');
    expectEscaped(repoBars([{ repo: EVIL, builds: 1, successRate: 1, queueWait: { p50: 1, p95: 2 }, duration: { p50: 1, p95: 2 } }], (r) => r.duration, EVIL, EVIL), 'repo bars');
  });

  it('the builds filter: the repository from the page address', () => {
    expectEscaped(filterBar(EVIL, ''), 'filter');
  });

  it('the metrics table: repository names', () => {
    expectEscaped(repoTableRows([{ repo: EVIL, builds: 1, successRate: 1, queueWait: { p50: 1, p95: 2 }, duration: { p50: 1, p95: 2 } }]), 'metrics table');
  });

  it('the repositories page: a row and the webhook notice (name, host, URL and secret)', () => {
    const repo = { slug: `o/${EVIL}`, scm: EVIL, active: true, activatedAt: 1, counter: 0, private: true } as unknown as Repository;
    expectEscaped(repoRow(repo), 'repo row');
    const notice = (extra: Partial<RepoActivationResponse['webhook']>) =>
      secretNotice({ repo, webhook: { host: 'github', url: 'https://hooks.example.com/github', secret: 's', ...extra } } as unknown as RepoActivationResponse);
    expectEscaped(notice({ secret: EVIL }), 'notice.secret');
    expectEscaped(notice({ url: EVIL }), 'notice.url');
  });

  it("the repositories page's settings: a row's inputs and text, and the notice of a change", () => {
    // A record written past the API's checks: every value of it hostile.
    const hostile = { slug: `o/${EVIL}`, scm: 'github', active: true, activatedAt: 1, counter: 0, private: true, trusted: true, capacity: EVIL, visibility: EVIL } as unknown as Repository;
    for (const [name, repo] of [['changeable', hostile], ['removed', { ...hostile, active: false }], ['local', { ...hostile, scm: 'local' }]] as const) {
      expectEscaped(repoRow(repo), `settings row (${name})`);
      for (const field of ['capacity', 'visibility'] as const) expectEscaped(repoRow({ ...repo, slug: 'o/r', [field]: EVIL, [field === 'capacity' ? 'visibility' : 'capacity']: undefined } as Repository), `settings row (${name}).${field}`);
    }
    const update = (extra: Partial<RepoUpdateResponse>) => updatedNotice({ repo: { ...hostile, slug: 'o/r' }, changes: [{ setting: 'capacity', from: 'warm', to: 'fargate' }], ...extra } as RepoUpdateResponse);
    expectEscaped(update({ repo: hostile }), 'update notice.repo');
    expectEscaped(update({ changes: [{ setting: 'capacity', from: EVIL, to: 'warm' }] }), 'update notice.from');
    expectEscaped(update({ changes: [{ setting: 'visibility', from: 'public', to: EVIL }] }), 'update notice.to');
  });
});
