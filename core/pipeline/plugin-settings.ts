// Plugin `settings:` → the PLUGIN_* environment a plugin image reads, encoded exactly as
// Drone's docker runner does (drone-runner-docker `internal/encoder`):
//   - name: `PLUGIN_` + the key upper-cased (`foo_bar` → PLUGIN_FOO_BAR; nothing else changes);
//   - null values are left out;
//   - strings as they are; booleans `true`/`false`; numbers as Go prints them;
//   - a list of scalars → its items joined with commas (`[a, b]` → `a,b`);
//   - maps, and lists holding any list or map → compact JSON with sorted keys;
//   - `from_secret: name` → not a value but a secret reference, resolved at run time.

import type { SettingValue } from './types.js';

export interface PluginEnvironment {
  /** Literal values by variable name. */
  env: Record<string, string>;
  /** Variable name → name of the secret that supplies its value. */
  secrets: Record<string, string>;
}

/** The PLUGIN_* variables of a plugin step's settings. */
export function pluginEnvironment(settings: Record<string, SettingValue>): PluginEnvironment {
  const env: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  for (const key of Object.keys(settings)) {
    const setting = settings[key]!;
    const name = 'PLUGIN_' + key.toUpperCase();
    if ('fromSecret' in setting) {
      secrets[name] = setting.fromSecret;
      continue;
    }
    if (setting.value === null || setting.value === undefined) continue;
    env[name] = encodeSetting(setting.value);
  }
  return { env, secrets };
}

/** One setting value as the string a plugin receives. */
export function encodeSetting(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return formatNumber(value);
    case 'bigint':
      return value.toString();
  }
  if (Array.isArray(value)) {
    if (value.every(isScalar)) return value.map(scalarInList).join(',');
    return goJson(value);
  }
  if (value instanceof Date) return value.toISOString();
  return goJson(value);
}

function isScalar(v: unknown): boolean {
  return v === null || v === undefined || typeof v !== 'object' || v instanceof Date;
}

/** A list item read back as a string: null becomes empty, as YAML decodes it into a string. */
function scalarInList(v: unknown): string {
  return v === null || v === undefined ? '' : encodeSetting(v);
}

/**
 * Go's rendering: integers in full, other floats with strconv.FormatFloat(f, 'g', -1, 64)
 * (shortest digits; exponent form below 1e-4 and from 1e6 up, `1.5e+06`).
 */
function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  if (Number.isInteger(n) && Math.abs(n) < 2 ** 63) return BigInt(n).toString();
  const [mantissa, expText] = n.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const sign = exp < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return String(n);
}

/**
 * JSON as Go's encoding/json writes it: keys sorted as strings (a plain object would put
 * integer-like keys first), no spaces, and `<`, `>`, `&`, U+2028, U+2029 escaped.
 */
function goJson(value: unknown): string {
  return toJson(value).replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function toJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (typeof value !== 'object') return JSON.stringify(value);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return '[' + value.map(toJson).join(',') + ']';
  const entries: Array<[string, unknown]> =
    value instanceof Map
      ? [...value.entries()].map(([k, v]): [string, unknown] => [String(k), v])
      : Object.entries(value as Record<string, unknown>);
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return '{' + entries.map(([k, v]) => JSON.stringify(k) + ':' + toJson(v)).join(',') + '}';
}
