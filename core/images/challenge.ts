// Parses a registry's `WWW-Authenticate` header (RFC 7235): a comma-separated list of
// challenges, each `scheme` followed by a token68 or by `key=value` parameters. A registry
// may offer several (`Bearer realm=…,service=…, Basic realm=…`); each challenge keeps its
// own parameters, so a Basic realm can never pass for the Bearer token realm.

export type Challenge =
  | { scheme: 'bearer'; realm: string; service?: string; scope?: string }
  | { scheme: 'basic' }
  | { scheme: 'other'; name: string };

/** One challenge as written: its scheme and its parameters (names lower-cased). */
export interface RawChallenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * The challenge a lookup answers: Bearer (with a realm) when offered, else Basic, else the
 * first one offered as `other`. Null when the header is absent or names no scheme.
 */
export function parseChallenge(header: string | null): Challenge | null {
  if (header === null) return null;
  const challenges = parseChallenges(header);
  const bearer = challenges.find((c) => c.scheme.toLowerCase() === 'bearer' && c.params.realm);
  if (bearer) {
    const { realm = '', service, scope } = bearer.params;
    return { scheme: 'bearer', realm, ...(service !== undefined ? { service } : {}), ...(scope !== undefined ? { scope } : {}) };
  }
  if (challenges.some((c) => c.scheme.toLowerCase() === 'basic')) return { scheme: 'basic' };
  const first = challenges[0];
  return first ? { scheme: 'other', name: first.scheme } : null;
}

const TOKEN = /[!#$%&'*+.^_`|~\w-]+/y;
const SPACE = /[ \t]*/y;
/** Registries write realms unquoted too (`realm=https://…`): anything up to a comma or space. */
const BARE_VALUE = /[^\s,"]*/y;

/**
 * Every challenge of the header, in order. A name followed by `=` and a value continues the
 * current challenge; a name followed by anything else starts a new one. Text that fits
 * neither is skipped up to the next comma rather than guessed at.
 */
export function parseChallenges(header: string): RawChallenge[] {
  const challenges: RawChallenge[] = [];
  let pos = 0;
  const skip = (re: RegExp): string => {
    re.lastIndex = pos;
    const m = re.exec(header);
    if (!m) return '';
    pos += m[0].length;
    return m[0];
  };
  const skipSeparators = (): void => {
    while (pos < header.length && /[\s,]/.test(header[pos]!)) pos++;
  };
  const skipToComma = (): void => {
    while (pos < header.length && header[pos] !== ',') pos++;
  };

  let current: RawChallenge | undefined;
  skipSeparators();
  while (pos < header.length) {
    const name = skip(TOKEN);
    if (!name) {
      skipToComma();
      skipSeparators();
      continue;
    }
    skip(SPACE);
    if (header[pos] === '=' && current && !isToken68Tail(header, pos)) {
      pos++;
      skip(SPACE);
      const value = readValue();
      const key = name.toLowerCase();
      // RFC 7235: each parameter name appears once per challenge; the first is kept.
      if (!(key in current.params)) current.params[key] = value;
    } else {
      current = { scheme: name, params: {} };
      challenges.push(current);
      // The scheme may be followed by a token68 (`Negotiate abc==`) or by its first parameter.
      const afterScheme = pos;
      const word = skip(TOKEN);
      skip(SPACE);
      if (word && header[pos] === '=' && !isToken68Tail(header, pos)) {
        pos++;
        skip(SPACE);
        current.params[word.toLowerCase()] = readValue();
      } else if (word) {
        while (header[pos] === '=') pos++; // token68 padding
      } else {
        pos = afterScheme;
      }
    }
    skip(SPACE);
    if (pos < header.length && header[pos] !== ',') skipToComma();
    skipSeparators();
  }
  return challenges;

  function readValue(): string {
    if (header[pos] !== '"') return skip(BARE_VALUE);
    let value = '';
    pos++;
    while (pos < header.length && header[pos] !== '"') {
      if (header[pos] === '\\' && pos + 1 < header.length) pos++;
      value += header[pos];
      pos++;
    }
    pos++; // the closing quote (or the end of an unterminated value)
    return value;
  }
}

/** `=` at `pos` pads a token68 (`abc==`, `abc=` at a challenge's end) rather than starting a value. */
function isToken68Tail(header: string, pos: number): boolean {
  let end = pos;
  while (header[end] === '=') end++;
  if (end - pos > 1) return true;
  const rest = header.slice(end).trimStart();
  return rest === '' || rest.startsWith(',');
}
