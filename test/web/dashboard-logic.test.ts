import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { escapeHtml, formatAgo, formatDuration, looksLikeError } from '../../web/src/format.js';
import { layoutStages, renderGraph } from '../../web/src/graph.js';
import { defaultSelection, stageBlock, stageNotes } from '../../web/src/views/build.js';
import { repoRow, secretNotice, withKnown } from '../../web/src/views/repos.js';
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

describe('escapeHtml and error lines', () => {
  it('escapes markup from logs and commit messages', () => {
    expect(escapeHtml(`<script>alert("x")</script>&'`)).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
  });
  it('recognises the lines that explain a failure', () => {
    expect(looksLikeError('npm ERR! Test failed.')).toBe(true);
    expect(looksLikeError('Error: connect ECONNREFUSED')).toBe(true);
    expect(looksLikeError('+ npm test')).toBe(false);
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
