// Container and volume names as ECS accepts them (letters, digits, `_` and `-`, at most
// 255), kept as close as possible to what the user wrote so log streams and statuses
// carry the user's names.

const MAX = 255;

export function ecsSafeName(name: string, fallback: string): string {
  const safe = name
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX);
  return safe === '' ? fallback : safe;
}

/** Hands out unique safe names; `reserved` names are never handed out. */
export class NameAllocator {
  private readonly taken = new Set<string>();

  constructor(reserved: Iterable<string> = []) {
    for (const name of reserved) this.taken.add(name.toLowerCase());
  }

  /** ECS compares container names case-sensitively, but log streams and people do not. */
  allocate(name: string, fallback: string): string {
    const base = ecsSafeName(name, fallback);
    let candidate = base;
    for (let n = 2; this.taken.has(candidate.toLowerCase()); n++) {
      const suffix = `-${n}`;
      candidate = `${base.slice(0, MAX - suffix.length)}${suffix}`;
    }
    this.taken.add(candidate.toLowerCase());
    return candidate;
  }
}
