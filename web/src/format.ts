// Pure formatting helpers for the dashboard (tested without a browser).

import { formatSeconds } from '../../core/util/duration.js';

/** `1h 02m`, `3m 07s`, `12s`; an empty string when the span has not started. */
export function formatDuration(startMs: number | undefined, endMs: number | undefined, nowMs: number): string {
  if (startMs === undefined) return '';
  return formatSeconds(((endMs ?? nowMs) - startMs) / 1000);
}

/** `just now`, `5 min ago`, `3 h ago`, `2 days ago`. */
export function formatAgo(timeMs: number, nowMs: number): string {
  const seconds = Math.round((nowMs - timeMs) / 1000);
  if (seconds < 45) return 'just now';
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  const days = Math.round(seconds / 86_400);
  return `${days} day${days === 1 ? '' : 's'} ago`;
}

/** `14:03:07` in local time, for log lines. */
export function formatClock(timeMs: number): string {
  const d = new Date(timeMs);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** Escapes text for insertion into HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
