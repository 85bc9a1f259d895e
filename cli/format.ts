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

// Terminal control sequences: ESC followed by a CSI (`ESC [ … final`), an OSC, DCS, SOS,
// PM or APC string (ended by BEL or ESC \ — OSC 52 writes the clipboard, OSC 8 hides a
// link, OSC 0 retitles the window), or one more character; the 8-bit forms of the same
// (C1, U+0080–U+009F); and every other C0 control but tab and newline (a carriage
// return or backspace overwrites what was printed; BEL rings). Bidirectional overrides
// (U+202A–U+202E, U+2066–U+2069) reorder what a line seems to say.
const CONTROL = new RegExp(
  [
    '\\u001b\\[[\\u0030-\\u003f]*[\\u0020-\\u002f]*[\\u0040-\\u007e]?',
    '\\u001b[\\]PX^_][\\s\\S]*?(?:\\u0007|\\u001b\\\\|$)',
    '[\\u009d\\u0090\\u0098\\u009e\\u009f][\\s\\S]*?(?:\\u0007|\\u001b\\\\|\\u009c|$)',
    '\\u009b[\\u0030-\\u003f]*[\\u0020-\\u002f]*[\\u0040-\\u007e]?',
    '\\u001b[\\s\\S]?',
    '[\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069]',
  ].join('|'),
  'g',
);

/**
 * Text from a build (commit messages, branch and step names, log lines: all written by
 * whoever pushed) made safe to print on a terminal: control sequences are removed, so
 * that it can neither drive the terminal nor hide or fake what was printed before it.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, '');
}
