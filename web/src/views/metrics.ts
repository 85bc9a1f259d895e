// CI metrics as charts: builds per day, success rate, queue wait and duration per repository.
import type { MetricsResponse } from '../../../core/builds/api.js';
import { api } from '../api.js';
import { escapeHtml } from '../format.js';

const W = 560;
const H = 200;

export function perDayChart(perDay: MetricsResponse['perDay']): string {
  if (!perDay.length) return '<div class="empty">No builds in this period.</div>';
  const max = Math.max(1, ...perDay.map((d) => d.total));
  const bw = W / perDay.length;
  const bars = perDay
    .map((d, i) => {
      const x = i * bw + 1;
      const seg = (count: number, offset: number, color: string) => {
        const h = (count / max) * (H - 30);
        return count ? `<rect x="${x}" y="${H - 20 - offset - h}" width="${Math.max(1, bw - 2)}" height="${h}" fill="${color}"><title>${escapeHtml(d.day)}: ${count}</title></rect>` : '';
      };
      const hs = (d.success / max) * (H - 30);
      const hf = (d.failure / max) * (H - 30);
      return seg(d.success, 0, 'var(--success)') + seg(d.failure, hs, 'var(--failure)') + seg(d.other, hs + hf, 'var(--pending)');
    })
    .join('');
  const first = perDay[0]?.day ?? '';
  const last = perDay[perDay.length - 1]?.day ?? '';
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="builds per day">${bars}<text x="0" y="${H - 4}" font-size="11">${escapeHtml(first)}</text><text x="${W}" y="${H - 4}" font-size="11" text-anchor="end">${escapeHtml(last)}</text><text x="0" y="12" font-size="11">max ${max}/day</text></svg>`;
}

function ms(value: number): string {
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 120_000) return `${(value / 1000).toFixed(1)} s`;
  return `${(value / 60_000).toFixed(1)} min`;
}

export function repoBars(repos: MetricsResponse['repos'], pick: (r: MetricsResponse['repos'][number]) => { p50: number; p95: number }, label: string): string {
  if (!repos.length) return '<div class="empty">No data.</div>';
  const max = Math.max(1, ...repos.map((r) => pick(r).p95));
  const rowH = 26;
  const rows = repos
    .map((r, i) => {
      const v = pick(r);
      const y = i * rowH + 4;
      return (
        `<text x="0" y="${y + 14}" font-size="11">${escapeHtml(r.repo)}</text>` +
        `<rect x="170" y="${y}" width="${((W - 260) * v.p95) / max}" height="18" fill="#c9d6f2"><title>p95 ${ms(v.p95)}</title></rect>` +
        `<rect x="170" y="${y}" width="${((W - 260) * v.p50) / max}" height="18" fill="var(--running)"><title>p50 ${ms(v.p50)}</title></rect>` +
        `<text x="${W - 85}" y="${y + 14}" font-size="11">${ms(v.p50)} / ${ms(v.p95)}</text>`
      );
    })
    .join('');
  return `<svg viewBox="0 0 ${W} ${repos.length * rowH + 8}" role="img" aria-label="${escapeHtml(label)}">${rows}</svg>`;
}

/** The rows of the by-repository table. */
export function repoTableRows(repos: MetricsResponse['repos']): string {
  return repos
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.repo)}</td><td>${r.builds}</td><td>${(r.successRate * 100).toFixed(0)} %</td>` +
        `<td>${ms(r.queueWait.p50)} / ${ms(r.queueWait.p95)}</td><td>${ms(r.duration.p50)} / ${ms(r.duration.p95)}</td></tr>`,
    )
    .join('');
}

export async function renderMetrics(root: HTMLElement, params: URLSearchParams, signal: AbortSignal): Promise<void> {
  const days = Number(params.get('days') ?? 30) || 30;
  const metrics = await api.metrics(days);
  if (signal.aborted) return;
  const table = repoTableRows(metrics.repos);
  root.innerHTML =
    `<h1>CI metrics, last ${metrics.days} days</h1>` +
    (metrics.countedFrom !== undefined
      ? `<div class="error-banner">Too many builds to count in one request: only those since ${escapeHtml(new Date(metrics.countedFrom).toISOString().slice(0, 16).replace('T', ' '))} UTC are counted. Choose fewer days.</div>`
      : '') +
    `<div class="charts"><div class="card"><h3>Builds per day</h3>${perDayChart(metrics.perDay)}</div>` +
    `<div class="card"><h3>Queue wait p50 / p95</h3>${repoBars(metrics.repos, (r) => r.queueWait, 'queue wait')}</div>` +
    `<div class="card"><h3>Duration p50 / p95</h3>${repoBars(metrics.repos, (r) => r.duration, 'duration')}</div>` +
    `<div class="card"><h3>By repository</h3><table><thead><tr><th>Repository</th><th>Builds</th><th>Success</th><th>Queue wait p50/p95</th><th>Duration p50/p95</th></tr></thead><tbody>${table}</tbody></table></div></div>`;
}
