// Drone's `${…}` substitution of the raw pipeline file, before it is parsed. Drone's runner
// evaluates the whole file with github.com/drone/envsubst against the build's DRONE_*
// values (drone/runner-go pipeline/runtime/runner.go: envsubst.Eval(config, subf)); this
// is the same grammar and the same functions, written for Slipway:
//
//   ${NAME}                          the value ("" when not set)
//   ${NAME=w} ${NAME:=w} ${NAME:-w}  w when the value is empty; so are ${NAME:?w} and
//   ${NAME:+w}                       ${NAME:+w} (envsubst gives all five the same meaning)
//   ${#NAME}                         the length
//   ${NAME:pos} ${NAME:pos:len}      a substring; a negative pos counts from the end
//   ${NAME#p} ${NAME##p}             without the shortest / longest prefix matching p
//   ${NAME%p} ${NAME%%p}             without the shortest / longest suffix matching p
//   ${NAME/a/b} ${NAME//a/b}         the first / every a replaced by b (literally)
//   ${NAME/#a/b} ${NAME/%a/b}        a replaced by b at the start / the end
//   ${NAME^} ${NAME^^} ${NAME,} ${NAME,,}   upper / lower case, first letter or all
//   $$                               a literal $ (so $${NAME} stays ${NAME} for the shell);
//   \\ and \/                         a literal \ and / (envsubst v1.0.3, which Drone uses)
//
// Anything else after `${` is an error with its place in the file, as in Drone. Patterns
// (p) are globs in which `*` and `?` match `/` too (envsubst's copy of path.Match). A value with a newline is
// written as a Go quoted string on one line (runner.go quotes it with %q), so substitution
// never adds lines; origin() maps every offset of the result back to the file as written,
// so diagnostics keep pointing at the line the user wrote. The work is bounded: counted on
// the active work meter (work.ts), with a cap on the size of the result and on nesting.

import { goQuote } from './go-quote.js';
import { spend } from './work.js';

/** What a name stands for: its value; undefined keeps the whole expression as written. */
export type SubstitutionLookup = (name: string) => string | undefined;

export const SUBSTITUTION_LIMITS = {
  /** Characters of the result: the file limit (load.ts), so a substituted file is never larger than a file may be. */
  maxChars: 1024 * 1024,
  /** `${A:-${B:-${C}}}`: real files nest one or two deep. */
  maxDepth: 32,
} as const;

export interface Substituted {
  text: string;
  /** The offset in the file as written of an offset in `text`. */
  origin(offset: number): number;
}

/** A `${…}` Drone could not read; `offset` is where it starts in the file as written. */
export class SubstitutionError extends Error {
  override readonly name = 'SubstitutionError';
  constructor(
    readonly offset: number,
    readonly reason: string,
    readonly expression: string,
  ) {
    super(`substitution: ${reason} in ${JSON.stringify(expression)} (Drone replaces \${…} before reading the file; write $\${ for a literal \${)`);
  }
}

type Node = { kind: 'text'; value: string } | { kind: 'func'; name: string; param: string; args: Node[]; start: number; end: number };

/** envsubst's error texts (drone/envsubst parse/parse.go). */
const ERR = {
  bad: 'bad substitution',
  brace: 'missing closing brace',
  name: 'unable to parse variable name',
  func: 'unable to parse substitution within function',
  default: 'unable to parse default function',
} as const;

class Failure {
  constructor(readonly reason: string) {}
}

const IDENT = /[\p{L}\p{N}_]/u;

/** Substitutes `${…}` in `source` with `lookup`'s values. Throws SubstitutionError. */
export function substitute(source: string, lookup: SubstitutionLookup): Substituted {
  // Output segments: [output offset, source offset, 1 when it maps character by character].
  const segments: number[] = [];
  let out = '';
  const emit = (text: string, from: number, literal: boolean) => {
    if (text === '') return;
    spend(text.length, 'substitute ${…} in the file');
    if (out.length + text.length > SUBSTITUTION_LIMITS.maxChars) {
      throw new SubstitutionError(from, `the file would be over ${SUBSTITUTION_LIMITS.maxChars} characters once substituted`, source.slice(from, from + 40));
    }
    segments.push(out.length, from, literal ? 1 : 0);
    out += text;
  };

  let i = 0;
  let textStart = 0;
  const flush = (end: number) => {
    emit(source.slice(textStart, end), textStart, true);
  };
  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    // Escapes: the first character is dropped, the second written, and scanning goes on after it.
    // `$$` → `$`; `\\` → `\` and `\/` → `/` outside `${…}` too: drone-runner-docker pins envsubst
    // v1.0.3 (go.mod), whose scanner applies these escapes to the whole file (v2 no longer does).
    if ((c === '\\' && (next === '\\' || next === '/')) || (c === '$' && next === '$')) {
      flush(i);
      textStart = i + 1;
      i += 2;
      continue;
    }
    if (c !== '$') {
      i++;
      continue;
    }
    if (next !== '{') {
      i++;
      continue;
    }
    flush(i);
    const start = i;
    const parser = new Parser(source, i + 2);
    let node: Node;
    try {
      node = parser.func(start, 0);
    } catch (error) {
      if (!(error instanceof Failure)) throw error;
      const lineEnd = source.indexOf('\n', start);
      const shown = source.slice(start, Math.min(lineEnd === -1 ? source.length : lineEnd, parser.pos + 1, start + 80));
      throw new SubstitutionError(start, error.reason, shown);
    }
    i = parser.pos;
    textStart = i;
    const value = evaluate(node, lookup);
    if (value === undefined) emit(source.slice(start, i), start, true);
    else emit(value, start, false);
  }
  flush(source.length);

  const origin = (offset: number): number => {
    // The last segment that starts at or before `offset`.
    let lo = 0;
    let hi = segments.length / 3 - 1;
    if (hi < 0) return Math.min(offset, source.length);
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segments[mid * 3]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    const outStart = segments[lo * 3]!;
    const from = segments[lo * 3 + 1]!;
    return segments[lo * 3 + 2] === 1 ? from + Math.max(0, offset - outStart) : from;
  };
  return { text: out, origin };
}

/**
 * The `${…}` grammar of drone/envsubst (parse/parse.go and parse/scan.go): after `${`, a
 * name, then one operator whose arguments run to the `}`; arguments may hold `${…}` of
 * their own, and the replace operator's `\/` and `\\` (and `$$`) are escapes.
 */
class Parser {
  pos: number;
  constructor(
    readonly src: string,
    pos: number,
  ) {
    this.pos = pos;
  }

  private peek(offset = 0): string | undefined {
    return this.src[this.pos + offset];
  }

  /** After `${`: one substitution up to and including its `}`. */
  func(start: number, depth: number): Node {
    if (depth >= SUBSTITUTION_LIMITS.maxDepth) throw new Failure(`\${…} nested more than ${SUBSTITUTION_LIMITS.maxDepth} deep`);
    spend(1, 'substitute ${…} in the file');
    if (this.peek() === '#') {
      this.pos++;
      const param = this.ident();
      if (param === '') throw new Failure(ERR.bad);
      this.closing(ERR.bad);
      return { kind: 'func', name: '#', param, args: [], start, end: this.pos };
    }
    const param = this.ident();
    if (param === '') throw new Failure(ERR.name);
    const op = this.peek();
    const node = (name: string, args: Node[]): Node => ({ kind: 'func', name, param, args, start, end: this.pos });
    switch (op) {
      case ':': {
        const after = this.peek(1);
        if (after === '=' || after === '-' || after === '?' || after === '+') return this.defaultFunc(node, `:${after}`, depth);
        return this.substrFunc(node, depth);
      }
      case '=':
        return this.defaultFunc(node, '=', depth);
      case ',':
      case '^': {
        let name = '';
        while (name.length < 2 && (this.peek() === ',' || this.peek() === '^')) name += this.src[this.pos++];
        this.closing(ERR.bad);
        return node(name, []);
      }
      case '/':
        return this.replaceFunc(node, depth);
      case '#':
      case '%': {
        let name = '';
        while (name.length < 2 && this.peek() === op) name += this.src[this.pos++];
        const arg = this.param((ch) => ch !== '}', false, depth);
        this.closing(ERR.bad);
        return node(name, [arg]);
      }
      default:
        this.closing(ERR.brace);
        return node('', []);
    }
  }

  private ident(): string {
    const from = this.pos;
    while (this.pos < this.src.length && IDENT.test(this.src[this.pos]!)) this.pos++;
    return this.src.slice(from, this.pos);
  }

  private closing(reason: string): void {
    if (this.peek() !== '}') throw new Failure(reason);
    this.pos++;
  }

  /**
   * One argument: a nested `${…}`, or text of the characters `accept` takes up to the next
   * `${`; at least one character. With `escapes`, `$$`, `\/` and `\\` stand for the second character.
   */
  private param(accept: (ch: string) => boolean, escapes: boolean, depth: number): Node {
    if (this.peek() === '$' && this.peek(1) === '{') {
      const start = this.pos;
      this.pos += 2;
      return this.func(start, depth + 1);
    }
    let value = '';
    const from = this.pos;
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos]!;
      if (ch === '$' && this.peek(1) === '{' && this.pos > from) break;
      if (escapes && ((ch === '$' && this.peek(1) === '$') || (ch === '\\' && (this.peek(1) === '/' || this.peek(1) === '\\')))) {
        value += this.src[this.pos + 1];
        this.pos += 2;
        continue;
      }
      if (!accept(ch)) break;
      value += ch;
      this.pos++;
    }
    spend(this.pos - from, 'substitute ${…} in the file');
    if (this.pos === from) throw new Failure(ERR.func);
    return { kind: 'text', value };
  }

  /** `${NAME=w}`, `${NAME:=w}`, `${NAME:-w}`, `${NAME:?w}`, `${NAME:+w}`: arguments up to `}`. */
  private defaultFunc(node: (name: string, args: Node[]) => Node, name: string, depth: number): Node {
    this.pos += name.length;
    const args: Node[] = [];
    for (;;) {
      if (this.peek() === '}') {
        this.pos++;
        return node(name, args);
      }
      if (this.pos >= this.src.length) throw new Failure(ERR.func);
      args.push(this.param((ch) => ch !== '}', false, depth));
    }
  }

  /** `${NAME:pos}` and `${NAME:pos:len}`. */
  private substrFunc(node: (name: string, args: Node[]) => Node, depth: number): Node {
    this.pos++; // the ':'
    const args = [this.param((ch) => ch !== ':' && ch !== '}', false, depth)];
    if (this.peek() === '}') {
      this.pos++;
      return node(':', args);
    }
    if (this.peek() !== ':') throw new Failure(ERR.bad);
    while (this.peek() === ':') this.pos++;
    args.push(this.param((ch) => ch !== '}', false, depth));
    this.closing(ERR.bad);
    return node(':', args);
  }

  /** `${NAME/a/b}`, `${NAME//a/b}`, `${NAME/#a/b}`, `${NAME/%a/b}`; `b` may be empty. */
  private replaceFunc(node: (name: string, args: Node[]) => Node, depth: number): Node {
    let name = '/';
    this.pos++;
    const second = this.peek();
    if (second === '/' || second === '#' || second === '%') {
      name += second;
      this.pos++;
    }
    const args = [this.param((ch) => ch !== '/', true, depth)];
    if (this.peek() !== '/') throw new Failure(ERR.bad);
    this.pos++;
    if (this.peek() === '}') {
      this.pos++;
      return node(name, args);
    }
    args.push(this.param((ch) => ch !== '}', true, depth));
    this.closing(ERR.bad);
    return node(name, args);
  }
}

/** A node's text; undefined when its variable is kept as written (lookup said so). */
function evaluate(node: Node, lookup: SubstitutionLookup): string | undefined {
  if (node.kind === 'text') return node.value;
  const args: string[] = [];
  for (const arg of node.args) {
    const value = evaluate(arg, lookup);
    if (value === undefined) return undefined;
    args.push(value);
  }
  let value = lookup(node.param);
  if (value === undefined) return undefined;
  // runner.go: a value with a newline is quoted (%q), so that it stays on one line.
  if (value.includes('\n')) value = goQuote(value);
  return apply(node.name, value, args);
}

/** envsubst's functions (funcs.go), by operator. */
function apply(name: string, s: string, args: string[]): string {
  spend(s.length + 1, 'substitute ${…} in the file');
  switch (name) {
    case ',':
      return s === '' ? s : lowerFirst(s);
    case ',,':
      return s.toLowerCase();
    case '^':
      return s === '' ? s : upperFirst(s);
    case '^^':
      return s.toUpperCase();
    case '#':
      return args.length === 0 ? String([...s].length) : trimPrefix(s, args[0]!, false);
    case '##':
      return trimPrefix(s, args[0]!, true);
    case '%':
      return trimSuffix(s, args[0]!, false);
    case '%%':
      return trimSuffix(s, args[0]!, true);
    case ':':
      return substring(s, args);
    case '/':
      return args.length === 1 ? s.replace(args[0]!, () => '') : s.replace(args[0]!, () => args[1]!);
    case '//':
      return s.split(args[0]!).join(args[1] ?? '');
    case '/#':
      return args.length === 2 && s.startsWith(args[0]!) ? args[1]! + s.slice(args[0]!.length) : s;
    case '/%':
      return args.length === 2 && s.endsWith(args[0]!) ? s.slice(0, s.length - args[0]!.length) + args[1]! : s;
    default:
      // `${NAME}`, and the default forms: the arguments, joined, when the value is empty.
      return s === '' && args.length > 0 ? args.join('') : s;
  }
}

function upperFirst(s: string): string {
  const first = String.fromCodePoint(s.codePointAt(0)!);
  return first.toUpperCase() + s.slice(first.length);
}

function lowerFirst(s: string): string {
  const first = String.fromCodePoint(s.codePointAt(0)!);
  return first.toLowerCase() + s.slice(first.length);
}

/** Go's strconv.Atoi for the small numbers a substring takes; undefined when it is not one. */
function atoi(s: string): number | undefined {
  return /^[+-]?[0-9]{1,15}$/.test(s) ? Number(s) : undefined;
}

/**
 * `${NAME:pos[:len]}` (funcs.go toSubstr): a position that is not a number gives the value
 * unchanged; a negative one counts from the end; past the end gives "". A negative length
 * (which makes envsubst panic) ends that many characters before the end, as in bash.
 */
function substring(value: string, args: string[]): string {
  const s = [...value];
  let pos = atoi(args[0] ?? '');
  if (pos === undefined) return value;
  if (pos < 0) pos = Math.max(0, s.length + pos);
  if (args.length === 1) return pos < s.length ? s.slice(pos).join('') : '';
  const length = atoi(args[1]!);
  if (length === undefined) return value;
  if (length < 0) return s.slice(pos, Math.max(pos, s.length + length)).join('');
  if (pos + length >= s.length) return pos < s.length ? s.slice(pos).join('') : '';
  return s.slice(pos, pos + length).join('');
}

/** `#`/`##`: the shortest / longest non-empty prefix that matches `pattern` removed. */
function trimPrefix(s: string, pattern: string, longest: boolean): string {
  let found = -1;
  for (let end = s.length; end > 0; end--) {
    const m = pathMatch(pattern, s.slice(0, end));
    if (m === 'bad') return s;
    if (m) {
      found = end;
      if (longest) break;
    }
  }
  return found > 0 ? s.slice(found) : s;
}

/** `%`/`%%`: as envsubst does it, the prefix rule on the reversed value and pattern. */
function trimSuffix(s: string, pattern: string, longest: boolean): string {
  const reverse = (t: string) => [...t].reverse().join('');
  return reverse(trimPrefix(reverse(s), reverse(pattern), longest));
}

/**
 * The glob of `#`, `##`, `%` and `%%`: envsubst's own copy of Go's path.Match (envsubst
 * path/match.go), in which `*` is any run of characters and `?` any one character, `/`
 * included (so `##` with the pattern star-slash keeps what follows the last `/`); `[…]` is a class (`^` negates,
 * `a-z` ranges), `\` quotes the next character. 'bad' for a malformed pattern, which
 * leaves the value unchanged (as envsubst does).
 */
export function pathMatch(pattern: string, name: string): boolean | 'bad' {
  let p = pattern;
  let n = name;
  spend(p.length + n.length, 'substitute ${…} in the file');
  pattern: while (p.length > 0) {
    let star = false;
    while (p[0] === '*') {
      p = p.slice(1);
      star = true;
    }
    // The chunk: up to the next unquoted `*` outside a class.
    let end = 0;
    let inClass = false;
    for (; end < p.length; end++) {
      const ch = p[end];
      if (ch === '\\') end++;
      else if (ch === '[') inClass = true;
      else if (ch === ']') inClass = false;
      else if (ch === '*' && !inClass) break;
    }
    const chunk = p.slice(0, end);
    p = p.slice(end);
    if (star && chunk === '') return true;
    const t = matchChunk(chunk, n);
    if (t === 'bad') return 'bad';
    if (t !== undefined && (t.length === 0 || p.length > 0)) {
      n = t;
      continue;
    }
    if (star) {
      for (let i = 0; i < n.length; i++) {
        const rest = matchChunk(chunk, n.slice(i + 1));
        if (rest === 'bad') return 'bad';
        if (rest !== undefined) {
          if (p.length === 0 && rest.length > 0) continue;
          n = rest;
          continue pattern;
        }
      }
    }
    return false;
  }
  return n.length === 0;
}

/** Matches `chunk` (no `*`) at the start of `s`: the rest of `s`, undefined when it does not match. */
function matchChunk(chunk: string, s: string): string | undefined | 'bad' {
  let c = 0;
  let i = 0;
  while (c < chunk.length) {
    if (i >= s.length) return undefined;
    const ch = chunk[c]!;
    if (ch === '[') {
      const close = classEnd(chunk, c);
      if (close === -1) return 'bad';
      const r = s[i]!;
      let k = c + 1;
      const negated = chunk[k] === '^';
      if (negated) k++;
      let matched = false;
      while (k < close) {
        let lo = chunk[k]!;
        if (lo === '\\') lo = chunk[++k]!;
        k++;
        let hi = lo;
        if (chunk[k] === '-' && k + 1 < close) {
          hi = chunk[++k]!;
          if (hi === '\\') hi = chunk[++k]!;
          k++;
        }
        if (lo <= r && r <= hi) matched = true;
      }
      if (matched === negated) return undefined;
      c = close + 1;
      i++;
      continue;
    }
    if (ch === '?') {
      c++;
      i++;
      continue;
    }
    let lit = ch;
    if (ch === '\\') {
      if (c + 1 >= chunk.length) return 'bad';
      lit = chunk[++c]!;
    }
    if (s[i] !== lit) return undefined;
    c++;
    i++;
  }
  return s.slice(i);
}

/** The index of the `]` that closes the class opening at `open`; -1 when there is none (or it is empty). */
function classEnd(chunk: string, open: number): number {
  let k = open + 1;
  if (chunk[k] === '^') k++;
  if (chunk[k] === ']') return -1;
  for (; k < chunk.length; k++) {
    if (chunk[k] === '\\') k++;
    else if (chunk[k] === ']') return k;
  }
  return -1;
}
