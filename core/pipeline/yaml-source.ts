// YAML text → a small tree of maps, lists and scalars that keeps the line and column of
// every node. Aliases and merge keys (`<<: *defaults`) are expanded here, under a budget,
// so nothing downstream has to know about them and an alias bomb cannot exhaust memory.

import { Composer, Lexer, LineCounter, Parser, isAlias, isMap, isPair, isScalar, isSeq, type CST, type Document, type Node as YamlNode } from 'yaml';
import type { Diagnostic, Position } from './types.js';
import { spend } from './work.js';
import { LIST_ITEM, repeatedMapRule } from './repeated-keys.js';

export type ScalarValue = string | number | boolean | null;

export interface SourceScalar {
  kind: 'scalar';
  pos: Position;
  value: ScalarValue;
  /** The text as written (`1.10`, `yes`), which Drone uses when a string is expected. */
  text: string;
}

export interface SourceEntry {
  key: string;
  keyPos: Position;
  value: SourceNode;
}

export interface SourceMap {
  kind: 'map';
  pos: Position;
  entries: SourceEntry[];
}

export interface SourceSeq {
  kind: 'seq';
  pos: Position;
  items: SourceNode[];
}

export type SourceNode = SourceScalar | SourceMap | SourceSeq;

/** One non-empty YAML document of a file. */
export interface SourceDocument {
  /** Null when the document could not be read (its errors are in the diagnostics). */
  root: SourceNode | null;
  pos: Position;
}

export interface SourceFile {
  documents: SourceDocument[];
  diagnostics: Diagnostic[];
}

/** Limits that keep hostile input cheap. A real pipeline uses a few hundred nodes. */
export const YAML_LIMITS = {
  /** Nodes after alias expansion, over the whole file. */
  maxNodes: 100_000,
  /** Alias uses expanded, over the whole file. */
  maxAliases: 10_000,
  /** Nesting of maps and lists. */
  maxDepth: 64,
  /**
   * Keys of one map. Real maps (environment, settings) hold tens; the bound keeps a
   * hostile file's maps small before anything compares their keys.
   */
  maxKeysPerMap: 1_000,
  /**
   * Lexical tokens (a key, a `:`, a space, a value: about six per node), counted while
   * lexing, so that even the parser's linear pass over a hostile file stays short.
   */
  maxTokens: 250_000,
} as const;

/** Work units (work.ts) per lexical token: lexing and parsing one costs as much as tens of inner-loop steps. */
const UNITS_PER_TOKEN = 40;

class LimitExceeded extends Error {}

/**
 * `positionOf` maps an offset of `text` to the file as written, when `text` is not the file
 * itself (the file after `${…}` substitution, substitute.ts): every node and diagnostic
 * then points at what the user wrote.
 */
export function readYaml(file: string, text: string, positionOf?: (offset: number) => Position): SourceFile {
  const lineCounter = new LineCounter();
  const diagnostics: Diagnostic[] = [];
  const at = (offset: number | undefined): Position => {
    if (offset === undefined || offset < 0) return { line: 1, column: 1 };
    if (positionOf) return positionOf(offset);
    const { line, col } = lineCounter.linePos(offset);
    return { line: Math.max(1, line), column: Math.max(1, col) };
  };
  const report = (pos: Position, severity: Diagnostic['severity'], message: string) =>
    diagnostics.push({ file, line: pos.line, column: pos.column, severity, message });

  // Syntax first (linear), then the size check on that tree, and only then composition.
  // The library's own duplicate-key check compares each key with every earlier one
  // (100k keys in one map: minutes), so it is off and convert() checks keys with a Set.
  const read = parseTokens(text, lineCounter);
  if ('offset' in read) {
    report(at(read.offset), 'error', read.message);
    return { documents: [], diagnostics };
  }
  const tokens = read.tokens;
  const refused = preScan(tokens);
  if (refused) {
    report(at(refused.offset), 'error', refused.message);
    return { documents: [], diagnostics };
  }
  const docs = Array.from(new Composer({ prettyErrors: false, uniqueKeys: false, merge: false }).compose(tokens));
  const documents: SourceDocument[] = [];
  const budget: Budget = { nodes: 0, aliases: 0, resolved: new Map() };

  for (const doc of docs as Document.Parsed[]) {
    const docPos = at(doc.range?.[0]);
    let failed = false;
    for (const e of doc.errors) {
      failed = true;
      report(at(e.pos?.[0]), 'error', `yaml: ${yamlErrorText(e.message)}`);
    }
    for (const w of doc.warnings) report(at(w.pos?.[0]), 'warning', `yaml: ${yamlErrorText(w.message)}`);
    if (failed) {
      documents.push({ root: null, pos: docPos });
      continue;
    }
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null && !doc.contents.source)) {
      continue; // an empty document (a stray `---`) carries nothing, as in Drone
    }
    try {
      const root = convert(doc, doc.contents, [], new Set(), budget, at, report);
      documents.push({ root, pos: root?.pos ?? docPos });
    } catch (error) {
      if (!(error instanceof LimitExceeded)) throw error;
      report(docPos, 'error', error.message);
      return { documents: [], diagnostics };
    }
  }
  return { documents, diagnostics };
}

/** The library's Parser.parse, fed one lexical token at a time so that their number is bounded. */
function parseTokens(text: string, lineCounter: LineCounter): { tokens: CST.Token[] } | { offset: number; message: string } {
  const parser = new Parser(lineCounter.addNewLine);
  lineCounter.addNewLine(0);
  const tokens: CST.Token[] = [];
  let count = 0;
  for (const lexeme of new Lexer().lex(text, false)) {
    if (++count > YAML_LIMITS.maxTokens) {
      return { offset: parser.offset, message: `yaml: the file has more than ${YAML_LIMITS.maxTokens} tokens (the limit keeps planning every repository's builds fast)` };
    }
    if ((count & 1023) === 0) spend(1024 * UNITS_PER_TOKEN, 'read the YAML');
    for (const token of parser.next(lexeme)) tokens.push(token);
  }
  for (const token of parser.end()) tokens.push(token);
  return { tokens };
}

/**
 * Counts the syntax tree's nodes and each map's keys without composing anything, and
 * says where the first limit is passed. Iterative: nesting cannot overflow the stack.
 */
function preScan(tokens: readonly CST.Token[]): { offset: number; message: string } | undefined {
  let nodes = 0;
  const stack: CST.Token[] = [...tokens];
  while (stack.length > 0) {
    const token = stack.pop()!;
    if (token.type === 'document') {
      if (token.value) stack.push(token.value);
      continue;
    }
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection') continue;
    const isMapToken = token.type === 'block-map' || (token.type === 'flow-collection' && token.start.source === '{');
    let keys = 0;
    for (const item of token.items as CST.CollectionItem[]) {
      if (isMapToken && (item.key !== undefined || item.sep !== undefined)) {
        if (++keys > YAML_LIMITS.maxKeysPerMap) {
          const offset = item.key?.offset ?? token.offset;
          return { offset, message: `yaml: a map with more than ${YAML_LIMITS.maxKeysPerMap} keys (the limit per map; split the data or keep it in a file the steps read)` };
        }
      }
      if (item.value !== undefined) {
        if (++nodes > YAML_LIMITS.maxNodes) {
          return { offset: item.value.offset, message: `yaml: the file has more than ${YAML_LIMITS.maxNodes} nodes (the limit keeps planning every repository's builds fast)` };
        }
        stack.push(item.value);
      }
      if (item.key) stack.push(item.key);
    }
  }
  spend(nodes, 'read the YAML');
  return undefined;
}

function yamlErrorText(message: string): string {
  // The parser's own stack overflow on absurd nesting, said in the user's terms.
  if (/call stack/i.test(message)) return `nesting is too deep to read (the limit is ${YAML_LIMITS.maxDepth} levels)`;
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

interface Budget {
  nodes: number;
  aliases: number;
  resolved: Map<unknown, YamlNode | undefined>;
}

type Report = (pos: Position, severity: Diagnostic['severity'], message: string) => void;

function convert(
  doc: Document.Parsed,
  node: YamlNode | null | undefined | unknown,
  /** Where the node is, from the document's root (the keys, LIST_ITEM for a list's item): decides how a repeated key is read. */
  path: readonly string[],
  active: Set<unknown>,
  budget: Budget,
  at: (offset: number | undefined) => Position,
  report: Report,
): SourceNode | null {
  spend(1, 'read the YAML');
  if (++budget.nodes > YAML_LIMITS.maxNodes) {
    throw new LimitExceeded(`yaml: the file expands to more than ${YAML_LIMITS.maxNodes} nodes (aliases are limited to guard against alias bombs)`);
  }
  if (path.length > YAML_LIMITS.maxDepth) {
    throw new LimitExceeded(`yaml: nesting deeper than ${YAML_LIMITS.maxDepth} levels`);
  }
  if (node === null || node === undefined) return null;

  if (isAlias(node)) {
    if (++budget.aliases > YAML_LIMITS.maxAliases) {
      throw new LimitExceeded(`yaml: more than ${YAML_LIMITS.maxAliases} aliases expanded (a guard against alias bombs)`);
    }
    // resolve() searches the whole document; an alias used many times is looked up once.
    let target = budget.resolved.get(node);
    if (target === undefined && !budget.resolved.has(node)) {
      target = node.resolve(doc);
      budget.resolved.set(node, target);
    }
    const pos = at(node.range?.[0]);
    if (target === undefined) {
      report(pos, 'error', `yaml: unknown alias *${node.source}`);
      return null;
    }
    if (active.has(target)) {
      report(pos, 'error', `yaml: alias *${node.source} refers to the node that contains it`);
      return null;
    }
    return convert(doc, target, path, active, budget, at, report);
  }

  if (isScalar(node)) {
    const pos = at(node.range?.[0]);
    const raw = node.value;
    let value: ScalarValue;
    if (raw === null || raw === undefined) value = null;
    else if (typeof raw === 'string' || typeof raw === 'boolean') value = raw;
    else if (typeof raw === 'number') value = raw;
    else if (typeof raw === 'bigint') value = Number(raw);
    else value = node.source ?? String(raw); // custom tags (!!binary …): keep the text
    const text = typeof value === 'string' ? value : (node.source ?? (value === null ? '' : String(value)));
    return { kind: 'scalar', pos, value, text };
  }

  if (isSeq(node)) {
    active.add(node);
    const items: SourceNode[] = [];
    for (const item of node.items) {
      const converted = convert(doc, item, [...path, LIST_ITEM], active, budget, at, report);
      items.push(converted ?? nullAt(at((item as YamlNode | null)?.range?.[0] ?? node.range?.[0])));
    }
    active.delete(node);
    return { kind: 'seq', pos: at(node.range?.[0]), items };
  }

  if (isMap(node)) {
    active.add(node);
    const entries: SourceEntry[] = [];
    const merged: SourceEntry[] = [];
    // Key identity → its entry's index: the library's rule (equal scalar values, so `1` and
    // `"1"` differ), in linear time.
    const seen = new Map<unknown, number>();
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as YamlNode | null;
      const keyPos = at(keyNode?.range?.[0] ?? node.range?.[0]);
      if (keyNode !== null && !isScalar(keyNode)) {
        report(keyPos, 'error', 'yaml: a map key must be a plain value, not a list or map');
        continue;
      }
      const identity = keyNode === null ? null : keyNode.value;
      const key = keyNode === null ? '' : keyNode.value === null ? '' : String(keyNode.source ?? keyNode.value);
      const earlier = seen.get(identity);
      if (earlier === -1 || (earlier !== undefined && key === '<<')) {
        report(keyPos, 'error', 'yaml: Map keys must be unique');
        continue;
      }
      if (key === '<<' && keyNode !== null && keyNode.type === 'PLAIN') {
        seen.set(identity, -1);
        mergeInto(merged, pair.value);
        continue;
      }
      const value = convert(doc, pair.value, [...path, key], active, budget, at, report) ?? nullAt(valueOrKeyPos(pair.value, keyPos, at));
      if (earlier !== undefined) {
        replaceDuplicate(entries, earlier, { key, keyPos, value });
        continue;
      }
      seen.set(identity, entries.length);
      entries.push({ key, keyPos, value });
    }
    // Explicit keys win over merged ones; among merged maps the first wins (YAML merge rules).
    if (merged.length > 0) {
      const own = new Set(entries.map((e) => e.key));
      for (const e of merged) {
        if (own.has(e.key)) continue;
        own.add(e.key);
        entries.push(e);
      }
    }
    active.delete(node);
    return { kind: 'map', pos: at(node.range?.[0]), entries };
  }

  report(at(undefined), 'error', 'yaml: unexpected node');
  return null;

  // A key written twice: Drone reads its files with go-yaml v2's non-strict Unmarshal
  // (drone/runner-go manifest/parse.go, github.com/buildkite/yaml), which rejects a repeated
  // key only in strict mode (decode.go, setMapIndex) and otherwise decodes each occurrence in
  // turn into the same place: a later scalar or list replaces the earlier value; two maps are
  // merged or replaced as Drone's Go type there decides (repeated-keys.ts).
  function replaceDuplicate(out: SourceEntry[], index: number, later: SourceEntry) {
    const first = out[index]!;
    const where = `"${later.key}" is written twice (first at line ${first.keyPos.line})`;
    const read = readRepeated(path, first, later);
    if (read.merged) {
      report(later.keyPos, 'warning', `yaml: ${where}: both maps are read into one (the later's value where both set a key), as Drone reads them`);
      return;
    }
    if (read.keptExclude) {
      report(later.keyPos, 'warning', `yaml: ${where}: the later value is used and the earlier exclude is kept, as Drone reads a condition`);
    } else {
      report(later.keyPos, 'warning', `yaml: ${where}: the later value is used, as Drone uses it`);
    }
    out[index] = read.entry;
  }

  function mergeInto(out: SourceEntry[], value: unknown) {
    const sources = isSeq(value) ? value.items : [value];
    for (const source of sources) {
      const converted = convert(doc, source, path, active, budget, at, report);
      if (converted === null) continue;
      if (converted.kind !== 'map') {
        report(converted.pos, 'error', 'yaml: a merge key (<<) takes a map or a list of maps');
        continue;
      }
      out.push(...converted.entries);
    }
  }
}

/** Indexes of merged maps' keys, so that merging into one map many times stays linear. */
const keyIndexes = new WeakMap<SourceMap, Map<string, number>>();

function keyIndex(map: SourceMap): Map<string, number> {
  let index = keyIndexes.get(map);
  if (!index) {
    index = new Map(map.entries.map((e, i) => [e.key, i]));
    keyIndexes.set(map, index);
  }
  return index;
}

/**
 * `later` read over `first` (the same key of the map at `parent`), as go-yaml decodes a second
 * occurrence into the place the first filled. A merge is made in `first`'s map, in place.
 */
function readRepeated(parent: readonly string[], first: SourceEntry, later: SourceEntry): { entry: SourceEntry; merged?: boolean; keptExclude?: boolean } {
  const rule = repeatedMapRule(parent, later.key);
  if (rule === 'merge' && first.value.kind === 'map' && later.value.kind === 'map') {
    const into = first.value;
    const index = keyIndex(into);
    const path = [...parent, later.key];
    for (const entry of later.value.entries) {
      spend(1, 'read the YAML');
      const at = index.get(entry.key);
      if (at === undefined) {
        index.set(entry.key, into.entries.length);
        into.entries.push(entry);
      } else {
        into.entries[at] = readRepeated(path, into.entries[at]!, entry).entry;
      }
    }
    return { entry: first, merged: true };
  }
  // runner-go manifest/cond.go: a single pattern sets include alone, so an earlier map's
  // exclude stays (`branch: { exclude: [x] }` then `branch: main`: main, except x).
  if (rule === 'condition' && first.value.kind === 'map' && later.value.kind === 'scalar' && later.value.value !== null) {
    const exclude = first.value.entries.find((e) => e.key === 'exclude');
    if (exclude) {
      const value: SourceMap = { kind: 'map', pos: later.value.pos, entries: [{ key: 'include', keyPos: later.value.pos, value: later.value }, exclude] };
      return { entry: { ...later, value }, keptExclude: true };
    }
  }
  return { entry: later };
}

function valueOrKeyPos(value: unknown, keyPos: Position, at: (offset: number | undefined) => Position): Position {
  const range = (value as YamlNode | null)?.range;
  return range ? at(range[0]) : keyPos;
}

function nullAt(pos: Position): SourceScalar {
  return { kind: 'scalar', pos, value: null, text: '' };
}
