import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { escapeHtml, formatAgo, formatDuration } from '../../web/src/format.js';
import { layoutStages, renderGraph } from '../../web/src/graph.js';
import { buildBody, defaultSelection, logHeader, logLine, stageBlock, stageNotes, stageTimeline, stepItem } from '../../web/src/views/build.js';
import { perDayChart, phaseTableRows, repoBars, repoTableRows } from '../../web/src/views/metrics.js';
import { repoRow, secretNotice, withKnown } from '../../web/src/views/repos.js';
import { keepListFresh } from '../../web/src/views/builds.js';
import { ApiRequestError } from '../../web/src/api.js';
import type { BuildListResponse } from '../../core/builds/api.js';
import type { BuildDetail, Stage, StepRecord } from '../../core/builds/types.js';

describe('formatDuration', () => {
  it.each([
    [0, 12_000, '12s'],
    [0, 187_000, '3m 07s'],
    [0, 3_720_000, '1h 02m'],
  ])('%i → %i is %s', (start, end, text) => expect(formatDuration(start, end, 0)).toBe(text));
  it('runs to now while unfinished and is empty before start', () => {
    expect(formatDuration(1000, undefined, 6000)).toBe('5s');
    expect(formatDuration(undefined, undefined, 6000)).toBe('');
  });
});

describe('formatAgo', () => {
  it.each([
    [10_000, 'just now'],
    [5 * 60_000, '5 min ago'],
    [3 * 3_600_000, '3 h ago'],
    [86_400_000, '1 day ago'],
    [3 * 86_400_000, '3 days ago'],
  ])('%i ms ago is %s', (delta, text) => expect(formatAgo(0, delta)).toBe(text));
});

describe('escapeHtml', () => {
  it('escapes markup from logs and commit messages', () => {
    expect(escapeHtml(`<script>alert("x")</script>&'`)).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
  });
});

describe('log lines', () => {
  it('marks no line by the words in it: the step status says whether it failed', () => {
    for (const text of ['npm ERR! Test failed.', 'compiled with 0 errors, 0 failures', 'error handling tests passed', '+ npm test']) {
      expect(logLine({ time: 0, offset: 0, text }, 0)).toMatch(/^<div class="line">/);
    }
  });
  it('the stylesheet shades no line class', () => {
    expect(readFileSync(new URL('../../web/style.css', import.meta.url), 'utf8')).not.toMatch(/\.line\.error/);
  });
});

describe('layoutStages', () => {
  it('places each stage after the longest chain of its dependencies', () => {
    const layout = layoutStages([
      { name: 'build', status: 'success', dependsOn: [] },
      { name: 'lint', status: 'success', dependsOn: [] },
      { name: 'test', status: 'failure', dependsOn: ['build'] },
      { name: 'deploy', status: 'skipped', dependsOn: ['test', 'lint'] },
    ]);
    expect(layout.nodes.map((n) => [n.name, n.column, n.row])).toEqual([
      ['build', 0, 0],
      ['lint', 0, 1],
      ['test', 1, 0],
      ['deploy', 2, 0],
    ]);
    expect(layout.edges).toContainEqual({ from: 'lint', to: 'deploy' });
    expect(layout.columns).toBe(3);
    const svg = renderGraph(layout, escapeHtml);
    expect(svg.match(/class="node"/g)).toHaveLength(4);
    expect(svg.match(/class="edge"/g)).toHaveLength(3);
  });
  it('survives a cycle and unknown dependencies without looping', () => {
    const layout = layoutStages([
      { name: 'a', status: 'pending', dependsOn: ['b', 'missing'] },
      { name: 'b', status: 'pending', dependsOn: ['a'] },
    ]);
    expect(layout.nodes).toHaveLength(2);
  });
});

describe('defaultSelection', () => {
  const step = (number: number, status: StepRecord['status'], startedAt?: number): StepRecord => ({
    buildId: 'o/r#1', stageNumber: 1, number, name: `s${number}`, container: `s${number}`, status, detached: false, kind: 'step', startedAt,
  });
  const build = (steps: StepRecord[][]): BuildDetail =>
    ({
      stages: steps.map((s, i) => ({ number: i + 1, name: `p${i + 1}`, status: 'running', dependsOn: [], attempts: 1, steps: s })),
    }) as unknown as BuildDetail;

  it('opens the first failed step', () => {
    expect(defaultSelection(build([[step(1, 'success', 1), step(2, 'failure', 2)], [step(1, 'failure', 3)]]))).toEqual({ stage: 1, step: 2 });
  });
  it('else the running step, else the last started one', () => {
    expect(defaultSelection(build([[step(1, 'success', 1), step(2, 'running', 2), step(3, 'pending')]]))).toEqual({ stage: 1, step: 2 });
    expect(defaultSelection(build([[step(1, 'success', 1), step(2, 'success', 2), step(3, 'skipped')]]))).toEqual({ stage: 1, step: 2 });
  });
  it('never a skipped step as the last one that ran, though a skipped `when: status` step did start', () => {
    // Its container started and ran the gate that skipped it (task-runner/decide-steps.ts).
    expect(defaultSelection(build([[step(1, 'success', 1), step(2, 'success', 2), step(3, 'skipped', 3)]]))).toEqual({ stage: 1, step: 2 });
    expect(defaultSelection(build([[step(1, 'success', 1)], [step(1, 'skipped', 5), step(2, 'skipped', 6)]]))).toEqual({ stage: 1, step: 1 });
  });
  it('a stopped step ran: a cancelled build opens its last one', () => {
    expect(defaultSelection(build([[step(1, 'success', 1), step(2, 'killed', 2), step(3, 'skipped')]]))).toEqual({ stage: 1, step: 2 });
  });
  it('the first step when none ran, nothing when there is no step', () => {
    expect(defaultSelection(build([[step(1, 'skipped'), step(2, 'skipped')]]))).toEqual({ stage: 1, step: 1 });
    expect(defaultSelection(build([[]]))).toBeUndefined();
  });
});

describe('a step and the header of its log', () => {
  const step = (extra: Partial<StepRecord>): StepRecord => ({
    buildId: 'o/r#1', stageNumber: 1, number: 2, name: 'unit', container: 'unit', status: 'failure', detached: false, kind: 'step', ...extra,
  });

  it('shows why a step was skipped beneath its name', () => {
    const html = stepItem(1, step({ status: 'skipped', reason: 'when: branch "main" is not included in [release]' }), false, 0);
    expect(html).toContain('<span class="meta step-reason">when: branch &quot;main&quot; is not included in [release]</span>');
    expect(stepItem(1, step({ status: 'success' }), false, 0)).not.toContain('step-reason');
  });

  it('a skipped step shows no duration, even when its record kept its container\'s times (Drone: no span for a skipped step)', () => {
    // A step that started with the task and skipped itself after a service never became ready.
    const skipped = step({ status: 'skipped', startedAt: 1000, finishedAt: 35_000, reason: 'service "cache" (port 6391) not ready after 2 s' });
    expect(stepItem(1, skipped, false, 40_000)).toContain('<span class="meta"></span>');
    expect(stepItem(1, skipped, false, 40_000)).not.toContain('34s');
    expect(logHeader(skipped, 40_000)).toContain('<span class="duration">did not run</span>');
  });

  it('names the step, its status, exit code and duration, and the reason beneath', () => {
    const html = logHeader(step({ exitCode: 3, startedAt: 0, finishedAt: 65_000, reason: 'the pipeline ran past its timeout' }), 70_000);
    expect(html).toBe(
      '<div class="log-head" id="log-head"><span class="log-step">unit</span><span class="status failure">failure</span>' +
        '<span class="exit-code">exit code 3</span><span class="duration">1m 05s</span></div>' +
        '<div class="log-reason meta">the pipeline ran past its timeout</div>',
    );
  });

  it('a step that is still running counts its time to now; one that never started says so', () => {
    expect(logHeader(step({ status: 'running', startedAt: 1000 }), 13_000)).toContain('<span class="duration">12s</span>');
    expect(logHeader(step({ status: 'running', startedAt: 1000 }), 13_000)).not.toContain('exit-code');
    expect(logHeader(step({ status: 'skipped' }), 0)).toContain('<span class="duration">did not run</span>');
    expect(logHeader(step({ status: 'pending', kind: 'service', name: 'db' }), 0)).toContain('<span class="log-step">db (service)</span>');
  });
});

describe('the body of a build page', () => {
  const stage = (steps: StepRecord[]): BuildDetail['stages'][number] =>
    ({ buildId: 'o/r#1', repo: 'o/r', buildNumber: 1, number: 1, name: 'test', status: 'error', dependsOn: [], attempts: 0, message: '.drone.yml:9:9: error: steps[0]', steps }) as BuildDetail['stages'][number];

  it('a build whose stages have no step shows the stages and no log box', () => {
    const html = buildBody({ stages: [stage([])] } as unknown as BuildDetail, undefined, 0);
    expect(html).toContain('.drone.yml:9:9: error: steps[0]');
    expect(html).not.toContain('id="log"');
    expect(html).not.toContain('class="layout"');
    expect(buildBody({ stages: [] } as unknown as BuildDetail, undefined, 0)).toBe('');
  });

  it('with a step open: the stages beside its log, which has a header', () => {
    const unit: StepRecord = { buildId: 'o/r#1', stageNumber: 1, number: 1, name: 'unit', container: 'unit', status: 'success', detached: false, kind: 'step' };
    const html = buildBody({ stages: [stage([unit])] } as unknown as BuildDetail, { stage: 1, step: 1 }, 0);
    expect(html.indexOf('id="log-head"')).toBeLessThan(html.indexOf('id="log"'));
    expect(html).toContain('class="layout"');
  });
});

describe('buildApiPath', () => {
  it('keeps nested group paths in the repository name', async () => {
    const { buildApiPath } = await import('../../core/builds/api.js');
    expect(buildApiPath('acme/api', 7)).toBe('/api/builds/7?repo=acme%2Fapi');
    // GitLab subgroups: the full name in the query, no encoded slash in the path.
    expect(buildApiPath('group/sub/project', 3, '/logs/1/2', { cursor: 'c' })).toBe('/api/builds/3/logs/1/2?repo=group%2Fsub%2Fproject&cursor=c');
  });
});

describe('stage notes', () => {
  const stage = (extra: Partial<Stage>): BuildDetail['stages'][number] => ({
    buildId: 'o/r#1', repo: 'o/r', buildNumber: 1, number: 1, name: 'test', status: 'success', dependsOn: [], attempts: 1, startedAt: 0, finishedAt: 12_000,
    steps: [{ buildId: 'o/r#1', stageNumber: 1, number: 1, name: 'unit', container: 'unit', status: 'success', detached: false, kind: 'step' }],
    ...extra,
  });

  it('renders each note on its own muted line, escaped', () => {
    const html = stageNotes(['secrets withheld from this build (pull request from a fork): deploy_token', 'steps "a", <b> share one container']);
    expect(html).toBe(
      '<ul class="notes"><li class="meta">secrets withheld from this build (pull request from a fork): deploy_token</li>' +
        '<li class="meta">steps &quot;a&quot;, &lt;b&gt; share one container</li></ul>',
    );
    expect(stageNotes(undefined)).toBe('');
    expect(stageNotes([])).toBe('');
  });

  it('places the notes beneath the stage line and its message, before the steps', () => {
    const html = stageBlock(stage({ message: 'all steps passed', notes: ['resources: the task was raised'] }), { stage: 1, step: 1 }, 20_000);
    const order = ['<h3>', 'all steps passed', 'class="notes"', 'resources: the task was raised', 'class="step selected"'].map((part) => html.indexOf(part));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(stageBlock(stage({}), undefined, 20_000)).not.toContain('notes');
  });

  it("shows a pipeline's own errors, one FILE:LINE:COLUMN per line (the message keeps its line breaks)", () => {
    const message = '.drone.yml:7:17: error: steps[0].privileged: Fargate cannot run privileged containers\n.drone.yml:9:3: error: steps[1]: missing "image"';
    const html = stageBlock({ ...stage({ status: 'error', reason: 'invalid-config', message }), steps: [] }, undefined, 20_000);
    expect(html).toContain(`<div class="meta stage-message">${message.replace(/"/g, '&quot;')}</div>`);
    expect(readFileSync(new URL('../../web/style.css', import.meta.url), 'utf8')).toMatch(/\.stage-message \{ white-space: pre-line; \}/);
  });
});

describe('repositories page', () => {
  const repo = { slug: 'acme/<app>', scm: 'github', httpUrl: '', link: '', defaultBranch: 'main', configPath: '.drone.yml', private: true, counter: 4, active: true, visibility: 'private', activatedAt: 1 } as const;
  it('lists a repository with its host, visibility, state and actions, escaped', () => {
    const row = repoRow({ ...repo });
    expect(row).toContain('acme/&lt;app&gt;');
    expect(row).toContain('<td>github</td><td>private</td><td>active</td><td>4</td>');
    expect(row).toContain('data-action="rotate"');
    expect(repoRow({ ...repo, active: false })).not.toContain('data-action');
    expect(repoRow({ ...repo, activatedAt: undefined })).toContain('active, no secret (activate again)');
  });
  it('shows the webhook URL and the secret to paste, GitLab calling it a secret token', () => {
    const notice = secretNotice({ repo: { ...repo }, webhook: { host: 'gitlab', url: 'https://hooks.example/gitlab', secret: 'ab12' } });
    expect(notice).toContain('<code>https://hooks.example/gitlab</code>');
    expect(notice).toContain('<dt>Secret token</dt><dd><code class="secret">ab12</code></dd>');
  });
});

describe('withKnown (the Repositories page after an activation, rotation or removal)', () => {
  it('shows what the API just answered although the lagging list does not have it yet, in name order', () => {
    const repo = (slug: string, active = true) => ({ slug, scm: 'github', active, counter: 0 }) as unknown as Parameters<typeof withKnown>[0][number];
    const list = [repo('acme/a'), repo('acme/c')];
    expect(withKnown(list, repo('acme/b')).map((r) => r.slug)).toEqual(['acme/a', 'acme/b', 'acme/c']);
    expect(withKnown(list, repo('acme/c', false)).map((r) => [r.slug, r.active])).toEqual([['acme/a', true], ['acme/c', false]]);
    expect(withKnown(list, undefined)).toBe(list);
  });
});

describe('metrics charts: legends and axes', () => {
  const day = (d: string, success: number, failure: number, other: number) => ({ day: d, total: success + failure + other, success, failure, other });

  it('builds per day: a legend per outcome, a y axis of builds from 0 to the busiest day, an x axis of days', () => {
    const html = perDayChart([day('2026-12-01', 1, 1, 0), day('2026-12-02', 2, 1, 1)]);
    expect(html).toContain('<li><i class="swatch success"></i>success</li><li><i class="swatch failure"></i>failure or error</li><li><i class="swatch other"></i>other (cancelled, running, pending)</li>');
    expect(html).toContain('<div class="y-title">builds</div><div class="y-axis"><span>4</span><span>2</span><span>0</span></div>');
    expect(html).toContain('<div class="x-axis"><span>2026-12-01</span><span class="x-title">day (UTC)</span><span>2026-12-02</span></div>');
    // The busiest day's bar fills the plot; bars stack success, failure, other from the axis up.
    expect(html).toMatch(/<rect class="success" x="11" y="50" width="8" height="50">/);
    expect(html).toMatch(/<rect class="other" x="11" y="0" width="8" height="25">/);
  });

  it('no middle tick where it would not be a whole number of builds', () => {
    expect(perDayChart([day('2026-12-02', 3, 0, 0)])).toContain('<span>3</span><span></span><span>0</span>');
  });

  it('p50 / p95 per repository: a legend, and a time axis from 0 to the slowest p95, named', () => {
    const repos = [
      { repo: 'acme/api', builds: 2, successRate: 1, queueWait: { p50: 500, p95: 2000 }, duration: { p50: 60_000, p95: 90_000 } },
      { repo: 'acme/web', builds: 1, successRate: 1, queueWait: { p50: 1000, p95: 1000 }, duration: { p50: 30_000, p95: 30_000 } },
    ];
    const html = repoBars(repos, (r) => r.queueWait, 'queue wait', 'queued → task running, per stage');
    expect(html).toContain('<li><i class="swatch p50"></i>p50 (half are faster)</li><li><i class="swatch p95"></i>p95 (1 in 20 is slower)</li>');
    expect(html).toContain('<span class="x-axis"><span>0</span><span class="x-title">queued → task running, per stage</span><span>2.0 s</span></span>');
    expect(html).toContain('<span class="bar p95" style="width:100.00%" title="p95 2.0 s"></span><span class="bar p50" style="width:25.00%" title="p50 500 ms"></span>');
    expect(html).toContain('<span class="bar p95" style="width:50.00%" title="p95 1.0 s"></span>');
  });
});

describe('where a stage\'s time went', () => {
  it('draws one bar per phase on one axis, offset where it began (phases overlap)', () => {
    const html = stageTimeline([
      { name: 'queued', from: 0, to: 2000 },
      { name: 'pulls', from: 2000, to: 10_000 },
      { name: 'clone', from: 4000, to: 6000 },
    ]);
    expect(html).toContain('<span class="name">pulls</span>');
    expect(html).toContain('style="left:20.00%;width:80.00%"');
    expect(html).toContain('style="left:40.00%;width:20.00%"');
    expect(stageTimeline(undefined)).toBe('');
  });

  it('starts at the push with the control plane phase, and says beside the queued phase why it waited, escaped', () => {
    const html = stageTimeline([
      { name: 'control plane', from: 0, to: 1000 },
      { name: 'queued', from: 1000, to: 4000, note: 'waiting: no Fargate capacity or quota (<RunTask>); retrying with back-off' },
      { name: 'provisioning', from: 4000, to: 10_000 },
    ]);
    expect(html).toContain('<span class="name">control plane</span>');
    expect(html).toContain('<span class="value">3s</span><span class="phase-note meta">waiting: no Fargate capacity or quota (&lt;RunTask&gt;); retrying with back-off</span>');
    // Only the queued phase has a note.
    expect(html.match(/phase-note/g)).toHaveLength(1);
  });

  it("draws a split stage's segments in order on the one axis, each under its heading", () => {
    const html = stageTimeline([
      { name: 'queued', from: 0, to: 1000, segment: 1 },
      { name: 'steps', from: 1000, to: 4000, segment: 1 },
      { name: 'queued', from: 5000, to: 6000, segment: 2 },
      { name: 'steps', from: 6000, to: 10_000, segment: 2 },
    ]);
    expect(html.match(/<span class="phase-segment meta">segment \d<\/span>/g)).toEqual(['<span class="phase-segment meta">segment 1</span>', '<span class="phase-segment meta">segment 2</span>']);
    expect(html.indexOf('segment 2')).toBeGreaterThan(html.indexOf('style="left:10.00%;width:30.00%"'));
    expect(html).toContain('style="left:60.00%;width:40.00%"');
    // A stage that is not split has no headings.
    expect(stageTimeline([{ name: 'queued', from: 0, to: 1000 }])).not.toContain('phase-segment');
  });

  it('lists p50 / p95 per repository and phase on the metrics page, escaped', () => {
    const rows = phaseTableRows([
      { repo: '<x>/y', builds: 1, successRate: 1, queueWait: { p50: 0, p95: 0 }, duration: { p50: 0, p95: 0 }, phases: { pulls: { p50: 20_000, p95: 48_000, count: 3 } } },
    ]);
    expect(rows).toBe('<tr><td>&lt;x&gt;/y</td><td>pulls</td><td>20.0 s / 48.0 s</td><td>3</td></tr>');
  });

  it('gives push → first step per repository beside the queue wait, and a dash for a repository that has none recorded', () => {
    const rows = repoTableRows([
      { repo: 'acme/api', builds: 2, successRate: 1, queueWait: { p50: 500, p95: 900 }, pushToFirstStep: { p50: 61_000, p95: 95_000, count: 2 }, duration: { p50: 1000, p95: 1000 } },
      { repo: 'acme/old', builds: 1, successRate: 1, queueWait: { p50: 500, p95: 900 }, duration: { p50: 1000, p95: 1000 } },
    ]);
    expect(rows).toContain('<td>500 ms / 900 ms</td><td>61.0 s / 95.0 s</td><td>1.0 s / 1.0 s</td>');
    expect(rows).toContain('<td>500 ms / 900 ms</td><td>—</td><td>1.0 s / 1.0 s</td>');
  });
});

describe('keepListFresh (the home list, read again while open)', () => {
  const page = (next?: string): BuildListResponse => ({ builds: [], ...(next ? { next } : {}) });

  it('keeps the list and reads again at the next tick when a read fails, saying so until one succeeds', async () => {
    const controller = new AbortController();
    const answers: (() => Promise<BuildListResponse>)[] = [
      () => Promise.reject(new ApiRequestError(0, 'The Slipway API did not answer GET /api/builds (fetch failed)')),
      () => Promise.reject(new ApiRequestError(503, 'throttled')),
      () => Promise.resolve(page('c1')),
    ];
    const shown: BuildListResponse[] = [];
    const failures: (string | undefined)[] = [];
    await keepListFresh({
      read: () => answers.shift()!(),
      show: (p) => {
        shown.push(p);
        controller.abort();
      },
      failed: (error) => void failures.push(error?.message),
      firstPageOnly: () => true,
      wait: async () => {},
      signal: controller.signal,
    });
    expect(failures).toEqual(['The Slipway API did not answer GET /api/builds (fetch failed)', 'throttled', undefined]);
    expect(shown).toEqual([page('c1')]);
  });

  it('ends on a sign-in the API asks for (the router then asks for the token), and once older pages are shown', async () => {
    const signal = new AbortController().signal;
    const unauthorized = keepListFresh({ read: () => Promise.reject(new ApiRequestError(401, 'unauthorized')), show: () => {}, failed: () => {}, firstPageOnly: () => true, wait: async () => {}, signal });
    await expect(unauthorized).rejects.toMatchObject({ status: 401 });
    let reads = 0;
    let first = true;
    await keepListFresh({
      read: async () => (reads++, page()),
      show: () => {
        first = false;
      },
      failed: () => {},
      firstPageOnly: () => first,
      wait: async () => {},
      signal,
    });
    expect(reads).toBe(1);
  });
});
