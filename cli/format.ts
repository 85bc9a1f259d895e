// Plain-text output of the CLI: aligned tables for people, durations and times.

import { formatSeconds } from '../core/util/duration.js';

/** Columns padded to the widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `1h 02m`, `3m 07s`, `12s`, `-` when it has not started. */
export function duration(startMs: number | undefined, endMs: number | undefined, nowMs: number): string {
  if (startMs === undefined) return '-';
  const seconds = Math.max(0, ((endMs ?? nowMs) - startMs) / 1000);
  return seconds < 10 ? `${seconds.toFixed(1)}s` : formatSeconds(seconds);
}

/** `2030-01-15 12:00:05` in local time. */
export function timestamp(ms: number | undefined): string {
  if (ms === undefined) return '-';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** `12:00:05.123` for log lines. */
export function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
