// A build's cost as the CLI prints it: the total in the list, the lines under `slipway build`.

import { formatLineUsd, formatRate, formatUsd } from '../core/cost/build-cost.js';
import type { BuildCost } from '../core/cost/types.js';
import { table } from './format.js';

/** The COST column of `slipway builds`: `-` until the build is priced (it runs, or ran nothing). */
export function costCell(cost: BuildCost | undefined): string {
  return cost ? formatUsd(cost.total) : '-';
}

/** Under `slipway build`: what the build cost, line by line, and what of it is an estimate. */
export function formatCost(cost: BuildCost): string[] {
  const head = `cost: ${formatUsd(cost.total)} in ${cost.region} (prices of ${cost.pricesAsOf}, ${cost.pricesSource})`;
  const rows = cost.lines
    .filter((l) => l.quantity > 0)
    .map((l) => [`  ${l.item}${l.estimated ? ' *' : ''}`, `${trim(l.quantity)} ${l.unit}`, `× ${formatRate(l.rate)}`, formatLineUsd(l.usd)]);
  const lines = rows.length ? table(['  ITEM', 'QUANTITY', 'RATE', 'USD'], rows).split('\n') : [];
  const notes = [...cost.estimates.map((e) => `  * estimated: ${e}`), ...(cost.unpriced ?? []).map((u) => `  not priced: ${u}`)];
  return [head, ...lines, ...notes];
}

/** A number without float noise: at most six significant digits. */
function trim(n: number): string {
  return String(Number(n.toPrecision(6)));
}
