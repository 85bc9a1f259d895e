// Go's strconv.Quote (the `%q` verb): a double-quoted string on one line, with Go's escapes.

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const SHORT: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '"': '\\"', '\\': '\\\\' };

/** `s` as strconv.Quote writes it: printable characters as they are, others escaped (\n, \x1b, \u00a0, \U0001f600). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const short = SHORT[ch];
    if (short !== undefined) out += short;
    else if (PRINTABLE.test(ch)) out += ch;
    else {
      const c = ch.codePointAt(0)!;
      if (c < 0x80) out += `\\x${c.toString(16).padStart(2, '0')}`;
      else if (c < 0x10000) out += `\\u${c.toString(16).padStart(4, '0')}`;
      else out += `\\U${c.toString(16).padStart(8, '0')}`;
    }
  }
  return `${out}"`;
}
