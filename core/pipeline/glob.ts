// Glob matching exactly as Drone evaluates `when:` / `trigger:` patterns.
//
// Drone (drone-yaml and runner-go `manifest/cond.go`) matches every condition field —
// branch, ref, repo, event, target, paths, … — with bmatcuk/doublestar v1.1.1 `Match`,
// and ignores pattern errors (a malformed pattern simply does not match). This is a
// faithful port of that function so that existing pipelines behave the same here:
//
//   `*`   any run of characters except `/`        (`feature/*` ≠ `feature/a/b`)
//   `**`  as a whole path component: zero or more components (`docs/**`, `**/*.go`);
//         `foo/**` does NOT match `foo` itself, only what lies below it
//   `?`   one character except `/`
//   `[a-z]`, `[^a-z]`  character classes;  `{a,b}` alternatives within one component
//   `\x`  the character x
//
// (The path-changes converter Drone users run for `paths` used doublestar v1.3.4, which
// also accepts `/` inside `{…}`, as in `{docs/**,README.md}`; here such a pattern does
// not match, as in Drone's own cond.go. Write two patterns instead.)
//
// No regular expressions are built: patterns are short and usually literal, so a direct
// walk is the cheapest way to evaluate them per step per build.
//
// Hostile patterns stay polynomial. doublestar expands `{a,b}` by matching each option
// followed by the rest of the pattern, which alone is exponential in the number of
// groups (`{a,a}{a,a}…{a,a}b`: 2^k tries). Here every sub-match that failed is
// remembered by the pattern text it started from and how much of the name was left, so
// each (pattern state, name offset) pair is tried at most once. Without an option that
// holds a further `{`, every pattern state is a piece of one option followed by a
// suffix of the pattern: O(P²) states × O(N) offsets, each O(P + N) to try. Lint refuses
// patterns longer than MAX_PATTERN_LENGTH, and every step spends a unit of the planner's
// work budget (work.ts), which bounds even the nested forms.

import { spend } from './work.js';

const SEPARATOR = '/';

/** The longest glob pattern lint accepts in `when:` / `trigger:` (branch names and paths are far shorter). */
export const MAX_PATTERN_LENGTH = 1024;
const PHASE = 'match when:/trigger: patterns';

/** True when `name` matches `pattern` as Drone would; a malformed pattern never matches. */
export function globMatch(pattern: string, name: string): boolean {
  spend(1 + ((pattern.length + name.length) >> 4), PHASE);
  // Fast path: most conditions are plain words (`main`, `push`, `production`).
  if (!hasMeta(pattern)) {
    if (pattern === name) return true;
    // Only separators can make two different literals match ("a/" matches "a").
    if (!pattern.includes(SEPARATOR) && !name.includes(SEPARATOR)) return false;
  }
  return doMatching(splitUnescaped(pattern, SEPARATOR), splitUnescaped(name, SEPARATOR)) === true;
}

function hasMeta(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i);
    // * ? [ { \
    if (c === 42 || c === 63 || c === 91 || c === 123 || c === 92) return true;
  }
  return false;
}

/** Pattern error marker: doublestar returns ErrBadPattern, which Drone treats as "no match". */
const BAD = 'bad' as const;
type Result = boolean | typeof BAD;

/**
 * Splits on `ch` unless it is escaped by a preceding backslash: `/` between path
 * components, `,` between `{…}` alternatives (`a,b\,c` → ["a", "b\,c"]). Like doublestar
 * v1.1.1, drops the empty piece after a trailing `ch` ("a/" → ["a"]) but keeps a leading
 * one ("/a" → ["", "a"]).
 */
function splitUnescaped(s: string, ch: string): string[] {
  if (!s.includes(ch)) return [s];
  const out: string[] = [];
  let start = 0;
  while (start < s.length) {
    let end = indexWithEscaping(s, ch, start);
    if (end === -1) end = s.length;
    out.push(s.slice(start, end));
    start = end + 1;
  }
  return out;
}

/** First index of `ch` at or after `from` not preceded by a backslash (doublestar's rule). */
function indexWithEscaping(s: string, ch: string, from: number): number {
  let i = s.indexOf(ch, from);
  while (i > from && s[i - 1] === '\\') i = s.indexOf(ch, i + 1);
  return i;
}

/**
 * Sub-matches already known to fail. Go's recursion is exponential on patterns such as
 * `*a*a*a*a*b` or many `**` components; a `.drone.yml` is untrusted input, so failures
 * are remembered (per name component, by pattern text and how much of the name is left),
 * which keeps every match polynomial without changing any result.
 */
type Failures = Map<string, Set<number>>;

function known(failures: Failures, pattern: string, left: number): boolean {
  return failures.get(pattern)?.has(left) ?? false;
}

function remember(failures: Failures, pattern: string, left: number): void {
  let set = failures.get(pattern);
  if (!set) failures.set(pattern, (set = new Set()));
  set.add(left);
}

function doMatching(pat: string[], name: string[]): Result {
  return matchFrom(pat, 0, name, 0, undefined);
}

/** doublestar's doMatching on the suffixes pat[p..] and name[n..]. */
function matchFrom(pat: string[], p: number, name: string[], n: number, failed: Set<number> | undefined): Result {
  const patLen = pat.length;
  const nameLen = name.length;
  if (p >= patLen && n >= nameLen) return true;
  if (p >= patLen || n >= nameLen) return false;
  while (p < patLen && n < nameLen) {
    if (pat[p] === '**') {
      p++;
      if (p >= patLen) return true;
      // Only another `**` further on can revisit a sub-match: remember failures then.
      if (failed === undefined && pat.indexOf('**', p) !== -1) failed = new Set();
      for (; n < nameLen; n++) {
        spend(1, PHASE);
        const key = p * (nameLen + 1) + n;
        if (failed?.has(key)) continue;
        if (matchFrom(pat, p, name, n, failed) === true) return true;
        failed?.add(key);
      }
      return false;
    }
    const m = matchComponent(pat[p]!, name[n]!, undefined);
    if (m !== true) return m;
    p++;
    n++;
  }
  return p >= patLen && n >= nameLen;
}

/** Length in UTF-16 units of the code point at `i` (Go walks runes, not bytes or units). */
function width(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
}

/** The character of a `[…]` class at `i` (a `\\` escapes the next one) and where the class goes on; BAD when the class ends first. */
function classChar(cls: readonly string[], i: number): { char: string; next: number } | typeof BAD {
  if (i >= cls.length) return BAD;
  if (cls[i] !== '\\') return { char: cls[i]!, next: i + 1 };
  if (i + 1 >= cls.length) return BAD;
  return { char: cls[i + 1]!, next: i + 2 };
}

function matchComponent(pattern: string, name: string, failures: Failures | undefined): Result {
  const patLen = pattern.length;
  const nameLen = name.length;
  if (patLen === 0 && nameLen === 0) return true;
  if (patLen === 0) return false;
  if (nameLen === 0 && pattern !== '*') return false;

  // A call copies and hashes its pattern and name: charge for their length too.
  spend(2 + ((patLen + nameLen) >> 2), PHASE);
  let p = 0;
  let n = 0;
  while (p < patLen && n < nameLen) {
    spend(1, PHASE);
    const pc = pattern[p]!;
    const nw = width(name, n);
    if (pc === '\\') {
      p++;
      if (p >= patLen) return BAD;
      const ew = width(pattern, p);
      if (pattern.slice(p, p + ew) !== name.slice(n, n + nw)) return false;
      p += ew;
      n += nw;
    } else if (pc === '*') {
      p++;
      // A star at the end of a component matches the rest of it.
      if (p >= patLen) return true;
      const rest = pattern.slice(p);
      // Only a further star (or alternatives, which may hold one) can revisit a sub-match:
      // remember failures then. Suffixes of this one name share the table.
      if (failures === undefined && (rest.includes('*') || rest.includes('{'))) failures = new Map();
      for (; n < nameLen; n += width(name, n)) {
        const left = nameLen - n;
        if (failures && known(failures, rest, left)) continue;
        if (matchComponent(rest, name.slice(n), failures) === true) return true;
        if (failures) remember(failures, rest, left);
      }
      return false;
    } else if (pc === '[') {
      p++;
      const end = indexWithEscaping(pattern, ']', p);
      if (end === -1) return BAD;
      const cls = Array.from(pattern.slice(p, end));
      if (cls.length === 0) return BAD;
      const nameRune = name.codePointAt(n)!;
      const negate = cls[0] === '^';
      let i = negate ? 1 : 0;
      let inClass = false;
      while (i < cls.length) {
        // A bare `-` cannot start a range, nor end one.
        if (cls[i] === '-') return BAD;
        const low = classChar(cls, i);
        if (low === BAD) return BAD;
        let high: { char: string; next: number } | typeof BAD = low;
        if (low.next < cls.length && cls[low.next] === '-') {
          if (cls[low.next + 1] === '-') return BAD;
          high = classChar(cls, low.next + 1);
          if (high === BAD) return BAD;
        }
        i = high.next;
        if (low.char.codePointAt(0)! <= nameRune && nameRune <= high.char.codePointAt(0)!) inClass = true;
      }
      if (inClass === negate) return false;
      p = end + 1;
      n += nw;
    } else if (pc === '{') {
      p++;
      const end = indexWithEscaping(pattern, '}', p);
      if (end === -1) return BAD;
      const options = splitUnescaped(pattern.slice(p, end), ',');
      const rest = pattern.slice(end + 1);
      const tail = name.slice(n);
      const left = tail.length;
      // Options often share a continuation (`{a,a}{a,a}…`): a state that failed once fails again.
      failures ??= new Map();
      for (const option of options) {
        const state = option + rest;
        spend(1 + (state.length >> 4), PHASE);
        if (known(failures, state, left)) continue;
        const m = matchComponent(state, tail, failures);
        if (m !== false) return m;
        remember(failures, state, left);
      }
      return false;
    } else if (pc === '?' || pattern.slice(p, p + width(pattern, p)) === name.slice(n, n + nw)) {
      p += pc === '?' ? 1 : width(pattern, p);
      n += nw;
    } else {
      return false;
    }
  }
  if (p >= patLen && n >= nameLen) return true;
  const rest = pattern.slice(p);
  // The loop only ends early when the name is used up; a trailing star matches nothing.
  return rest === '*' || rest === '**';
}
