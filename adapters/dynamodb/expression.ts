// The one builder of DynamoDB update and condition expressions for the stores. Every
// attribute goes through a name placeholder (`#status`: several attributes are reserved
// words, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ReservedWords.html)
// and every value through a value placeholder, so no expression is written by hand and no
// text is rewritten afterwards.

import { FINAL_RANK, statusRank } from '../../core/builds/status.js';
import type { StageStatus } from '../../core/builds/types.js';

export interface UpdateInput {
  UpdateExpression: string;
  ConditionExpression?: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

/**
 * `SET`, `REMOVE` and `ADD` clauses and the conditions of one UpdateItem, with their names
 * and values maps. By default the item must exist (`attribute_exists(PK)`).
 */
export class Expression {
  private readonly sets: string[] = [];
  private readonly removes: string[] = [];
  private readonly adds: string[] = [];
  readonly conditions: string[];
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private n = 0;

  constructor(options: { mustExist?: boolean } = {}) {
    // PK is no reserved word, and a name placeholder would be unused once a caller drops the condition.
    this.conditions = options.mustExist === false ? [] : ['attribute_exists(PK)'];
  }

  /** The placeholder of an attribute name. */
  name(attr: string): string {
    const key = `#${attr.replace(/[^A-Za-z0-9_]/g, '_')}`;
    const current = this.names[key];
    if (current !== undefined && current !== attr) {
      throw new Error(`expression: attributes ${current} and ${attr} would share the placeholder ${key}; rename one`);
    }
    this.names[key] = attr;
    return key;
  }
  /** A new placeholder for a value. */
  value(v: unknown): string {
    const key = `:v${this.n++}`;
    this.values[key] = v;
    return key;
  }
  /** `attr = v`; nothing when `v` is undefined. */
  set(attr: string, v: unknown): void {
    if (v === undefined) return;
    this.sets.push(`${this.name(attr)} = ${this.value(v)}`);
  }
  /** The path of one key of a map attribute (`#usage.#k3`), the key through a placeholder of its own. */
  mapKey(attr: string, key: string): string {
    const placeholder = `#k${this.n++}`;
    this.names[placeholder] = key;
    return `${this.name(attr)}.${placeholder}`;
  }
  /** `path = v` for a path made by mapKey. */
  setPath(path: string, v: unknown): void {
    this.sets.push(`${path} = ${this.value(v)}`);
  }
  setAll(patch: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(patch)) this.set(k, v);
  }
  /** Appends `items` to the list `attr`, making the list where the item has none. */
  append(attr: string, items: unknown[]): void {
    this.sets.push(`${this.name(attr)} = list_append(if_not_exists(${this.name(attr)}, ${this.value([])}), ${this.value(items)})`);
  }
  /** Sets `attr` to `fallback` only where the item has no value yet (a counter, a first start time). */
  keep(attr: string, fallback: unknown): void {
    this.sets.push(`${this.name(attr)} = if_not_exists(${this.name(attr)}, ${this.value(fallback)})`);
  }
  remove(attr: string): void {
    this.removes.push(this.name(attr));
  }
  /** `ADD attr n`: an atomic increment. */
  add(attr: string, n: number): void {
    this.adds.push(`${this.name(attr)} ${this.value(n)}`);
  }
  /** A condition, written with name() and value() placeholders; all conditions must hold. */
  when(condition: string): void {
    this.conditions.push(condition);
  }
  get update(): string {
    const parts: string[] = [];
    if (this.sets.length) parts.push(`SET ${this.sets.join(', ')}`);
    if (this.removes.length) parts.push(`REMOVE ${this.removes.join(', ')}`);
    if (this.adds.length) parts.push(`ADD ${this.adds.join(', ')}`);
    return parts.join(' ');
  }
  get condition(): string {
    return this.conditions.map((c) => `(${c})`).join(' AND ');
  }
  /**
   * The status-order rule (core/builds/status.ts statusRank: a write may stay at its rank
   * or move up, a finished status is final; which transitions make sense is the state
   * machine's business, this is the last line against reordering), or an explicit list of
   * statuses to move from.
   */
  guardStatus(next: string | undefined, fromStatuses: string[] | undefined): void {
    if (fromStatuses) {
      const list = fromStatuses.map((s) => this.value(s)).join(', ');
      this.when(`${this.name('status')} IN (${list})`);
    } else if (next !== undefined) {
      const rank = statusRank(next as StageStatus);
      const op = rank >= FINAL_RANK ? '<' : '<=';
      this.when(`${this.name('statusRank')} ${op} ${this.value(rank)}`);
    }
    if (next !== undefined) this.set('statusRank', statusRank(next as StageStatus));
  }
  /** Applies only if `version` is newer than the last applied one, then records it. */
  guardVersion(version: number | undefined): void {
    if (version === undefined) return;
    const name = this.name('eventVersion');
    const v = this.value(version);
    this.when(`attribute_not_exists(${name}) OR ${name} < ${v}`);
    this.sets.push(`${name} = ${v}`);
  }
  get empty(): boolean {
    return this.sets.length === 0 && this.removes.length === 0 && this.adds.length === 0;
  }
  /** The UpdateItem fields (DynamoDB refuses an empty values map, so none is sent then). */
  input(): UpdateInput {
    return {
      UpdateExpression: this.update,
      ...(this.conditions.length ? { ConditionExpression: this.condition } : {}),
      ExpressionAttributeNames: this.names,
      ...(Object.keys(this.values).length ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}
