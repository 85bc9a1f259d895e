// What builds cost, in the dashboard: a build's cost under its header, and the cost per day and
// per repository on the metrics page. The figures come from the API (core/cost): nothing is
// priced here.
import type { MetricsResponse } from '../../../core/builds/api.js';
import { formatLineUsd, formatRate, formatUsd } from '../../../core/cost/build-cost.js';
import type { BuildCost } from '../../../core/cost/types.js';
import { escapeHtml } from '../format.js';
import { legend } from './metrics.js';

const number = (n: number): string => String(Number(n.toPrecision(6)));

/**
 * A finished build's cost: the total with its Region and price table on one line, and, opened,
 * each priced line (estimated ones marked) and what was estimated. Nothing for a build without
 * a cost yet (running, or finished before cost was recorded).
 */
export function costCard(cost: BuildCost | undefined): string {
  if (!cost) return '';
  const rows = cost.lines
    .filter((l) => l.quantity > 0)
    .map(
      (l) =>
        `<tr${l.estimated ? ' class="estimated"' : ''}><td>${escapeHtml(l.item)}${l.estimated ? ' *' : ''}</td>` +
        `<td>${number(l.quantity)} ${escapeHtml(l.unit)}</td><td>${formatRate(l.rate)}</td><td>${formatLineUsd(l.usd)}</td></tr>`,
    )
    .join('');
  const notes = [...cost.estimates.map((e) => `* estimated: ${e}`), ...(cost.unpriced ?? []).map((u) => `not priced: ${u}`)];
  return (
    `<details class="card cost" id="build-cost"><summary><span class="cost-total">Cost ${formatUsd(cost.total)}</span>` +
    `<span class="meta"> · Fargate ${formatUsd(cost.fargate)} · control plane and logs ${formatUsd(cost.controlPlane + cost.logs)} · ${escapeHtml(cost.region)}, prices of ${escapeHtml(cost.pricesAsOf)} (${escapeHtml(cost.pricesSource)})</span></summary>` +
    `<div class="table-wrap"><table><thead><tr><th>Item</th><th>Quantity</th><th>Rate (USD)</th><th>Cost</th></tr></thead><tbody>${rows}</tbody></table></div>` +
    notes.map((n) => `<div class="meta">${escapeHtml(n)}</div>`).join('') +
    `</details>`
  );
}

/** Cost per UTC day as bars, on a dollar axis from 0 to the dearest day. */
export function costPerDayChart(perDay: MetricsResponse['perDay']): string {
  if (!perDay.some((d) => d.costUsd !== undefined)) return '<div class="empty">This server records no cost.</div>';
  const max = Math.max(0, ...perDay.map((d) => d.costUsd ?? 0));
  if (max === 0) return '<div class="empty">No priced builds in this period.</div>';
  const H = 100;
  const bw = 10;
  const bars = perDay
    .map((d, i) => {
      const h = ((d.costUsd ?? 0) / max) * H;
      return h > 0 ? `<rect class="cost" x="${i * bw + 1}" y="${H - h}" width="${bw - 2}" height="${h}"><title>${escapeHtml(d.day)}: ${formatUsd(d.costUsd ?? 0)}</title></rect>` : '';
    })
    .join('');
  return (
    `<figure class="chart cost-per-day">${legend([{ cls: 'cost', label: 'cost of the builds created that day (USD)' }])}` +
    `<div class="plot">` +
    `<div class="y-title">USD</div>` +
    `<div class="y-axis"><span>${formatUsd(max)}</span><span>${formatUsd(max / 2)}</span><span>$0</span></div>` +
    `<svg class="bars" viewBox="0 0 ${perDay.length * bw} ${H}" preserveAspectRatio="none" role="img" aria-label="cost per day">${bars}</svg>` +
    `<div class="x-axis"><span>${escapeHtml(perDay[0]?.day ?? '')}</span><span class="x-title">day (UTC)</span><span>${escapeHtml(perDay[perDay.length - 1]?.day ?? '')}</span></div>` +
    `</div></figure>`
  );
}

/** Cost per repository: its total, its priced builds and their average, dearest first. */
export function costByRepository(repos: MetricsResponse['repos']): string {
  const priced = repos.filter((r) => r.costUsd !== undefined).sort((a, b) => (b.costUsd ?? 0) - (a.costUsd ?? 0));
  if (!priced.length) return '<div class="empty">No data.</div>';
  const rows = priced
    .map((r) => {
      const count = r.pricedBuilds ?? 0;
      return `<tr><td>${escapeHtml(r.repo)}</td><td>${formatUsd(r.costUsd ?? 0)}</td><td>${count} of ${r.builds}</td><td>${count ? formatUsd((r.costUsd ?? 0) / count) : '-'}</td></tr>`;
    })
    .join('');
  return `<div class="table-wrap"><table class="cost-by-repo"><thead><tr><th>Repository</th><th>Cost</th><th>Priced builds</th><th>Per build</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}
