// Quoting for POSIX sh.

/** Quotes a string for sh: single quotes, with embedded single quotes spliced in. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
