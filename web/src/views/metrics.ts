// CI metrics as charts: builds per day, success rate, queue wait, push → first step and duration per repository.
import type { MetricsResponse } from '../../../core/builds/api.js';
import { api } from '../api.js';
import { escapeHtml } from '../format.js';
import { costByRepository, costPerDayChart } from './cost.js';
import { formatUsd } from '../../../core/cost/build-cost.js';

/** A legend: a colour swatch and what it stands for, per series. */
export function legend(items: { cls: string; label: string }[]): string {
  return `<ul class="legend">${items.map((i) => `<li><i class="swatch ${i.cls}"></i>${escapeHtml(i.label)}</li>`).join('')}</ul>`;
}

const PER_DAY_LEGEND = [
  { cls: 'success', label: 'success' },
  { cls: 'failure', label: 'failure or error' },
  { cls: 'other', label: 'other (cancelled, running, pending)' },
];

/**
 * Builds per day, stacked by outcome: a legend, a y axis counting builds (0 to the busiest
 * day) and an x axis of UTC days. The bars are an SVG stretched to the card's width; the
 * labels are text beside it, readable at any width.
 */
export function perDayChart(perDay: MetricsResponse['perDay']): string {
  if (!perDay.length) return '<div class="empty">No builds in this period.</div>';
  const max = Math.max(1, ...perDay.map((d) => d.total));
  const H = 100;
  const bw = 10;
  const bars = perDay
    .map((d, i) => {
      const x = i * bw + 1;
      const seg = (count: number, below: number, cls: string) => {
        if (!count) return '';
        const h = (count / max) * H;
        const y = H - (below / max) * H - h;
        return `<rect class="${cls}" x="${x}" y="${y}" width="${bw - 2}" height="${h}"><title>${escapeHtml(d.day)}: ${count} ${cls}</title></rect>`;
      };
      return seg(d.success, 0, 'success') + seg(d.failure, d.success, 'failure') + seg(d.other, d.success + d.failure, 'other');
    })
    .join('');
  const first = perDay[0]?.day ?? '';
  const last = perDay[perDay.length - 1]?.day ?? '';
  return (
    `<figure class="chart per-day">${legend(PER_DAY_LEGEND)}` +
    `<div class="plot">` +
    `<div class="y-title">builds</div>` +
    `<div class="y-axis"><span>${max}</span><span>${max % 2 === 0 ? max / 2 : ''}</span><span>0</span></div>` +
    `<svg class="bars" viewBox="0 0 ${perDay.length * bw} ${H}" preserveAspectRatio="none" role="img" aria-label="builds per day">${bars}</svg>` +
    `<div class="x-axis"><span>${escapeHtml(first)}</span><span class="x-title">day (UTC)</span><span>${escapeHtml(last)}</span></div>` +
    `</div></figure>`
  );
}

function ms(value: number): string {
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 120_000) return `${(value / 1000).toFixed(1)} s`;
  return `${(value / 60_000).toFixed(1)} min`;
}

const PERCENTILE_LEGEND = [
  { cls: 'p50', label: 'p50 (half are faster)' },
  { cls: 'p95', label: 'p95 (1 in 20 is slower)' },
];

/**
 * One row per repository: its p50 bar over its p95 bar, on one time axis from 0 to the
 * slowest p95, with a legend and the axis named (`axis`: what is measured).
 */
export function repoBars(repos: MetricsResponse['repos'], pick: (r: MetricsResponse['repos'][number]) => { p50: number; p95: number }, label: string, axis: string): string {
  if (!repos.length) return '<div class="empty">No data.</div>';
  const max = Math.max(1, ...repos.map((r) => pick(r).p95));
  const pct = (v: number) => `${((100 * v) / max).toFixed(2)}%`;
  const rows = repos
    .map((r) => {
      const v = pick(r);
      return (
        `<span class="name" title="${escapeHtml(r.repo)}">${escapeHtml(r.repo)}</span>` +
        `<span class="track"><span class="bar p95" style="width:${pct(v.p95)}" title="p95 ${ms(v.p95)}"></span><span class="bar p50" style="width:${pct(v.p50)}" title="p50 ${ms(v.p50)}"></span></span>` +
        `<span class="value">${ms(v.p50)} / ${ms(v.p95)}</span>`
      );
    })
    .join('');
  return (
    `<figure class="chart repo-bars" role="img" aria-label="${escapeHtml(label)}">${legend(PERCENTILE_LEGEND)}` +
    `<div class="rows">${rows}` +
    `<span class="name"></span><span class="x-axis"><span>0</span><span class="x-title">${escapeHtml(axis)}</span><span>${ms(max)}</span></span><span class="value">p50 / p95</span>` +
    `</div></figure>`
  );
}

/** The rows of the by-repository table. */
export function repoTableRows(repos: MetricsResponse['repos']): string {
  return repos
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.repo)}</td><td>${r.builds}</td><td>${(r.successRate * 100).toFixed(0)} %</td>` +
        `<td>${ms(r.queueWait.p50)} / ${ms(r.queueWait.p95)}</td>` +
        // Absent for builds stored before their receipt time was kept, and from older servers.
        `<td>${r.pushToFirstStep ? `${ms(r.pushToFirstStep.p50)} / ${ms(r.pushToFirstStep.p95)}` : '—'}</td>` +
        `<td>${ms(r.duration.p50)} / ${ms(r.duration.p95)}</td></tr>`,
    )
    .join('');
}

/** p50 / p95 of each phase of the stages that recorded a timeline, one row per repository and phase. */
export function phaseTableRows(repos: MetricsResponse['repos']): string {
  return repos
    .flatMap((r) =>
      Object.entries(r.phases ?? {}).map(
        ([name, v]) => `<tr><td>${escapeHtml(r.repo)}</td><td>${escapeHtml(name)}</td><td>${ms(v!.p50)} / ${ms(v!.p95)}</td><td>${v!.count}</td></tr>`,
      ),
    )
    .join('');
}

export async function renderMetrics(root: HTMLElement, params: URLSearchParams, signal: AbortSignal): Promise<void> {
  const days = Number(params.get('days') ?? 30) || 30;
  const metrics = await api.metrics(days);
  if (signal.aborted) return;
  const table = repoTableRows(metrics.repos);
  const phases = phaseTableRows(metrics.repos);
  const pushed = metrics.repos.filter((r) => r.pushToFirstStep !== undefined);
  root.innerHTML =
    `<h1>CI metrics, last ${metrics.days} days</h1>` +
    (metrics.costUsd !== undefined ? `<div class="meta" id="cost-total">Builds in this period cost ${formatUsd(metrics.costUsd)}</div>` : '') +
    (metrics.countedFrom !== undefined
      ? `<div class="error-banner">Too many builds to count in one request: only those since ${escapeHtml(new Date(metrics.countedFrom).toISOString().slice(0, 16).replace('T', ' '))} UTC are counted. Choose fewer days.</div>`
      : '') +
    `<div class="charts"><div class="card"><h3>Builds per day</h3>${perDayChart(metrics.perDay)}</div>` +
    `<div class="card"><h3>Queue wait p50 / p95</h3>${repoBars(metrics.repos, (r) => r.queueWait, 'queue wait', 'queued → task running, per stage')}</div>` +
    `<div class="card"><h3>Push → first step p50 / p95</h3>${pushed.length ? repoBars(pushed, (r) => r.pushToFirstStep!, 'push to first step', 'webhook received → first step, per build') : '<div class="empty">No build has recorded its push and first step yet.</div>'}</div>` +
    `<div class="card"><h3>Duration p50 / p95</h3>${repoBars(metrics.repos, (r) => r.duration, 'duration', 'build start → end')}</div>` +
    `<div class="card"><h3>Cost per day</h3>${costPerDayChart(metrics.perDay)}</div>` +
    `<div class="card"><h3>Cost by repository</h3>${costByRepository(metrics.repos)}</div>` +
    `<div class="card"><h3>By repository (p50 / p95)</h3><div class="table-wrap"><table><thead><tr><th>Repository</th><th>Builds</th><th>Success</th><th>Queue wait</th><th>Push → first step</th><th>Duration</th></tr></thead><tbody>${table}</tbody></table></div></div>` +
    `<div class="card"><h3>Where the time goes, per phase (p50 / p95)</h3>${
      phases ? `<div class="table-wrap"><table><thead><tr><th>Repository</th><th>Phase</th><th>p50 / p95</th><th>Stages</th></tr></thead><tbody>${phases}</tbody></table></div>` : '<div class="empty">No stage has recorded its timeline yet.</div>'
    }</div></div>`;
}
